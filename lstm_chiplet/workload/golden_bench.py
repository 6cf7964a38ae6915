"""``lstm-chiplet bench-golden``: accuracy and speed of the golden models.

On the reference autoencoder (``AutoencoderConfig()``: 6 -> 64 -> 32 | repeat 24 |
32 -> 64 -> Dense 6) with :func:`golden.autoencoder.realistic_weights` and
:func:`golden.autoencoder.synthetic_windows` (a stand-in until the project ships its
trained model), one run measures:

accuracy
    max |reconstruction_fixed - reconstruction_float| over every window at the
    default 16-bit formats (target 2^-9); beside it, for scale, the max |h| error of
    one 6 -> 32 layer over 24 steps (hls4ml's default ap_fixed<16,6> is off by up to
    0.028 there); per-layer h and c errors; which format dominates (each format
    widened by 4 fraction bits in turn); whether float and fixed flag the same
    windows as anomalies (95th percentile of the scores).
error bound
    the input-independent static bound and the per-window trajectory bound of
    :mod:`golden.error_bound` on a few windows spread over the set, with its
    tightness (bound / observed error) and a check that it holds element by element.
speed
    the N windows with the fast fixed-point kernels, numpy float64 batch inference
    and the faithful pure-Python list-based ``step`` (the user's code path), medians
    over repeats.  Pure Python is slow (about 25 s for 273 windows), so by default
    it runs on a sample of windows and its time is scaled to N (the table says so);
    ``--full`` times every window.  Beside float64, the kernels are timed four ways,
    in turn within each repeat: the global formats and :func:`per_layer_formats`
    (formats that differ between layers), each with and without clamp counting; the
    table gives wall-clock and process-CPU medians and their ratios to float64 (on a
    shared machine the CPU figures are the steadier ones).

Outputs: a table on stdout, ``bench-golden.json`` and ``bench-golden.png`` (error
per step against the bound) in ``--out``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from golden.autoencoder import (AutoencoderConfig, FixedAutoencoder, realistic_layer, realistic_weights,
                          synthetic_windows, window_scores)
from golden.formats import ClampCounts, DEFAULT_FORMATS, DenseFormats, LSTMFormats, ModelFormats, QFormat

#: Accuracy target on the reconstruction.
ACCURACY_TARGET = 2.0 ** -9
#: Speed target for the fixed-point kernels on 273 windows, seconds.
SPEED_TARGET_S = 0.5
#: hls4ml's default ap_fixed<16,6> C simulation of LSTM(6->32) over 24 steps: max |h| error.
HLS4ML_H_ERROR = 0.028
#: The anomaly threshold percentile of the reference workload.
ANOMALY_PERCENTILE = 95.0
DEFAULT_OUT = Path(__file__).resolve().parents[2] / "build" / "bench-golden"


# --------------------------------------------------------------------------
# progress and timing helpers
# --------------------------------------------------------------------------

class _Progress:
    """A one-line progress counter on stderr (silent when disabled)."""

    def __init__(self, label: str, total: int, enabled: bool):
        self.label, self.total, self.enabled = label, total, enabled
        self.start = time.perf_counter()
        self.tty = enabled and sys.stderr.isatty()
        self.last = -1.0

    def __call__(self, done: int, total: int = None) -> None:
        if not self.enabled:
            return
        total = total or self.total
        now = time.perf_counter()
        if done < total and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        line = f"  {self.label}: {done}/{total} ({now - self.start:.1f} s)"
        if self.tty:
            sys.stderr.write("\r" + line + ("\n" if done >= total else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _say(enabled: bool, text: str) -> None:
    if enabled:
        print(text, file=sys.stderr, flush=True)


class _BlasThreads:
    """Run numpy's OpenBLAS single-threaded inside ``with`` (best effort, restored after).

    The workload's matrix products are small (a few MFLOP per step): a second BLAS
    thread only adds synchronisation, and on a loaded 2-core machine a spinning BLAS
    thread pool makes every product many times slower.  ``threads`` records what was
    in force (``None`` when numpy's BLAS could not be reached).
    """

    _SET = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")
    _GET = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_", "openblas_get_num_threads")

    def __init__(self, threads: int = 1):
        self.want, self.threads, self.before, self.lib = threads, None, None, None

    def _find(self):
        import ctypes
        libdir = Path(np.__file__).resolve().parent.parent / "numpy.libs"
        for path in sorted(libdir.glob("*openblas*")) if libdir.is_dir() else []:
            try:
                lib = ctypes.CDLL(str(path))
            except OSError:
                continue
            setter = next((getattr(lib, n) for n in self._SET if hasattr(lib, n)), None)
            getter = next((getattr(lib, n) for n in self._GET if hasattr(lib, n)), None)
            if setter is not None and getter is not None:
                return setter, getter
        return None

    def __enter__(self):
        found = self._find()
        if found is not None:
            self.lib = found
            self.before = int(found[1]())
            found[0](self.want)
            self.threads = int(found[1]())
        return self

    def __exit__(self, *exc):
        if self.lib is not None and self.before is not None:
            self.lib[0](self.before)
        return False


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _median_times(cases: dict, repeats: int) -> tuple:
    """Median wall-clock and process-CPU seconds of every callable in ``cases``, timed
    in turn within each repeat, so that a slow spell on a shared machine affects every
    row alike (CPU time leaves out the time spent waiting for a core)."""
    wall = {name: [] for name in cases}
    cpu = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return ({name: statistics.median(t) for name, t in wall.items()},
            {name: statistics.median(t) for name, t in cpu.items()})


def per_layer_formats(cfg: AutoencoderConfig) -> ModelFormats:
    """Formats that differ between layers, for timing the per-layer kernels.

    Not calibrated: an example of the shape a calibrated choice takes.  The first layer
    keeps vec Q2.14 (windows scaled to [0, 1] with head-room); the later layers take
    their x and h in Q1.15 (h = o tanh(c) lies in (-1, 1); an h that rounds to 1 clamps
    and is counted), so the first inter-layer requantization runs; the weights
    (:func:`realistic_weights` keeps them within +-1.75) use Q2.14; the decoder's
    preact is Q6.10, since c grows over the repeated latent vector; the Dense layer
    reads Q1.15 and writes Q2.14.
    """
    vec_in, vec_h = QFormat(16, 14, name="vec"), QFormat(16, 15, name="vec")
    weight = QFormat(16, 14, name="weight")
    act = DEFAULT_FORMATS.act
    enc = [LSTMFormats(vec_in if k == 0 else vec_h, weight, DEFAULT_FORMATS.preact, act)
           for k in range(len(cfg.encoder_sizes))]
    dec = [LSTMFormats(vec_h, weight, QFormat(16, 10, name="preact"), act)
           for _ in cfg.decoder_sizes]
    return ModelFormats(tuple(enc + dec), DenseFormats(weight, QFormat(16, 14, name="out")))


# --------------------------------------------------------------------------
# the measurements
# --------------------------------------------------------------------------

def _widened(fmts: LSTMFormats, which: str, bits: int = 4) -> LSTMFormats:
    parts = {k: getattr(fmts, k) for k in ("vec", "weight", "preact", "act")}
    f = parts[which]
    parts[which] = QFormat(f.word_bits + bits, f.frac_bits + bits, f.signed, f.rounding,
                           f.overflow, f.name)
    return LSTMFormats(**parts)


def _accuracy(ae, fx: FixedAutoencoder, x, seed: int, attribution: bool) -> dict:
    fmts = fx.fmts
    fw = ae.forward_float(x)
    fi = fx.forward_int(fx.quantize_windows(x))
    recon_fixed = fmts.vec.to_float(fi["reconstruction"])
    err = np.abs(recon_fixed - fw["reconstruction"])
    layers = []
    for k, (hi, hf, ci, cf) in enumerate(zip(fi["h"], fw["h"], fi["c"], fw["c"])):
        layers.append({"name": ae.cfg.layer_name(k),
                       "h_max_abs_error": float(np.max(np.abs(fmts.vec.to_float(hi) - hf))),
                       "c_max_abs_error": float(np.max(np.abs(fmts.preact.to_float(ci) - cf))),
                       "c_max_abs": float(np.max(np.abs(cf)))})
    # one 6 -> 32 layer over the same windows, for scale against hls4ml
    from golden.lstm_fixed import FixedLSTMWeights, lstm_layer_fixed
    from golden.lstm_float import lstm_layer
    w32 = realistic_layer(np.random.default_rng(seed + 1), ae.cfg.features, 32)
    wq32 = FixedLSTMWeights.from_float(w32, fmts, "6->32 layer")
    h32f, _ = lstm_layer(x, w32)
    h32i, _ = lstm_layer_fixed(fmts.vec.quantize(x), wq32)
    err32 = np.abs(fmts.vec.to_float(h32i) - h32f)
    # anomaly flags of float and fixed at the 95th percentile of their own scores
    s_float = window_scores(x, fw["reconstruction"])
    s_fixed = window_scores(x, recon_fixed)
    flag_float = s_float > np.percentile(s_float, ANOMALY_PERCENTILE)
    flag_fixed = s_fixed > np.percentile(s_fixed, ANOMALY_PERCENTILE)
    out = {
        "reconstruction_max_abs_error": float(err.max()),
        "reconstruction_per_step_max": err.max(axis=(0, 2)).tolist(),
        "target": ACCURACY_TARGET,
        "target_met": bool(err.max() <= ACCURACY_TARGET),
        "per_layer": layers,
        "single_layer_6_32": {"h_max_abs_error": float(err32.max()),
                              "hls4ml_ap_fixed_16_6_h_error": HLS4ML_H_ERROR,
                              "per_step_max": err32.max(axis=(0, 2)).tolist()},
        "anomaly_flags": {"percentile": ANOMALY_PERCENTILE,
                          "float_flagged": int(flag_float.sum()),
                          "fixed_flagged": int(flag_fixed.sum()),
                          "same_flags": bool(np.array_equal(flag_float, flag_fixed)),
                          "windows_flagged_differently": int(np.sum(flag_float != flag_fixed)),
                          "max_abs_score_difference": float(np.max(np.abs(s_fixed - s_float)))},
    }
    if attribution:
        rows = []
        for which, what in (("vec", "x and h"), ("weight", "weights"),
                            ("preact", "z and c"), ("act", "sigmoid/tanh outputs")):
            f2 = _widened(fmts, which)
            e2 = np.abs(FixedAutoencoder.from_float(ae, f2).reconstruct(x) - fw["reconstruction"])
            rows.append({"format": which, "holds": what, "widened_to": getattr(f2, which).fxp_dtype,
                         "reconstruction_max_abs_error": float(e2.max())})
        out["format_attribution"] = rows
    return out, err, (w32, wq32, err32)


def _bounds(ae, fx, x, err, single, bound_windows: int, progress: bool) -> dict:
    from golden.error_bound import static_autoencoder_bound, trajectory_autoencoder_bound, trajectory_bound
    static = static_autoencoder_bound(fx, (0.0, 1.0))
    n = x.shape[0]
    k = max(1, min(bound_windows, n))
    idx = sorted(set(np.linspace(0, n - 1, k).round().astype(int).tolist()))
    fw = ae.forward_float(x[idx])
    fi = fx.forward_int(fx.quantize_windows(x[idx]))
    per = []
    layer_obs = np.zeros(len(ae.layers))
    layer_bound = np.zeros(len(ae.layers))
    bar = _Progress("error bound (trajectory, per window)", len(idx), progress)
    holds = True
    w32, wq32, err32 = single
    single_bounds = []
    for j, wi in enumerate(idx):
        b = trajectory_autoencoder_bound(fx, x[wi])
        obs = err[wi]
        ok = bool(np.all(obs <= b.reconstruction))
        for li, lb in enumerate(b.layers):
            eh = np.abs(fx.fmts.vec.to_float(fi["h"][li][j]) - fw["h"][li][j])
            ok = ok and bool(np.all(eh <= lb.h))
            layer_obs[li] = max(layer_obs[li], eh.max())
            layer_bound[li] = max(layer_bound[li], lb.h.max())
        b32 = trajectory_bound([wq32], x[wi], [w32]).layers[0].h
        ok = ok and bool(np.all(err32[wi] <= b32))
        single_bounds.append({"window": int(wi), "bound_per_step": b32.max(axis=1).tolist(),
                              "observed_per_step": err32[wi].max(axis=1).tolist()})
        holds = holds and ok
        per.append({"window": int(wi),
                    "observed_max": float(obs.max()),
                    "bound_max": b.reconstruction_max,
                    "tightness": b.reconstruction_max / max(float(obs.max()), 1e-300),
                    "bound": b.reconstruction.tolist(),
                    "bound_per_step": b.reconstruction.max(axis=1).tolist(),
                    "observed_per_step": obs.max(axis=1).tolist(),
                    "deterministic_part_max": float(np.abs(b.reconstruction_centre).max()),
                    "sigma_estimate_max": float(b.reconstruction_sigma.max()),
                    "holds": ok})
        bar(j + 1)
    tight = [p["tightness"] for p in per]
    obs32 = float(max(err32[i].max() for i in idx))
    bound32 = max(max(p["bound_per_step"]) for p in single_bounds)
    return {
        "static": {"reconstruction_max": static.reconstruction_max,
                   "h_max_per_layer": [float(lb.h.max()) for lb in static.layers],
                   "growth_per_step": static.gain,
                   "input_range": [0.0, 1.0]},
        "trajectory": {
            "windows": idx,
            "per_window": per,
            "holds": holds,
            "tightness_median": float(statistics.median(tight)),
            "tightness_max": float(max(tight)),
            "tightness_min": float(min(tight)),
            "per_layer": [{"name": ae.cfg.layer_name(li), "h_bound_max": float(layer_bound[li]),
                           "h_observed_max": float(layer_obs[li]),
                           "tightness": float(layer_bound[li] / max(layer_obs[li], 1e-300))}
                          for li in range(len(ae.layers))],
            "single_layer_6_32": {"h_bound_max": bound32, "h_observed_max": obs32,
                                  "tightness": bound32 / max(obs32, 1e-300),
                                  "per_window": single_bounds},
        },
    }


def _timing(ae, fx, x, repeats: int, python_sample: int, full: bool, progress: bool) -> dict:
    from .pure_python import PureAutoencoder
    n = x.shape[0]
    per_layer = per_layer_formats(ae.cfg)
    fx_layers = FixedAutoencoder.from_float(ae, per_layer)
    rows = {"fixed": (fx, None), "fixed, clamps counted": (fx, ClampCounts),
            "fixed, per-layer formats": (fx_layers, None),
            "fixed, per-layer formats, clamps counted": (fx_layers, ClampCounts)}

    def run(model, counts):
        return lambda: model.reconstruct_int(x, None if counts is None else counts())

    cases = {name: run(m, counts) for name, (m, counts) in rows.items()}
    cases["float"] = lambda: ae.reconstruct_float(x)
    for fn in cases.values():                 # warm-up: tables, float copies, BLAS
        fn()
    _say(progress, f"  timing fixed-point kernels and numpy float64 ({repeats} repeats, in turn)")
    med, cpu = _median_times(cases, repeats)
    t_fixed, t_float = med["fixed"], med["float"]
    kernels = [{"kernels": name, "formats": "global" if m.formats.is_global else "per-layer",
                "clamps_counted": counts is not None, "seconds": med[name],
                "per_step_us": 1e6 * med[name] / (n * ae.cfg.timesteps * ae.cfg.num_layers),
                "vs_float": med[name] / t_float,
                "cpu_seconds": cpu[name], "vs_float_cpu": cpu[name] / cpu["float"]}
               for name, (m, counts) in rows.items()]
    m = n if full else max(1, min(python_sample, n))
    sample = [[[float(v) for v in step] for step in w] for w in x[:m]]
    model = PureAutoencoder(ae)
    times, recon = [], None
    for r in range(repeats):
        bar = _Progress(f"pure Python, repeat {r + 1}/{repeats}", m, progress)
        t0 = time.perf_counter()
        out = []
        for j, w in enumerate(sample):
            out.append(model.reconstruct(w))
            bar(j + 1)
        times.append(time.perf_counter() - t0)
        recon = out
    t_py_sample = statistics.median(times)
    t_py = t_py_sample * n / m
    agree = float(np.max(np.abs(np.array(recon) - ae.reconstruct_float(x[:m]))))
    steps = n * ae.cfg.timesteps * ae.cfg.num_layers
    return {
        "windows": n, "repeats": repeats, "lstm_steps": steps,
        "fixed_s": t_fixed, "float_s": t_float, "pure_python_s": t_py,
        "pure_python_windows_timed": m, "pure_python_scaled": m < n,
        "pure_python_sample_s": t_py_sample,
        "pure_python_vs_float_max_abs_diff": agree,
        "per_step_us": {"fixed": 1e6 * t_fixed / steps, "float": 1e6 * t_float / steps,
                        "pure_python": 1e6 * t_py / steps},
        "speedup_fixed_vs_pure_python": t_py / t_fixed,
        "speedup_float_vs_pure_python": t_py / t_float,
        "fixed_vs_float_time_ratio": t_fixed / t_float,
        "kernels": kernels,
        "float_cpu_s": cpu["float"],
        "per_layer_formats": per_layer.to_dict(),
        "per_layer_formats_described": per_layer.describe(fx_layers.layer_names),
        "target_s": SPEED_TARGET_S * n / 273.0,
        "target_met": bool(t_fixed <= SPEED_TARGET_S * n / 273.0),
    }


def _plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    acc, tb = results["accuracy"], results["bound"]["trajectory"]
    steps = np.arange(1, len(acc["reconstruction_per_step_max"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"][1:]
    ax1.semilogy(steps, acc["reconstruction_per_step_max"], "-", color="0.6", lw=3,
                 label="observed, max over all windows")
    for p, col in zip(tb["per_window"], colors * 4):
        ax1.semilogy(steps, p["observed_per_step"], "o-", ms=3, color=col,
                     label=f"window {p['window']}: observed")
        ax1.semilogy(steps, p["bound_per_step"], "--", color=col, label=f"window {p['window']}: bound")
    ax1.axhline(ACCURACY_TARGET, color="k", lw=1, label="target 2^-9")
    ax1.set_xlabel("time step")
    ax1.set_ylabel("max over features of |reconstruction fixed - float|")
    ax1.set_title("Autoencoder reconstruction: error and derived bound")
    ax1.legend(fontsize=7)
    s = acc["single_layer_6_32"]
    ax2.semilogy(steps, s["per_step_max"], "-", color="0.6", lw=3, label="observed, max over all windows")
    for p, col in zip(tb["single_layer_6_32"]["per_window"], colors * 4):
        ax2.semilogy(steps, p["observed_per_step"], "o-", ms=3, color=col,
                     label=f"window {p['window']}: observed")
        ax2.semilogy(steps, p["bound_per_step"], "--", color=col, label=f"window {p['window']}: bound")
    ax2.axhline(s["hls4ml_ap_fixed_16_6_h_error"], color="r", lw=1,
                label="hls4ml ap_fixed<16,6> (its max over 24 steps)")
    ax2.set_xlabel("time step")
    ax2.set_ylabel("max over units of |h fixed - float|")
    ax2.set_title("One 6 -> 32 LSTM layer (vec Q2.14, weight Q4.12, preact Q5.11)")
    ax2.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_benchmark(windows: int = 273, repeats: int = 5, seed: int = 0, out=None, quick: bool = False,
                  full: bool = False, bound_windows: int = None, python_sample: int = None,
                  progress: bool = True, plot: bool = True) -> dict:
    """Run every measurement; write JSON (and the plot) into ``out``; return the figures.

    Parameters
    ----------
    windows : int
        N windows of the workload (273 in the reference run).
    repeats : int
        Timing repeats (medians are reported).
    quick : bool
        One repeat, 2 windows of pure Python, 1 bound window, no format attribution.
    full : bool
        Time pure Python on every window instead of a sample.
    bound_windows, python_sample : int, optional
        Override the number of windows for the trajectory bound (default 4) and for
        pure Python (default 16).
    """
    if int(windows) != windows or windows < 1:
        raise ValueError(f"--windows: must be a positive integer, got {windows!r}")
    if int(repeats) != repeats or repeats < 1:
        raise ValueError(f"--repeats: must be a positive integer, got {repeats!r}")
    windows, repeats = int(windows), int(repeats)
    if quick:
        repeats = 1
    bound_windows = bound_windows or (1 if quick else 4)
    python_sample = python_sample or (2 if quick else 16)
    out = Path(out) if out is not None else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    cfg = AutoencoderConfig()
    fmts = DEFAULT_FORMATS
    _say(progress, f"bench-golden: {cfg.describe()}, {windows} windows, seed {seed}")
    ae = realistic_weights(cfg, seed)
    fx = FixedAutoencoder.from_float(ae, fmts)
    x = synthetic_windows(windows, cfg, seed)
    with _BlasThreads(1) as blas:
        _say(progress, "  accuracy: float vs fixed on every window")
        accuracy, err, single = _accuracy(ae, fx, x, seed, attribution=not quick)
        bounds = _bounds(ae, fx, x, err, single, bound_windows, progress)
        timing = _timing(ae, fx, x, repeats, python_sample, full, progress)
    timing["blas_threads"] = blas.threads
    results = {
        "command": "lstm-chiplet bench-golden",
        "settings": {"windows": windows, "repeats": repeats, "seed": seed, "quick": bool(quick),
                     "full": bool(full), "bound_windows": bound_windows,
                     "python_sample": python_sample},
        "model": {"topology": cfg.describe(), "config": cfg.to_dict(),
                  "parameters": ae.parameter_count,
                  "weights": "golden.autoencoder.realistic_weights(seed)",
                  "windows": "golden.autoencoder.synthetic_windows(N, seed), scaled to [0, 1]"},
        "formats": fmts.to_dict(),
        "accuracy": accuracy,
        "bound": bounds,
        "timing": timing,
    }
    (out / "bench-golden.json").write_text(json.dumps(results, indent=1))
    if plot:
        _plot(results, out / "bench-golden.png")
    return results


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------

def _yes(flag: bool) -> str:
    return "met" if flag else "MISSED"


def format_report(r: dict) -> str:
    acc, bnd, tim = r["accuracy"], r["bound"], r["timing"]
    tb = bnd["trajectory"]
    s = r["settings"]
    lines = [f"lstm-chiplet bench-golden: {r['model']['topology']}",
             f"  {s['windows']} windows (synthetic, [0, 1]), realistic weights, seed {s['seed']}; "
             "formats vec Q2.14, weight Q4.12, preact Q5.11, act Q2.14",
             "",
             "Accuracy (fixed vs float, every window)",
             f"  max |reconstruction error|          {acc['reconstruction_max_abs_error']:.3e}"
             f"   target 2^-9 = {ACCURACY_TARGET:.3e}: {_yes(acc['target_met'])}"
             f" ({acc['reconstruction_max_abs_error'] / ACCURACY_TARGET:.2f} of it)",
             f"  one 6->32 layer, max |h error|      {acc['single_layer_6_32']['h_max_abs_error']:.3e}"
             f"   hls4ml ap_fixed<16,6>: {HLS4ML_H_ERROR} "
             f"({HLS4ML_H_ERROR / acc['single_layer_6_32']['h_max_abs_error']:.0f}x ours)"]
    for lay in acc["per_layer"]:
        lines.append(f"  {lay['name']:<18} max |h error| {lay['h_max_abs_error']:.3e}   "
                     f"max |c error| {lay['c_max_abs_error']:.3e}   max |c| {lay['c_max_abs']:.2f}")
    af = acc["anomaly_flags"]
    lines.append(f"  anomaly flags (> {af['percentile']:.0f}th percentile): float {af['float_flagged']}, "
                 f"fixed {af['fixed_flagged']}, differ on {af['windows_flagged_differently']} windows; "
                 f"max |score difference| {af['max_abs_score_difference']:.2e}")
    if "format_attribution" in acc:
        lines.append("  which format dominates (each widened by 4 fraction bits, the others default):")
        for row in acc["format_attribution"]:
            lines.append(f"    {row['format']:<7} ({row['holds']:<20}) -> {row['widened_to']:<12} "
                         f"max |reconstruction error| {row['reconstruction_max_abs_error']:.3e}")
    lines += ["",
              "Error bound (derived; holds element by element: "
              f"{'yes' if tb['holds'] else 'NO'})",
              "  static, every window in [0,1]^6:     reconstruction "
              f"{bnd['static']['reconstruction_max']:.3g}"
              f"  (grows x{bnd['static']['growth_per_step']:.3g} per step: worst case over all inputs)"]
    for p in tb["per_window"]:
        lines.append(f"  trajectory, window {p['window']:>4}:          bound {p['bound_max']:.3e}  "
                     f"observed {p['observed_max']:.3e}  tightness {p['tightness']:.0f}x  "
                     f"(exact deterministic part {p['deterministic_part_max']:.2e}, "
                     f"sigma estimate {p['sigma_estimate_max']:.2e})")
    lines.append(f"  tightness (bound / observed): median {tb['tightness_median']:.0f}x, "
                 f"range {tb['tightness_min']:.0f}x .. {tb['tightness_max']:.0f}x")
    for lay in tb["per_layer"]:
        lines.append(f"    {lay['name']:<18} h bound {lay['h_bound_max']:.3e}  observed "
                     f"{lay['h_observed_max']:.3e}  tightness {lay['tightness']:.0f}x")
    s32 = tb["single_layer_6_32"]
    lines.append(f"    one 6->32 layer     h bound {s32['h_bound_max']:.3e}  observed "
                 f"{s32['h_observed_max']:.3e}  tightness {s32['tightness']:.0f}x")
    py_note = (f"scaled from {tim['pure_python_windows_timed']} windows" if tim["pure_python_scaled"]
               else "every window")
    lines += ["",
              f"Speed ({tim['windows']} windows = {tim['lstm_steps']:,} LSTM steps, median of "
              f"{tim['repeats']} repeat(s))",
              f"  fixed-point kernels (numpy int)     {tim['fixed_s']:8.3f} s  "
              f"{tim['per_step_us']['fixed']:8.1f} us/step   target {tim['target_s']:.2f} s: "
              f"{_yes(tim['target_met'])}",
              f"  numpy float64 batch                 {tim['float_s']:8.3f} s  "
              f"{tim['per_step_us']['float']:8.1f} us/step",
              f"  pure Python list step ({py_note:<16}) {tim['pure_python_s']:8.2f} s  "
              f"{tim['per_step_us']['pure_python']:8.1f} us/step",
              f"  fixed is {tim['speedup_fixed_vs_pure_python']:.0f}x faster than pure Python; "
              f"float64 {tim['speedup_float_vs_pure_python']:.0f}x; fixed / float time "
              f"{tim['fixed_vs_float_time_ratio']:.1f}",
              f"  pure Python agrees with numpy float64 to {tim['pure_python_vs_float_max_abs_diff']:.1e}"]
    if "kernels" in tim:
        lines += ["",
                  f"Fixed-point kernels against numpy float64 ({tim['float_s']:.3f} s wall, "
                  f"{tim['float_cpu_s']:.3f} s CPU), timed in turn, median of {tim['repeats']} "
                  "repeat(s)",
                  f"  {'':<42} {'wall':>8}    {'us/step':>8}   {'/ float':>7}   {'CPU':>7}   "
                  f"{'/ float':>7}"]
        for row in tim["kernels"]:
            lines.append(f"  {row['kernels']:<42} {row['seconds']:8.3f} s  "
                         f"{row['per_step_us']:8.1f}   {row['vs_float']:7.2f}   "
                         f"{row['cpu_seconds']:7.3f}   {row['vs_float_cpu']:7.2f}")
        lines.append("  per-layer formats (golden_bench.per_layer_formats):")
        lines += [f"    {line}" for line in tim["per_layer_formats_described"].splitlines()]
    return "\n".join(lines)


def add_arguments(parser) -> None:
    parser.add_argument("--windows", type=int, default=273, metavar="N",
                        help="windows in the workload (default 273)")
    parser.add_argument("--repeats", type=int, default=5, metavar="R",
                        help="timing repeats; medians are reported (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and windows (default 0)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR",
                        help="output folder for JSON and PNG (default build/bench-golden)")
    parser.add_argument("--quick", action="store_true",
                        help="one repeat, small samples (pure Python, bound), no format attribution")
    parser.add_argument("--full", action="store_true",
                        help="time pure Python on every window (about 25 s per repeat)")
    parser.add_argument("--bound-windows", type=int, default=None, metavar="K",
                        help="windows for the per-window error bound (default 4, quick 1)")
    parser.add_argument("--python-sample", type=int, default=None, metavar="M",
                        help="windows timed in pure Python unless --full (default 16, quick 2)")


def run(args) -> int:
    r = run_benchmark(windows=args.windows, repeats=args.repeats, seed=args.seed, out=args.out,
                      quick=args.quick, full=args.full, bound_windows=args.bound_windows,
                      python_sample=args.python_sample, progress=True)
    print(format_report(r))
    print(f"\nwritten: {Path(args.out) / 'bench-golden.json'}, {Path(args.out) / 'bench-golden.png'}")
    return 0


if __name__ == "__main__":
    import argparse
    p = argparse.ArgumentParser(prog="python -m lstm_chiplet.workload.golden_bench",
                                description=__doc__.splitlines()[0])
    add_arguments(p)
    raise SystemExit(run(p.parse_args()))
