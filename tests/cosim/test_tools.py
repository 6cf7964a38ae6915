"""The one tool finder: the table, the missing-tool message, the one rule for tolerating it, runs."""

import re
import sys
from pathlib import Path

import pytest

from cosim import tools
from cosim.tools import (ALLOW_MISSING_ENV, TOOLS, MissingToolError, ToolFailed, allow_missing_tools, require,
                         run_tool)

REPO = Path(__file__).resolve().parents[2]


def test_missing_tool_names_the_tool_its_use_and_the_install_command(monkeypatch):
    monkeypatch.setattr(tools.shutil, "which", lambda name: None)
    with pytest.raises(MissingToolError, match=r"apt-get install fpga-icestorm"):
        require("icepack")
    with pytest.raises(MissingToolError, match=r"nextpnr-ice40 not found.*placement.*apt-get install nextpnr-ice40"):
        require("nextpnr-ice40")
    with pytest.raises(MissingToolError, match=r"ghdl not found.*VHDL.*apt-get install ghdl"):
        require("ghdl")
    with pytest.raises(MissingToolError, match=r"iverilog-vpi not found.*apt-get install iverilog"):
        require("iverilog-vpi")


@pytest.mark.parametrize("value, allowed", [(None, False), ("", False), ("0", False), ("yes", False),
                                            ("true", False), ("1", True)])
def test_only_the_value_1_tolerates_a_missing_tool(monkeypatch, value, allowed):
    if value is None:
        monkeypatch.delenv(ALLOW_MISSING_ENV, raising=False)
    else:
        monkeypatch.setenv(ALLOW_MISSING_ENV, value)
    assert allow_missing_tools() is allowed


def test_run_sh_installs_the_package_of_every_required_tool():
    text = (REPO / "run.sh").read_text()
    listed = set(re.search(r"APT_PACKAGES=\(([^)]*)\)", text).group(1).split())
    needed = {t.package for t in TOOLS.values() if not t.optional}
    assert needed <= listed, needed - listed


def test_ci_clears_the_variable():
    assert f"unset {ALLOW_MISSING_ENV}" in (REPO / ".ci" / "run").read_text()


def test_run_tool_logs_checks_and_times_out(tmp_path, monkeypatch):
    monkeypatch.setitem(TOOLS, "python-for-test", TOOLS["make"])
    monkeypatch.setattr(tools.shutil, "which",
                        lambda name: sys.executable if name == "python-for-test" else None)
    ok = run_tool(["python-for-test", "-c", "print('hi')"], tmp_path, log=tmp_path / "ok.log")
    assert ok.returncode == 0 and ok.stdout == "hi\n"
    log = (tmp_path / "ok.log").read_text()
    assert log.startswith("# python-for-test -c print('hi')\n# exit 0, ") and "hi" in log
    bad = ["python-for-test", "-c", "import sys; print('broken'); sys.exit(3)"]
    assert run_tool(bad, tmp_path, check=False).returncode == 3
    with pytest.raises(ToolFailed, match=r"(?s)step x failed \(exit 3\).*broken"):
        run_tool(bad, tmp_path, what="step x")
    with pytest.raises(ToolFailed, match=r"timed out after 0.5 s"):
        run_tool(["python-for-test", "-c", "import time; time.sleep(5)"], tmp_path, timeout=0.5)
