"""Backends: one interface, the registry, float and fixed results, rtl plumbing, chip figures."""

import math

import numpy as np
import pytest

from golden.autoencoder import AutoencoderConfig, realistic_weights, synthetic_windows
from golden.formats import DEFAULT_FORMATS
from lstm_chiplet import backends as bk
from lstm_chiplet.report import bit_exact

CFG = AutoencoderConfig(features=6, encoder_sizes=(8, 4), decoder_sizes=(4, 8), timesteps=24)


@pytest.fixture(scope="module")
def model():
    return realistic_weights(CFG, seed=11)


@pytest.fixture(scope="module")
def windows():
    # 130 windows: more than two batches, the last one partial
    return synthetic_windows(2 * bk.BATCH_WINDOWS + 2, CFG, seed=5)


def test_registry_names_the_three_backends():
    assert {"float", "fixed", "rtl"} <= set(bk.backend_names())


def test_unknown_backend_names_the_choices(model):
    with pytest.raises(bk.BackendError, match="unknown backend 'gpu'.*float, fixed, rtl"):
        bk.make_backend("gpu", model)


def test_float_backend_is_the_float_model(model, windows):
    run = bk.make_backend("float", model).reconstruct(windows)
    assert run.backend == "float" and run.reconstruction_int is None
    np.testing.assert_array_equal(run.reconstruction, model.reconstruct_float(windows))


def test_fixed_backend_is_the_fixed_model_window_by_window(model, windows):
    fixed = model.quantize()
    run = bk.make_backend("fixed", model, fixed).reconstruct(windows)
    assert run.reconstruction_int.dtype == np.int64
    # batching must not change anything: each window on its own
    for k in (0, bk.BATCH_WINDOWS - 1, bk.BATCH_WINDOWS, len(windows) - 1):
        np.testing.assert_array_equal(run.reconstruction_int[k],
                                      fixed.reconstruct_int(windows[k:k + 1])[0])
    np.testing.assert_array_equal(run.reconstruction,
                                  run.reconstruction_int / 2.0 ** DEFAULT_FORMATS.vec.frac_bits)


def test_progress_reaches_the_total(model, windows):
    seen = []
    bk.make_backend("fixed", model).reconstruct(windows, lambda d, t: seen.append((d, t)))
    done = [d for d, _ in seen]
    assert done[0] == 0 and done[-1] == len(windows) and done == sorted(done)
    assert {t for _, t in seen} == {len(windows)}


def test_empty_input_gives_empty_output(model):
    x = np.zeros((0, 24, 6))
    assert bk.make_backend("fixed", model).reconstruct(x).reconstruction_int.shape == (0, 24, 6)
    assert bk.make_backend("float", model).reconstruct(x).reconstruction.shape == (0, 24, 6)


def test_chip_bytes_are_the_vec_words_of_inputs_and_outputs(model):
    b = bk.make_backend("fixed", model).bytes_per_window()
    word = DEFAULT_FORMATS.vec.word_bits // 8
    assert b == {"in": 24 * 6 * word, "out": 24 * 6 * word, "total": 2 * 24 * 6 * word}
    assert bk.make_backend("float", model).bytes_per_window() is None
    assert bk.make_backend("float", model).cycles_per_window() is None


@pytest.mark.parametrize("lanes", [1, 2, 4])
def test_engine_cycles_against_the_ideal(model, lanes):
    e = bk.make_backend("fixed", model, lanes=lanes).engine()
    t, f = CFG.timesteps, CFG.features
    assert e["multipliers"] == 4 * lanes
    for x, (d, h) in zip(e["layers"], CFG.layer_shapes):
        assert (x["input"], x["hidden"]) == (d, h)
        assert x["ideal_cycles"] == h * (d + h) // lanes <= x["cycles_per_step"]
    macs = t * (sum(4 * h * (d + h) for d, h in CFG.layer_shapes) + CFG.decoder_sizes[-1] * f)
    assert e["macs_per_window"] == macs
    assert e["ideal_cycles_per_window"] == math.ceil(macs / (4 * lanes))
    # the load, every step of every pass, the dense steps: nothing is counted twice
    assert e["cycles_per_window"] >= (t * f + t * sum(x["cycles_per_step"] for x in e["layers"])
                                      + t * math.ceil(f / (4 * lanes)) * CFG.decoder_sizes[-1])
    assert e["mac_utilisation"] == pytest.approx(macs / (4 * lanes * e["cycles_per_window"]))


@pytest.mark.cosim
def test_fixed_backend_cycles_are_what_the_rtl_backend_measures(model, windows):
    """The fixed backend's figure is the whole-window design's: run that design."""
    fixed = bk.make_backend("fixed", model, lanes=2)
    rtl = bk.make_backend("rtl", model, lanes=2)
    run = rtl.reconstruct(windows[:3])
    assert run.cycles_measured and run.cycles_per_window == fixed.cycles_per_window()
    np.testing.assert_array_equal(run.reconstruction_int, fixed.reconstruct(windows[:3]).reconstruction_int)


def test_lanes_that_do_not_divide_a_layer_are_refused_naming_it(model):
    with pytest.raises(bk.BackendError, match="encoder LSTM 2 .*H=4.*lanes"):
        bk.make_backend("fixed", model, lanes=8)


def test_rtl_without_runner_says_it_is_not_available(model, monkeypatch):
    assert bk.rtl_available()
    monkeypatch.setattr(bk, "RTL_RUNNER", ("cosim.no_such_runner", "run_autoencoder_windows"))
    assert not bk.rtl_available()
    with pytest.raises(bk.BackendUnavailable, match="rtl.*not available.*missing.*--backend fixed"):
        bk.make_backend("rtl", model)


def _echo_runner(corrupt=None):
    calls = {}

    def runner(fixed, x_int, *, simulator, lanes, progress=None):
        calls.update(simulator=simulator, lanes=lanes, x_int=x_int)
        y = fixed.forward_int(x_int)["reconstruction"].copy()
        if corrupt is not None:
            y[corrupt] += 1
        return {"reconstruction": y, "cycles_per_window": 12345}
    return runner, calls


def test_rtl_plumbing_with_a_stand_in_runner(model, windows):
    fixed = model.quantize()
    runner, calls = _echo_runner()
    rtl = bk.RtlBackend(model, fixed, runner=runner, simulator="icarus", lanes=2)
    run = rtl.reconstruct(windows[:5])
    assert calls["simulator"] == "icarus" and calls["lanes"] == 2
    np.testing.assert_array_equal(calls["x_int"], fixed.quantize_windows(windows[:5]))
    assert run.cycles_per_window == 12345 and run.cycles_measured
    ref = bk.make_backend("fixed", model, fixed).reconstruct(windows[:5])
    assert bit_exact("fixed", ref.reconstruction_int, "rtl", run.reconstruction_int)["equal"]


def test_bit_exact_reports_the_first_difference(model, windows):
    fixed = model.quantize()
    runner, _ = _echo_runner(corrupt=(3, 7, 2))
    run = bk.RtlBackend(model, fixed, runner=runner).reconstruct(windows[:5])
    ref = bk.make_backend("fixed", model, fixed).reconstruct(windows[:5])
    cmp = bit_exact("fixed", ref.reconstruction_int, "rtl", run.reconstruction_int)
    assert not cmp["equal"] and cmp["windows_differing"] == 1 and cmp["values_differing"] == 1
    assert cmp["first"]["window_index"] == 3 and (cmp["first"]["step"], cmp["first"]["feature"]) == (7, 2)
    assert cmp["first"]["rtl"] - cmp["first"]["fixed"] == 1


def test_rtl_runner_with_wrong_shape_is_refused(model, windows):
    def runner(fixed, x_int, **_):
        return {"reconstruction": np.zeros((1, 2, 3), dtype=np.int64)}
    with pytest.raises(bk.BackendError, match="shape"):
        bk.RtlBackend(model, runner=runner).reconstruct(windows[:2])


def test_rtl_refuses_an_unknown_simulator(model):
    with pytest.raises(bk.BackendError, match="simulator"):
        bk.RtlBackend(model, runner=lambda *a, **k: None, simulator="modelsim")


def test_register_backend_adds_a_name(model, windows):
    class Zero(bk.Backend):
        name = "zero"

        def __init__(self, model, fixed=None, **_):
            pass

        def reconstruct(self, x, progress=None):
            return bk.BackendRun("zero", np.zeros_like(x))

    bk.register_backend("zero", Zero)
    try:
        assert bk.make_backend("zero", model).reconstruct(windows[:2]).reconstruction.shape == (2, 24, 6)
    finally:
        bk.BACKENDS.pop("zero")
