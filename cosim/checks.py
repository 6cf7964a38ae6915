"""Quality gates on converted HDL: Verilator lint, Icarus compile, yosys, GHDL.

Each check runs one external tool (through :func:`cosim.tools.run_tool`, so a missing
tool names its install command) and returns what it found, for the tests to assert on:

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

The parsers of yosys' output (:func:`parse_dump_cells` for an RTLIL ``dump``,
:func:`cells_from_stat_json` for ``stat -json``) live here once; the implementation
flow (:mod:`lstm_chiplet.implementation.yosys`) reads its yosys runs with them too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .tools import run_tool

_WARNING = re.compile(r"^%(Warning|Error)(-[A-Z0-9_]+)?:")
LATCH_TYPES = ("$dlatch", "$adlatch", "$dlatchsr", "$_DLATCH_", "$_DLATCHSR_", "$sr", "$_SR_")


# ----------------------------------------------------------------------- lint
def lint_verilog(verilog, top: str, *, timeout=600) -> list:
    """Run ``verilator --lint-only -Wall``; returns the warning/error lines (empty: clean)."""
    verilog = Path(verilog)
    proc = run_tool(["verilator", "--lint-only", "-Wall", "--top-module", top, verilog.name],
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
    run_tool(args + [str(s) for s in sources], cwd=out.parent, timeout=timeout)
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
    run_tool(["yosys", "-q", "-l", "synth.log", "-s", "synth.ys"], cwd=workdir, timeout=timeout)
    report = YosysReport()
    report.coarse_cells = cells_from_stat_json((workdir / "coarse_stat.json").read_text(), top)
    if full:
        report.final_cells = cells_from_stat_json((workdir / "final_stat.json").read_text(), top)
    report.memories = _memories((workdir / "memories.txt").read_text())
    report.ff_bits = _ff_bits(workdir / "coarse_width.txt")
    return report


def _memories(dump: str) -> list:
    """``$mem_v2`` cells of a dump as dicts: name, memid, size, width, rd/wr ports, abits."""
    mems = []
    for c in parse_dump_cells(dump):
        if c["type"] != "$mem_v2":
            continue
        p = c["parameters"]
        mem = {"name": c["name"]}
        mem.update({k.lower(): int(p[k]) for k in ("SIZE", "WIDTH", "RD_PORTS", "WR_PORTS", "ABITS")
                    if k in p})
        if "MEMID" in p:
            mem["memid"] = str(p["MEMID"])
        mems.append(mem)
    return mems


# --------------------------------------------------------------- yosys output parsing
#: The line that opens a cell in an RTLIL dump: ``cell <type> <name>``.
CELL_HEADER = re.compile(r"^\s*cell (\S+) (\S+)\s*$")
_PARAM = re.compile(r"^\s*parameter \\(\w+) (.+?)\s*$")
_CONN = re.compile(r"^\s*connect \\(\w+) (.+?)\s*$")
_ATTR = re.compile(r"^\s*attribute \\(\w+) (.+?)\s*$")


def _value(text: str):
    text = text.strip()
    if text.startswith('"'):
        return text[1:-1].replace("\\\\", "\\")
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    m = re.fullmatch(r"(\d+)'([01xz]*)", text)
    if m:
        bits = m.group(2)
        if len(bits) > 64:
            return {"bits": int(m.group(1)), "defined": any(b in "01" for b in bits),
                    "nonzero": "1" in bits}
        return int(bits.replace("x", "0").replace("z", "0") or "0", 2)
    return text


def parse_dump_cells(text: str) -> list:
    """Cells of a yosys RTLIL ``dump``: ``type``, ``name``, ``parameters``, ``connections``, ``attributes``."""
    cells, cur, attrs = [], None, {}
    for line in text.splitlines():
        m = CELL_HEADER.match(line)
        if m:
            cur = {"type": m.group(1), "name": m.group(2).lstrip("\\"), "parameters": {},
                   "connections": {}, "attributes": attrs}
            attrs = {}
            cells.append(cur)
            continue
        if cur is None:
            m = _ATTR.match(line)
            if m:
                attrs[m.group(1)] = _value(m.group(2))
            elif line.strip():
                attrs = {}          # the attributes belonged to a wire or a module
            continue
        if line.strip() == "end":
            cur = None
            continue
        m = _PARAM.match(line)
        if m:
            cur["parameters"][m.group(1)] = _value(m.group(2))
            continue
        m = _CONN.match(line)
        if m:
            cur["connections"][m.group(1)] = m.group(2)
    return cells


def cells_from_stat_json(text: str, top: str | None = None) -> dict:
    """Cell type -> count of the top module from ``stat -json`` output (tee'd to a file).

    The module is ``top`` when named and present, else the whole design's totals,
    else the first module.
    """
    start = text.find("{")
    if start < 0:
        raise ValueError("yosys stat -json: no JSON object in the output")
    data = json.loads(text[start:])
    mods = data.get("modules", {})
    if top is not None and ("\\" + top) in mods:
        mod = mods["\\" + top]
    elif top is not None and top in mods:
        mod = mods[top]
    elif "design" in data:
        mod = data["design"]
    else:
        mod = next(iter(mods.values()), {})
    return {k: int(v) for k, v in mod.get("num_cells_by_type", {}).items()}


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
    run_tool(["ghdl", "-a", *common, str(Path(package).resolve())], cwd=workdir, timeout=timeout)
    run_tool(["ghdl", "-a", *common, str(Path(vhdl).resolve())], cwd=workdir, timeout=timeout)
    run_tool(["ghdl", "-e", *common, top], cwd=workdir, timeout=timeout)
