"""``lstm-chiplet cosim-bench``: simulated cycles per second, Icarus-VPI and Verilator.

Both simulators run the same converted engine (default: the reference encoder's first
layer, D=6, H=64, P=4) under the same stimulus (the weight image through the write
port, then back-to-back windows of 24 steps), checked bit-exact against the golden
model, ``--repeats`` times each; the figures are medians.  Two run lengths (2 steps,
and ``--windows`` windows for Icarus, 100 times more for Verilator) separate the fixed
start-up cost (process start, VPI handshake, weight load) from the steady speed::

    steady cycles/s = (cycles_long - cycles_short) / (seconds_long - seconds_short)

Icarus runs both pinned to one core (``taskset -c 0``) and unpinned, so the effect of
pinning is measured rather than assumed.  Results go to ``build/cosim/bench.json``
(or ``--out``) and to the terminal.  This is a benchmark, not a timed test.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path


def add_arguments(p) -> None:
    p.add_argument("--input-size", type=int, default=6, help="D (default 6)")
    p.add_argument("--hidden-size", type=int, default=64, help="H (default 64)")
    p.add_argument("--lanes", type=int, default=4, help="P (default 4)")
    p.add_argument("--windows", type=int, default=1,
                   help="windows of 24 steps in the long Icarus run (default 1; Verilator runs 100x more)")
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement; medians reported (default 3)")
    p.add_argument("--out", type=Path, default=None, help="JSON output (default build/cosim/bench.json)")


def _measure(run, repeats: int) -> dict:
    cycles, secs = [], []
    for _ in range(repeats):
        trace = run()
        if trace.status != "ok":
            raise RuntimeError(f"benchmark run ended with status {trace.status}")
        cycles.append(trace.end_cycle + 1)
        secs.append(trace.wall_seconds)
    return {"cycles": int(statistics.median(cycles)), "seconds": statistics.median(secs),
            "seconds_all": [round(s, 4) for s in secs]}


def _speeds(short: dict, long: dict) -> dict:
    dc = long["cycles"] - short["cycles"]
    dt = long["seconds"] - short["seconds"]
    return {"short": short, "long": long,
            "end_to_end_cycles_per_s": round(long["cycles"] / long["seconds"]),
            "steady_cycles_per_s": round(dc / dt) if dt > 0 else None,
            "startup_s": round(short["seconds"] - short["cycles"] * dt / dc, 4) if dt > 0 and dc > 0 else None}


def bench(cfg, windows: int = 1, repeats: int = 3) -> dict:
    """Measure both simulators on ``cfg`` (see the module docstring); returns the figures."""
    from .compile import engine_design
    from .engine import random_case
    from .icarus import run_icarus
    from .runner import verify
    from .tools import tool_version
    from .verilator import build, run_verilator

    design = engine_design(cfg)
    t0 = time.monotonic()
    build(design)
    verilator_build_s = time.monotonic() - t0

    def stim_of(n_windows, steps=24):
        case = random_case(cfg, 7, n_sequences=n_windows, max_len=steps, exact_len=True)
        return case, case.stimulus()

    short_case, short = stim_of(1, steps=2)
    long_case, long = stim_of(windows)
    vlong_case, vlong = stim_of(windows * 100)
    # one checked run of each first: the figures are for a design that is right
    for case, stim in ((short_case, short), (long_case, long)):
        verify(design, stim, case.reference(), simulator="icarus", name="bench")
    verify(design, vlong, vlong_case.reference(), simulator="verilator", name="bench")

    figures = {
        "design": cfg.module_name, "cycles_per_step": cfg.cycles_per_step,
        "stimulus": {"weight_words": len(short.image), "steps_short": len(short.beats),
                     "steps_long_icarus": len(long.beats), "steps_long_verilator": len(vlong.beats)},
        "repeats": repeats, "statistic": "median",
        "icarus_vpi_pinned": _speeds(_measure(lambda: run_icarus(design, short, pin=True), repeats),
                                     _measure(lambda: run_icarus(design, long, pin=True), repeats)),
        "icarus_vpi_unpinned": _speeds(_measure(lambda: run_icarus(design, short, pin=False), repeats),
                                       _measure(lambda: run_icarus(design, long, pin=False), repeats)),
        "verilator": _speeds(_measure(lambda: run_verilator(design, short), repeats),
                             _measure(lambda: run_verilator(design, vlong), repeats)),
        "verilator_build_s": round(verilator_build_s, 2),
        "tools": {"iverilog": tool_version("iverilog"), "verilator": tool_version("verilator")},
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
    }
    ic = figures["icarus_vpi_pinned"]["steady_cycles_per_s"]
    vl = figures["verilator"]["steady_cycles_per_s"]
    figures["verilator_over_icarus_vpi"] = round(vl / ic, 1) if ic and vl else None
    return figures


def _startup_text(startup_s) -> str:
    """The fitted start-up cost; a negative fit means it is below the timing noise."""
    if startup_s is None:
        return "not measured"
    if startup_s < 0:
        return f"below timing noise (fit {startup_s} s)"
    return f"{startup_s} s"


def run(args) -> int:
    from hdl.config import EngineConfig

    from .paths import build_root

    cfg = EngineConfig(args.input_size, args.hidden_size, args.lanes)
    if args.windows < 1 or args.repeats < 1:
        raise ValueError("cosim-bench: --windows and --repeats must be at least 1")
    figures = bench(cfg, args.windows, args.repeats)
    out = args.out or build_root() / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"co-simulation speed on {figures['design']} ({figures['cycles_per_step']} cycles/step), "
          f"median of {args.repeats}:")
    for key, label in (("icarus_vpi_pinned", "Icarus via MyHDL VPI, taskset -c 0"),
                       ("icarus_vpi_unpinned", "Icarus via MyHDL VPI, unpinned"),
                       ("verilator", "Verilator, C++ harness")):
        f = figures[key]
        print(f"  {label:38s} steady {f['steady_cycles_per_s'] or 0:>10,} cycles/s   "
              f"end-to-end {f['end_to_end_cycles_per_s']:>10,} cycles/s   start-up {_startup_text(f['startup_s'])}")
    print(f"  Verilator / Icarus-VPI (steady): {figures['verilator_over_icarus_vpi']}x; "
          f"Verilator build {figures['verilator_build_s']} s (0 when cached)")
    print(f"written {out}")
    return 0
