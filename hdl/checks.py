"""Quality gates on converted HDL: Verilator lint, Icarus compile, yosys, GHDL.

Each check runs one external tool (found through :mod:`hdl.tools`, so a missing tool
names its install command) and returns what it found, for the tests to assert on:

* :func:`lint_verilog` -- ``verilator --lint-only -Wall``: every warning, none waived.
  The RTL avoids the usual MyHDL sources of lint noise by construction: operands are
  widened by products (Verilog sizes a product by its context, and Verilator accepts
  that) or held at the width of the expression they feed, and bits a block drops on
  purpose drain into signals named ``*unused*`` (Verilator's convention).
* :func:`compile_iverilog` -- ``iverilog`` compiles the module (and MyHDL's test bench).
* :func:`synth_yosys` -- yosys' generic ``synth``: the coarse part (up to the label
  ``fine``, where memories are inferred: generic synthesis has no RAM primitives and
  its ``fine`` part maps every memory to flip-flops) lists the ``$mem_v2`` cells and
  any latch; optionally the rest of the script runs too (small designs only).
* :func:`analyse_ghdl` -- ``ghdl -a`` (VHDL-2008) of MyHDL's package and the design,
  then ``ghdl -e`` of the top entity.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .tools import run

_WARNING = re.compile(r"^%(Warning|Error)(-[A-Z0-9_]+)?:")
_MEM_CELL = re.compile(r"^\s*cell \$mem_v2 (\S+)")
_PARAM = re.compile(r"^\s*parameter \\(\w+) (.+)$")
LATCH_TYPES = ("$dlatch", "$adlatch", "$dlatchsr", "$_DLATCH_", "$_DLATCHSR_", "$sr", "$_SR_")


# ----------------------------------------------------------------------- lint
def lint_verilog(verilog, top: str, *, timeout=600) -> list:
    """Run ``verilator --lint-only -Wall``; returns the warning/error lines (empty: clean)."""
    verilog = Path(verilog)
    proc = run(["verilator", "--lint-only", "-Wall", "--top-module", top, verilog.name],
               cwd=verilog.parent, timeout=timeout, check=False)
    text = proc.stdout + proc.stderr
    found = [line for line in text.splitlines() if _WARNING.match(line)]
    if proc.returncode != 0 and not found:
        found = [f"verilator exited with {proc.returncode}: {text[-2000:]}"]
    return found


# -------------------------------------------------------------------- iverilog
def compile_iverilog(sources, out, *, top=None, timeout=600) -> Path:
    """``iverilog -g2005 -Wall`` of ``sources`` into ``out``; raises ToolFailed on errors.

    Returns the compiled file.  Warnings are returned as errors only when iverilog
    itself fails.
    """
    sources = [Path(s).resolve() for s in sources]
    out = Path(out).resolve()
    args = ["iverilog", "-g2005", "-o", str(out)]
    if top:
        args += ["-s", top]
    run(args + [str(s) for s in sources], cwd=out.parent, timeout=timeout)
    return out


# ----------------------------------------------------------------------- yosys
@dataclass
class YosysReport:
    """What yosys' generic synthesis found.

    Attributes
    ----------
    memories : list of dict
        One per ``$mem_v2`` cell after the coarse part: ``name``, ``size``, ``width``,
        ``rd_ports``, ``wr_ports``.
    coarse_cells : dict
        Cell type -> count after the coarse part (``stat``).
    final_cells : dict or None
        Cell type -> count after the whole script (None when not run).
    ff_bits : int
        Flip-flop bits after the coarse part (outside the memories).
    """

    memories: list = field(default_factory=list)
    coarse_cells: dict = field(default_factory=dict)
    final_cells: dict | None = None
    ff_bits: int = 0

    @property
    def latches(self) -> dict:
        found = {}
        for cells in (self.coarse_cells, self.final_cells or {}):
            for kind, n in cells.items():
                if kind.startswith(LATCH_TYPES) and n:
                    found[kind] = found.get(kind, 0) + n
        return found

    @property
    def memory_bits(self) -> int:
        return sum(m["size"] * m["width"] for m in self.memories)


def _param_int(text: str) -> int:
    text = text.strip()
    m = re.match(r"^(\d+)'([01xz]+)$", text)
    if m:
        return int(m.group(2).replace("x", "0").replace("z", "0"), 2)
    return int(text)


def synth_yosys(verilog, top: str, workdir, *, full=False, timeout=1800) -> YosysReport:
    """Generic ``synth`` of ``top``: coarse part always, the rest when ``full``."""
    verilog = Path(verilog).resolve()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    script = [f"read_verilog {verilog}",
              f"synth -top {top} -run :fine",
              "tee -q -o coarse_stat.json stat -json",
              "tee -q -o coarse_width.txt stat -width",
              "tee -q -o memories.txt dump t:$mem_v2"]
    if full:
        script += [f"synth -top {top} -run fine:", "tee -q -o final_stat.json stat -json"]
    (workdir / "synth.ys").write_text("\n".join(script) + "\n")
    run(["yosys", "-q", "-l", "synth.log", "-s", "synth.ys"], cwd=workdir, timeout=timeout)
    report = YosysReport()
    report.coarse_cells = _stat_cells(workdir / "coarse_stat.json", top)
    if full:
        report.final_cells = _stat_cells(workdir / "final_stat.json", top)
    report.memories = _memories(workdir / "memories.txt")
    report.ff_bits = _ff_bits(workdir / "coarse_width.txt")
    return report


def _stat_cells(path: Path, top: str) -> dict:
    data = json.loads(_json_part(path.read_text()))
    modules = data.get("modules", {})
    mod = modules.get("\\" + top) or modules.get(top) or (next(iter(modules.values())) if modules else {})
    return dict(mod.get("num_cells_by_type", {}))


def _json_part(text: str) -> str:
    start = text.find("{")
    return text[start:] if start >= 0 else "{}"


def _memories(path: Path) -> list:
    mems, cur = [], None
    for line in path.read_text().splitlines():
        m = _MEM_CELL.match(line)
        if m:
            cur = {"name": m.group(1)}
            mems.append(cur)
            continue
        p = _PARAM.match(line)
        if p and cur is not None:
            key = p.group(1)
            if key in ("SIZE", "WIDTH", "RD_PORTS", "WR_PORTS", "ABITS"):
                cur[key.lower()] = _param_int(p.group(2))
            elif key == "MEMID":
                cur["memid"] = p.group(2).strip().strip('"')
    return mems


_FF_WIDTH = re.compile(r"^\s*\$(?:_?)(?:a?s?dffe?|dffsre?|aldffe?|sdffc?e?|adffe?)_(\d+)\s+(\d+)\s*$")


def _ff_bits(path: Path) -> int:
    total = 0
    for line in path.read_text().splitlines():
        m = _FF_WIDTH.match(line)
        if m:
            total += int(m.group(1)) * int(m.group(2))
    return total


# ------------------------------------------------------------------------ ghdl
def analyse_ghdl(vhdl, package, top: str, workdir, *, timeout=600) -> None:
    """``ghdl -a --std=08`` of MyHDL's package then the design, and ``ghdl -e`` of ``top``."""
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in workdir.glob("*.cf"):
        stale.unlink()
    common = ["--std=08", f"--workdir={workdir}"]
    run(["ghdl", "-a", *common, str(Path(package).resolve())], cwd=workdir, timeout=timeout)
    run(["ghdl", "-a", *common, str(Path(vhdl).resolve())], cwd=workdir, timeout=timeout)
    run(["ghdl", "-e", *common, top], cwd=workdir, timeout=timeout)
