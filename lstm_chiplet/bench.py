"""``lstm-chiplet bench``: the 273-window workload on every path, side by side, in one run.

The reference autoencoder (``golden.autoencoder.AutoencoderConfig()``: 6 -> 64 -> 32 |
repeat 24 | 32 -> 64 -> Dense 6) with ``realistic_weights`` and ``synthetic_windows``
(N windows, seed), timed on:

pure Python
    the faithful list-based ``LSTMCell.step`` (:mod:`lstm_chiplet.workload.pure_python`,
    the user's code path); slow, so timed on a sample of windows and scaled to N (said so).
numpy float64
    :meth:`golden.autoencoder.Autoencoder.reconstruct_float`, all windows at once.
PyTorch CPU
    ``torch.nn.LSTM`` layers with the same weights, when torch is importable.
fixed-point kernels
    :meth:`golden.autoencoder.FixedAutoencoder.reconstruct_int` (bit-exact golden).
fxpmath specification
    :func:`golden.lstm_spec.spec_layer` for every LSTM layer (the dense layer with the
    kernel), on a sample, scaled; its output must equal the kernels' as integers.
Icarus and Verilator
    simulated cycles per second of the converted engine (``cosim.bench``: steady
    speed on the reference encoder's first layer, checked bit-exact while measured),
    turned into the time to simulate the workload's cycles.
projected hardware
    the workload's cycles on the whole-window design (:func:`window_cycles`) at the
    UP5K's clock from the implementation report (``lstm-chiplet synth``), and on a
    chiplet at 200 MHz.

Every timed figure is the median over ``--repeats``; the ratio is the pure-Python time
over the row's time.  Outputs: a markdown table on stdout and in ``bench.md``, all
figures in ``bench.json`` (``--out``, default ``build/bench``).  ``--quick`` (one
repeat, one-window samples, no simulators) runs in well under a minute.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "build" / "bench"
DEFAULT_SYNTH = REPO / "build" / "synth" / "summary.json"
#: Lanes per gate unit assumed on the UP5K: one SPRAM block per gate feeds one multiplier.
UP5K_LANES = 1
#: The chiplet design point of the projection.
CHIPLET_MHZ = 200.0
CHIPLET_LANES = 8


def _median_time(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def _row(name, seconds=None, how="", windows=None, note="", available=True, **extra):
    return {"path": name, "seconds": seconds, "how": how, "windows_timed": windows, "note": note,
            "available": available, **extra}


def _unavailable(name, reason):
    return _row(name, None, "not available", note=reason, available=False)


# -------------------------------------------------------------------- cycle model
def window_cycles(cfg, lanes: int) -> dict:
    """Cycles of one window on the whole-window design (:mod:`hdl.autoencoder_engine`)
    with ``lanes`` lanes per gate unit: ``AutoencoderEngineConfig.cycles_per_window``
    (the load, every LSTM pass, the dense pass; equal to the period measured on
    Verilator), with the per-pass split of ``cycle_table``.
    """
    from hdl.autoencoder_config import AutoencoderEngineConfig

    e = AutoencoderEngineConfig(cfg, lanes)
    table = e.cycle_table()
    layers = [{"layer": f"{r['inputs']}->{r['hidden']}", "lanes": lanes, "cycles_per_step": r["step_cycles"],
               "cycles": r["cycles"]} for r in table if e.passes[r["pass"]].kind != "dense"]
    dense = sum(r["cycles"] for r in table if e.passes[r["pass"]].kind == "dense")
    return {"layers": layers, "dense_cycles": dense, "load_cycles": e.load_cycles,
            "total": e.cycles_per_window, "lanes": lanes}


def up5k_clock(summary_path: Path) -> dict:
    """The UP5K clock to project with: a placed whole-window design, else a placed engine."""
    if not summary_path.is_file():
        return {"mhz": None, "why": f"no implementation report ({summary_path.name} not found: "
                                    "run lstm-chiplet synth)"}
    s = json.loads(summary_path.read_text())
    placed = [r for r in s.get("implementations", [])
              if r.get("fits") and (r.get("place_and_route") or {}).get("fmax_mhz")]
    whole = [r for r in placed if r.get("kind") == "autoencoder"]
    pick = whole or placed
    targets = [r["target_mhz"] for r in s.get("implementations", []) if r.get("target_mhz")]
    if not pick:
        tried = ", ".join(r["design"] for r in s.get("implementations", [])) or "none"
        return {"mhz": None, "why": f"no design placed on the UP5K yet (tried: {tried})",
                "target_mhz": targets[0] if targets else None}
    best = max(pick, key=lambda r: r["place_and_route"]["fmax_mhz"])
    cycles = (best.get("cycles") or {}).get("cycles_per_window") if whole else None
    return {"mhz": best["place_and_route"]["fmax_mhz"], "design": best["design"],
            "whole_window": bool(whole), "date": best.get("date"), "target_mhz": best.get("target_mhz"),
            "cycles_per_window": cycles, "lanes": (best.get("parameters") or {}).get("lanes")}


# -------------------------------------------------------------------- the paths
def _torch_row(ae, x, repeats):
    try:
        import torch
    except ImportError:
        return _unavailable("PyTorch CPU", "torch is not importable (optional)")
    import numpy as np

    torch.set_num_threads(1)
    cfg = ae.cfg
    ne = len(cfg.encoder_sizes)
    mods = []
    for w in ae.layers:
        m = torch.nn.LSTM(w.kernel.shape[0], w.recurrent.shape[0], batch_first=True).double()
        with torch.no_grad():   # Keras (D, 4H) i, f, c, o == PyTorch (4H, D) i, f, g, o
            m.weight_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(w.kernel.T)))
            m.weight_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(w.recurrent.T)))
            m.bias_ih_l0.copy_(torch.from_numpy(w.bias))
            m.bias_hh_l0.zero_()
        mods.append(m)
    dk = torch.from_numpy(ae.dense_kernel)
    db = torch.from_numpy(ae.dense_bias)
    xt = torch.from_numpy(np.asarray(x, dtype=np.float64))

    def run():
        with torch.no_grad():
            seq = xt
            for k, m in enumerate(mods):
                if k == ne:
                    seq = seq[:, -1:, :].repeat(1, cfg.timesteps, 1)
                seq, _ = m(seq)
            return (seq @ dk + db).numpy()

    t, times, out = _median_time(run, repeats)
    diff = float(np.max(np.abs(out - ae.reconstruct_float(x))))
    return _row("PyTorch CPU", t, "all windows, batch", x.shape[0], f"max |diff| vs numpy {diff:.1e}",
                times=times, torch=torch.__version__)


def _spec_row(fx, x, sample, repeats):
    import numpy as np

    from golden.lstm_spec import spec_autoencoder

    xs = fx.quantize_windows(x[:sample])

    def run():
        return spec_autoencoder(fx, xs)["reconstruction"]

    t, times, out = _median_time(run, repeats)
    kernels = fx.forward_int(xs)["reconstruction"]
    equal = bool(np.array_equal(out, kernels))
    if not equal:
        raise AssertionError("bench: the fxpmath specification disagrees with the fixed-point "
                             "kernels on the sample (integers differ)")
    n = x.shape[0]
    return _row("fxpmath specification", t * n / sample,
                f"{sample} window(s) timed, scaled x{n / sample:g}", sample,
                "every layer and the dense layer in fxpmath; integers equal the kernels'",
                times=times, sample_seconds=t, bit_exact_with_kernels=equal)


def _sim_rows(ae_cfg, n_windows, windows, repeats):
    try:
        from cosim.bench import bench as cosim_bench
        from cosim.configs import bench_config
    except ImportError as exc:
        reason = f"cosim.bench not importable ({exc})"
        return [_unavailable("Icarus co-simulation (MyHDL VPI, one core)", reason),
                _unavailable("Verilator", reason)], None
    cfg = bench_config()
    figures = cosim_bench(cfg, windows=windows, repeats=repeats)
    cycles = window_cycles(ae_cfg, cfg.lanes)
    total = cycles["total"] * n_windows
    rows = []
    for key, name in (("icarus_vpi_pinned", "Icarus co-simulation (MyHDL VPI, one core)"),
                      ("verilator", "Verilator")):
        f = figures[key]
        cps = f["steady_cycles_per_s"]
        if not cps:
            rows.append(_unavailable(name, f"no steady speed measured ({f})"))
            continue
        rows.append(_row(name, total / cps,
                         f"{cps:,} simulated cycles/s (steady, median of {repeats}) x "
                         f"{total:,} workload cycles", None,
                         f"speed measured on {figures['design']}; workload: the whole-window "
                         f"design at P={cfg.lanes}"
                         + (f"; unpinned: {figures['icarus_vpi_unpinned']['steady_cycles_per_s'] or 0:,} cycles/s"
                            if key == "icarus_vpi_pinned" and "icarus_vpi_unpinned" in figures else ""),
                         cycles_per_second=cps, workload_cycles=total))
    return rows, figures


def _hardware_rows(ae_cfg, n, synth_summary: Path, chiplet_mhz: float, chiplet_lanes: int):
    rows = []
    up = window_cycles(ae_cfg, UP5K_LANES)
    clock = up5k_clock(synth_summary)
    target = clock.get("target_mhz") or 24.0
    if clock["mhz"] and clock.get("cycles_per_window"):
        cyc = int(clock["cycles_per_window"])
        rows.append(_row("UP5K (projected)", cyc * n / (clock["mhz"] * 1e6),
                         f"{cyc:,} cycles/window x {n} at {clock['mhz']:.2f} MHz", None,
                         f"the placed whole-window design {clock['design']} (P={clock.get('lanes')}): "
                         "its clock and its documented cycles per window", projected=True,
                         mhz=clock["mhz"], cycles_per_window=cyc))
    elif clock["mhz"]:
        what = ("the whole-window design" if clock.get("whole_window")
                else f"the clock of {clock['design']} (single-layer engine; the whole-window design "
                     "is not placed yet)")
        rows.append(_row("UP5K (projected)", up["total"] * n / (clock["mhz"] * 1e6),
                         f"{up['total']:,} cycles/window x {n} at {clock['mhz']:.2f} MHz", None,
                         f"P={UP5K_LANES}; {what}", projected=True, mhz=clock["mhz"],
                         cycles_per_window=up["total"]))
    else:
        rows.append(_row("UP5K (projected at target)", up["total"] * n / (target * 1e6),
                         f"{up['total']:,} cycles/window x {n} at {target:g} MHz (the target)", None,
                         f"P={UP5K_LANES}; NOT a measured clock: {clock['why']}", projected=True,
                         mhz=target, cycles_per_window=up["total"]))
    ch = window_cycles(ae_cfg, chiplet_lanes)
    rows.append(_row("chiplet (projected)", ch["total"] * n / (chiplet_mhz * 1e6),
                     f"{ch['total']:,} cycles/window x {n} at {chiplet_mhz:g} MHz", None,
                     f"the whole-window design at P={chiplet_lanes} ({4 * chiplet_lanes} multipliers)",
                     projected=True, mhz=chiplet_mhz, cycles_per_window=ch["total"]))
    return rows, {"up5k": dict(up, clock=clock), "chiplet": ch}


# ------------------------------------------------------------------------ the run
def machine() -> dict:
    """nproc, CPU model and Python/numpy versions (no paths, no host names)."""
    import numpy as np

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "numpy": np.__version__, "system": platform.system()}


def run_bench(windows: int = 273, repeats: int = 3, seed: int = 0, python_sample: int = 4,
              spec_sample: int = 2, simulators: bool = True, sim_windows: int = 2, torch: bool = True,
              synth_summary: Path = DEFAULT_SYNTH, chiplet_mhz: float = CHIPLET_MHZ,
              chiplet_lanes: int = CHIPLET_LANES, progress: bool = True,
              model: Optional[Path] = None) -> dict:
    """Time every path on the same workload; returns the figures (see the module docstring).

    ``model``: a model file (any layout :func:`lstm_chiplet.models.store.load_any_model`
    reads) whose weights and formats replace the realistic reference weights.
    """
    import numpy as np

    from golden.autoencoder import AutoencoderConfig, FixedAutoencoder, realistic_weights, synthetic_windows
    from .workload.golden_bench import _BlasThreads
    from .workload.pure_python import PureAutoencoder

    for name, v in (("--windows", windows), ("--repeats", repeats), ("--python-sample", python_sample),
                    ("--spec-sample", spec_sample), ("--sim-windows", sim_windows),
                    ("--chiplet-lanes", chiplet_lanes)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"{name}: must be a positive integer, got {v!r}")
    if not chiplet_mhz > 0:
        raise ValueError(f"--chiplet-mhz: must be positive, got {chiplet_mhz!r}")

    def say(text):
        if progress:
            print(text, file=sys.stderr, flush=True)

    if model is None:
        cfg = AutoencoderConfig()
        ae = realistic_weights(cfg, seed)
        fx = FixedAutoencoder.from_float(ae)
        weights = "golden.autoencoder.realistic_weights(seed)"
    else:
        from .models.store import load_any_model
        lm = load_any_model(model)
        cfg, ae, fx = lm.cfg, lm.model, lm.fixed()
        weights = f"{model} ({lm.kind} model, its formats)"
    x = synthetic_windows(windows, cfg, seed)
    n = x.shape[0]
    python_sample, spec_sample = min(python_sample, n), min(spec_sample, n)
    rows, sims = [], None
    with _BlasThreads(1) as blas:
        say(f"bench: pure Python on {python_sample} window(s), {repeats} repeat(s)")
        model = PureAutoencoder(ae)
        sample = [[[float(v) for v in step] for step in w] for w in x[:python_sample]]
        t, times, out = _median_time(lambda: [model.reconstruct(w) for w in sample], repeats)
        agree = float(np.max(np.abs(np.array(out) - ae.reconstruct_float(x[:python_sample]))))
        rows.append(_row("pure Python (list-based step)", t * n / python_sample,
                         f"{python_sample} window(s) timed, scaled x{n / python_sample:g}", python_sample,
                         f"the user's code path; max |diff| vs numpy {agree:.1e}", times=times,
                         sample_seconds=t))
        say("bench: numpy float64, fixed-point kernels")
        ae.reconstruct_float(x[:2])
        fx.reconstruct_int(x[:2])
        t, times, _ = _median_time(lambda: ae.reconstruct_float(x), repeats)
        rows.append(_row("numpy float64", t, "all windows, batch", n, "", times=times))
        rows.append(_torch_row(ae, x, repeats) if torch else _unavailable("PyTorch CPU", "skipped (--no-torch)"))
        t, times, _ = _median_time(lambda: fx.reconstruct_int(x), repeats)
        rows.append(_row("fixed-point kernels (golden)", t, "all windows, batch", n,
                         "bit-exact reference of the RTL", times=times))
        say(f"bench: fxpmath specification on {spec_sample} window(s)")
        rows.append(_spec_row(fx, x, spec_sample, repeats))
    if simulators:
        say(f"bench: Icarus and Verilator (cosim.bench, {repeats} repeat(s); minutes)")
        sim_rows, sims = _sim_rows(cfg, n, sim_windows, repeats)
        rows += sim_rows
    else:
        rows += [_unavailable("Icarus co-simulation (MyHDL VPI, one core)", "skipped (--quick or --no-simulators)"),
                 _unavailable("Verilator", "skipped (--quick or --no-simulators)")]
    hw_rows, hw = _hardware_rows(cfg, n, Path(synth_summary), chiplet_mhz, chiplet_lanes)
    rows += hw_rows
    base = rows[0]["seconds"]
    for r in rows:
        r["speedup_vs_pure_python"] = (base / r["seconds"]) if r["seconds"] else None
        r["ms_per_window"] = 1e3 * r["seconds"] / n if r["seconds"] else None
    return {
        "command": "lstm-chiplet bench",
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "blas_threads": blas.threads,
        "settings": {"windows": n, "repeats": repeats, "seed": seed, "python_sample": python_sample,
                     "spec_sample": spec_sample, "simulators": simulators, "sim_windows": sim_windows,
                     "statistic": "median"},
        "workload": {"topology": cfg.describe(), "windows": n, "lstm_steps": n * cfg.timesteps * cfg.num_layers,
                     "weights": weights, "formats": fx.formats.to_dict(),
                     "windows_source": "golden.autoencoder.synthetic_windows(N, seed)"},
        "rows": rows,
        "hardware_model": hw,
        "cosim_bench": sims,
    }


def markdown_table(r: dict) -> str:
    m = r["machine"]
    lines = [f"Workload: {r['workload']['windows']} windows of {r['workload']['topology']} "
             f"({r['workload']['lstm_steps']:,} LSTM steps); medians of {r['settings']['repeats']} repeat(s); "
             f"{r['date']}, {m['nproc']} CPU(s) {m['cpu']}, Python {m['python']}, numpy {m['numpy']}.", "",
             "| path | time for the workload | per window | vs pure Python | how | note |",
             "|---|---|---|---|---|---|"]
    for row in r["rows"]:
        if not row["available"]:
            lines.append(f"| {row['path']} | not available | - | - | - | {row['note']} |")
            continue
        s = row["seconds"]
        t = f"{s:.3f} s" if s >= 0.01 else f"{s * 1e3:.3f} ms"
        ratio = row["speedup_vs_pure_python"]
        ratio_text = f"{ratio:,.1f}x faster" if ratio >= 1 else f"{1 / ratio:,.1f}x slower"
        lines.append(f"| {row['path']} | {t} | {row['ms_per_window']:.3f} ms | {ratio_text} | "
                     f"{row['how']} | {row['note']} |")
    return "\n".join(lines)


def add_arguments(p) -> None:
    p.add_argument("--windows", type=int, default=273, help="windows of the workload (default 273)")
    p.add_argument("--repeats", type=int, default=3, help="timing repeats, medians reported (default 3)")
    p.add_argument("--seed", type=int, default=0, help="weights and windows seed (default 0)")
    p.add_argument("--python-sample", type=int, default=4, help="windows timed in pure Python (default 4)")
    p.add_argument("--spec-sample", type=int, default=2, help="windows timed in fxpmath (default 2)")
    p.add_argument("--sim-windows", type=int, default=2,
                   help="windows of 24 steps in cosim.bench's long Icarus run (default 2)")
    p.add_argument("--no-simulators", action="store_true", help="skip Icarus and Verilator")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even when installed")
    p.add_argument("--quick", action="store_true",
                   help="one repeat, one-window samples, no simulators (well under a minute)")
    p.add_argument("--synth-summary", type=Path, default=DEFAULT_SYNTH,
                   help="implementation summary for the UP5K clock (default build/synth/summary.json)")
    p.add_argument("--chiplet-mhz", type=float, default=CHIPLET_MHZ, help="chiplet clock (default 200)")
    p.add_argument("--chiplet-lanes", type=int, default=CHIPLET_LANES, help="chiplet lanes per gate (default 8)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default build/bench)")
    p.add_argument("--model", type=Path, metavar="FILE",
                   help="model file whose weights and formats are benchmarked (default: realistic "
                        "weights of the reference topology in the default formats)")


def run(args) -> int:
    kw = dict(windows=args.windows, repeats=args.repeats, seed=args.seed, python_sample=args.python_sample,
              spec_sample=args.spec_sample, simulators=not args.no_simulators, sim_windows=args.sim_windows,
              torch=not args.no_torch, synth_summary=args.synth_summary, chiplet_mhz=args.chiplet_mhz,
              chiplet_lanes=args.chiplet_lanes, model=args.model)
    if args.quick:
        kw.update(repeats=1, python_sample=1, spec_sample=1, simulators=False)
    r = run_bench(**kw)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(r, indent=1) + "\n")
    text = markdown_table(r)
    (out / "bench.md").write_text(text + "\n")
    print(text)
    print(f"written {out / 'bench.json'}, {out / 'bench.md'}")
    return 0
