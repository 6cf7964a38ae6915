"""Area and cycle figures beside the UP5K flow: generic cell counts and multiplier utilisation.

Owns :func:`generic_cells` (yosys' technology-independent ``synth`` of the bare
engine: gates, flip-flops, multipliers, memory bits), the utilisation tables of the
single-layer engine (:func:`utilisation`, cycles measured with
:func:`cosim.cycles.measure` when asked) and of the whole-window design
(:func:`window_utilisation`, measured on Verilator), their markdown and the plot.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from cosim.checks import cells_from_stat_json, parse_dump_cells
from cosim.tools import require

from .sources import DEFAULT_OUT, engine_source
from .yosys import _CONST, _check, _yosys, memories_from_dump

#: Lane counts of the utilisation tables.
UTILISATION_LANES = (1, 2, 4, 8, 16)


def generic_cells(cfg, out=DEFAULT_OUT) -> dict:
    """yosys generic ``synth`` of the bare engine ``cfg``: gates, flip-flops, memories.

    Multipliers (products of two signals, not by constants) are counted in the RTL
    (before ``alumacc`` merges them into ``$macc``),
    memories after the coarse part (``$mem_v2``, counted in bits and not expanded); the
    fine part maps the logic to yosys' internal gate library (``$_AND_``, ``$_MUX_``,
    ``$_DFF_*`` ...) without ``memory_map``.
    """
    require("yosys")
    workdir = Path(out) / "generic" / cfg.module_name
    workdir.mkdir(parents=True, exist_ok=True)
    src = engine_source(cfg, workdir / "rtl")
    t0 = time.monotonic()
    script = (f"read_verilog {src.verilog[0]}\nhierarchy -check -top {src.module}\nproc\nflatten\nopt_clean\n"
              "tee -q -o rtl_muls.txt dump t:$mul\n"
              f"synth -top {src.module} -run coarse:fine\n"
              "tee -q -o memories.txt dump t:$mem_v2\n"
              "opt -fast -full\ntechmap\nopt -fast\nabc -fast\nopt -fast\n"
              "tee -q -o fine_stat.json stat -json")
    _check(_yosys(script, workdir, "generic"), workdir, "generic")
    products = [c for c in parse_dump_cells((workdir / "rtl_muls.txt").read_text())
                if c["type"] == "$mul" and not any(_CONST.match(c["connections"].get(k, "0'0"))
                                                   for k in ("A", "B"))]
    fine = cells_from_stat_json((workdir / "fine_stat.json").read_text(), src.module)
    mems = memories_from_dump((workdir / "memories.txt").read_text())
    ffs = sum(n for k, n in fine.items() if "DFF" in k or "DLATCH" in k)
    gates = sum(n for k, n in fine.items() if k.startswith("$_") and k not in () and "DFF" not in k
                and "DLATCH" not in k)
    return {"design": src.module, "input_size": cfg.input_size, "hidden_size": cfg.hidden_size,
            "lanes": cfg.lanes, "multipliers": len(products),
            "gates": gates, "flip_flops": ffs, "cells_by_type": fine,
            "memories": len(mems), "memory_bits": sum(m.bits for m in mems),
            "ram_bits": sum(m.bits for m in mems if not m.rom), "rom_bits": sum(m.bits for m in mems if m.rom),
            "seconds": round(time.monotonic() - t0, 1)}


def generic_markdown(rows) -> str:
    head = "| engine | P | multipliers | gates | flip-flops | RAM bits | ROM bits |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['input_size']}->{r['hidden_size']} | {r['lanes']} | {r['multipliers']} | "
                     f"{r['gates']:,} | {r['flip_flops']:,} | {r['ram_bits']:,} | {r['rom_bits']:,} |")
    return "\n".join(lines)


def reference_layers() -> list:
    """(D, H) of every LSTM layer of the reference autoencoder."""
    from golden.autoencoder import AutoencoderConfig

    return [tuple(int(v) for v in s) for s in AutoencoderConfig().layer_shapes]


def utilisation(lanes=UTILISATION_LANES, layers=None, measure: bool = False, steps: int = 2) -> list:
    """Rows of the single-layer engine's table: ideal, beat spacing and latency (formulas),
    optionally both measured in MyHDL simulation.

    The engine takes the next step's beat while a step drains, so its throughput is one
    step per :attr:`~hdl.config.EngineConfig.beat_spacing` cycles; the ratio to the
    ideal, the 10 % test and the multipliers busy are on the spacing.  The latency
    (beat to h, longer than the spacing) is what the project's ``1.1 ideal + 16``
    target was set on and stays beside it."""
    from hdl.config import EngineConfig

    rows = []
    for d, h in layers or reference_layers():
        for p in lanes:
            if h % p:
                continue
            cfg = EngineConfig(d, h, p)
            row = {"layer": f"{d}->{h}", "input_size": d, "hidden_size": h, "lanes": p,
                   "multipliers": cfg.multipliers, "ideal": cfg.ideal_cycles,
                   "beat_spacing": cfg.beat_spacing, "latency": cfg.latency_cycles,
                   "measured_spacing": None, "measured_latency": None,
                   "ratio": cfg.beat_spacing / cfg.ideal_cycles,
                   "within_10_percent": cfg.beat_spacing <= 1.1 * cfg.ideal_cycles,
                   "engine_target": cfg.target_cycles, "meets_engine_target": cfg.meets_target,
                   "mac_busy": cfg.mac_utilisation}
            if measure:
                from cosim.cycles import measure as measure_cycles

                m = measure_cycles(d, h, p, steps)
                row["measured_spacing"] = m.measured_spacing
                row["measured_latency"] = m.measured
                row["measured_seconds"] = round(m.seconds, 2)
            rows.append(row)
    return rows


def window_utilisation(lanes=UTILISATION_LANES, measure: bool = False, progress=None) -> list:
    """Rows of the whole-window design's table: per layer pass and P, cycles per step.

    The whole-window design (:mod:`hdl.autoencoder_engine`, the design placed on the
    UP5K) overlaps a step's row pipeline with the next step's first columns, so a
    layer's step takes ``(H/P)(D+H) + G`` cycles with ``G`` the gap
    (:meth:`AutoencoderEngineConfig.step_gap`), zero for every reference layer.  With
    ``measure`` the whole design runs two windows of the reference autoencoder on
    Verilator at each P and the measured window period is checked against the
    formula (the sum over passes); a difference is reported, not hidden.
    """
    from golden.autoencoder import AutoencoderConfig, realistic_weights, synthetic_windows
    from hdl.autoencoder_config import AutoencoderEngineConfig

    model = AutoencoderConfig()
    rows = []
    for p in lanes:
        if any(h % p for h in model.hidden_sizes):
            continue
        cfg = AutoencoderEngineConfig(model, p)
        measured = None
        if measure:
            from cosim.autoencoder import run_autoencoder_windows

            if progress is not None:
                progress(f"whole-window design at P={p} on Verilator")
            fixed = realistic_weights(model, seed=p).quantize(cfg.fmts)
            out = run_autoencoder_windows(fixed, fixed.quantize_windows(synthetic_windows(2, model, seed=p)),
                                          simulator="verilator", lanes=p)
            measured = out["cycles_per_window"]
        for r in cfg.cycle_table():
            if cfg.passes[r["pass"]].kind == "dense":
                continue
            ideal = math.ceil(r["hidden"] * r["columns"] / p)
            rows.append({"design": cfg.module_name, "layer": f"{r['inputs']}->{r['hidden']}",
                         "pass": r["pass"], "lanes": p, "multipliers": cfg.multipliers, "ideal": ideal,
                         "cycles_per_step": r["step_cycles"], "step_gap": r["step_gap"],
                         "ratio": r["step_cycles"] / ideal,
                         "within_10_percent": r["step_cycles"] <= 1.1 * ideal,
                         "window_cycles": cfg.cycles_per_window, "window_cycles_measured": measured,
                         "window_mac_busy": cfg.mac_utilisation})
    return rows


def window_utilisation_markdown(rows) -> str:
    lines = ["| layer D->H (pass) | P | MACs | ideal (H/P)(D+H) | cycles/step (formula) | gap | "
             "cycles/ideal | within 10% | window cycles formula / measured | window MACs busy |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        meas = r["window_cycles_measured"]
        meas = "-" if meas is None else (f"{meas:,}" if meas == r["window_cycles"] else f"**{meas:,}**")
        lines.append(f"| {r['layer']} ({r['pass']}) | {r['lanes']} | {r['multipliers']} | {r['ideal']} | "
                     f"{r['cycles_per_step']} | {r['step_gap']} | {r['ratio']:.3f} | "
                     f"{'yes' if r['within_10_percent'] else 'NO'} | {r['window_cycles']:,} / {meas} | "
                     f"{100 * r['window_mac_busy']:.1f}% |")
    return "\n".join(lines)


def utilisation_markdown(rows) -> str:
    lines = ["| layer D->H | P | MACs | ideal ceil(H(D+H)/P) | beat spacing (formula / measured) | "
             "spacing/ideal | within 10% | MACs busy | latency (formula / measured) | "
             "latency <= 1.1 ideal + 16 |",
             "|---|---|---|---|---|---|---|---|---|---|"]

    def meas(v):
        return "-" if v is None else str(v)

    for r in rows:
        lines.append(f"| {r['layer']} | {r['lanes']} | {r['multipliers']} | {r['ideal']} | "
                     f"{r['beat_spacing']} / {meas(r['measured_spacing'])} | {r['ratio']:.3f} | "
                     f"{'yes' if r['within_10_percent'] else 'NO'} | {100 * r['mac_busy']:.1f}% | "
                     f"{r['latency']} / {meas(r['measured_latency'])} | "
                     f"{'yes' if r['meets_engine_target'] else 'NO'} |")
    return "\n".join(lines)


def utilisation_plot(rows, path: Path, window_rows=()) -> None:
    """Cycles per step against lanes, one panel line per layer, ideal dashed (log-log).

    ``window_rows`` (:func:`window_utilisation`) add the whole-window design: its
    cycles per step per layer (+) and its multipliers busy over a whole window.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    layers = []
    for r in rows:
        if r["layer"] not in layers:
            layers.append(r["layer"])
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for layer, col in zip(layers, colors * 3):
        rs = [r for r in rows if r["layer"] == layer]
        p = [r["lanes"] for r in rs]
        ax1.loglog(p, [r["ideal"] for r in rs], "--", color=col, lw=1)
        ax1.loglog(p, [r["beat_spacing"] for r in rs], "o-", color=col, label=f"{layer}")
        meas = [(r["lanes"], r["measured_spacing"]) for r in rs if r["measured_spacing"] is not None]
        if meas:
            ax1.loglog(*zip(*meas), "x", color="k", ms=8)
        ax2.semilogx(p, [100 * r["mac_busy"] for r in rs], "o-", color=col, label=layer)
        ws = [r for r in window_rows if r["layer"] == layer]
        if ws:
            ax1.loglog([r["lanes"] for r in ws], [r["cycles_per_step"] for r in ws], "+", color=col, ms=12)
    if window_rows:
        per_p = {r["lanes"]: r["window_mac_busy"] for r in window_rows}
        ax2.semilogx(list(per_p), [100 * v for v in per_p.values()], "s--", color="k",
                     label="whole-window design (per window)")
    ax1.set_xlabel("lanes P per gate unit (4P multipliers)")
    ax1.set_ylabel("cycles per step")
    ax1.set_title("Single-layer engine cycles/step at its beat spacing (o), ideal (dashed), measured (x);\n"
                  "whole-window design cycles/step (+)", fontsize=10)
    ax1.legend(fontsize=8)
    ax1.set_xticks(UTILISATION_LANES)
    ax1.set_xticklabels([str(p) for p in UTILISATION_LANES])
    ax2.axhline(100 / 1.1, color="r", lw=1, label="within 10% of ideal")
    ax2.set_xlabel("lanes P per gate unit")
    ax2.set_ylabel("multipliers busy (%)")
    ax2.set_ylim(0, 105)
    ax2.set_xticks(UTILISATION_LANES)
    ax2.set_xticklabels([str(p) for p in UTILISATION_LANES])
    ax2.set_title("Multipliers busy: single-layer engine per step (o), whole-window design per window", fontsize=9)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
