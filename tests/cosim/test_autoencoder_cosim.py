"""The converted whole-window engine against the fixed-point autoencoder, on both simulators.

CI: the shipped model (reference topology) on Verilator for a few whole windows, bit
for bit and at the documented cycles per window; Icarus and Verilator produce the same
trace for one window; on a tiny topology, the Python host (on the MyHDL block and on
the Verilog through the VPI) and both transcriptions give the same trace under
back-pressure, gaps and resets; the tiny topology under back-pressure on both
simulators; the rtl backend through lstm_chiplet.backends.  Slow (tox -e regress): more windows, other lane counts.
"""

from pathlib import Path

import numpy as np
import pytest

from cosim.autoencoder import (autoencoder_design, autoencoder_device, reconstruction_from_trace,
                               run_autoencoder_windows, window_stimulus)
from cosim.icarus_file import run_icarus_file
from cosim.scoreboard import check
from cosim.verilator import run_verilator
from golden.autoencoder import AutoencoderConfig, FixedAutoencoder, synthetic_windows
from golden.autoencoder_memory_map import autoencoder_image
from golden.formats import DEFAULT_FORMATS as FM, FormatError
from golden.lstm_fixed import FixedLSTMWeights
from golden.lstm_float import ShapeError
from hdl.autoencoder_config import AutoencoderEngineConfig
from lstm_chiplet.models.store import load_any_model

pytestmark = pytest.mark.cosim

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "lstm_chiplet" / "data" / "default_model.npz"
LANES = 4


@pytest.fixture(scope="module")
def shipped():
    """The shipped model in fixed point (reference topology, its formats)."""
    lm = load_any_model(SHIPPED)
    return lm.fixed()


def shipped_windows(fixed, n, seed=0):
    """Weather-like scaled windows, plus one saturating window when n > 1 (values beyond
    [0, 1] and the vec range's edges)."""
    cfg = fixed.cfg
    x = synthetic_windows(n, cfg, seed=seed, stride=5)
    if n > 1:
        rng = np.random.default_rng(seed)
        x[-1] = rng.choice([-2.5, -1.0, 0.0, 1.0, 1.9999, 3.0], size=(cfg.timesteps, cfg.features))
    return fixed.quantize_windows(x)


def tiny_model(seed=0, cfg=AutoencoderConfig(3, (4, 2), (2, 4), 3)):
    rng = np.random.default_rng(seed)
    layers = [FixedLSTMWeights.from_ints(rng.integers(-4096, 4097, (d, 4 * h)),
                                         rng.integers(-4096, 4097, (h, 4 * h)),
                                         rng.integers(-4096, 4097, 4 * h), FM)
              for d, h in cfg.layer_shapes]
    hl = cfg.hidden_sizes[-1]
    return FixedAutoencoder(cfg, layers, rng.integers(-4096, 4097, (hl, cfg.features)),
                            rng.integers(-4096, 4097, cfg.features), FM)


def test_shipped_model_whole_windows_bit_exact_on_verilator(shipped, verilator):
    x = shipped_windows(shipped, 4)
    out = run_autoencoder_windows(shipped, x, simulator="verilator", lanes=LANES)
    want = shipped.forward_int(x)["reconstruction"]
    assert out["reconstruction"].dtype == np.int64
    np.testing.assert_array_equal(out["reconstruction"], want)
    cfg = AutoencoderEngineConfig.for_model(shipped, LANES)
    assert out["window_cycles"] == [cfg.cycles_per_window] * 4
    assert out["cycles_per_window"] == cfg.cycles_per_window == out["formula_cycles_per_window"]
    assert out["latency_cycles"] == [cfg.latency_cycles] * 4
    assert out["image_words"] == cfg.layout.used_words


def test_icarus_and_verilator_agree_on_a_window(shipped, verilator):
    """The same stimulus on both simulators: identical traces, cycle numbers included."""
    cfg = AutoencoderEngineConfig.for_model(shipped, LANES)
    x = shipped_windows(shipped, 1, seed=3)
    design = autoencoder_design(cfg)
    stim = window_stimulus(cfg, autoencoder_image(shipped, LANES), x)
    fast = run_verilator(design, stim)
    slow = run_icarus_file(design, stim)
    assert slow.status == fast.status == "ok"
    assert slow.xz_errors == 0
    assert slow.core() == fast.core()
    np.testing.assert_array_equal(reconstruction_from_trace(slow, cfg, 1),
                                  shipped.forward_int(x)["reconstruction"])


@pytest.mark.parametrize("lanes", [1, 2])
def test_transcribed_hosts_give_the_python_hosts_trace(icarus, verilator, lanes):
    """The whole-window engine under a slow host (gaps, long stalls), a reset in the middle of
    a window and the probe's reset: the Python host on the MyHDL block and on the Verilog
    (VPI), the Verilog bench and the C++ harness trace the same beats at the same edges."""
    from dataclasses import replace

    from cosim.host import run_myhdl
    from cosim.icarus import run_icarus

    fixed = tiny_model(1)
    cfg = AutoencoderEngineConfig.for_model(fixed, lanes)
    rng = np.random.default_rng(4)
    x = rng.integers(FM.vec.int_min, FM.vec.int_max + 1, (3, 3, 3))
    stim = window_stimulus(cfg, autoencoder_image(fixed, lanes), x, ready=[0] * 13 + [1, 1, 0, 1],
                           gaps=rng.integers(0, 5, 9).tolist())
    waits, lens = list(stim.reset_wait), list(stim.reset_len)
    waits[4], lens[4] = 40, 2            # window 1 cut after its second beat, mid-pass
    stim = replace(stim, reset_wait=tuple(waits), reset_len=tuple(lens))
    design = autoencoder_design(cfg)
    want = run_icarus(design, stim)
    assert want.status == "ok" and len(want.resets) == 2 and want.outputs
    for runner, trace in (("myhdl", run_myhdl(autoencoder_device(cfg), stim)),
                          ("icarus (Verilog host)", run_icarus_file(design, stim)),
                          ("verilator", run_verilator(design, stim))):
        assert trace.core() == want.core(), f"{runner} differs from the Python host on the VPI"


@pytest.mark.parametrize("simulator, lanes", [("verilator", 1), ("verilator", 2), ("icarus", 1),
                                              ("icarus", 2)])
def test_tiny_topology_under_back_pressure(simulator, lanes, verilator):
    """A slow host (idle gaps, a ready pattern with long stalls): every beat once, in order,
    outputs held while not taken, equal to golden (scoreboard of cosim).  P = 1 shares
    the activation units, P = 2 has one per gate."""
    from cosim.autoencoder import run_stimulus

    fixed = tiny_model(1)
    cfg = AutoencoderEngineConfig.for_model(fixed, lanes)
    assert cfg.shared_activations == (lanes == 1)
    rng = np.random.default_rng(2)
    x = rng.integers(FM.vec.int_min, FM.vec.int_max + 1, (3, 3, 3))
    gaps = rng.integers(0, 5, 9).tolist()
    stim = window_stimulus(cfg, autoencoder_image(fixed, lanes), x, ready=[0] * 17 + [1, 0, 1],
                           gaps=gaps, probe=False)
    trace = run_stimulus(autoencoder_design(cfg), stim, simulator)
    rec = fixed.forward_int(x)["reconstruction"].reshape(-1, 3)

    def reference(xs, lasts):
        assert len(xs) == len(rec)
        return [tuple(int(v) for v in row) for row in rec]

    report = check(trace, stim, autoencoder_design(cfg).shape, reference, label="tiny autoencoder")
    assert report.ok, report.text()
    assert [o.last for o in trace.outputs] == [False, False, True] * 3


def test_rtl_backend_equals_fixed_backend(shipped, verilator):
    """lstm_chiplet.backends: rtl reconstructs the same integers as fixed, and measures cycles."""
    from lstm_chiplet.backends import make_backend

    lm = load_any_model(SHIPPED)
    x = synthetic_windows(3, shipped.cfg, seed=7)
    fixed = make_backend("fixed", lm.model, shipped)
    rtl = make_backend("rtl", lm.model, shipped, simulator="verilator", lanes=LANES)
    seen = []
    a = fixed.reconstruct(x)
    b = rtl.reconstruct(x, progress=lambda done, total: seen.append((done, total)))
    np.testing.assert_array_equal(a.reconstruction_int, b.reconstruction_int)
    assert b.cycles_measured
    assert rtl.cycles_per_window() == AutoencoderEngineConfig.for_model(shipped, LANES).cycles_per_window
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)


def test_runner_refuses_bad_input(shipped):
    cfg = shipped.cfg
    with pytest.raises(ShapeError, match=r"shape \(N, 24, 6\)"):
        run_autoencoder_windows(shipped, np.zeros((2, 23, 6), dtype=np.int64))
    with pytest.raises(FormatError, match="outside"):
        run_autoencoder_windows(shipped, np.full((1, cfg.timesteps, cfg.features), 1 << 20))
    with pytest.raises(FormatError, match="integers"):
        run_autoencoder_windows(shipped, np.zeros((1, cfg.timesteps, cfg.features)))
    with pytest.raises(FormatError, match=r"lanes \(3\) must divide"):
        run_autoencoder_windows(shipped, np.zeros((1, cfg.timesteps, cfg.features), dtype=np.int64), lanes=3)
    with pytest.raises(ValueError, match="simulator"):
        run_autoencoder_windows(shipped, np.zeros((1, cfg.timesteps, cfg.features), dtype=np.int64),
                                simulator="modelsim")
    out = run_autoencoder_windows(shipped, np.zeros((0, cfg.timesteps, cfg.features), dtype=np.int64))
    assert out["reconstruction"].shape == (0, cfg.timesteps, cfg.features)


@pytest.mark.slow
@pytest.mark.parametrize("lanes", [1, 2, 4, 8, 16])
def test_shipped_model_many_windows_at_every_lane_count(shipped, lanes, verilator):
    x = shipped_windows(shipped, 48, seed=lanes)
    out = run_autoencoder_windows(shipped, x, simulator="verilator", lanes=lanes)
    np.testing.assert_array_equal(out["reconstruction"], shipped.forward_int(x)["reconstruction"])
    cfg = AutoencoderEngineConfig.for_model(shipped, lanes)
    assert out["window_cycles"] == [cfg.cycles_per_window] * 48


@pytest.mark.slow
def test_all32_variant_on_both_simulators(verilator):
    """The seeds' variant (every hidden size 32, 30,150 parameters), realistic weights."""
    from golden.autoencoder import realistic_weights

    cfg = AutoencoderConfig(6, (32, 32), (32, 32), 24)
    fixed = realistic_weights(cfg, seed=5).quantize()
    x = fixed.quantize_windows(synthetic_windows(2, cfg, seed=5))
    want = fixed.forward_int(x)["reconstruction"]
    for simulator in ("verilator", "icarus"):
        out = run_autoencoder_windows(fixed, x, simulator=simulator, lanes=8)
        np.testing.assert_array_equal(out["reconstruction"], want)
