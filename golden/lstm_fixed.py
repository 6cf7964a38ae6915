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
products to ``F`` fractional bits.

Exactness of the sums (derived from the formats before any product is taken)
    The matrix products run in float64 when every partial sum is an integer of
    magnitude at most 2^53, which float64 holds exactly whatever the order of
    summation, fused or not.  :func:`accumulator_bound` bounds every partial sum by the
    sum of the magnitudes of its terms: D + H products of at most ``2^(vec.word-1) *
    2^(weight.word-1)``, the aligned bias ``2^(weight.word-1) << vec.frac`` and the
    rounding half.  The gate pre-activation folds requantization 1 into the products:
    weights scaled by ``2^-s`` (``s = acc_frac - preact.frac``, a power of two, so the
    scaled values keep their significands) and a bias carrying the half, so that
    ``t = x Wk' + h Wr' + b'`` is exactly ``(acc + half) / 2^s`` and
    ``floor(clip(t))`` is the requantized code (floor and clipping to integer bounds
    commute).  Where the bound exceeds 2^53 the products are summed in int64 instead
    (exact below 2^63); beyond that the formats are refused (:func:`check_exact`).
    Requantizations 2 and 3 run in int64; their widths are checked the same way.

Activations
    sigmoid and tanh of a preact code are looked up in a table of
    :func:`golden.activations.activate` evaluated at every code of the format (built
    once per format; preact words beyond :data:`LOOKUP_MAX_WORD_BITS` evaluate the
    interpolation each time).  Both give the same integers by construction.

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
from functools import cached_property, lru_cache
from typing import Optional

import numpy as np

from .formats import LSTMFormats, DEFAULT_FORMATS, FormatError
from .activations import activate, SIGMOID, TANH, tanh_input_limit
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

    @cached_property
    def _gate_plan(self) -> "_GatePlan":
        """The fast kernels' derived constants (float copies of the weights): built on
        first use, so the integer arrays must not be changed in place afterwards."""
        return _GatePlan(self)

    def to_float(self) -> LSTMWeights:
        f = self.fmts.weight
        return LSTMWeights(f.to_float(self.kernel), f.to_float(self.recurrent), f.to_float(self.bias),
                           None if self.peephole is None else f.to_float(self.peephole))


#: float64 holds every integer of magnitude up to 2^53 exactly (a 53-bit significand).
FLOAT64_EXACT = 1 << 53
#: int64 holds every integer of magnitude below 2^63.
INT64_EXACT = (1 << 63) - 1


def product_sum_bound(a, b, terms: int) -> int:
    """Largest |sum| of ``terms`` products of an ``a`` code and a ``b`` code (QFormats)."""
    return int(terms) * (1 << (a.word_bits - 1)) * (1 << (b.word_bits - 1))


def aligned_bias_bound(weight, vec) -> int:
    """Largest |bias code << vec.frac|: a bias aligned to an accumulator's fraction."""
    if vec.frac_bits < 0:
        raise FormatError(f"formats: vec.frac_bits {vec.frac_bits} is negative; a bias cannot "
                          "be aligned to the accumulator without dropping bits")
    return (1 << (weight.word_bits - 1)) << vec.frac_bits


def rounding_half(fmt, shift: int) -> int:
    """What ``fmt.shift_round(v, shift)`` adds before its shift (0 for floor or no shift)."""
    return 1 << (shift - 1) if shift > 0 and fmt.rounding == "nearest_posinf" else 0


def matvec_bound(vec, weight, terms: int, out) -> int:
    """Largest |partial sum| of ``x . W + (b << vec.frac)`` requantized into ``out``.

    ``terms`` products of a ``vec`` code (at most ``2^(vec.word - 1)`` in magnitude,
    the most negative code) and a ``weight`` code (``2^(weight.word - 1)``), plus the
    bias aligned to the accumulator (``2^(weight.word - 1) << vec.frac``), plus the
    half LSB the requantization into ``out`` adds.  A partial sum, in any order of
    summation, adds a subset of these terms, so its magnitude is bounded by the sum of
    theirs.
    """
    shift = vec.frac_bits + weight.frac_bits - out.frac_bits
    return (product_sum_bound(vec, weight, terms) + aligned_bias_bound(weight, vec)
            + rounding_half(out, shift))


def accumulator_bound(fmts: LSTMFormats, terms: int) -> int:
    """Largest |partial sum| of a gate accumulator of ``terms`` = D + H products, from
    the formats alone (:func:`matvec_bound` into ``preact``)."""
    return matvec_bound(fmts.vec, fmts.weight, terms, fmts.preact)


def check_int64(bound: int, what: str) -> None:
    """Refuse a computation whose values could reach ``bound``, beyond int64."""
    if bound > INT64_EXACT:
        raise FormatError(f"{what}: values reach {bound.bit_length()} bits, beyond the 63 "
                          "bits of int64; narrow the formats")


def exact_arithmetic(bound: int, what: str) -> str:
    """``"float64"`` when every partial sum bounded by ``bound`` is exact in float64,
    ``"int64"`` when only int64 holds them; :class:`FormatError` when neither does."""
    if bound <= FLOAT64_EXACT:
        return "float64"
    check_int64(bound, what)
    return "int64"


def check_exact(fmts: LSTMFormats, terms: int) -> str:
    """The arithmetic (``"float64"`` or ``"int64"``) that sums a gate accumulator of
    ``terms`` products exactly; raises :class:`FormatError` when neither can."""
    return exact_arithmetic(accumulator_bound(fmts, terms), "gate accumulator")


def _cell_shifts(fmts: LSTMFormats):
    """Alignment of f*c (``a``) and i*g (``b``) to ``F`` fractional bits (module doc)."""
    fc_frac = fmts.act.frac_bits + fmts.preact.frac_bits
    ig_frac = 2 * fmts.act.frac_bits
    big = max(fc_frac, ig_frac)
    return big - fc_frac, big - ig_frac, big


def _check_cell_int64(fmts: LSTMFormats) -> None:
    """Requantizations 2 and 3 run on int64: refuse formats whose values could wrap."""
    a, b, big = _cell_shifts(fmts)
    act = 1 << (fmts.act.word_bits - 1)
    fc = (act << (fmts.preact.word_bits - 1)) << a
    ig = (act * act) << b
    check_int64(fc + ig + rounding_half(fmts.preact, big - fmts.preact.frac_bits), "cell state")
    shift = 2 * fmts.act.frac_bits - fmts.vec.frac_bits
    check_int64((act * act << max(0, -shift)) + rounding_half(fmts.vec, shift), "hidden state")


class _GatePlan:
    """What one layer's fast gate pre-activation needs, derived once per weights.

    In float64 (``arithmetic == "float64"``, proven by :func:`accumulator_bound`) the
    requantization is folded into the products: the weights are scaled by
    ``2^-shift`` (``shift = acc_frac - preact.frac``; a power of two, exact) and the
    bias carries the rounding half, so ``t = x Wk' + h Wr' + b'`` is exactly
    ``(acc + half) / 2^shift`` and ``floor(t)`` is ``preact.shift_round(acc, shift)``.
    Saturation clips ``t`` to the code range first: floor and clip to integer bounds
    commute.  Otherwise (``"int64"``) the accumulator is summed in int64 and
    requantized by :meth:`QFormat.requantize`.
    """

    def __init__(self, w: "FixedLSTMWeights"):
        fmts = w.fmts
        preact = fmts.preact
        self.arithmetic = check_exact(fmts, w.input_size + w.hidden_size)
        _check_cell_int64(fmts)
        self.shift = fmts.acc_frac - preact.frac_bits
        half = rounding_half(preact, self.shift)
        self.kernel = np.asarray(w.kernel, dtype=np.int64)
        self.recurrent = np.asarray(w.recurrent, dtype=np.int64)
        self.bias_acc = np.asarray(w.bias, dtype=np.int64) << fmts.vec.frac_bits   # bound checked
        self.saturate = preact.overflow == "saturate"
        if self.arithmetic == "float64":
            scale = 2.0 ** -self.shift
            # [Wk; Wr]: one product of [x, h] per step instead of two and a sum
            self.weights = np.concatenate([self.kernel, self.recurrent]).astype(np.float64) * scale
            self.bias = (self.bias_acc + half).astype(np.float64) * scale
            self.lo, self.hi = np.float64(preact.int_min), np.float64(preact.int_max)

    def accumulators(self, x, h, w: "FixedLSTMWeights") -> np.ndarray:
        """Exact x Wk + h Wr + (b << vec.frac) as int64."""
        if self.arithmetic == "float64":
            t = self._products(x, h)
            t *= float(1 << self.shift)                 # back to acc_frac: exactly x Wk + h Wr (the bound)
            acc = t.astype(np.int64)
            acc += self.bias_acc
            return acc
        return (np.asarray(x, dtype=np.int64) @ self.kernel
                + np.asarray(h, dtype=np.int64) @ self.recurrent + self.bias_acc)

    def _products(self, x, h):
        """Float path: ``[x, h] [Wk'; Wr']`` (B, 4H), exact (the bound)."""
        x, h = np.asarray(x), np.asarray(h)
        if x.shape[:-1] != h.shape[:-1]:               # batches that broadcast
            d = x.shape[-1]
            return x @ self.weights[:d] + h @ self.weights[d:]
        return np.concatenate((x, h), axis=-1, dtype=np.float64) @ self.weights

    def preact_values(self, x, h):
        """Float path: ``t`` (B, 4H), the accumulator plus half, divided by 2^shift."""
        t = self._products(x, h)
        t += self.bias
        return t


def _plan(w: "FixedLSTMWeights") -> _GatePlan:
    return w._gate_plan


#: Preact words up to this many bits get a lookup table over every code (2^18 codes,
#: 4 MiB for both functions); wider preact formats evaluate the interpolation each time.
LOOKUP_MAX_WORD_BITS = 18


@lru_cache(maxsize=64)
def _activation_lookup(fmts: LSTMFormats, evaluate) -> Optional[tuple]:
    """``evaluate`` (the activation function) at every preact code: ``(table, sig, tanh)``
    where ``table[code + sig]`` is the sigmoid of a code and ``table[code + tanh]`` its
    tanh (int64; the offsets keep the indices non-negative, which numpy gathers
    fastest).  The table is a function of ``evaluate`` as well as of the formats, so
    both key it.  None when the preact word is too wide for a table."""
    p = fmts.preact
    if p.word_bits > LOOKUP_MAX_WORD_BITS:
        return None
    codes = np.arange(p.int_min, p.int_max + 1, dtype=np.int64)
    table = np.concatenate([np.asarray(evaluate(codes, kind, fmts), dtype=np.int64)
                            for kind in (SIGMOID, TANH)])
    table.setflags(write=False)
    return table, -p.int_min, codes.size - p.int_min


@lru_cache(maxsize=256)
def _gate_offsets(sig: int, tanh: int, hs: int) -> np.ndarray:
    """Per-column offsets into the activation table of (B, 4H) gate codes (i, f, g, o)."""
    off = np.repeat(np.array([sig, sig, tanh, sig], dtype=np.int64), hs)
    off.setflags(write=False)
    return off


def activate_codes(z, kind: str, fmts: LSTMFormats):
    """:func:`golden.activations.activate` of integers ``z``, by table lookup for codes
    of the preact format (anything else is evaluated, as ``activate`` does)."""
    lookup = _activation_lookup(fmts, activate)
    z = np.asarray(z, dtype=np.int64)
    if lookup is None or (z.size and (z.min() < fmts.preact.int_min
                                      or z.max() > fmts.preact.int_max)):
        return activate(z, kind, fmts)
    table, sig, tanh = lookup
    return table.take(z + (sig if kind == SIGMOID else tanh))


def gate_activations(z, fmts: LSTMFormats):
    """i, f, g, o = sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o) of (B, 4H) codes
    of the preact format, as :func:`gate_preact` gives them (not checked here)."""
    hs = z.shape[-1] // 4
    lookup = _activation_lookup(fmts, activate)
    if lookup is None:
        return (activate(z[:, 0:hs], SIGMOID, fmts), activate(z[:, hs:2 * hs], SIGMOID, fmts),
                activate(z[:, 2 * hs:3 * hs], TANH, fmts), activate(z[:, 3 * hs:], SIGMOID, fmts))
    table, sig, tanh = lookup
    a = table.take(z + _gate_offsets(sig, tanh, hs))     # one gather for all four gates
    return a[:, 0:hs], a[:, hs:2 * hs], a[:, 2 * hs:3 * hs], a[:, 3 * hs:]


def _shift_round_owned(fmt, v: np.ndarray, shift: int) -> np.ndarray:
    """:meth:`QFormat.shift_round` of an int64 temporary ``v``, in place."""
    if shift < 0:
        v <<= -shift
    elif shift > 0:
        half = rounding_half(fmt, shift)
        if half:
            v += half
        v >>= shift
    return v


def _fit_owned(fmt, v: np.ndarray) -> np.ndarray:
    """:meth:`QFormat.fit` of an int64 temporary ``v`` (in place when saturating)."""
    if fmt.overflow == "saturate":
        return v.clip(np.int64(fmt.int_min), np.int64(fmt.int_max), out=v)
    return fmt.fit(v)


def _requantize_owned(fmt, v: np.ndarray, from_frac: int) -> np.ndarray:
    """:meth:`QFormat.requantize` of ``v`` (int64, ``from_frac`` fraction bits) into
    ``fmt``, done in place: ``v`` is a temporary the caller owns and gives up."""
    if not isinstance(v, np.ndarray) or v.dtype != np.int64:
        return fmt.requantize(v, from_frac)          # scalars: nothing to save
    return _fit_owned(fmt, _shift_round_owned(fmt, v, from_frac - fmt.frac_bits))


def _cell_sum(i, f, g, c_prev, fmts: LSTMFormats):
    """f*c_prev + i*g aligned to F fractional bits (exact, int64); returns (sum, F)."""
    a, b, big = _cell_shifts(fmts)
    fc = f * c_prev
    ig = i * g
    if a:
        fc <<= a
    if b:
        ig <<= b
    fc += ig
    return fc, big


def cell_state(i, f, g, c_prev, fmts: LSTMFormats):
    """Fixed-point c' = f*c + i*g (requantization 2)."""
    s, big = _cell_sum(*(np.asarray(v, dtype=np.int64) for v in (i, f, g, c_prev)), fmts)
    return _requantize_owned(fmts.preact, s, big)


def hidden_output(o, c, fmts: LSTMFormats):
    """Fixed-point h' = o*tanh(c') (requantization 3)."""
    t = np.asarray(o, dtype=np.int64) * activate_codes(c, TANH, fmts)
    return _requantize_owned(fmts.vec, t, 2 * fmts.act.frac_bits)


def cell_update(i, f, g, o, c_prev, fmts: LSTMFormats):
    """Fixed-point c' = f*c + i*g and h' = o*tanh(c') (requantizations 2 and 3)."""
    c = cell_state(i, f, g, c_prev, fmts)
    return hidden_output(o, c, fmts), c


def gate_accumulators(x, h, w: FixedLSTMWeights):
    """Exact x Wk + h Wr + (b << vec.frac) for a batch; (B, 4H) ints at ``acc_frac``."""
    return _plan(w).accumulators(x, h, w)


def gate_preact(x, h, w: FixedLSTMWeights):
    """z = preact.requantize(x Wk + h Wr + (b << vec.frac)) for a batch; (B, 4H) ints.

    ``x`` and ``h`` are codes: integers, or (where the weights' arithmetic is float64)
    float64 arrays holding integer codes, as :func:`lstm_layer_fixed` passes ``x``."""
    plan = _plan(w)
    if plan.arithmetic != "float64":
        return w.fmts.preact.requantize(plan.accumulators(x, h, w), w.fmts.acc_frac)
    t = plan.preact_values(x, h)
    if plan.saturate:
        t.clip(plan.lo, plan.hi, out=t)
        np.floor(t, out=t)
        return t.astype(np.int64)
    np.floor(t, out=t)
    return w.fmts.preact.fit(t.astype(np.int64))


def _gate_preact_counted(x, h, w: FixedLSTMWeights, clamps, layer: str):
    """:func:`gate_preact`, counting per gate the pre-activations it clamps."""
    plan = _plan(w)
    fmts = w.fmts
    p = fmts.preact
    if plan.arithmetic != "float64":
        acc = plan.accumulators(x, h, w)
        _record_gates(clamps, layer, acc, fmts)
        return p.requantize(acc, fmts.acc_frac)
    t = plan.preact_values(x, h)
    np.floor(t, out=t)
    if t.size and (t.min() < plan.lo or t.max() > plan.hi):
        _count_gates(clamps, layer, (t < plan.lo) | (t > plan.hi))
    else:                                       # the usual case: nothing to clamp
        for name in GATE_TENSORS:
            clamps.add(layer, name, 0, t.size // 4)
    if plan.saturate:
        t.clip(plan.lo, plan.hi, out=t)
        return t.astype(np.int64)
    return p.fit(t.astype(np.int64))


def peephole_term(p, c, fmts: LSTMFormats):
    """``p * c`` aligned to the accumulator's ``acc_frac`` fractional bits (see module doc)."""
    prod = np.asarray(p, dtype=np.int64) * np.asarray(c, dtype=np.int64)
    return fmts.preact.shift_round(prod, fmts.weight.frac_bits + fmts.preact.frac_bits - fmts.acc_frac)


GATE_TENSORS = ("z_i", "z_f", "z_g", "z_o")


def _count_gates(clamps, layer: str, over) -> None:
    """Add the clamps of each gate: ``over`` (..., 4H) flags the clamped pre-activations."""
    hs = over.shape[-1] // 4
    per_gate = over.reshape(over.shape[:-1] + (4, hs)).sum(axis=tuple(range(over.ndim - 1)) + (-1,))
    for g, name in enumerate(GATE_TENSORS):
        clamps.add(layer, name, int(per_gate[g]), over.size // 4)


def _record_gates(clamps, layer: str, acc, fmts: LSTMFormats) -> None:
    """Count, per gate, the pre-activations the requantization will clamp."""
    codes = fmts.preact.shift_round(acc, fmts.acc_frac - fmts.preact.frac_bits)
    _count_gates(clamps, layer, (codes < fmts.preact.int_min) | (codes > fmts.preact.int_max))


def count_tanh_inputs(clamps, layer: str, tensor: str, codes, fmts: LSTMFormats) -> None:
    """Count the preact ``codes`` beyond :func:`golden.activations.tanh_input_limit`
    (``tanh_g``: the candidate gate's input, ``tanh_c``: the cell state's), where the
    table's end saturates tanh; nothing is recorded where that cannot matter."""
    limit = tanh_input_limit(fmts)
    if limit is None:
        return
    v = np.asarray(codes)
    over = int(np.count_nonzero(np.abs(v) > limit)) if v.size else 0
    clamps.add(layer, tensor, over, int(v.size))


def _cell_update_counted(i, f, g, o, c_prev, fmts: LSTMFormats, clamps, layer: str):
    """:func:`cell_update`, counting the c and h values requantizations 2 and 3 clamp
    (and the cell states beyond tanh's table)."""
    s, big = _cell_sum(i, f, g, np.asarray(c_prev, dtype=np.int64), fmts)
    c = _shift_round_owned(fmts.preact, s, big - fmts.preact.frac_bits)
    clamps.record(layer, "c", c, fmts.preact)
    c = _fit_owned(fmts.preact, c)
    count_tanh_inputs(clamps, layer, "tanh_c", c, fmts)
    h = _shift_round_owned(fmts.vec, o * activate_codes(c, TANH, fmts),
                           2 * fmts.act.frac_bits - fmts.vec.frac_bits)
    clamps.record(layer, "h", h, fmts.vec)
    return _fit_owned(fmts.vec, h), c


def step(x, h_prev, c_prev, w: FixedLSTMWeights, clamps=None, layer: str = "layer"):
    """One fixed-point step on integer arrays of shape (B, D), (B, H), (B, H).

    ``clamps`` (a :class:`golden.formats.ClampCounts`), when given, counts the values
    each requantization point clamped, under ``layer``; the results are the same.
    """
    fmts = w.fmts
    if w.peephole is not None:
        return _step_peephole(x, h_prev, c_prev, w, clamps, layer)
    if clamps is None:
        i, f, g, o = gate_activations(gate_preact(x, h_prev, w), fmts)
        return cell_update(i, f, g, o, c_prev, fmts)
    z = _gate_preact_counted(x, h_prev, w, clamps, layer)
    hs = w.hidden_size
    count_tanh_inputs(clamps, layer, "tanh_g", z[:, 2 * hs:3 * hs], fmts)
    i, f, g, o = gate_activations(z, fmts)
    return _cell_update_counted(i, f, g, o, c_prev, fmts, clamps, layer)


def _step_peephole(x, h_prev, c_prev, w: FixedLSTMWeights, clamps=None, layer: str = "layer"):
    fmts = w.fmts
    hs = w.hidden_size
    p = w.peephole
    acc = gate_accumulators(x, h_prev, w)
    acc_i = acc[:, 0:hs] + peephole_term(p[0], c_prev, fmts)
    acc_f = acc[:, hs:2 * hs] + peephole_term(p[1], c_prev, fmts)
    i = activate_codes(fmts.preact.requantize(acc_i, fmts.acc_frac), SIGMOID, fmts)
    f = activate_codes(fmts.preact.requantize(acc_f, fmts.acc_frac), SIGMOID, fmts)
    z_g = fmts.preact.requantize(acc[:, 2 * hs:3 * hs], fmts.acc_frac)
    g = activate_codes(z_g, TANH, fmts)
    if clamps is None:
        c = cell_state(i, f, g, c_prev, fmts)
    else:
        count_tanh_inputs(clamps, layer, "tanh_g", z_g, fmts)
        s, big = _cell_sum(i, f, g, np.asarray(c_prev, dtype=np.int64), fmts)
        c_wide = fmts.preact.shift_round(s, big - fmts.preact.frac_bits)
        c = fmts.preact.fit(c_wide)
        count_tanh_inputs(clamps, layer, "tanh_c", c, fmts)
    acc_o = acc[:, 3 * hs:] + peephole_term(p[2], c, fmts)
    o = activate_codes(fmts.preact.requantize(acc_o, fmts.acc_frac), SIGMOID, fmts)
    if clamps is None:
        return hidden_output(o, c, fmts), c
    _record_gates(clamps, layer, np.concatenate([acc_i, acc_f, acc[:, 2 * hs:3 * hs], acc_o],
                                                axis=1), fmts)
    clamps.record(layer, "c", c_wide, fmts.preact)
    h = fmts.vec.shift_round(o * activate_codes(c, TANH, fmts),
                             2 * fmts.act.frac_bits - fmts.vec.frac_bits)
    clamps.record(layer, "h", h, fmts.vec)
    return fmts.vec.fit(h), c


def check_int_sequences(x, input_size: int, fmt, what: str = "input") -> np.ndarray:
    a = np.asarray(x)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[2] != input_size:
        raise ShapeError(f"{what}: expected shape (batch, time, {input_size}), got {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise FormatError(f"{what}: expected integers of {fmt.describe()}, got dtype {a.dtype}")
    a = a.astype(np.int64, copy=False)        # read only: an int64 input is not copied
    if a.size and (a.min() < fmt.int_min or a.max() > fmt.int_max):
        raise FormatError(f"{what}: integers span [{a.min()}, {a.max()}], outside {fmt.describe()}")
    return a


def lstm_layer_fixed(x, w: FixedLSTMWeights, h0=None, c0=None, clamps=None, layer: str = "layer",
                     reverse: bool = False):
    """Run a layer over integer sequences (B, T, D) -> (h_seq, c_seq) int64 (B, T, H).

    ``clamps`` (:class:`golden.formats.ClampCounts`): count every clamp under ``layer``.
    ``reverse``: over the time-reversed sequence, outputs in input order
    (:mod:`golden.directions`).
    """
    if reverse:
        from .directions import run_directed
        return run_directed(lambda s, w_, h, c: lstm_layer_fixed(s, w_, h, c, clamps, layer),
                            x, w, h0, c0, reverse=True)
    fmts = w.fmts
    plan = _plan(w)                # checks the formats before any step runs
    x = check_int_sequences(x, w.input_size, fmts.vec)
    if plan.arithmetic == "float64":
        x = x.astype(np.float64)   # once for the sequence; the codes are exact (bound)
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


def bidirectional_layer_fixed(x, forward: FixedLSTMWeights, backward: FixedLSTMWeights,
                              h0=None, c0=None, return_state: bool = False):
    """Bidirectional layer on integers: (B, T, D) -> (h_seq, c_seq), each (B, T, 2H).

    ``[..., :H]`` is ``forward`` over the sequence, ``[..., H:]`` is ``backward`` over
    the time-reversed sequence, reversed back; initial and final states as
    ``lstm_float.bidirectional_layer`` has them.
    """
    from .directions import run_bidirectional

    if forward.fmts != backward.fmts:
        raise FormatError("bidirectional: forward and backward layers use different formats")
    if forward.input_size == backward.input_size:
        x = check_int_sequences(x, forward.input_size, forward.fmts.vec)
    h, c, h_n, c_n = run_bidirectional(lstm_layer_fixed, x, forward, backward, h0, c0)
    return (h, c, h_n, c_n) if return_state else (h, c)
