"""The fixed, fast regression subsets that coverage and the mutation campaign run.

Chosen once, deterministic (fixed seeds), a few seconds on Verilator each:

* :func:`whole_window_subset`: the whole-window engine of a small autoencoder
  (:data:`WHOLE_WINDOW_SIZES`, ``P`` = :data:`WHOLE_WINDOW_LANES`, default formats):
  trained-like weights on weather-like windows; every weight and input at an extreme
  (saturation everywhere); a slow host (idle gaps, long output stalls) with a reset in
  the middle of a window; a window cut short by an early tlast; each run closed by the
  probe beat and its reset (:func:`cosim.autoencoder.window_stimulus`);
  three runs of random full-range weights (scaled by random powers of two) and inputs
  (40 windows each);
* :func:`engine_subset`: the single-layer engine ``D=2 H=4 P=2``: the stimuli of
  :func:`cosim.engine.kill_checks` (ordinary weights with resets, stalls and gaps;
  saturating weights; heavy back-pressure; the long saturating sequences of both signs),
  and six longer random runs (four of 16 sequences with full-range weights and inputs).

The unmutated design's traces are the reference of the mutation campaign; they are
themselves held to golden (:func:`baseline`): the whole-window runs without resets give
``FixedAutoencoder.forward_int``'s reconstruction, every engine run passes
:func:`cosim.scoreboard.check` against the fast kernel.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .units import verify_root

#: The whole-window design the coverage and mutation campaigns examine.
WHOLE_WINDOW_SIZES = dict(features=3, encoder=(4, 2), decoder=(2, 4), timesteps=3)
WHOLE_WINDOW_LANES = 2
#: Seeds of the directed rounding-tie runs (verify.directed), in both subsets.
TIE_SEEDS = (31, 32, 33, 34)
WHOLE_WINDOW_TIE_SEEDS = tuple(range(31, 63))


@dataclass
class Run:
    """One stimulus of a subset and what golden says of the unmutated design's trace."""

    name: str
    stimulus: object
    check: object          # check(trace) -> None, raises AssertionError


@dataclass
class Subset:
    name: str
    design: object         # cosim.compile.Design
    runs: list


def whole_window_model():
    from golden.autoencoder import AutoencoderConfig, realistic_weights
    from golden.formats import DEFAULT_FORMATS

    s = WHOLE_WINDOW_SIZES
    cfg = AutoencoderConfig(s["features"], s["encoder"], s["decoder"], s["timesteps"])
    return realistic_weights(cfg, seed=3).quantize(DEFAULT_FORMATS)


def _extreme_model(fixed, seed: int):
    """Every weight and bias at int_min or int_max of the weight format."""
    from golden.autoencoder import FixedAutoencoder
    from golden.lstm_fixed import FixedLSTMWeights

    rng = np.random.default_rng(seed)
    fm = fixed.formats.layers[0]
    w = fm.weight

    def ext(shape):
        return np.where(rng.random(shape) < 0.5, w.int_min, w.int_max).astype(np.int64)

    layers = [FixedLSTMWeights.from_ints(ext((d, 4 * h)), ext((h, 4 * h)), ext(4 * h), fm)
              for d, h in fixed.cfg.layer_shapes]
    hl = fixed.cfg.hidden_sizes[-1]
    return FixedAutoencoder(fixed.cfg, layers, ext((hl, fixed.cfg.features)), ext(fixed.cfg.features),
                            fixed.formats)


def _random_model(fixed, rng):
    """Weights and biases uniform over the weight format, scaled down by a random power of
    two per tensor (so that some layers saturate and others stay in range)."""
    from golden.autoencoder import FixedAutoencoder
    from golden.lstm_fixed import FixedLSTMWeights

    fm = fixed.formats.layers[0]
    w = fm.weight

    def uni(shape):
        return (rng.integers(w.int_min, w.int_max + 1, shape) >> int(rng.integers(0, 4))).astype(np.int64)

    layers = [FixedLSTMWeights.from_ints(uni((d, 4 * h)), uni((h, 4 * h)), uni(4 * h), fm)
              for d, h in fixed.cfg.layer_shapes]
    hl = fixed.cfg.hidden_sizes[-1]
    return FixedAutoencoder(fixed.cfg, layers, uni((hl, fixed.cfg.features)), uni(fixed.cfg.features),
                            fixed.formats)


def whole_window_subset() -> Subset:
    from cosim.autoencoder import autoencoder_design, reconstruction_from_trace, window_stimulus
    from golden.autoencoder import synthetic_windows
    from golden.autoencoder_memory_map import autoencoder_image
    from hdl.autoencoder_config import AutoencoderEngineConfig

    from .directed import tie_model

    fixed = whole_window_model()
    lanes = WHOLE_WINDOW_LANES
    cfg = AutoencoderEngineConfig.for_model(fixed, lanes)
    design = autoencoder_design(cfg)
    vec = fixed.formats.input
    runs = []

    def golden_check(model, x):
        want = model.forward_int(x)["reconstruction"]

        def check(trace):
            assert trace.status == "ok", f"run ended {trace.status}"
            assert not trace.violations, trace.violations[:2]
            got = reconstruction_from_trace(trace, cfg, len(x))
            np.testing.assert_array_equal(got, want)
        return check

    x = fixed.quantize_windows(synthetic_windows(4, fixed.cfg, seed=1, stride=2))
    runs.append(Run("trained weights, weather-like windows",
                    window_stimulus(cfg, autoencoder_image(fixed, lanes), x), golden_check(fixed, x)))

    ext = _extreme_model(fixed, 5)
    rng = np.random.default_rng(6)
    xe = np.where(rng.random((3,) + x.shape[1:]) < 0.5, vec.int_min, vec.int_max).astype(np.int64)
    runs.append(Run("extreme weights and inputs",
                    window_stimulus(cfg, autoencoder_image(ext, lanes), xe), golden_check(ext, xe)))

    for seed in (11, 12, 13):             # full-range weights and inputs: every rounding path often
        rng = np.random.default_rng(seed)
        model = _random_model(fixed, rng)
        xr = rng.integers(vec.int_min, vec.int_max + 1, (40,) + x.shape[1:])
        runs.append(Run(f"random weights and inputs (seed {seed})",
                        window_stimulus(cfg, autoencoder_image(model, lanes), xr), golden_check(model, xr)))

    rng = np.random.default_rng(7)
    xs = rng.integers(vec.int_min, vec.int_max + 1, (3,) + x.shape[1:])
    n_beats = xs.shape[0] * xs.shape[1]
    stim = window_stimulus(cfg, autoencoder_image(fixed, lanes), xs,
                           ready=[0] * 13 + [1, 1, 0, 1], gaps=rng.integers(0, 5, n_beats).tolist())
    waits, lens = list(stim.reset_wait), list(stim.reset_len)
    waits[4], lens[4] = 40, 2             # the second window cut after its second beat, mid-pass
    stim = replace(stim, reset_wait=tuple(waits), reset_len=tuple(lens))

    def completes(trace):
        assert trace.status == "ok" and not trace.violations and len(trace.resets) == 2
    runs.append(Run("slow host, reset mid-window", stim, completes))

    for seed in WHOLE_WINDOW_TIE_SEEDS:   # every row of every layer on a rounding boundary
        rng = np.random.default_rng(seed)
        xt = rng.integers(vec.int_min // 4, vec.int_max // 4 + 1, (3,) + x.shape[1:])
        model = tie_model(fixed, xt, seed)
        runs.append(Run(f"rounding ties (seed {seed})",
                        window_stimulus(cfg, autoencoder_image(model, lanes), xt), golden_check(model, xt)))

    # the weight image written from the top address down: a write decoded to a wrong bank
    # is no longer overwritten by the right one afterwards
    image = autoencoder_image(fixed, lanes)[::-1]
    runs.append(Run("image written top down", window_stimulus(cfg, image, x), golden_check(fixed, x)))

    base = window_stimulus(cfg, autoencoder_image(fixed, lanes), xs)
    beats = list(base.beats)
    beats[1] = (beats[1][0], True)        # tlast on the second beat: the window is dropped
    runs.append(Run("early tlast drops a window", replace(base, beats=tuple(beats)), _ok))
    return Subset("whole-window", design, runs)


def _ok(trace):
    assert trace.status == "ok", f"run ended {trace.status}"
    assert not trace.violations, trace.violations[:2]


ENGINE_CONFIG = dict(input_size=2, hidden_size=4, lanes=2)


def engine_subset() -> Subset:
    from cosim.compile import engine_design
    from cosim.engine import random_case, saturation_case
    from cosim.scoreboard import check
    from hdl.config import EngineConfig

    from .directed import recovery_case, tie_case

    cfg = EngineConfig(**ENGINE_CONFIG)
    design = engine_design(cfg)
    runs = []

    def scored(case):
        stim = case.stimulus()

        def run_check(trace):
            rep = check(trace, stim, design.shape, case.reference(), label="engine")
            assert rep.ok, rep.text() if hasattr(rep, "text") else rep
        return Run(str(case.context), stim, run_check)

    for seed in (1, 2):
        runs.append(scored(random_case(cfg, seed, n_sequences=3, max_len=4, resets=1, stall_prob=0.3,
                                       gap_prob=0.3)))
    for seed in (3, 4):
        runs.append(scored(random_case(cfg, seed, n_sequences=2, max_len=3, weight_mode="uniform",
                                       input_mode="uniform")))
    runs.append(scored(random_case(cfg, 5, n_sequences=3, max_len=3, stall_prob=0.6, gap_prob=0.5,
                                   long_stalls=True)))
    for sign in (1, -1):
        runs.append(scored(saturation_case(cfg, sign)))
    for seed in (21, 22, 23, 24):      # longer sequences, full-range weights and inputs
        runs.append(scored(random_case(cfg, seed, n_sequences=16, max_len=8, weight_mode="uniform",
                                       input_mode="uniform")))
    for seed in (25, 26):
        runs.append(scored(random_case(cfg, seed, n_sequences=4, max_len=8)))
    for seed in TIE_SEEDS:             # a gate row on a rounding boundary at every step
        runs.append(scored(tie_case(cfg, seed, n_sequences=24)))
    for sign in (-1, 1):               # c saturates, then the saturated value is read
        runs.append(scored(recovery_case(cfg, sign)))
    return Subset("single-layer engine", design, runs)


def run_executable(exe: Path, stim, plusargs=(), cwd: Path | None = None, timeout: float = 300.0):
    """Run a cosim harness executable on ``stim``; the :class:`cosim.stream.Trace` (or None
    when the run crashed or timed out, which a mutant may do)."""
    from cosim.stream import Trace

    work = verify_root() / "runs"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work, prefix="run-") as tmp:
        sp, tp = Path(tmp) / "stimulus.txt", Path(tmp) / "trace.txt"
        sp.write_text(stim.to_text())
        try:
            proc = subprocess.run([str(exe), str(sp), str(tp), *plusargs], capture_output=True,
                                  text=True, timeout=timeout, cwd=str(cwd or tmp))
        except subprocess.TimeoutExpired:
            return None
        if proc.returncode != 0 or not tp.is_file():
            return None
        return Trace.from_text(tp.read_text(), simulator="verilator")


def baseline(subset: Subset, exe: Path, plusargs=()) -> list:
    """The unmutated design's traces, each held to golden (raises if one is not)."""
    traces = []
    for run in subset.runs:
        trace = run_executable(exe, run.stimulus, plusargs)
        if trace is None:
            raise RuntimeError(f"{subset.name}: the unmutated design failed to run {run.name!r}")
        run.check(trace)
        traces.append(trace)
    return traces


def main(argv=None) -> int:
    """``python -m verify.regression``: each subset's runs, the time to build its stimuli
    and one pass of the unmutated design on Verilator, held to golden."""
    import time

    from cosim.verilator import build

    for make in (engine_subset, whole_window_subset):
        t0 = time.monotonic()
        subset = make()
        t1 = time.monotonic()
        exe = build(subset.design)
        t2 = time.monotonic()
        baseline(subset, exe)
        t3 = time.monotonic()
        print(f"{subset.name}: {len(subset.runs)} runs; stimuli {t1 - t0:.1f} s, Verilator build "
              f"{t2 - t1:.1f} s (cached), one pass held to golden {t3 - t2:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
