"""Sigmoid and tanh as the hardware computes them: one interpolated table.

One table of sigmoid samples serves both functions:

* ``sigmoid(z)``: ``sigmoid(-z) = 1 - sigmoid(z)``, so only ``|z|`` is looked up;
* ``tanh(z) = 2*sigmoid(2z) - 1``, odd, so ``2|z|`` is looked up.

Table
    ``T[k] = round(sigmoid(k * 2^-s) * 2^tf)`` for ``k = 0 .. N`` where the step is
    ``2^-s`` with ``s = TABLE_STEP_LOG2`` (5) and ``tf = act.frac + TABLE_GUARD_BITS``.
    The table spans the whole non-negative pre-activation range, so ``N`` is
    ``2^(preact.word_bits - 1 - shift)`` with ``shift = preact.frac - s`` (512 entries
    plus one for the default Q5.11).  Entries are unsigned, ``tf + 1`` bits.

Evaluation (integers only; ``u`` is in preact units)::

    u  = min(|z|, 2^(w-1) - 1)            (2|z| for tanh, same clamp)
    k  = u >> shift,  r = u & (2^shift - 1)
    y  = (T[k] << shift) + (T[k+1] - T[k]) * r              # tf + shift frac bits
    sigmoid = y              if z >= 0 else ONE - y
    tanh    = 2y - ONE       if z >= 0 else ONE - 2y         # ONE = 2^(tf + shift)
    out = act.requantize(value, tf + shift)                   # round half up, saturate

Error against the math functions (derived; measured values in :func:`measure_error`):
linear interpolation over a step ``d = 2^-5`` errs by at most ``d^2/8 * max|sigmoid''|
= 1.2e-5``; each table entry by ``2^-(tf+1)``; the final rounding by half an LSB of
``act``.  For sigmoid that is ``0.5 + (1.2e-5 + 2^-19) / 2^-14 = 0.73`` LSB, for tanh
(errors doubled) ``0.5 + 2 * (1.2e-5 + 2^-19) / 2^-14 = 0.95`` LSB: both within 1 LSB of
the default Q2.14 output (measured over every input code: 0.70 and 0.90 LSB).  Hardware cost: two reads of one 513 x 19-bit ROM and a
small (delta x 6-bit) multiplier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .formats import LSTMFormats, DEFAULT_FORMATS, TABLE_STEP_LOG2, TABLE_GUARD_BITS

SIGMOID = "sigmoid"
TANH = "tanh"


@dataclass(frozen=True)
class ActivationTable:
    """The sigmoid table and the constants that index it.

    Attributes
    ----------
    entries : tuple of int
        ``N + 1`` unsigned samples ``round(sigmoid(k 2^-step_log2) 2^table_frac)``.
    shift : int
        ``preact.frac - step_log2``: low bits of ``u`` used as interpolation fraction.
    table_frac : int
        Fractional bits of the entries (``act.frac + guard``).
    u_max : int
        Largest looked-up magnitude ``2^(preact.word - 1) - 1``.
    """

    entries: tuple
    shift: int
    table_frac: int
    u_max: int
    step_log2: int

    @property
    def entry_bits(self) -> int:
        return max(self.entries).bit_length()

    @property
    def delta_bits(self) -> int:
        return max(b - a for a, b in zip(self.entries, self.entries[1:])).bit_length()

    @property
    def one(self) -> int:
        """1.0 at the interpolated scale (``table_frac + shift`` frac bits)."""
        return 1 << (self.table_frac + self.shift)

    @property
    def value_frac(self) -> int:
        return self.table_frac + self.shift


@lru_cache(maxsize=64)
def activation_table(fmts: LSTMFormats = DEFAULT_FORMATS) -> ActivationTable:
    """Generate the sigmoid table for ``fmts`` (a tuple of Python ints, for ``hdl/``)."""
    s = TABLE_STEP_LOG2
    shift = fmts.preact.frac_bits - s
    n = 1 << (fmts.preact.word_bits - 1 - shift)
    tf = fmts.act.frac_bits + TABLE_GUARD_BITS
    entries = []
    for k in range(n + 1):
        v = 1.0 / (1.0 + math.exp(-k * 2.0 ** -s))
        entries.append(int(math.floor(v * 2.0 ** tf + 0.5)))
    return ActivationTable(tuple(int(e) for e in entries), shift, tf,
                           (1 << (fmts.preact.word_bits - 1)) - 1, s)


def activate(z, kind: str, fmts: LSTMFormats = DEFAULT_FORMATS):
    """Integer sigmoid or tanh of preact-format integers ``z`` -> act-format integers."""
    t = activation_table(fmts)
    table = np.asarray(t.entries, dtype=np.int64)
    z = np.asarray(z, dtype=np.int64)
    u = np.abs(z)
    if kind == TANH:
        u = 2 * u
    elif kind != SIGMOID:
        raise ValueError(f"activation kind must be {SIGMOID!r} or {TANH!r}, got {kind!r}")
    u = np.minimum(u, t.u_max)
    k = u >> t.shift
    r = u & ((1 << t.shift) - 1)
    lo = table[k]
    y = (lo << t.shift) + (table[k + 1] - lo) * r
    pos = z >= 0
    if kind == SIGMOID:
        v = np.where(pos, y, t.one - y)
    else:
        v = np.where(pos, 2 * y - t.one, t.one - 2 * y)
    return fmts.act.requantize(v, t.value_frac)


def tanh_input_limit(fmts: LSTMFormats = DEFAULT_FORMATS):
    """The largest preact code whose tanh the table evaluates, or None when it does not
    matter.

    tanh is looked up at ``2|z|``, clamped to the table's end ``u_max``, so every input
    with ``2|z| > u_max`` gets tanh at ``u_max / 2``: a saturation of the tanh input no
    requantization clamps.  It matters only when that value lies more than half an
    ``act`` LSB below 1 (for the default Q5.11 preact it is tanh(8), 2.3e-7 below 1:
    never); then this returns ``u_max // 2``, else None.
    """
    t = activation_table(fmts)
    limit = t.u_max // 2
    edge = limit * 2.0 ** -fmts.preact.frac_bits
    return limit if 1.0 - math.tanh(edge) > fmts.act.lsb / 2.0 else None


def error_bound_lsb(kind: str, fmts: LSTMFormats = DEFAULT_FORMATS) -> float:
    """Derived bound on |activate - math| in LSBs of ``fmts.act`` (see module docstring)."""
    d = 2.0 ** -TABLE_STEP_LOG2
    max_sig2 = 0.09623  # max |sigmoid''| = 1/(6*sqrt(3))
    interp = d * d / 8.0 * max_sig2
    entry = 2.0 ** -(fmts.act.frac_bits + TABLE_GUARD_BITS + 1)
    scale = 2.0 if kind == TANH else 1.0
    final = 0.5 if fmts.act.rounding == "nearest_posinf" else 1.0
    # Saturation at the end of the table: sigmoid(u_max) or tanh(u_max/2) short of 1.
    # tanh looks up 2|z|, so its table (and its clamp) ends at |z| = preact.max / 2.
    z_end = fmts.preact.max
    tail = 1.0 - 1.0 / (1.0 + math.exp(-z_end)) if kind == SIGMOID else 1.0 - math.tanh(z_end / 2)
    return final + (scale * (interp + entry) + tail) / fmts.act.lsb


def measure_error(kind: str, fmts: LSTMFormats = DEFAULT_FORMATS) -> float:
    """Measured max |activate - math| over every preact code, in LSBs of ``fmts.act``."""
    z = np.arange(fmts.preact.int_min, fmts.preact.int_max + 1, dtype=np.int64)
    got = fmts.act.to_float(activate(z, kind, fmts))
    x = fmts.preact.to_float(z)
    ref = 1.0 / (1.0 + np.exp(-x)) if kind == SIGMOID else np.tanh(x)
    return float(np.max(np.abs(got - ref)) / fmts.act.lsb)
