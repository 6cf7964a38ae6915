"""Find the HDL tools (iverilog, verilator, yosys, ghdl) and run them.

A missing tool raises :class:`ToolMissing` with the command that installs it, so a
failing quality gate says what to do instead of a bare "file not found".
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

#: tool -> (Debian/Ubuntu package, what it is for)
TOOLS = {
    "iverilog": ("iverilog", "Icarus Verilog compiler (compile check, co-simulation)"),
    "vvp": ("iverilog", "Icarus Verilog runtime"),
    "iverilog-vpi": ("iverilog", "builds MyHDL's VPI module for co-simulation"),
    "verilator": ("verilator", "Verilog lint (--lint-only -Wall) and fast simulation"),
    "yosys": ("yosys", "synthesis checks: latches, RAM inference, area"),
    "ghdl": ("ghdl", "VHDL analysis of the converted VHDL"),
}

#: Environment variable that turns a missing tool into a skipped check in the tests.
ALLOW_MISSING_ENV = "LSTM_CHIPLET_ALLOW_MISSING_TOOLS"


class ToolMissing(RuntimeError):
    """An external HDL tool is not installed; the message says how to install it."""


class ToolFailed(RuntimeError):
    """An external tool ran and failed; the message carries its command and output."""


def install_hint(name: str) -> str:
    package = TOOLS.get(name, (name, ""))[0]
    return (f"install it with 'sudo apt-get install {package}' (Debian/Ubuntu), "
            f"or run ./run.sh test, which installs every tool the checks need")


def find_tool(name: str) -> str:
    """Absolute path of tool ``name`` on PATH; raises :class:`ToolMissing` with an install hint."""
    path = shutil.which(name)
    if path is None:
        what = TOOLS.get(name, ("", "an HDL tool"))[1]
        raise ToolMissing(f"{name} not found on PATH ({what}); {install_hint(name)}")
    return path


def missing_allowed() -> bool:
    """True when the environment asks to skip (not fail) checks whose tool is missing."""
    return os.environ.get(ALLOW_MISSING_ENV, "") not in ("", "0")


def run(args, *, cwd=None, timeout=600, check=True) -> subprocess.CompletedProcess:
    """Run a tool (``args[0]`` is looked up with :func:`find_tool`); output captured as text."""
    exe = find_tool(args[0])
    proc = subprocess.run([exe, *map(str, args[1:])], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise ToolFailed(f"{' '.join(map(str, args))} (in {cwd or Path.cwd()}) exited with "
                         f"{proc.returncode}:\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}")
    return proc


def version(name: str) -> str:
    """First line of ``<tool> --version`` (``-V`` for iverilog)."""
    flag = "-V" if name == "iverilog" else "--version"
    proc = run([name, flag], check=False)
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0] if text else ""
