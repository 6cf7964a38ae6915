"""Every external tool the project runs: where to find it, how to run it, what it is.

:data:`TOOLS` is the one table of them (tool -> Debian package, purpose, version
flag); ``run.sh`` installs those packages.  :func:`require` finds a tool,
:func:`run_tool` runs one (with a timeout, optionally niced and logged to a file),
:func:`tool_version` names its version for cache keys and reports.

A missing tool is an error, never a silent skip: :class:`MissingToolError` names the
tool, what it is for and the ``apt-get install`` command.  The one exception, and the
rule for it: when ``LSTM_CHIPLET_ALLOW_MISSING_TOOLS=1`` is set (exactly ``1``; any
other value, or none, is strict), a *test* may turn the error into a skip
(:func:`allow_missing_tools`).  Library code and the commands never consult it; CI
never sets it (``.ci/run`` clears it, and ``run.sh test`` installs every tool).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import NamedTuple


class Tool(NamedTuple):
    """One external tool: the Debian package that provides it and what it does here."""

    package: str
    purpose: str
    #: flag that prints the version ("" when the tool has none)
    version_flag: str = "--version"
    #: used when present, never required (a wrapper that only steadies timing)
    optional: bool = False


#: tool -> :class:`Tool`, for every external program the project starts
TOOLS = {
    "iverilog": Tool("iverilog", "Icarus Verilog compiler (compile check, co-simulation)", "-V"),
    "vvp": Tool("iverilog", "Icarus Verilog runtime (co-simulation)", "-V"),
    "iverilog-vpi": Tool("iverilog", "builds MyHDL's VPI module for co-simulation"),
    "verilator": Tool("verilator", "Verilog lint (--lint-only -Wall) and fast simulation"),
    "g++": Tool("g++", "compiles Verilator's C++ model and harness"),
    "make": Tool("make", "drives Verilator's build"),
    "yosys": Tool("yosys", "synthesis: quality gates, generic cell counts, synth_ice40", "-V"),
    "ghdl": Tool("ghdl", "VHDL analysis of the converted VHDL"),
    "nextpnr-ice40": Tool("nextpnr-ice40", "placement, routing and timing for iCE40"),
    "icepack": Tool("fpga-icestorm", "bitstream packing for iCE40", ""),
    "nice": Tool("coreutils", "lowers the priority of long implementation runs", optional=True),
    "taskset": Tool("util-linux", "pins Icarus to one core (steadier speed)", optional=True),
}

ALLOW_MISSING_ENV = "LSTM_CHIPLET_ALLOW_MISSING_TOOLS"


class MissingToolError(RuntimeError):
    """An external tool is not installed; the message says how to install it."""


class ToolFailed(RuntimeError):
    """A tool ran and failed; the message carries its command and output."""


def install_hint(tool: str) -> str:
    package = TOOLS[tool].package if tool in TOOLS else tool
    return (f"install it with `sudo apt-get install {package}` (Debian/Ubuntu), or run "
            "`./run.sh test`, which installs every system package the project needs")


def require(tool: str) -> str:
    """Absolute path of ``tool`` on PATH, or raise :class:`MissingToolError`."""
    path = shutil.which(tool)
    if path is None:
        what = TOOLS[tool].purpose if tool in TOOLS else "an external tool"
        raise MissingToolError(f"{tool} not found on PATH ({what}); {install_hint(tool)}")
    return path


def allow_missing_tools() -> bool:
    """True only when ``LSTM_CHIPLET_ALLOW_MISSING_TOOLS=1``: tests may then skip on a missing tool."""
    return os.environ.get(ALLOW_MISSING_ENV, "") == "1"


def need_tools(*tools: str) -> None:
    """For tests: every tool installed, or the test fails naming the missing one and its
    install command; only :func:`allow_missing_tools` turns that into a skip."""
    try:
        for tool in tools:
            require(tool)
    except MissingToolError as exc:
        import pytest   # only tests call this

        if allow_missing_tools():
            pytest.skip(str(exc))
        pytest.fail(str(exc), pytrace=False)


def nice_prefix() -> list:
    """``nice -n 10`` when available (long runs yield to others on a shared machine), else []."""
    exe = shutil.which("nice")
    return [exe, "-n", "10"] if exe else []


def pin_prefix() -> list:
    """``taskset -c 0`` when available (steadier Icarus speed on a shared machine), else []."""
    if os.environ.get("LSTM_CHIPLET_NO_PIN") == "1":
        return []
    exe = shutil.which("taskset")
    return [exe, "-c", "0"] if exe else []


def run_tool(cmd, cwd=None, *, timeout: float = 600.0, log: Path | None = None, check: bool = True,
             nice: bool = False, what: str = "") -> subprocess.CompletedProcess:
    """Run tool ``cmd[0]`` (found by :func:`require`) with output captured as text.

    Parameters
    ----------
    timeout : float
        Seconds; a run that exceeds it raises :class:`ToolFailed`.
    log : Path, optional
        File that receives the command line, exit status, duration and the output.
    check : bool
        Raise :class:`ToolFailed` on a non-zero exit status (else return the process
        for the caller to judge).
    nice : bool
        Start the tool under :func:`nice_prefix`.
    what : str
        Name of the step in error messages (default: the tool).
    """
    exe = require(str(cmd[0]))
    line = " ".join(map(str, cmd))
    where = f" (in {cwd})" if cwd is not None else ""
    t0 = time.monotonic()
    try:
        proc = subprocess.run((nice_prefix() if nice else []) + [exe, *map(str, cmd[1:])],
                              cwd=None if cwd is None else str(cwd), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ToolFailed(f"{what or cmd[0]}: timed out after {timeout:g} s: {line}{where}") from exc
    if log is not None:
        Path(log).write_text(f"# {line}\n# exit {proc.returncode}, "
                             f"{time.monotonic() - t0:.1f} s\n{proc.stdout}\n{proc.stderr}")
    if check and proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-40:]
        raise ToolFailed(f"{what or cmd[0]} failed (exit {proc.returncode}): {line}{where}\n"
                         + "\n".join(tail))
    return proc


def log_tail(path: Path, n: int = 30) -> str:
    """The last ``n`` lines of a tool's log ('' when there is none)."""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


@functools.lru_cache(maxsize=None)
def tool_version(tool: str) -> str:
    """First line of the tool's version output (used in cache keys and reports)."""
    exe = require(tool)
    flag = TOOLS[tool].version_flag if tool in TOOLS else "--version"
    if not flag:
        return f"{TOOLS[tool].package} ({tool} has no version flag)"
    proc = subprocess.run([exe, flag], capture_output=True, text=True, timeout=60)
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0].strip() if text else "unknown"


def version_tag(tool: str) -> str:
    """A short file-name-safe tag of the tool's version."""
    return hashlib.sha1(tool_version(tool).encode()).hexdigest()[:10]
