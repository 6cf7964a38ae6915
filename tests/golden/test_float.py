"""Float reference: Keras and PyTorch imports give one function; the cell equals the
equations evaluated element by element; peephole and bidirectional options."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from golden.formats import FormatError
from golden.lstm_float import (LSTMCell, LSTMWeights, ShapeError, bidirectional_layer,
                               lstm_layer)

TOL = 1e-12


def _keras_set(rng, d, h, scale=1.0):
    return (rng.uniform(-scale, scale, (d, 4 * h)), rng.uniform(-scale, scale, (h, 4 * h)),
            rng.uniform(-scale, scale, 4 * h))


def _pytorch_from_keras(rng, kernel, recurrent, bias):
    """The PyTorch tensors of the same layer: transposed, bias split in two random parts."""
    part = rng.normal(size=bias.shape)
    return {"weight_ih": kernel.T.copy(), "weight_hh": recurrent.T.copy(),
            "bias_ih": part, "bias_hh": bias - part}


def assert_same_function(a: LSTMWeights, b: LSTMWeights, x):
    """Both layers map the sequences ``x`` to the same h and c (within TOL)."""
    ha, ca = lstm_layer(x, a)
    hb, cb = lstm_layer(x, b)
    worst = max(float(np.max(np.abs(ha - hb))), float(np.max(np.abs(ca - cb))))
    assert worst <= TOL, f"the two imports differ by up to {worst:.3g}"


@given(d=st.integers(1, 6), h=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_keras_and_pytorch_imports_are_one_function(d, h, seed):
    rng = np.random.default_rng(seed)
    k, r, b = _keras_set(rng, d, h, scale=2.0)
    keras = LSTMWeights.from_keras(k, r, b)
    torch = LSTMWeights.from_pytorch(**_pytorch_from_keras(rng, k, r, b))
    assert_same_function(keras, torch, rng.uniform(-1, 2, (3, 5, d)))


def test_to_pytorch_round_trip():
    rng = np.random.default_rng(1)
    w = LSTMWeights.from_keras(*_keras_set(rng, 3, 2))
    back = LSTMWeights.from_pytorch(**w.to_pytorch())
    for name in ("kernel", "recurrent", "bias"):
        np.testing.assert_array_equal(getattr(back, name), getattr(w, name))


def _swap_gate_blocks(t, h, a, b):
    t = t.copy()
    rows_a, rows_b = slice(a * h, (a + 1) * h), slice(b * h, (b + 1) * h)
    t[rows_a], t[rows_b] = t[rows_b].copy(), t[rows_a].copy()
    return t


@pytest.mark.parametrize("gates", [(0, 1), (1, 2), (2, 3), (0, 3)],
                         ids=["i<->f", "f<->g", "g<->o", "i<->o"])
def test_swapped_gate_blocks_fail_the_comparison(gates):
    rng = np.random.default_rng(7)
    d, h = 3, 4
    k, r, b = _keras_set(rng, d, h, scale=2.0)
    pt = _pytorch_from_keras(rng, k, r, b)
    wrong = {name: _swap_gate_blocks(t, h, *gates) for name, t in pt.items()}
    x = rng.uniform(0, 1, (2, 6, d))
    assert_same_function(LSTMWeights.from_keras(k, r, b), LSTMWeights.from_pytorch(**pt), x)
    with pytest.raises(AssertionError, match="imports differ"):
        assert_same_function(LSTMWeights.from_keras(k, r, b), LSTMWeights.from_pytorch(**wrong), x)


def test_forgotten_transpose_in_square_case_fails_the_comparison():
    """With D == H every gate block is square, so an importer that forgets to transpose
    the blocks passes every shape check; only the comparison can catch it."""
    rng = np.random.default_rng(3)
    d = h = 4
    k, r, b = _keras_set(rng, d, h, scale=2.0)
    pt = _pytorch_from_keras(rng, k, r, b)

    def untransposed(t):
        return np.concatenate([t[g * h:(g + 1) * h] for g in range(4)], axis=1)

    wrong = LSTMWeights(untransposed(pt["weight_ih"]), untransposed(pt["weight_hh"]),
                        pt["bias_ih"] + pt["bias_hh"])
    assert wrong.kernel.shape == k.shape                 # the shapes do not betray it
    with pytest.raises(AssertionError, match="imports differ"):
        assert_same_function(LSTMWeights.from_keras(k, r, b), wrong, rng.uniform(0, 1, (2, 6, d)))


# ------------------------------------------------------------------ the equations
def _sig(v):
    return 1.0 / (1.0 + math.exp(-v))


def _scalar_step(w, x, h_prev, c_prev):
    """One step written out element by element with math.exp / math.tanh."""
    d, hs = w.kernel.shape[0], w.recurrent.shape[0]

    def z(gate, j):
        col = gate * hs + j
        return (sum(x[k] * w.kernel[k, col] for k in range(d))
                + sum(h_prev[k] * w.recurrent[k, col] for k in range(hs)) + w.bias[col])

    h, c = [], []
    for j in range(hs):
        p = w.peephole
        zi, zf, zg, zo = (z(g, j) for g in range(4))
        if p is not None:
            zi += p[0, j] * c_prev[j]
            zf += p[1, j] * c_prev[j]
        cj = _sig(zf) * c_prev[j] + _sig(zi) * math.tanh(zg)
        if p is not None:
            zo += p[2, j] * cj
        c.append(cj)
        h.append(_sig(zo) * math.tanh(cj))
    return np.array(h), np.array(c)


@pytest.mark.parametrize("peephole", [False, True], ids=["plain", "peephole"])
def test_cell_step_equals_scalar_equations(peephole):
    rng = np.random.default_rng(4)
    d, h = 2, 3
    k, r, b = _keras_set(rng, d, h, scale=1.5)
    w = LSTMWeights(k, r, b, rng.uniform(-1, 1, (3, h)) if peephole else None)
    x, h_prev, c_prev = rng.uniform(-1, 1, d), rng.uniform(-1, 1, h), rng.uniform(-3, 3, h)
    got_h, got_c = LSTMCell(w).step(x, h_prev, c_prev)
    want_h, want_c = _scalar_step(w, x, h_prev, c_prev)
    np.testing.assert_allclose(got_h, want_h, rtol=0, atol=TOL)
    np.testing.assert_allclose(got_c, want_c, rtol=0, atol=TOL)
    # batched: each row is the single-vector step
    xb, hb, cb = (np.stack([v, v[::-1] * 0.5]) for v in (x, h_prev, c_prev))
    bh, bc = LSTMCell(w).step(xb, hb, cb)
    np.testing.assert_allclose(bh[1], _scalar_step(w, xb[1], hb[1], cb[1])[0], rtol=0, atol=TOL)


def test_layer_runs_the_cell_over_time():
    rng = np.random.default_rng(8)
    w = LSTMWeights(*_keras_set(rng, 2, 3))
    x = rng.uniform(0, 1, (2, 4, 2))
    h_seq, c_seq = lstm_layer(x, w)
    h, c = np.zeros(3), np.zeros(3)
    for t in range(4):
        h, c = _scalar_step(w, x[1, t], h, c)
    np.testing.assert_allclose(h_seq[1, -1], h, rtol=0, atol=TOL)
    np.testing.assert_allclose(c_seq[1, -1], c, rtol=0, atol=TOL)


def test_zero_peephole_equals_plain():
    rng = np.random.default_rng(9)
    k, r, b = _keras_set(rng, 3, 4)
    x = rng.uniform(0, 1, (2, 5, 3))
    plain = lstm_layer(x, LSTMWeights(k, r, b))
    zero = lstm_layer(x, LSTMWeights(k, r, b, np.zeros((3, 4))))
    np.testing.assert_array_equal(plain[0], zero[0])
    some = lstm_layer(x, LSTMWeights(k, r, b, np.full((3, 4), 0.5)))
    assert np.max(np.abs(some[0] - plain[0])) > 1e-3


def test_bidirectional_concatenates_forward_and_reversed_backward():
    rng = np.random.default_rng(10)
    fwd, bwd = LSTMWeights(*_keras_set(rng, 3, 2)), LSTMWeights(*_keras_set(rng, 3, 4))
    x = rng.uniform(0, 1, (2, 5, 3))
    h, c = bidirectional_layer(x, fwd, bwd)
    assert h.shape == (2, 5, 6) and c.shape == (2, 5, 6)
    np.testing.assert_array_equal(h[..., :2], lstm_layer(x, fwd)[0])
    # the backward half at step t has seen x[t:], its first output the whole sequence
    hb_last, _ = lstm_layer(x[:, ::-1], bwd)
    np.testing.assert_array_equal(h[:, 0, 2:], hb_last[:, -1])
    np.testing.assert_allclose(h[:, -1, 2:], lstm_layer(x[:, -1:], bwd)[0][:, 0], rtol=0, atol=0)


# ------------------------------------------------------------------ bad input
def test_bad_shapes_and_values_are_named():
    h = 4
    ok = dict(kernel=np.zeros((3, 4 * h)), recurrent=np.zeros((h, 4 * h)), bias=np.zeros(4 * h))
    with pytest.raises(ShapeError, match=r"recurrent kernel: expected shape \(H, 4H\), got \(4, 12\)"):
        LSTMWeights(**{**ok, "recurrent": np.zeros((h, 3 * h))})
    with pytest.raises(ShapeError, match=r"kernel: expected shape \(D, 4H\) = \(D, 16\), got \(3, 12\)"):
        LSTMWeights(**{**ok, "kernel": np.zeros((3, 12))})
    with pytest.raises(ShapeError, match=r"bias: expected shape"):
        LSTMWeights(**{**ok, "bias": np.zeros(4 * h + 1)})
    with pytest.raises(ShapeError, match=r"peephole: expected shape \(3, H\) = \(3, 4\)"):
        LSTMWeights(**ok, peephole=np.zeros((4, h)))
    with pytest.raises(FormatError, match=r"bias: 1 value\(s\) are NaN"):
        LSTMWeights(**{**ok, "bias": np.r_[np.zeros(4 * h - 1), np.nan]})
    with pytest.raises(ShapeError, match="weight_ih: expected shape"):
        LSTMWeights.from_pytorch(np.zeros((12, 3)), np.zeros((16, 4)))
    with pytest.raises(ShapeError, match="bias_hh"):
        LSTMWeights.from_pytorch(np.zeros((16, 3)), np.zeros((16, 4)), None, np.zeros(12))
    w = LSTMWeights(**ok)
    with pytest.raises(ShapeError, match="expected 3 features per step, got 2"):
        lstm_layer(np.zeros((1, 5, 2)), w)
    with pytest.raises(FormatError, match="input: 1 value"):
        lstm_layer(np.r_[np.zeros(5), np.inf].reshape(1, 2, 3), w)
    with pytest.raises(ShapeError, match="no peephole weights"):
        LSTMWeights(**ok, peephole=np.zeros((3, h))).to_pytorch()
    with pytest.raises(ShapeError, match="bidirectional"):
        bidirectional_layer(np.zeros((1, 2, 3)), w, LSTMWeights(np.zeros((2, 16)), ok["recurrent"], ok["bias"]))
