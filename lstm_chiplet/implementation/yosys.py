"""yosys in the flow: the multipliers and memories it finds, and synth_ice40 with two decisions made explicit.

Owns the reading of yosys' dumps for the flow (:class:`Multiplier`, :class:`Memory`,
their parsers), the DSP budget (:func:`dsp_budget`: the widest products get the
SB_MAC16 blocks), the memory plan (:func:`plan_memories`: the largest RAMs to SPRAM
when EBR overflows, the smallest to flip-flops), the checkpointed ``synth_ice40``
script that applies both (:func:`synthesize_ice40`) and iCE40 resources from mapped
cells.  The RTLIL and ``stat -json`` parsers themselves are
:func:`cosim.checks.parse_dump_cells` and :func:`cosim.checks.cells_from_stat_json`.
"""

from __future__ import annotations

import math
import re
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cosim.checks import CELL_HEADER, cells_from_stat_json, parse_dump_cells
from cosim.tools import ToolFailed, log_tail, run_tool

from .device import UP5K, Device, ebr_blocks, spram_blocks

#: A constant operand in a dump (a product by it is not a multiplier).
_CONST = re.compile(r"^(-?\d+|\d+'[01xz]+)$")


@dataclass
class Multiplier:
    """A ``$mul`` cell before DSP mapping."""

    name: str
    a_bits: int
    b_bits: int
    y_bits: int
    source: str = ""

    @property
    def dsp_blocks(self) -> int:
        """SB_MAC16 blocks yosys' mul2dsp would use (0: too small, stays in logic)."""
        if self.y_bits < 11 or min(self.a_bits, self.b_bits) < 2:
            return 0
        return math.ceil(self.a_bits / 16) * math.ceil(self.b_bits / 16)

    @property
    def weight(self) -> int:
        return self.a_bits * self.b_bits


def multipliers_from_dump(text: str) -> list:
    out = []
    for c in parse_dump_cells(text):
        if c["type"] != "$mul":
            continue
        p = c["parameters"]
        out.append(Multiplier(c["name"], int(p["A_WIDTH"]), int(p["B_WIDTH"]), int(p["Y_WIDTH"]),
                              _source_line(c["attributes"].get("src", ""))))
    return out


def dsp_budget(muls, blocks: int) -> tuple:
    """Split multipliers into (on DSPs, in logic): widest first while the blocks last."""
    on, soft, left = [], [], blocks
    for m in sorted(muls, key=lambda m: (-m.weight, m.name)):
        if 0 < m.dsp_blocks <= left:
            on.append(m)
            left -= m.dsp_blocks
        else:
            soft.append(m)
    return on, soft


SEPARATE_ADDRESSES = "separate read and write addresses (SPRAM has a single address port)"
READ_DURING_WRITE = ("a read during a write (SPRAM holds its output while writing: the read "
                     "must be disabled then)")
INITIAL_CONTENTS = "initial contents (SPRAM has none)"
#: What makes a RAM fit SPRAM, said once in a verdict.
SPRAM_HINT = ("SPRAM wants one address per memory, muxed between the write and the read, "
              "and the read disabled while writing")


def _source_line(src: str) -> str:
    """``file.v:123`` from a yosys ``src`` attribute (innermost location, no folders)."""
    last = str(src).split("|")[-1]
    m = re.match(r"(.*?):(\d+)", last)
    return f"{Path(m.group(1)).name}:{m.group(2)}" if m else ""


@dataclass
class Memory:
    """A ``$mem_v2`` cell after yosys' coarse synthesis.

    ``same_address`` is True when the write address is the read address (directly, or
    through the enable multiplexer yosys puts in front of a write port).
    ``init_nonzero`` is True when the memory or its read register starts from values
    other than zero (zeros are what the converter writes when every signal gets an
    initial value; a RAM loaded through its write port does not rely on them).
    """

    name: str
    memid: str
    size: int
    width: int
    rd_ports: int
    wr_ports: int
    same_address: bool = False
    init_nonzero: bool = False
    source: str = ""
    placement: str = "auto"     # auto (yosys decides: EBR or logic) or spram
    note: str = ""

    @property
    def bits(self) -> int:
        return self.size * self.width

    @property
    def rom(self) -> bool:
        return self.wr_ports == 0

    @property
    def ebr_blocks(self) -> int:
        return ebr_blocks(self.size, self.width)

    @property
    def spram_blocks(self) -> int:
        return spram_blocks(self.size, self.width)

    @property
    def label(self) -> str:
        """The memory's name in the RTL, or ROM/RAM and its source line for generated names."""
        if not self.memid.startswith("$"):
            return self.memid
        return ("ROM" if self.rom else "RAM") + (f" at {self.source}" if self.source else "")

    def spram_refusal(self) -> str:
        """Why this memory cannot go to SPRAM as written ('' when yosys may try)."""
        if self.rom:
            return "a ROM (SPRAM has no initial contents)"
        if self.rd_ports != 1 or self.wr_ports != 1:
            return f"{self.rd_ports} read and {self.wr_ports} write ports (SPRAM has one port)"
        if self.init_nonzero:
            return INITIAL_CONTENTS
        return ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(bits=self.bits, ebr_blocks=self.ebr_blocks, spram_blocks=self.spram_blocks,
                 label=self.label, rom=self.rom)
        return d


def _nonzero(v) -> bool:
    if isinstance(v, dict):
        return bool(v.get("nonzero"))
    return bool(v) if isinstance(v, int) else False


def mux_drivers(il_text: str) -> dict:
    """``{Y: (A, B)}`` of every ``$mux`` cell in an RTLIL file."""
    out = {}
    for c in parse_dump_cells(il_text):
        if c["type"] == "$mux":
            k = c["connections"]
            if "Y" in k:
                out[k["Y"]] = (k.get("A", ""), k.get("B", ""))
    return out


def memories_from_dump(text: str, il_text: str = "") -> list:
    """Memories from a ``dump t:$mem_v2``; ``il_text`` (the RTLIL file) resolves write addresses."""
    muxes = mux_drivers(il_text) if il_text else {}
    out = []
    for c in parse_dump_cells(text):
        if c["type"] != "$mem_v2":
            continue
        p, k = c["parameters"], c["connections"]
        rd, wr = k.get("RD_ADDR", ""), k.get("WR_ADDR", "")
        a, b = muxes.get(wr, ("", ""))
        undefined = re.fullmatch(r"\d+'x+", a.strip()) is not None
        same = bool(rd) and (rd == wr or (undefined and b == rd))
        out.append(Memory(c["name"], str(p.get("MEMID", c["name"])).lstrip("\\"), int(p["SIZE"]),
                          int(p["WIDTH"]), int(p["RD_PORTS"]), int(p["WR_PORTS"]), same,
                          _nonzero(p.get("INIT", 0)) or _nonzero(p.get("RD_INIT_VALUE", 0)),
                          _source_line(c["attributes"].get("src", ""))))
    return out


#: Largest memory the plan moves from EBR to flip-flops when EBR is over budget.
LOGIC_MAX_BITS = 256


def plan_memories(mems, device: Device, excluded=None) -> dict:
    """Choose SPRAM candidates when the EBR estimate exceeds the device (see module docstring).

    Parameters
    ----------
    excluded : dict name -> reason, optional
        Memories yosys already refused to map to SPRAM.

    Returns
    -------
    dict
        ``ebr_estimate`` (blocks left for EBR), ``spram_candidates`` (names, largest
        first), ``logic`` (names moved to flip-flops), ``refused`` (RAM name -> reason);
        ``placement`` and ``note`` are set on the memories.
    """
    excluded = dict(excluded or {})
    for m in mems:
        m.placement, m.note = "auto", ""
    total = sum(m.ebr_blocks for m in mems)
    refused, chosen, spram_left = {}, [], device.spram
    if total > device.ebr:
        for m in sorted(mems, key=lambda m: (-m.ebr_blocks, m.name)):
            if total <= device.ebr or spram_left == 0:
                break
            why = excluded.get(m.name) or m.spram_refusal()
            if why:
                m.note = f"not SPRAM: {why}"
                if not m.rom:
                    refused[m.name] = why
                continue
            if m.spram_blocks > spram_left:
                m.note = f"not SPRAM: needs {m.spram_blocks} SPRAM blocks, {spram_left} left"
                continue
            chosen.append(m.name)
            m.placement = "spram"
            m.note = "initial zeros dropped: SPRAM has no initial contents"
            spram_left -= m.spram_blocks
            total -= m.ebr_blocks
    # Still over: the smallest memories go to flip-flops (iCE40 has no LUT RAM), each
    # at most LOGIC_MAX_BITS so that the logic cells pay little for the block saved.
    to_logic = []
    if total > device.ebr:
        for m in sorted(mems, key=lambda m: (m.bits, m.name)):
            if total <= device.ebr or m.bits > LOGIC_MAX_BITS:
                break
            if m.placement != "auto":
                continue
            to_logic.append(m.name)
            m.placement = "logic"
            m.note = f"flip-flops: EBR over budget, {m.bits} bits"
            total -= m.ebr_blocks
    return {"ebr_estimate": total, "spram_candidates": chosen, "logic": to_logic, "refused": refused}


def drop_zero_init(il_text: str, names) -> str:
    """RTLIL with the all-zero ``INIT``/``RD_INIT_VALUE`` of the named ``$mem_v2`` cells undefined.

    SPRAM has no power-up contents and no output register reset value; a RAM the host
    fills through its write port (the engine's weights) does not need them.
    """
    names = set(names)
    out, inside = [], False
    for line in il_text.splitlines(keepends=True):
        m = CELL_HEADER.match(line)
        if m:
            inside = m.group(1) == "$mem_v2" and m.group(2).lstrip("\\") in names
        elif inside and line.strip() == "end":
            inside = False
        elif inside:
            pm = re.match(r"^(\s*parameter \\(?:INIT|RD_INIT_VALUE) )(\d+)'([01x]*)\s*$", line)
            if pm:
                if "1" in pm.group(3):
                    raise ValueError(f"drop_zero_init: {line.strip()[:60]} is not all zero")
                line = f"{pm.group(1)}{pm.group(2)}'{'x' * int(pm.group(2))}\n"
        out.append(line)
    return "".join(out)


def resources_from_cells(cells: dict) -> dict:
    """iCE40 resources from mapped cell counts, with a logic-cell range estimate."""
    luts = cells.get("SB_LUT4", 0)
    ffs = sum(n for k, n in cells.items() if k.startswith("SB_DFF"))
    carry = cells.get("SB_CARRY", 0)
    return {"lut4": luts, "flip_flops": ffs, "carry": carry,
            "logic_cells_min": max(luts, ffs, carry), "logic_cells_max": luts + ffs,
            "dsp": cells.get("SB_MAC16", 0), "ebr": sum(n for k, n in cells.items() if k.startswith("SB_RAM40_4K")),
            "spram": cells.get("SB_SPRAM256KA", 0)}


_COARSE_BEFORE_DSP = """opt_expr
opt_clean
check
opt -nodffe -nosdff
fsm
opt
wreduce
peepopt
opt_clean
share
techmap -map +/cmp2lut.v -D LUT_WIDTH=4
opt_expr
opt_clean
memory_dff
wreduce t:$mul"""

_COARSE_DSP_AND_AFTER = """techmap -map +/mul2dsp.v -map +/ice40/dsp_map.v -D DSP_A_MAXWIDTH=16 -D DSP_B_MAXWIDTH=16 -D DSP_A_MINWIDTH=2 -D DSP_B_MINWIDTH=2 -D DSP_Y_MINWIDTH=11 -D DSP_NAME=$__MUL16X16
select a:mul2dsp
setattr -unset mul2dsp
opt_expr -fine
wreduce
select -clear
ice40_dsp
chtype -set $mul t:$__soft_mul
alumacc
opt
memory -nomap
opt_clean"""

_LIBMAP_ERROR = re.compile(r"ERROR: no valid mapping found for memory \S+?\.(\S+)")


def _yosys(script: str, workdir: Path, name: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    (workdir / f"{name}.ys").write_text(script + "\n")
    proc = run_tool(["yosys", "-q", "-l", f"{name}.log", f"{name}.ys"], workdir, log=workdir / f"{name}.out",
                    timeout=timeout, check=False, nice=True)
    return proc


def _check(proc, workdir: Path, name: str) -> None:
    if proc.returncode != 0:
        raise ToolFailed(f"yosys step {name} failed (log {workdir / (name + '.log')}):\n"
                        f"{log_tail(workdir / (name + '.log'))}\n{proc.stderr[-2000:]}")


def synthesize_ice40(files, top: str, workdir: Path, device: Device = UP5K) -> dict:
    """yosys ``synth_ice40 -dsp -spram`` with the DSP budget and memory plan; returns findings.

    Writes ``netlist.json`` (for nextpnr) into ``workdir``.  Steps (each a yosys run,
    joined by RTLIL checkpoints): ``a`` up to the DSP mapping (lists the multipliers),
    ``b`` the DSP mapping and the rest of the coarse part (lists the memories), then
    trial memory mappings if SPRAM is wanted, and ``c`` the mapping to iCE40 cells.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    reads = "\n".join(f"read_verilog {Path(f).resolve()}" for f in files)
    a = (f"{reads}\nsynth_ice40 -top {top} -run begin:coarse\n{_COARSE_BEFORE_DSP}\n"
         f"rename -enumerate -pattern mulcell_% t:$mul\n"
         f"tee -q -o multipliers.txt dump t:$mul\nwrite_rtlil a.il")
    _check(_yosys(a, workdir, "a"), workdir, "a")
    muls = multipliers_from_dump((workdir / "multipliers.txt").read_text())
    on, soft = dsp_budget(muls, device.dsp)
    soften = (f"chtype -set $__soft_mul {' '.join(f'{top}/c:{m.name}' for m in soft)}\n" if soft else "")
    b = (f"read_rtlil a.il\n{soften}{_COARSE_DSP_AND_AFTER}\n"
         f"rename -enumerate -pattern memcell_% t:$mem_v2\n"
         f"tee -q -o memories.txt dump t:$mem_v2\nwrite_rtlil b.il")
    _check(_yosys(b, workdir, "b"), workdir, "b")
    b_il = (workdir / "b.il").read_text()
    mems = memories_from_dump((workdir / "memories.txt").read_text(), b_il)
    by_name = {m.name: m for m in mems}
    excluded, trials = {}, 0
    while True:
        plan = plan_memories(mems, device, excluded)
        candidates = plan["spram_candidates"]
        (workdir / "b_spram.il").write_text(drop_zero_init(b_il, candidates))
        if not candidates:
            break
        trials += 1
        sel = " ".join(f"{top}/c:{n}" for n in candidates)
        trial = (f"read_rtlil b_spram.il\nsetattr -set ram_style \"huge\" {sel}\n"
                 "memory_libmap -lib +/ice40/brams.txt -lib +/ice40/spram.txt")
        proc = _yosys(trial, workdir, "spram_trial")
        if proc.returncode == 0:
            break
        m = _LIBMAP_ERROR.search((workdir / "spram_trial.log").read_text(errors="replace") + proc.stderr)
        if not m or m.group(1) not in candidates:
            _check(proc, workdir, "spram_trial")
        name = m.group(1)
        excluded[name] = READ_DURING_WRITE if by_name[name].same_address else SEPARATE_ADDRESSES
    setattr_huge = "".join(f"setattr -set ram_style \"{style}\" {' '.join(f'{top}/c:{n}' for n in names)}\n"
                           for style, names in (("huge", candidates), ("logic", plan["logic"])) if names)
    c = (f"read_rtlil b_spram.il\n{setattr_huge}synth_ice40 -dsp -spram -run map_ram: -json netlist.json\n"
         f"tee -q -o stat.json stat -json")
    _check(_yosys(c, workdir, "c"), workdir, "c")
    cells = cells_from_stat_json((workdir / "stat.json").read_text(), top)
    return {
        "cells": cells,
        "resources": resources_from_cells(cells),
        "multipliers": {"total": len(muls), "dsp_blocks_available": device.dsp,
                        "on_dsp": [asdict(m) for m in on], "in_logic": [asdict(m) for m in soft]},
        "memories": [m.to_dict() for m in mems],
        "memory_plan": {"ebr_estimate_before": sum(m.ebr_blocks for m in mems),
                        "spram": candidates, "logic": plan["logic"], "refused_spram": plan["refused"],
                        "trial_mappings": trials},
        "netlist": str(workdir / "netlist.json"),
        "seconds": round(time.monotonic() - t0, 1),
    }


def bridge_cells(bridge_file: Path, module: str, workdir: Path) -> dict:
    """The host bridge alone through synth_ice40: its share of the logic."""
    workdir.mkdir(parents=True, exist_ok=True)
    script = f"read_verilog {bridge_file.resolve()}\nsynth_ice40 -top {module}\ntee -q -o bridge_stat.json stat -json"
    _check(_yosys(script, workdir, "bridge"), workdir, "bridge")
    return resources_from_cells(cells_from_stat_json((workdir / "bridge_stat.json").read_text(), module))
