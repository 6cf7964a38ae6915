"""Fast fixed-point LSTM kernels: numpy integer arithmetic, bit-exact with the spec.

These kernels define, with :mod:`golden.activations`, exactly what the hardware
computes.  They are vectorized over the batch and are what the workload runs on;
:mod:`golden.lstm_spec` states the same arithmetic in fxpmath and the tests prove the
two equal as integers.

One step, every quantity an integer of the named format (``fmts = LSTMFormats``)::

    acc = x @ Wk + h @ Wr + (b << vec.frac)          exact, acc_frac = weight.frac + vec.frac
    z   = preact.requantize(acc, acc_frac)           requantization 1: round, saturate
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o)   act format (table, see activations)
    g   = tanh(z_g)
    c   = preact.requantize((f*c_prev << a) + (i*g << b), F)   requantization 2
    h   = vec.requantize(o * tanh(c), 2*act.frac)                requantization 3

where ``F = max(act.frac + preact.frac, 2*act.frac)`` and ``a``, ``b`` align the two
products to ``F`` fractional bits.  The matrix products run in float64, which is exact
while every partial sum stays below 2^53: :func:`check_exact` proves that from the
accumulator width before any product is taken.

Peephole connections (optional, ``FixedLSTMWeights.peephole`` (3, H) in the weight
format, rows i, f, o)::

    acc_i += align(p_i * c_prev)     acc_f += align(p_f * c_prev)      before requantization 1
    z_o    = preact.requantize(acc_o + align(p_o * c), acc_frac)   after c is known

The product ``p * c`` has ``weight.frac + preact.frac`` fractional bits; ``align``
brings it to ``acc_frac = weight.frac + vec.frac``: a left shift (exact) when
``vec.frac >= preact.frac`` (the defaults: 3 bits), otherwise a right shift with the
preact rounding mode (the only place a peephole loses bits; no overflow, the
accumulator is wide).  The output gate's accumulator is held exact until the new c
arrives, so z_o is still requantized once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .formats import LSTMFormats, DEFAULT_FORMATS, FormatError, accumulator_bits
from .activations import activate, SIGMOID, TANH
from .lstm_float import LSTMWeights, ShapeError


@dataclass(frozen=True)
class FixedLSTMWeights:
    """One layer's weights as integers of ``fmts.weight`` (Keras layout, see lstm_float)."""

    kernel: np.ndarray      # (D, 4H) int64
    recurrent: np.ndarray   # (H, 4H) int64
    bias: np.ndarray        # (4H,)   int64
    fmts: LSTMFormats
    peephole: Optional[np.ndarray] = None   # (3, H) int64, rows i, f, o; None: no peepholes

    @property
    def input_size(self) -> int:
        return self.kernel.shape[0]

    @property
    def hidden_size(self) -> int:
        return self.recurrent.shape[0]

    @classmethod
    def from_float(cls, w: LSTMWeights, fmts: LSTMFormats = DEFAULT_FORMATS,
                   layer: str = "layer") -> "FixedLSTMWeights":
        """Quantize; a tensor outside ``fmts.weight`` raises, naming tensor and excess."""
        parts = {}
        for name, t in w.tensors().items():
            fmts.weight.check_fits(t, f"{layer} {name}")
            parts[name] = fmts.weight.quantize(t, f"{layer} {name}")
        return cls(parts["kernel"], parts["recurrent"], parts["bias"], fmts,
                   parts.get("peephole"))

    @classmethod
    def from_ints(cls, kernel, recurrent, bias, fmts: LSTMFormats = DEFAULT_FORMATS,
                  layer: str = "layer", peephole=None) -> "FixedLSTMWeights":
        """Integer weights; shapes and the weight format's range are checked."""
        w = LSTMWeights(np.asarray(kernel, dtype=np.float64), np.asarray(recurrent, dtype=np.float64),
                        np.asarray(bias, dtype=np.float64),
                        None if peephole is None else np.asarray(peephole, dtype=np.float64))
        parts = {}
        named = [("kernel", kernel), ("recurrent", recurrent), ("bias", bias)]
        if peephole is not None:
            named.append(("peephole", peephole))
        for name, t in named:
            a = np.asarray(t)
            if not np.issubdtype(a.dtype, np.integer):
                raise FormatError(f"{layer} {name}: expected integers, got dtype {a.dtype}")
            a = a.astype(np.int64)
            if a.size and (a.min() < fmts.weight.int_min or a.max() > fmts.weight.int_max):
                raise FormatError(f"{layer} {name}: integers span [{a.min()}, {a.max()}], outside "
                                  f"{fmts.weight.describe()}")
            parts[name] = a
        del w
        return cls(parts["kernel"], parts["recurrent"], parts["bias"], fmts, parts.get("peephole"))

    @property
    def has_peephole(self) -> bool:
        return self.peephole is not None

    def to_float(self) -> LSTMWeights:
        f = self.fmts.weight
        return LSTMWeights(f.to_float(self.kernel), f.to_float(self.recurrent), f.to_float(self.bias),
                           None if self.peephole is None else f.to_float(self.peephole))


def check_exact(fmts: LSTMFormats, terms: int) -> int:
    """Accumulator bits for ``terms`` products; raises if float64 could not hold them exactly."""
    bits = accumulator_bits(fmts, terms)
    if bits > 53:
        raise FormatError(f"accumulator of {bits} bits exceeds the 53 bits float64 holds exactly; "
                          "narrow the formats or the layer")
    return bits


def _matmul_exact(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.rint(a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)


def cell_state(i, f, g, c_prev, fmts: LSTMFormats):
    """Fixed-point c' = f*c + i*g (requantization 2)."""
    fc_frac = fmts.act.frac_bits + fmts.preact.frac_bits
    ig_frac = 2 * fmts.act.frac_bits
    big = max(fc_frac, ig_frac)
    s = (f * c_prev << (big - fc_frac)) + (i * g << (big - ig_frac))
    return fmts.preact.requantize(s, big)


def hidden_output(o, c, fmts: LSTMFormats):
    """Fixed-point h' = o*tanh(c') (requantization 3)."""
    return fmts.vec.requantize(o * activate(c, TANH, fmts), 2 * fmts.act.frac_bits)


def cell_update(i, f, g, o, c_prev, fmts: LSTMFormats):
    """Fixed-point c' = f*c + i*g and h' = o*tanh(c') (requantizations 2 and 3)."""
    c = cell_state(i, f, g, c_prev, fmts)
    return hidden_output(o, c, fmts), c


def gate_accumulators(x, h, w: FixedLSTMWeights):
    """Exact x Wk + h Wr + (b << vec.frac) for a batch; (B, 4H) ints at ``acc_frac``."""
    fmts = w.fmts
    return _matmul_exact(x, w.kernel) + _matmul_exact(h, w.recurrent) + (w.bias << fmts.vec.frac_bits)


def gate_preact(x, h, w: FixedLSTMWeights):
    """z = preact.requantize(x Wk + h Wr + (b << vec.frac)) for a batch; (B, 4H) ints."""
    return w.fmts.preact.requantize(gate_accumulators(x, h, w), w.fmts.acc_frac)


def peephole_term(p, c, fmts: LSTMFormats):
    """``p * c`` aligned to the accumulator's ``acc_frac`` fractional bits (see module doc)."""
    prod = np.asarray(p, dtype=np.int64) * np.asarray(c, dtype=np.int64)
    return fmts.preact.shift_round(prod, fmts.weight.frac_bits + fmts.preact.frac_bits - fmts.acc_frac)


GATE_TENSORS = ("z_i", "z_f", "z_g", "z_o")


def _record_gates(clamps, layer: str, acc, fmts: LSTMFormats) -> None:
    """Count, per gate, the pre-activations the requantization will clamp."""
    codes = fmts.preact.shift_round(acc, fmts.acc_frac - fmts.preact.frac_bits)
    over = (codes < fmts.preact.int_min) | (codes > fmts.preact.int_max)
    hs = acc.shape[-1] // 4
    per_gate = over.reshape(over.shape[:-1] + (4, hs)).sum(axis=tuple(range(over.ndim - 1)) + (-1,))
    for g, name in enumerate(GATE_TENSORS):
        clamps.add(layer, name, int(per_gate[g]), over.size // 4)


def _record_state(clamps, layer: str, h, c, i, f, g, o, c_prev, fmts: LSTMFormats) -> None:
    """Count the c and h values requantizations 2 and 3 clamp (recomputed unclamped)."""
    fc_frac = fmts.act.frac_bits + fmts.preact.frac_bits
    ig_frac = 2 * fmts.act.frac_bits
    big = max(fc_frac, ig_frac)
    s = (f * c_prev << (big - fc_frac)) + (i * g << (big - ig_frac))
    clamps.record(layer, "c", fmts.preact.shift_round(s, big - fmts.preact.frac_bits), fmts.preact)
    t = o * activate(c, TANH, fmts)
    clamps.record(layer, "h", fmts.vec.shift_round(t, 2 * fmts.act.frac_bits - fmts.vec.frac_bits),
                  fmts.vec)


def step(x, h_prev, c_prev, w: FixedLSTMWeights, clamps=None, layer: str = "layer"):
    """One fixed-point step on integer arrays of shape (B, D), (B, H), (B, H).

    ``clamps`` (a :class:`golden.formats.ClampCounts`), when given, counts the values
    each requantization point clamped, under ``layer``; the results are the same.
    """
    fmts = w.fmts
    hs = w.hidden_size
    if w.peephole is not None:
        return _step_peephole(x, h_prev, c_prev, w, clamps, layer)
    if clamps is not None:
        acc = gate_accumulators(x, h_prev, w)
        _record_gates(clamps, layer, acc, fmts)
        z = fmts.preact.requantize(acc, fmts.acc_frac)
        i = activate(z[:, 0:hs], SIGMOID, fmts)
        f = activate(z[:, hs:2 * hs], SIGMOID, fmts)
        g = activate(z[:, 2 * hs:3 * hs], TANH, fmts)
        o = activate(z[:, 3 * hs:], SIGMOID, fmts)
        h, c = cell_update(i, f, g, o, c_prev, fmts)
        _record_state(clamps, layer, h, c, i, f, g, o, c_prev, fmts)
        return h, c
    z = gate_preact(x, h_prev, w)
    i = activate(z[:, 0:hs], SIGMOID, fmts)
    f = activate(z[:, hs:2 * hs], SIGMOID, fmts)
    g = activate(z[:, 2 * hs:3 * hs], TANH, fmts)
    o = activate(z[:, 3 * hs:], SIGMOID, fmts)
    return cell_update(i, f, g, o, c_prev, fmts)


def _step_peephole(x, h_prev, c_prev, w: FixedLSTMWeights, clamps=None, layer: str = "layer"):
    fmts = w.fmts
    hs = w.hidden_size
    p = w.peephole
    acc = gate_accumulators(x, h_prev, w)
    acc_i = acc[:, 0:hs] + peephole_term(p[0], c_prev, fmts)
    acc_f = acc[:, hs:2 * hs] + peephole_term(p[1], c_prev, fmts)
    i = activate(fmts.preact.requantize(acc_i, fmts.acc_frac), SIGMOID, fmts)
    f = activate(fmts.preact.requantize(acc_f, fmts.acc_frac), SIGMOID, fmts)
    g = activate(fmts.preact.requantize(acc[:, 2 * hs:3 * hs], fmts.acc_frac), TANH, fmts)
    c = cell_state(i, f, g, c_prev, fmts)
    acc_o = acc[:, 3 * hs:] + peephole_term(p[2], c, fmts)
    o = activate(fmts.preact.requantize(acc_o, fmts.acc_frac), SIGMOID, fmts)
    h = hidden_output(o, c, fmts)
    if clamps is not None:
        _record_gates(clamps, layer, np.concatenate([acc_i, acc_f, acc[:, 2 * hs:3 * hs], acc_o],
                                                    axis=1), fmts)
        _record_state(clamps, layer, h, c, i, f, g, o, c_prev, fmts)
    return h, c


def check_int_sequences(x, input_size: int, fmt, what: str = "input") -> np.ndarray:
    a = np.asarray(x)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[2] != input_size:
        raise ShapeError(f"{what}: expected shape (batch, time, {input_size}), got {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise FormatError(f"{what}: expected integers of {fmt.describe()}, got dtype {a.dtype}")
    a = a.astype(np.int64)
    if a.size and (a.min() < fmt.int_min or a.max() > fmt.int_max):
        raise FormatError(f"{what}: integers span [{a.min()}, {a.max()}], outside {fmt.describe()}")
    return a


def lstm_layer_fixed(x, w: FixedLSTMWeights, h0=None, c0=None, clamps=None, layer: str = "layer"):
    """Run a layer over integer sequences (B, T, D) -> (h_seq, c_seq) int64 (B, T, H).

    ``clamps`` (:class:`golden.formats.ClampCounts`): count every clamp under ``layer``.
    """
    fmts = w.fmts
    check_exact(fmts, w.input_size + w.hidden_size)
    x = check_int_sequences(x, w.input_size, fmts.vec)
    b, t, _ = x.shape
    hs = w.hidden_size
    h = np.zeros((b, hs), np.int64) if h0 is None else np.broadcast_to(h0, (b, hs)).astype(np.int64)
    c = np.zeros((b, hs), np.int64) if c0 is None else np.broadcast_to(c0, (b, hs)).astype(np.int64)
    hseq = np.empty((b, t, hs), np.int64)
    cseq = np.empty((b, t, hs), np.int64)
    for s in range(t):
        h, c = step(x[:, s], h, c, w, clamps, layer)
        hseq[:, s] = h
        cseq[:, s] = c
    return hseq, cseq


def bidirectional_layer_fixed(x, forward: FixedLSTMWeights, backward: FixedLSTMWeights):
    """Bidirectional layer on integers: (B, T, D) -> (h_seq, c_seq), each (B, T, 2H).

    ``[..., :H]`` is ``forward`` over the sequence, ``[..., H:]`` is ``backward`` over
    the time-reversed sequence, reversed back (see ``lstm_float.bidirectional_layer``).
    """
    if forward.input_size != backward.input_size:
        raise ShapeError(f"bidirectional: forward layer takes {forward.input_size} features, "
                         f"backward layer {backward.input_size}")
    if forward.fmts != backward.fmts:
        raise FormatError("bidirectional: forward and backward layers use different formats")
    x = check_int_sequences(x, forward.input_size, forward.fmts.vec)
    hf, cf = lstm_layer_fixed(x, forward)
    hb, cb = lstm_layer_fixed(x[:, ::-1], backward)
    return (np.concatenate([hf, hb[:, ::-1]], axis=-1),
            np.concatenate([cf, cb[:, ::-1]], axis=-1))
