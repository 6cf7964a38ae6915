"""Fixed-point LSTM specification in fxpmath: what the hardware computes, stated readably.

This module is the reference the fast integer kernels (:mod:`golden.lstm_fixed`) and,
through them, the RTL are held to.  It says the same arithmetic a second time in a
different language: values are fxpmath ``Fxp`` objects whose dtypes come from the
:class:`~golden.formats.QFormat` objects, products and sums are exact (fxpmath sizing
``optimal``, full width, ``np.dot`` for the matrix-vector products), and every place
where bits are dropped is a call to :func:`requantize` naming the format whose rounding
mode (``nearest_posinf`` or ``floor``) and overflow mode (``saturate`` or ``wrap``) it
applies.  Nothing here calls the integer kernels or ``QFormat.requantize``; the only
thing shared with them is the table of sigmoid samples (:func:`activation_table`).

One step (``fmts`` the layer's :class:`~golden.formats.LSTMFormats`)::

    acc     = x . Wk + h . Wr + b                 exact, weight.frac + vec.frac frac bits
    z       = requantize(acc, preact)             point "z"
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);  g = tanh(z_g)   points "i" "f" "g" "o"
    c       = requantize(f*c_prev + i*g, preact)  point "c" (sum exact, aligned to the finer product)
    h       = requantize(o * tanh(c), vec)        points "tanh(c)" and "h"

The activations are the interpolated table of :mod:`golden.activations` written in
real-valued fixed-point terms (:func:`spec_activation`): exact interpolation between
two table samples, the symmetry of sigmoid and tanh, then one requantization to the
``act`` format.  Peephole connections and the bidirectional runner follow
:mod:`golden.lstm_fixed`.

fxpmath is slow (about 0.1 ms per array operation); the specification is for small
cases and cross-checks, the integer kernels for the workload.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .activations import activation_table, SIGMOID, TANH
from .formats import FormatError, LSTMFormats, QFormat
from .lstm_fixed import FixedLSTMWeights, check_int_sequences
from .lstm_float import ShapeError

#: fxpmath settings of every object built here: arithmetic on raw integers, results
#: sized to hold the exact value ('optimal'; never 'fit', which depends on the data).
FXP_CONFIG = {"op_sizing": "optimal", "const_op_sizing": "optimal", "op_method": "raw"}

#: fxpmath re-scales a stored integer through float64 when it drops fraction bits, which
#: is exact only below 2^53 (and it skips rounding for words of 64 bits or more, which it
#: stores as Python objects): codes are re-expressed in at most this many bits before
#: rounding, and larger codes are refused rather than silently mis-rounded.
EXACT_BITS = 53


def _fxp_class():
    from fxpmath import Fxp  # heavy import, kept out of module import time
    return Fxp


# ----------------------------------------------------------------- building blocks
def fxp_raw(ints, signed: bool, word: int, frac: int):
    """An Fxp holding integers ``ints`` as raw codes: value = int * 2^-frac.

    Raises :class:`FormatError` if a code does not fit ``word`` bits (never saturates
    an input silently).
    """
    Fxp = _fxp_class()
    a = np.asarray(ints, dtype=np.int64)
    lo = -(1 << (word - 1)) if signed else 0
    hi = (1 << (word - 1)) - 1 if signed else (1 << word) - 1
    if a.size and (int(a.min()) < lo or int(a.max()) > hi):
        raise FormatError(f"spec: codes span [{a.min()}, {a.max()}], outside {word}-bit "
                          f"{'signed' if signed else 'unsigned'} range [{lo}, {hi}]")
    f = Fxp(None, signed=signed, n_word=word, n_frac=frac, rounding="floor",
            overflow="saturate", **FXP_CONFIG)
    return f.set_val(a, raw=True)


def fxp_of(ints, fmt: QFormat, what: str):
    """Integers of format ``fmt`` as an Fxp of dtype ``fmt.fxp_dtype`` (range checked)."""
    Fxp = _fxp_class()
    a = np.asarray(ints)
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise FormatError(f"{what}: expected integers of {fmt.describe()}, got dtype {a.dtype}")
    a = a.astype(np.int64)
    if a.size and (int(a.min()) < fmt.int_min or int(a.max()) > fmt.int_max):
        raise FormatError(f"{what}: integers span [{a.min()}, {a.max()}], outside {fmt.describe()}")
    f = Fxp(None, dtype=fmt.fxp_dtype, rounding=fmt.rounding, overflow=fmt.overflow, **FXP_CONFIG)
    return f.set_val(a, raw=True)


def constant(n: int):
    """The integer ``n`` as an Fxp with no fraction bits (exact)."""
    return fxp_raw(n, True, int(n).bit_length() + 1, 0)


def rescale(value, log2_factor: int):
    """``value * 2^log2_factor`` exactly: the same codes with the binary point moved
    (one more integer bit per doubling, as a left shift in hardware)."""
    return fxp_raw(to_ints(value), value.signed, value.n_word, value.n_frac - log2_factor)


def to_ints(value) -> np.ndarray:
    """Raw integer codes of an Fxp, as an int64 numpy array."""
    return np.asarray(value.val, dtype=np.int64).copy()


def widen(value, bits: int):
    """``value`` exactly, in a word ``bits`` wider (same fraction bits)."""
    return fxp_raw(to_ints(value), value.signed, value.n_word + bits, value.n_frac)


def _narrow_exact(value):
    """``value`` in an EXACT_BITS-bit word (its optimal-sizing word may be wider than its
    codes need); refuses codes that do not fit."""
    codes = [int(v) for v in np.asarray(value.val, dtype=object).ravel()]
    peak = max((abs(v) for v in codes), default=0)
    if peak >= 1 << (EXACT_BITS - 1):
        raise FormatError(f"spec: a code of {peak.bit_length()} bits cannot be rounded exactly "
                          f"through fxpmath (limit {EXACT_BITS} bits); narrow the formats")
    ints = np.array(codes, dtype=np.int64).reshape(np.shape(value.val))
    return fxp_raw(ints, True, EXACT_BITS, value.n_frac)


def round_to(value, frac: int, rounding: str):
    """``value`` with ``frac`` fraction bits, rounded with ``rounding``; the word grows
    so that nothing can overflow (this step only drops low bits)."""
    Fxp = _fxp_class()
    int_part = value.n_word - value.n_frac          # integer bits incl. sign of ``value``
    if frac >= value.n_frac:                        # a left shift: exact
        word = int_part + frac + (0 if value.signed else 1)
    else:                                           # rounding up may carry one bit
        if value.n_word > EXACT_BITS:
            value = _narrow_exact(value)
            int_part = value.n_word - value.n_frac
        word = int_part + frac + 1 + (0 if value.signed else 1)
    return Fxp(value, signed=True, n_word=max(word, 2), n_frac=frac, rounding=rounding,
               overflow="saturate", **FXP_CONFIG)


def requantize(value, fmt: QFormat, point: str = "", trace: Optional[dict] = None):
    """A requantization point: round to ``fmt.frac_bits`` with ``fmt.rounding``, then
    bring into ``fmt.word_bits`` with ``fmt.overflow`` (saturate or wrap).

    When ``trace`` is a dict, ``trace[point]`` counts the elements that overflowed
    (were clamped or wrapped) and ``trace[point + ' total']`` the elements seen.
    """
    Fxp = _fxp_class()
    rounded = round_to(value, fmt.frac_bits, fmt.rounding)
    out = Fxp(rounded, dtype=fmt.fxp_dtype, rounding=fmt.rounding, overflow=fmt.overflow,
              **FXP_CONFIG)
    if trace is not None:
        codes = np.asarray(rounded.val, dtype=np.int64)
        over = int(np.count_nonzero((codes < fmt.int_min) | (codes > fmt.int_max)))
        trace[point] = trace.get(point, 0) + over
        trace[point + " total"] = trace.get(point + " total", 0) + int(codes.size)
    return out


def where(condition, a, b):
    """Elementwise ``a if condition else b``: both expressed exactly in a common format."""
    signed = a.signed or b.signed
    frac = max(a.n_frac, b.n_frac)
    int_part = max(a.n_word - a.n_frac - int(a.signed), b.n_word - b.n_frac - int(b.signed))
    word = int_part + frac + int(signed)
    aa = round_to(a, frac, "floor")     # frac only grows: exact
    bb = round_to(b, frac, "floor")
    codes = np.where(condition, np.asarray(aa.val, dtype=np.int64), np.asarray(bb.val, dtype=np.int64))
    return fxp_raw(codes, signed, word, frac)


# ----------------------------------------------------------------------- activations
def sigmoid_table(fmts: LSTMFormats):
    """The sigmoid samples ``T[k] = sigmoid(k 2^-s)`` as an Fxp (value domain), and the table."""
    t = activation_table(fmts)
    return fxp_raw(np.asarray(t.entries, dtype=np.int64), True, t.entry_bits + 1, t.table_frac), t


def spec_activation(z, kind: str, fmts: LSTMFormats, point: str = "",
                    trace: Optional[dict] = None):
    """Sigmoid or tanh of preact-format ``z`` as the hardware computes it -> act format.

    With ``T[k] = sigmoid(k d)``, ``d = 2^-s`` the table step::

        u = min(|z|, u_max)         (u = min(2|z|, u_max) for tanh: tanh(z) = 2 sigmoid(2z) - 1)
        k = floor(u / d),  r = u / d - k                       (0 <= r < 1)
        y = T[k] + (T[k+1] - T[k]) * r                          exact
        sigmoid = y       if z >= 0 else 1 - y
        tanh    = 2y - 1  if z >= 0 else 1 - 2y
        out = requantize(value, act)

    ``u_max`` is the largest preact code, so the table is never indexed beyond its end.
    """
    if kind not in (SIGMOID, TANH):
        raise ValueError(f"activation kind must be {SIGMOID!r} or {TANH!r}, got {kind!r}")
    table, t = sigmoid_table(fmts)
    preact = fmts.preact
    magnitude = abs(widen(z, 1))        # |int_min| = int_max + 1 needs one more bit
    if kind == TANH:
        magnitude = rescale(magnitude, 1)               # 2|z|
    u_max = fxp_raw(t.u_max, True, preact.word_bits + 1, preact.frac_bits)
    u = where(magnitude.get_val() <= u_max.get_val(), magnitude, u_max)
    position = rescale(u, t.step_log2)                  # u / d: moves the binary point
    k = round_to(position, 0, "floor")
    r = position - k
    index = to_ints(k)
    lower = table[index]
    upper = table[index + 1]
    y = lower + (upper - lower) * r
    one = constant(1)
    non_negative = np.asarray(z.get_val()) >= 0
    if kind == SIGMOID:
        value = where(non_negative, y, one - y)
    else:
        value = where(non_negative, (y + y) - one, one - (y + y))
    return requantize(value, fmts.act, point or kind, trace)


# ------------------------------------------------------------------------ one step
def _gate(acc, k: int, hidden: int):
    return acc[:, k * hidden:(k + 1) * hidden]


def peephole_align(product, fmts: LSTMFormats):
    """A peephole product ``p * c`` (weight.frac + preact.frac frac bits) brought to the
    accumulator's ``acc_frac``: exact when that is finer, else rounded (preact rounding)."""
    return round_to(product, fmts.acc_frac, fmts.preact.rounding)


def spec_step(x_int, h_int, c_int, w: FixedLSTMWeights, trace: Optional[dict] = None):
    """One fixed-point step: integer arrays x (B, D), h (B, H), c (B, H) -> (h, c) ints.

    1-D inputs (one sequence) are accepted and give 1-D outputs.  ``trace``, when a
    dict, collects overflow counts per requantization point (see :func:`requantize`).
    """
    fmts = w.fmts
    hidden = w.hidden_size
    single = np.ndim(x_int) == 1
    x_int, h_int, c_int = (np.atleast_2d(np.asarray(a)) for a in (x_int, h_int, c_int))
    if x_int.shape[-1] != w.input_size or h_int.shape[-1] != hidden or c_int.shape != h_int.shape:
        raise ShapeError(f"spec_step: expected x (B, {w.input_size}), h and c (B, {hidden}); "
                         f"got {x_int.shape}, {h_int.shape}, {c_int.shape}")
    x = fxp_of(x_int, fmts.vec, "x")
    h_prev = fxp_of(h_int, fmts.vec, "h_prev")
    c_prev = fxp_of(c_int, fmts.preact, "c_prev")
    kernel = fxp_of(w.kernel, fmts.weight, "kernel")
    recurrent = fxp_of(w.recurrent, fmts.weight, "recurrent kernel")
    bias = fxp_of(w.bias, fmts.weight, "bias")

    # Gate accumulators: exact products and sums, weight.frac + vec.frac fraction bits
    # (the bias is aligned to them by the exact addition, i.e. shifted left by vec.frac).
    acc = np.dot(x, kernel) + np.dot(h_prev, recurrent) + bias
    acc_i, acc_f, acc_g, acc_o = (_gate(acc, k, hidden) for k in range(4))
    if w.peephole is not None:
        peephole = fxp_of(w.peephole, fmts.weight, "peephole")
        acc_i = acc_i + peephole_align(peephole[0] * c_prev, fmts)
        acc_f = acc_f + peephole_align(peephole[1] * c_prev, fmts)

    i = spec_activation(requantize(acc_i, fmts.preact, "z", trace), SIGMOID, fmts, "i", trace)
    f = spec_activation(requantize(acc_f, fmts.preact, "z", trace), SIGMOID, fmts, "f", trace)
    g = spec_activation(requantize(acc_g, fmts.preact, "z", trace), TANH, fmts, "g", trace)

    # Cell state: both products exact (act.frac + preact.frac and 2 act.frac fraction
    # bits); their exact sum is aligned to the finer one; one requantization.
    c = requantize(f * c_prev + i * g, fmts.preact, "c", trace)

    if w.peephole is not None:     # the output gate sees the new cell state
        acc_o = acc_o + peephole_align(peephole[2] * c, fmts)
    o = spec_activation(requantize(acc_o, fmts.preact, "z", trace), SIGMOID, fmts, "o", trace)

    h = requantize(o * spec_activation(c, TANH, fmts, "tanh(c)", trace), fmts.vec, "h", trace)
    h_out, c_out = to_ints(h), to_ints(c)
    return (h_out[0], c_out[0]) if single else (h_out, c_out)


# ----------------------------------------------------------------------- sequences
def spec_layer(x_int, w: FixedLSTMWeights, h0=None, c0=None, trace: Optional[dict] = None,
               reverse: bool = False):
    """Run :func:`spec_step` over integer sequences (B, T, D) -> (h_seq, c_seq) (B, T, H);
    ``reverse``: over the time-reversed sequence, outputs in input order."""
    if reverse:
        from .directions import run_directed
        return run_directed(lambda s, w_, h, c: spec_layer(s, w_, h, c, trace), x_int, w, h0, c0,
                            reverse=True)
    fmts = w.fmts
    x = check_int_sequences(x_int, w.input_size, fmts.vec)
    b, t, _ = x.shape
    hidden = w.hidden_size
    h = np.zeros((b, hidden), np.int64) if h0 is None else np.broadcast_to(h0, (b, hidden)).astype(np.int64)
    c = np.zeros((b, hidden), np.int64) if c0 is None else np.broadcast_to(c0, (b, hidden)).astype(np.int64)
    h_seq = np.empty((b, t, hidden), np.int64)
    c_seq = np.empty((b, t, hidden), np.int64)
    for s in range(t):
        h, c = spec_step(x[:, s], h, c, w, trace)
        h_seq[:, s] = h
        c_seq[:, s] = c
    return h_seq, c_seq


def spec_bidirectional(x_int, forward: FixedLSTMWeights, backward: FixedLSTMWeights,
                       trace: Optional[dict] = None, h0=None, c0=None, return_state: bool = False):
    """Bidirectional layer: ``forward`` over the sequence, ``backward`` over it reversed
    (outputs reversed back), concatenated -> (h_seq, c_seq), each (B, T, 2H); initial and
    final states per direction (:func:`golden.directions.run_bidirectional`)."""
    from .directions import run_bidirectional

    if forward.input_size == backward.input_size:
        x_int = check_int_sequences(x_int, forward.input_size, forward.fmts.vec)
    h, c, h_n, c_n = run_bidirectional(lambda s, w, h0_, c0_: spec_layer(s, w, h0_, c0_, trace),
                                       x_int, forward, backward, h0, c0)
    return (h, c, h_n, c_n) if return_state else (h, c)


# ----------------------------------------------------------------------- autoencoder
def spec_autoencoder(fixed_ae, x_int, trace: Optional[dict] = None) -> dict:
    """The whole :class:`golden.autoencoder.FixedAutoencoder` in fxpmath.

    Every LSTM layer by :func:`spec_layer` in its own formats; where a layer's input
    format differs from the previous layer's vec format, the input is requantized into
    it (point ``x``); the Dense layer is ``requantize(h . Wd + bd, out)`` (point ``y``).
    ``trace``, when a dict, gets one dict of overflow counts per layer name (and
    ``dense``), as :func:`requantize` keeps them.

    Returns ``h`` (list of (N, T, H) int arrays per layer) and ``reconstruction``
    (N, T, F) ints of the output format.
    """
    from .autoencoder import run_layers   # the autoencoder module imports the kernels

    fm = fixed_ae.formats
    names = fixed_ae.layer_names
    cfg = fixed_ae.cfg

    def layer_trace(name):
        return None if trace is None else trace.setdefault(name, {})

    def adapt(k, seq):
        src, dst = fm.layers[k - 1].vec, fm.layers[k].vec
        if src == dst:
            return seq
        return to_ints(requantize(fxp_of(seq, src, f"{names[k]} input"), dst, "x",
                                  layer_trace(names[k])))

    order = iter(names)

    def layer_fn(seq, w):
        name = next(order)
        return spec_layer(seq, w, trace=layer_trace(name))

    x = check_int_sequences(x_int, cfg.features, fm.input, "integer windows")
    hs, _, _ = run_layers(x, fixed_ae.layers, cfg, layer_fn, adapt)
    h = fxp_of(hs[-1], fm.dense_in, "dense input")
    kernel = fxp_of(fixed_ae.dense_kernel, fm.dense.weight, "dense kernel")
    bias = fxp_of(fixed_ae.dense_bias, fm.dense.weight, "dense bias")
    y = requantize(np.dot(h, kernel) + bias, fm.output, "y", layer_trace("dense"))
    return {"h": hs, "reconstruction": to_ints(y)}
