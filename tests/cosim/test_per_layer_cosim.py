"""Per-layer number formats on the whole-window engine: the converted Verilog == golden.

The formats share one word width per role and move every binary point from layer to
layer (hdl.pass_formats), so every shift of the datapath changes between passes:
the bias alignment, the z requantization, the activation units' interpolation, the cell
update, the h requantization and the requantization of a pass's input.  Integer weights
and windows span whole ranges, so saturation at every requantization point occurs, and
passes follow each other without a gap (rows of two passes in the pipeline at once).
Each example converts and compiles its own design and deletes it once it passed.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from cosim.autoencoder import autoencoder_design, run_autoencoder_windows
from golden.autoencoder import AutoencoderConfig, FixedAutoencoder, realistic_weights
from golden.formats import (DEFAULT_FORMATS as FM, TABLE_STEP_LOG2, DenseFormats, FormatError,
                            LSTMFormats, ModelFormats, QFormat)
from golden.lstm_fixed import FixedLSTMWeights
from hdl.autoencoder_config import AutoencoderEngineConfig

pytestmark = pytest.mark.cosim

EXAMPLES = max(3, settings.default.max_examples // 6)


def _q(name, word, frac, rounding):
    return QFormat(word, frac, rounding=rounding, name=name)


@st.composite
def per_layer_formats(draw, num_layers: int):
    """One word width per role, binary points drawn per layer (act: one format)."""
    rounding = draw(st.sampled_from(("nearest_posinf", "floor")))
    vw, ww, pw, aw = (draw(st.integers(10, 16)) for _ in range(4))
    act = _q("act", aw, aw - draw(st.integers(2, 3)), rounding)

    def layer():
        pf = draw(st.integers(max(TABLE_STEP_LOG2, pw - 8), pw - 3))
        return LSTMFormats(_q("vec", vw, vw - draw(st.integers(1, 4)), rounding),
                           _q("weight", ww, ww - draw(st.integers(2, 5)), rounding),
                           _q("preact", pw, pf, rounding), act)

    layers = tuple(layer() for _ in range(num_layers))
    dense = DenseFormats(_q("weight", ww, ww - draw(st.integers(2, 5)), rounding),
                         _q("out", vw, vw - draw(st.integers(1, 4)), rounding))
    return ModelFormats(layers, dense)


def random_integer_model(rng, cfg: AutoencoderConfig, mf: ModelFormats, spread: float):
    """Integer weights over ``spread`` of each layer's weight range."""
    def ints(fmt, shape):
        hi = max(1, int(fmt.int_max * spread))
        return rng.integers(-hi, hi + 1, shape)

    layers = [FixedLSTMWeights.from_ints(ints(f.weight, (d, 4 * h)), ints(f.weight, (h, 4 * h)),
                                         ints(f.weight, 4 * h), f)
              for (d, h), f in zip(cfg.layer_shapes, mf.layers)]
    hl = cfg.hidden_sizes[-1]
    return FixedAutoencoder(cfg, layers, ints(mf.dense.weight, (hl, cfg.features)),
                            ints(mf.dense.weight, cfg.features), mf)


@st.composite
def per_layer_cases(draw):
    p = draw(st.sampled_from([1, 2]))
    sizes = st.integers(1, 2).map(lambda k: k * p)
    cfg = AutoencoderConfig(draw(st.integers(1, 4)), tuple(draw(st.lists(sizes, min_size=1, max_size=2))),
                            tuple(draw(st.lists(sizes, min_size=1, max_size=2))), draw(st.integers(1, 3)))
    mf = draw(per_layer_formats(cfg.num_layers))
    try:
        engine = AutoencoderEngineConfig(cfg, p, mf)
    except FormatError:
        assume(False)
    assume(engine.per_layer)
    spread = draw(st.sampled_from([0.05, 0.3, 1.0]))      # mild, typical, saturating
    return engine, mf, spread, draw(st.integers(0, 2**32 - 1))


def forget(design) -> None:
    """Delete a one-off configuration's conversion and simulator builds."""
    shutil.rmtree(design.verilog.parent, ignore_errors=True)


def assert_rtl_equals_golden(fixed, x, simulator, lanes):
    want = fixed.forward_int(x)["reconstruction"]
    got = run_autoencoder_windows(fixed, x, simulator=simulator, lanes=lanes)
    rec = got["reconstruction"]
    assert rec.shape == want.shape
    bad = np.argwhere(rec != want)
    assert bad.size == 0, (f"{len(bad)} of {want.size} outputs differ, first at (window, step, "
                           f"feature) {tuple(bad[0])}: rtl {rec[tuple(bad[0])]}, golden "
                           f"{want[tuple(bad[0])]}")
    assert got["cycles_per_window"] == got["formula_cycles_per_window"]


@settings(max_examples=EXAMPLES)
@given(case=per_layer_cases())
def test_random_per_layer_formats_match_golden_on_verilator(case, verilator):
    engine, mf, spread, seed = case
    rng = np.random.default_rng(seed)
    fixed = random_integer_model(rng, engine.model, mf, spread)
    x = rng.integers(mf.input.int_min, mf.input.int_max + 1, (2, engine.timesteps, engine.features))
    assert_rtl_equals_golden(fixed, x, "verilator", engine.lanes)
    forget(autoencoder_design(engine))


def moved_points(cfg: AutoencoderConfig) -> ModelFormats:
    """Every binary point moved from the default formats, layer by layer."""
    layers = []
    for n in range(cfg.num_layers):
        d = n % 3
        layers.append(LSTMFormats(QFormat(16, 14 - d, name="vec"), QFormat(16, 12 + (n % 2), name="weight"),
                                  QFormat(16, 11 + d - (n % 2), name="preact"), FM.act))
    return ModelFormats(tuple(layers), DenseFormats(QFormat(16, 13, name="weight"),
                                                    QFormat(16, 12, name="out")))


@pytest.mark.parametrize("simulator, lanes", [("icarus", 1), ("verilator", 2)])
def test_realistic_per_layer_model_on_both_simulators(simulator, lanes, request):
    """A trained-like model (realistic weights) with moved binary points: every shift of
    hdl.pass_formats varies; P = 1 shares the activation units."""
    request.getfixturevalue(simulator)
    cfg = AutoencoderConfig(3, (4, 2), (2, 4), 3)
    mf = moved_points(cfg)
    fixed = realistic_weights(cfg, seed=3).quantize(mf)
    engine = AutoencoderEngineConfig.for_model(fixed, lanes)
    assert set(engine.pass_formats.varying) == {"bias", "z", "act", "h", "x"}
    rng = np.random.default_rng(4)
    x = fixed.quantize_windows(rng.uniform(-0.5, 2.5, (3, cfg.timesteps, cfg.features)))
    assert_rtl_equals_golden(fixed, x, simulator, lanes)


def test_pass_boundaries_at_the_tightest_spacing(verilator):
    """Rows of two passes in the pipeline within a cycle of each other: P = 2, and the
    dense pass (two columns) starts with no gap after the last LSTM layer, so a shift
    taken one stage early or late reaches a row of the neighbouring pass.  The last LSTM
    layer's shifts differ from the dense pass's."""
    cfg = AutoencoderConfig(1, (2,), (2,), 4)
    layers = (LSTMFormats(QFormat(16, 14, name="vec"), QFormat(16, 12, name="weight"),
                          QFormat(16, 11, name="preact"), FM.act),
              LSTMFormats(QFormat(16, 13, name="vec"), QFormat(16, 13, name="weight"),
                          QFormat(16, 10, name="preact"), FM.act))
    mf = ModelFormats(layers, DenseFormats(QFormat(16, 12, name="weight"), QFormat(16, 13, name="out")))
    engine = AutoencoderEngineConfig(cfg, 2, mf)
    assert engine.pass_gap(2) == 0 and engine.passes[2].columns == 2
    extras = {s: engine.pass_formats.shift(s).extra for s in engine.pass_formats.varying}
    assert extras["z"][1] != extras["z"][2] and extras["act"][1] != extras["act"][2]
    rng = np.random.default_rng(7)
    for spread in (0.3, 1.0):
        fixed = random_integer_model(rng, cfg, mf, spread)
        x = rng.integers(mf.input.int_min, mf.input.int_max + 1, (4, cfg.timesteps, cfg.features))
        assert_rtl_equals_golden(fixed, x, "verilator", 2)


def test_rtl_backend_runs_a_per_layer_model_file(tmp_path, verilator, capsys):
    """The model file's formats reach the hardware: convert-autoencoder writes the design
    and its image for them, and the rtl backend reconstructs what the fixed backend does."""
    import json

    from lstm_chiplet.backends import make_backend
    from lstm_chiplet.cli import main
    from lstm_chiplet.models.project import save_model
    from lstm_chiplet.models.store import load_any_model

    cfg = AutoencoderConfig(3, (4, 2), (2, 4), 3)
    mf = moved_points(cfg)
    path = save_model(tmp_path / "per_layer.npz", realistic_weights(cfg, seed=5), fmts=mf)
    assert main(["convert-autoencoder", "--model", str(path), "--lanes", "2",
                 "--out", str(tmp_path / "rtl")]) == 0
    capsys.readouterr()
    manifest = json.loads(next((tmp_path / "rtl").glob("*.manifest.json")).read_text())
    assert ModelFormats.from_dict(manifest["formats"], cfg.num_layers) == mf
    lm = load_any_model(path)
    fixed = lm.fixed()
    assert fixed.formats == mf
    x = np.random.default_rng(6).uniform(0, 1, (2, cfg.timesteps, cfg.features))
    a = make_backend("fixed", lm.model, fixed, lanes=2).reconstruct(x)
    b = make_backend("rtl", lm.model, fixed, simulator="verilator", lanes=2).reconstruct(x)
    np.testing.assert_array_equal(a.reconstruction_int, b.reconstruction_int)
