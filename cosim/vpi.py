"""MyHDL's VPI module for Icarus, built from the sources the myhdl package installs.

The myhdl distribution ships ``myhdl.c`` and ``myhdl_table.c`` as data files under
``<prefix>/share/myhdl/cosimulation/icarus/``; ``iverilog-vpi`` compiles them into
``myhdl.vpi``, which ``vvp -m`` loads to connect ``$from_myhdl``/``$to_myhdl`` to the
Python simulator.  The module is cached under ``build/cosim/vpi/<iverilog version>/``.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

from .paths import build_root, private_dir, publish_dir
from .tools import MissingToolError, require, run_tool, tool_version, version_tag

VPI_SOURCES = ("myhdl.c", "myhdl_table.c")
_SUBDIR = Path("share") / "myhdl" / "cosimulation" / "icarus"


def vpi_source_dir() -> Path:
    """The folder holding MyHDL's Icarus VPI sources, or raise naming where it looked."""
    candidates = []
    for prefix in (sys.prefix, sys.exec_prefix, sysconfig.get_paths().get("data", "")):
        if prefix:
            candidates.append(Path(prefix) / _SUBDIR)
    try:  # the distribution's own file list (works for --user and unusual prefixes)
        from importlib import metadata
        for f in metadata.distribution("myhdl").files or ():
            if f.name == "myhdl.c" and "icarus" in f.parts:
                candidates.append(Path(f.locate()).resolve().parent)
    except Exception:  # pragma: no cover - metadata missing
        pass
    for c in candidates:
        if all((c / s).is_file() for s in VPI_SOURCES):
            return c
    looked = ", ".join(sorted({str(c) for c in candidates}))
    raise MissingToolError(
        f"MyHDL's VPI sources {VPI_SOURCES} not found (looked in {looked}); "
        "reinstall myhdl into this environment (`pip install --force-reinstall myhdl==0.11.52`)")


def build_myhdl_vpi(root: Path | None = None) -> Path:
    """Absolute path of ``myhdl.vpi`` for the installed Icarus, building it once."""
    require("iverilog-vpi")
    require("vvp")
    root = Path(root) if root else build_root()
    final = root / "vpi" / version_tag("iverilog")
    vpi = final / "myhdl.vpi"
    if vpi.is_file():
        return vpi.resolve()
    src = vpi_source_dir()
    tmp = private_dir(final.parent, "vpi")
    for name in VPI_SOURCES:
        (tmp / name).write_bytes((src / name).read_bytes())
    run_tool(["iverilog-vpi", *VPI_SOURCES], cwd=tmp, timeout=300, what="iverilog-vpi (MyHDL VPI module)")
    if not (tmp / "myhdl.vpi").is_file():
        raise RuntimeError(f"iverilog-vpi did not produce myhdl.vpi in {tmp}")
    (tmp / "VERSION").write_text(tool_version("iverilog") + "\n")
    publish_dir(tmp, final)
    return vpi.resolve()
