"""The external tools co-simulation needs, and what to say when one is missing.

A missing simulator is an error, never a silent skip: the message names the tool and
the command that installs it.  Only when the environment variable
``LSTM_CHIPLET_ALLOW_MISSING_TOOLS=1`` is set may the tests turn the error into a skip
(:func:`allow_missing_tools`); CI installs every tool and never sets it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess

#: tool -> Debian package that provides it
PACKAGES = {
    "iverilog": "iverilog",
    "vvp": "iverilog",
    "iverilog-vpi": "iverilog",
    "verilator": "verilator",
    "g++": "g++",
    "make": "make",
}

ALLOW_MISSING_ENV = "LSTM_CHIPLET_ALLOW_MISSING_TOOLS"


class MissingToolError(RuntimeError):
    """A simulator or compiler the co-simulation needs is not installed."""


class ToolFailed(RuntimeError):
    """A tool ran and failed; the message carries its command and output."""


def install_hint(tool: str) -> str:
    pkg = PACKAGES.get(tool, tool)
    return (f"install it with `sudo apt-get install {pkg}` (or `./run.sh test`, "
            f"which installs every system package the project needs)")


def require(tool: str) -> str:
    """Absolute path of ``tool`` on PATH, or raise :class:`MissingToolError`."""
    path = shutil.which(tool)
    if path is None:
        raise MissingToolError(f"`{tool}` not found on PATH; {install_hint(tool)}")
    return path


def allow_missing_tools() -> bool:
    """True when the user explicitly allowed tests to skip on missing tools."""
    return os.environ.get(ALLOW_MISSING_ENV, "") == "1"


def run_tool(cmd: list, cwd=None, timeout: float = 600.0, what: str = "") -> str:
    """Run a tool; return its stdout, or raise :class:`ToolFailed` with its output."""
    require(str(cmd[0]))
    try:
        proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ToolFailed(f"{what or cmd[0]}: timed out after {timeout:g} s: "
                         f"{' '.join(map(str, cmd))}") from exc
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-40:]
        raise ToolFailed(f"{what or cmd[0]} failed (exit {proc.returncode}): "
                         f"{' '.join(map(str, cmd))}\n" + "\n".join(tail))
    return proc.stdout


@functools.lru_cache(maxsize=None)
def tool_version(tool: str) -> str:
    """First line of the tool's version output (used in cache keys)."""
    exe = require(tool)
    flag = {"iverilog": "-V", "vvp": "-V", "verilator": "--version", "g++": "--version"}.get(tool, "--version")
    proc = subprocess.run([exe, flag], capture_output=True, text=True)
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def version_tag(tool: str) -> str:
    """A short file-name-safe tag of the tool's version."""
    return hashlib.sha1(tool_version(tool).encode()).hexdigest()[:10]


def pin_prefix() -> list:
    """``taskset -c 0`` when available (steadier Icarus speed on a shared machine), else []."""
    if os.environ.get("LSTM_CHIPLET_NO_PIN") == "1":
        return []
    exe = shutil.which("taskset")
    return [exe, "-c", "0"] if exe else []
