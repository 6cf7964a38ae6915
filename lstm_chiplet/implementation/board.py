"""``lstm-chiplet synth --board icebreaker``: the board top through yosys, nextpnr and icepack.

Owns the board build: the configuration (:func:`board_build`: the engine for the
model, the PLL for the design clock, the UART timing for the baud rate), the check
that refuses a design before any tool runs (:func:`fit_before_synthesis`), and
:func:`implement_board`, which writes under ``<out>/<top module>/``: the top and the
``.pcf``, the yosys and nextpnr runs, ``report.json``, ``report.md`` and the
bitstream ``<top module>.bin`` for ``iceprog``.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from cosim.checks import cells_from_stat_json
from cosim.tools import require, tool_version

from .device import TARGET_MHZ, UP5K, Device, SPRAM_SHAPE, shortfalls
from .nextpnr import DEFAULT_SEED, NEXTPNR_RESOURCES, place_and_route
from .reports import describe_shortfall, describe_timing
from .sources import DEFAULT_OUT
from .yosys import _check, _yosys, resources_from_cells, synthesize_ice40

BOARDS = ("icebreaker",)
#: Lanes of the board's engine by default: the whole-window design the UP5K holds.
DEFAULT_BOARD_LANES = 1
#: The design clock by default (the flow's clock target).
DEFAULT_CLOCK_MHZ = TARGET_MHZ
#: Bits of one EBR block.
EBR_BITS = 4096


class BoardRefused(ValueError):
    """The design cannot go on the board (the message says what does not fit, by how much)."""


def board_build(fixed=None, lanes: int = DEFAULT_BOARD_LANES, clock_mhz: float = DEFAULT_CLOCK_MHZ,
                baud: int | None = None):
    """``(BoardConfig, PllSettings)`` for a model (``None``: the reference model's design).

    Raises :class:`BoardRefused` for a clock the PLL cannot make or that cannot make
    the baud rate, and for lanes the model's sizes refuse.
    """
    from golden.autoencoder import AutoencoderConfig
    from golden.formats import FormatError
    from hdl.autoencoder_config import AutoencoderEngineConfig
    from hdl.board_config import DEFAULT_BAUD, BoardConfig
    from lstm_chiplet.board.clocking import board_clock

    baud = DEFAULT_BAUD if baud is None else int(baud)
    try:
        engine = (AutoencoderEngineConfig(AutoencoderConfig(), int(lanes)) if fixed is None
                  else AutoencoderEngineConfig.for_model(fixed, int(lanes)))
    except FormatError as exc:
        raise BoardRefused(f"board: {exc}") from None
    try:
        pll, timing = board_clock(clock_mhz * 1e6, baud)
    except ValueError as exc:
        raise BoardRefused(f"board: {exc}") from None
    return BoardConfig(engine, pll.output_hz, baud), pll


def memory_need(board) -> dict:
    """Bits of RAM and ROM the engine holds, against what the device's EBR and SPRAM hold."""
    bits = board.engine.memory_bits
    return {"by_memory": dict(bits), "total_bits": sum(bits.values())}


def fit_before_synthesis(board, device: Device = UP5K) -> list:
    """Shortfalls certain before synthesis: memory bits beyond all block RAM, pins.

    The memory check is a lower bound (every bit in EBR or SPRAM, no block wasted),
    so what it refuses cannot fit; the synthesized netlist is checked again, block by
    block and cell by cell, before placement.
    """
    from lstm_chiplet.board.top import ICEBREAKER_PINS

    need = memory_need(board)["total_bits"]
    capacity = device.ebr * EBR_BITS + device.spram * SPRAM_SHAPE[0] * SPRAM_SHAPE[1]
    out = shortfalls({"io": len(ICEBREAKER_PINS)}, device)
    if need > capacity:
        out.append({"resource": "memory_bits", "used": int(need), "available": int(capacity),
                    "excess": int(need - capacity), "percent_of_device": round(100.0 * need / capacity, 1)})
    return out


def describe_refusal(board, problems) -> str:
    parts = []
    for s in problems:
        if s["resource"] == "memory_bits":
            by = memory_need(board)["by_memory"]
            parts.append(f"memory: the design holds {s['used']:,} bits ("
                         + ", ".join(f"{k} {v:,}" for k, v in by.items())
                         + f"), the UP5K's 30 EBR and 4 SPRAM blocks hold {s['available']:,} "
                         f"({s['excess']:,} bits too many, {s['percent_of_device']:.0f}% of the device)")
        else:
            parts.append(describe_shortfall(s))
    return (f"{board.engine.module_name} does not fit the iCE40 UP5K: " + "; ".join(parts))


def write_sources(board, pll, workdir: Path) -> dict:
    """The core (engine + board layer), the iCEBreaker top and the .pcf in ``workdir/rtl``."""
    from cosim.board import board_core, board_io_verilog
    from lstm_chiplet.board.top import icebreaker_verilog, pcf_text

    rtl = workdir / "rtl"
    rtl.mkdir(parents=True, exist_ok=True)
    core = board_core(board)
    core_file = rtl / f"{board.core_module}.v"
    core_file.write_text(core.text)
    top_file = rtl / f"{board.top_module}.v"
    top_file.write_text(icebreaker_verilog(board, pll))
    pcf = rtl / "icebreaker.pcf"
    pcf.write_text(pcf_text())
    return {"core": core_file, "top": top_file, "pcf": pcf, "board_io": board_io_verilog(board)}


def board_layer_cells(io_file: Path, module: str, workdir: Path) -> dict:
    """The board layer alone (UART, buffer, link, bridge, reset, LEDs) through synth_ice40."""
    workdir.mkdir(parents=True, exist_ok=True)
    script = (f"read_verilog {io_file.resolve()}\nsynth_ice40 -top {module}\n"
              "tee -q -o board_io_stat.json stat -json")
    _check(_yosys(script, workdir, "board_io"), workdir, "board_io")
    cells = cells_from_stat_json((workdir / "board_io_stat.json").read_text(), module)
    return {"cells": cells, "resources": resources_from_cells(cells)}


def implement_board(board, pll, out=DEFAULT_OUT, *, device: Device = UP5K, seed: int = DEFAULT_SEED,
                    place: bool = True, progress=None) -> dict:
    """The board top through the flow; writes ``<out>/<top>/report.json``, ``report.md``, ``<top>.bin``.

    Raises :class:`BoardRefused` before any tool runs when :func:`fit_before_synthesis`
    finds a shortfall.
    """
    say = progress or (lambda text: None)
    problems = fit_before_synthesis(board, device)
    if problems:
        raise BoardRefused(describe_refusal(board, problems))
    for tool in ("yosys",) + (("nextpnr-ice40", "icepack") if place else ()):
        require(tool)
    top = board.top_module
    workdir = Path(out) / top
    tmp = Path(out) / f".{top}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    t0 = time.monotonic()
    target_mhz = board.clock_hz / 1e6
    try:
        say("converting the board core")
        files = write_sources(board, pll, tmp)
        say("yosys: the board layer alone")
        layer = board_layer_cells(files["board_io"], board.io_module, tmp / "yosys")
        say("yosys: the whole board top (minutes)")
        syn = synthesize_ice40([files["core"], files["top"]], top, tmp / "yosys", device)
        res = syn["resources"]
        problems = shortfalls({"dsp": res["dsp"], "ebr": res["ebr"], "spram": res["spram"],
                               "logic_cells": res["logic_cells_min"]}, device)
        pnr = None
        if place and not problems:
            say("nextpnr-ice40 with the iCEBreaker pins (minutes)")
            pnr = place_and_route(tmp / "yosys", device, target_mhz, seed, pcf=files["pcf"])
            used = {NEXTPNR_RESOURCES[k]: v["used"] for k, v in pnr["utilisation"].items()
                    if k in NEXTPNR_RESOURCES}
            problems += shortfalls(used, device)
        verdict = []
        if problems:
            verdict.append("does NOT fit the " + device.name + ": "
                           + "; ".join(describe_shortfall(s) for s in problems))
        if pnr is not None:
            if pnr["routed"] and pnr["fmax_mhz"] is not None:
                verdict.append("placed and routed; " + describe_timing(pnr["fmax_mhz"], target_mhz))
            elif not pnr["routed"]:
                verdict.append("nextpnr failed: " + "; ".join(pnr["errors"][:3]))
        elif not place:
            verdict.append("placement not run (--no-place)")
        bitstream = None
        if pnr is not None and pnr.get("bitstream"):
            bitstream = tmp / f"{top}.bin"
            shutil.copyfile(pnr["bitstream"], bitstream)
        report = {"design": top, "kind": "board", "board": "icebreaker", "engine": board.engine.module_name,
                  "core": board.core_module, "board_config": board.to_dict(), "pll": pll.to_dict(),
                  "uart": {"baud": board.baud, "divisor": board.divisor, "actual_baud": board.timing.actual_baud,
                           "error": board.timing.error},
                  "link": board.link(), "pins": {"pcf": "rtl/icebreaker.pcf"},
                  "device": device.to_dict(), "target_mhz": target_mhz, "seed": seed,
                  "tools": {t: tool_version(t) for t in ("yosys",) + (("nextpnr-ice40",) if place else ())},
                  "board_layer": layer, "synthesis": syn, "place_and_route": pnr,
                  "fits": not problems and (pnr is None or pnr["routed"]),
                  "timing_met": None if not pnr or pnr.get("fmax_mhz") is None else pnr["fmax_mhz"] >= target_mhz,
                  "shortfalls": problems, "verdict": verdict,
                  "bitstream": f"{top}.bin" if bitstream else None,
                  "seconds": round(time.monotonic() - t0, 1)}
        (tmp / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
        (tmp / "report.md").write_text(board_markdown(report) + "\n")
        if workdir.exists():
            shutil.rmtree(workdir)
        tmp.rename(workdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def board_markdown(r: dict) -> str:
    p, u, lk = r["pll"], r["uart"], r["link"]
    res = r["synthesis"]["resources"]
    lay = r["board_layer"]["resources"]
    lines = [f"# {r['design']} (iCEBreaker)", "",
             f"Engine `{r['engine']}` behind the board layer; design clock {r['target_mhz']:g} MHz "
             + (f"(PLL DIVR={p['divr']} DIVF={p['divf']} DIVQ={p['divq']} FILTER_RANGE={p['filter_range']})"
                if p["divr"] is not None else "(the oscillator)")
             + f"; {u['baud']} baud, {u['divisor']} clocks per bit.", "",
             "| | logic cells | EBR | SPRAM | DSP |", "|---|---|---|---|---|",
             f"| whole top | {res['logic_cells_min']} | {res['ebr']} | {res['spram']} | {res['dsp']} |",
             f"| board layer alone | {lay['logic_cells_min']} | {lay['ebr']} | {lay['spram']} | {lay['dsp']} |",
             "", "Verdict: " + " / ".join(r["verdict"]), "",
             f"Link per window: {lk['bytes_in_per_window']} bytes in, {lk['bytes_out_per_window']} out, "
             f"{1e3 * lk['line_seconds_in']:.3f} ms + {1e3 * lk['line_seconds_out']:.3f} ms on the line; "
             f"the engine: {lk['engine_cycles_per_window']:,} cycles "
             f"({1e3 * lk['engine_seconds_per_window']:.2f} ms).", ""]
    if r["bitstream"]:
        lines.append(f"Bitstream: `{r['bitstream']}` (flash with `iceprog {r['bitstream']}`).")
    return "\n".join(lines)
