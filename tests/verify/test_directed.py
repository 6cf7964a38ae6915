"""The directed stimuli of the regression subsets put sums where rounding is decided.

Every check measures the stimuli with golden's own arithmetic (accumulators, layer
runs), not with the solver that built them, and compares them with what random
stimuli of the same shape give.
"""

from dataclasses import replace

import numpy as np
import pytest

from golden.lstm_fixed import gate_accumulators, lstm_layer_fixed
from verify.directed import boundary_residues, layer_inputs, recovery_case, tie_case, tie_model


def _distance(acc, fmt, shift):
    """Distance of each sum from the nearer side of its rounding boundary (0: on it or
    one unit below), computed from the format's rounding alone."""
    m = 1 << shift
    on = (1 << (shift - 1)) if fmt.rounding == "nearest_posinf" else 0
    r = (np.asarray(acc) - on) % m
    r = np.where(r >= m // 2, r - m, r)
    return np.minimum(np.abs(r), np.abs(r + 1))


@pytest.fixture(scope="module")
def engine_cfg():
    from hdl.config import EngineConfig
    from verify.regression import ENGINE_CONFIG

    return EngineConfig(**ENGINE_CONFIG)


def _step_distances(case):
    fm = case.cfg.fmts
    shift = fm.acc_frac - fm.preact.frac_bits
    out = []
    for seq in case.sequences:
        h, _ = lstm_layer_fixed(seq[None], case.weights)
        h_prev = np.vstack([np.zeros((1, h.shape[2]), np.int64), h[0, :-1]])
        out.append(_distance(gate_accumulators(seq, h_prev, case.weights), fm.preact, shift).min(axis=1))
    return np.concatenate(out)


def test_boundary_residues_follow_the_rounding_mode(engine_cfg):
    fm = engine_cfg.fmts
    assert boundary_residues(fm.preact, 15) == (1 << 14, (1 << 14) - 1)
    floor = replace(fm.preact, rounding="floor")
    assert boundary_residues(floor, 15) == (0, (1 << 15) - 1)


def test_every_tie_step_puts_a_gate_sum_next_to_its_boundary(engine_cfg):
    from cosim.engine import random_case

    tied = _step_distances(tie_case(engine_cfg, 31, n_sequences=6))
    rand = _step_distances(random_case(engine_cfg, 31, n_sequences=12, max_len=8, weight_mode="uniform",
                                       input_mode="uniform"))
    assert np.median(tied) <= 1 << 8, np.median(tied)
    assert np.mean(tied <= 1) >= 1 / 20           # on the boundary or one unit below it
    assert np.median(rand) > 1 << 9               # what random stimuli give, for contrast


def test_recovery_saturates_the_cell_state_then_leaves_it(engine_cfg):
    fm = engine_cfg.fmts
    for sign in (-1, 1):
        case = recovery_case(engine_cfg, sign)
        _, c = lstm_layer_fixed(case.sequences[0][None], case.weights)
        edge = fm.preact.int_min if sign < 0 else fm.preact.int_max
        held = np.flatnonzero((c[0] == edge).all(axis=1))
        assert held.size >= 2, "the cell state never saturated"
        after = c[0, held[-1] + 1:]
        assert after.size and (np.abs(after) < fm.preact.int_max // 4).all(), after


def test_tie_model_puts_every_row_of_every_layer_next_to_its_boundary():
    from verify.regression import whole_window_model

    fixed = whole_window_model()
    rng = np.random.default_rng(31)
    vec = fixed.formats.input
    x = rng.integers(vec.int_min // 4, vec.int_max // 4 + 1, (3, fixed.cfg.timesteps, fixed.cfg.features))
    model = tie_model(fixed, x, 31)
    ins, hs = layer_inputs(model, x)
    near = []
    for k, w in enumerate(model.layers):
        fm, hsz = w.fmts, w.hidden_size
        shift = fm.acc_frac - fm.preact.frac_bits
        h_prev = np.concatenate([np.zeros((len(x), 1, hsz), np.int64), hs[k][:, :-1]], axis=1)
        acc = gate_accumulators(ins[k].reshape(-1, w.input_size), h_prev.reshape(-1, hsz), w)
        dist = _distance(acc.reshape(len(x), -1, 4 * hsz), fm.preact, shift)
        best = np.concatenate([dist[:, 0, :hsz], dist[:, 1, hsz:2 * hsz], dist[:, 0, 2 * hsz:]], axis=1).min(axis=0)
        assert (best < 1 << (shift - 1)).all(), (k, best)
        near.append(best < 1 << 8)
    # the offsets are drawn log-uniformly below 2^(shift-1): 9 in 15 below 2^8; a random
    # sum lands that close about once in 64
    assert np.mean(np.concatenate(near)) >= 0.4, near
    fo = model.formats
    shift = fo.dense_acc_frac - fo.output.frac_bits
    acc = hs[-1][:, 0] @ model.dense_kernel + (model.dense_bias << fo.dense_in.frac_bits)
    assert (_distance(acc, fo.output, shift).min(axis=0) < 1 << (shift - 1)).all()
    np.testing.assert_array_equal(model.forward_int(x)["reconstruction"].shape, x.shape)


def test_the_perturbed_forward_is_golden_and_a_last_layer_step_shows():
    from verify.directed import perturbed_reconstruction
    from verify.regression import whole_window_model

    fixed = whole_window_model()
    vec = fixed.formats.input
    rng = np.random.default_rng(32)
    x = rng.integers(vec.int_min // 4, vec.int_max // 4 + 1, (3, fixed.cfg.timesteps, fixed.cfg.features))
    model = tie_model(fixed, x, 32)
    base = perturbed_reconstruction(model, x)
    np.testing.assert_array_equal(base, model.forward_int(x)["reconstruction"])
    last = model.cfg.num_layers - 1
    h = model.layers[last].hidden_size
    shown = [not np.array_equal(perturbed_reconstruction(model, x, (last, 0, 0, 3 * h + r, 1)), base)
             for r in range(h)]            # the output gate of the last layer at step 0
    assert any(shown)
