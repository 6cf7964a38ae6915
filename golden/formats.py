"""Number formats: the single source of truth for every width in the project.

A :class:`QFormat` describes a two's-complement (or unsigned) fixed-point number:
``word_bits`` in all, ``frac_bits`` of them after the binary point, a rounding mode
used whenever a wider value is requantized into it, and an overflow mode.  Integer
ranges, fxpmath dtypes, MyHDL ``intbv`` bounds, memory widths and activation tables
are all derived from these objects; nothing else in the project types a width.

Rounding modes (names follow fxpmath so the specification can pass them through):

``nearest_posinf``
    round half up: add half an LSB, then shift right arithmetically.  This is what
    the hardware does at every requantization point by default.
``floor``
    plain arithmetic shift (hardware truncation).

Overflow modes: ``saturate`` clamps to the representable range (the default and the
only mode the RTL implements); ``wrap`` keeps the low ``word_bits`` bits and exists so
that the golden model can describe (and the tests can detect) a wrapping datapath.

Default formats of the LSTM datapath, and why
---------------------------------------------
All words are 16 bits (one iCE40 SPRAM word, one DSP operand).

``VEC`` = Q2.14 (s16, 14 fractional bits, range [-2, 2))
    Inputs x and hidden states h share one format so the multiply-accumulate datapath
    is uniform across layers (layer l+1 consumes the h of layer l).  h = o*tanh(c)
    lies in (-1, 1); inputs are min-max scaled to [0, 1] on the training data, and
    test data may exceed that range, so one extra integer bit gives 2x head-room.
    LSB 2^-14 = 6.1e-5, far below the 2^-9 accuracy target.
``WEIGHT`` = Q4.12 (range [-8, 8))
    Trained LSTM kernels and biases of the reference model lie well inside +-4 (the
    forget-gate bias is often initialised at 1 and grows a little); one spare bit
    keeps saturation away.  Per-model automatic choice: :func:`weight_format_for`.
``PREACT`` = Q5.11 (range [-16, 16))
    Gate pre-activations z = W.x + U.h + b and the cell state c.  Both feed the same
    activation table (sigmoid/tanh of z, tanh of c), so they share a format.
    Sigmoid and tanh are flat to within one output LSB beyond |z| = 10, and c obeys
    |c_t| <= |c_{t-1}| + 1, so over T = 24 steps it could reach 24 only in a
    degenerate model: measured |c| in trained models stays below 8.  Saturation at
    16 makes the rare excess harmless.
``ACT`` = Q2.14
    Outputs of sigmoid and tanh, in [0, 1] and [-1, 1]; 1.0 must be representable,
    hence two integer bits.
The accumulator of a gate row has ``WEIGHT.frac + VEC.frac`` fractional bits and
``WEIGHT.word + VEC.word + ceil(log2(D + H + 1))`` bits (see :func:`accumulator_bits`):
it cannot overflow, the bias counting as one more term.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, asdict

import numpy as np

ROUNDING_MODES = ("nearest_posinf", "floor")
OVERFLOW_MODES = ("saturate", "wrap")


class FormatError(ValueError):
    """A value, tensor or parameter does not fit the number format it must use."""


@dataclass(frozen=True)
class QFormat:
    """A fixed-point number format.

    Parameters
    ----------
    word_bits : int
        Total bits, sign included (2..62).
    frac_bits : int
        Bits after the binary point (may exceed ``word_bits`` or be negative).
    signed : bool
        Two's complement when true.
    rounding : str
        ``nearest_posinf`` (add half, shift) or ``floor`` (shift).
    overflow : str
        ``saturate`` or ``wrap``.
    """

    word_bits: int
    frac_bits: int
    signed: bool = True
    rounding: str = "nearest_posinf"
    overflow: str = "saturate"
    name: str = field(default="", compare=False)

    def __post_init__(self):
        label = self.name or "format"
        if not isinstance(self.word_bits, (int, np.integer)) or not 2 <= self.word_bits <= 62:
            raise FormatError(f"{label}: word_bits must be an integer in 2..62, got {self.word_bits!r}")
        if not isinstance(self.frac_bits, (int, np.integer)):
            raise FormatError(f"{label}: frac_bits must be an integer, got {self.frac_bits!r}")
        if self.rounding not in ROUNDING_MODES:
            raise FormatError(f"{label}: rounding must be one of {ROUNDING_MODES}, got {self.rounding!r}")
        if self.overflow not in OVERFLOW_MODES:
            raise FormatError(f"{label}: overflow must be one of {OVERFLOW_MODES}, got {self.overflow!r}")
        object.__setattr__(self, "word_bits", int(self.word_bits))
        object.__setattr__(self, "frac_bits", int(self.frac_bits))

    # ----------------------------------------------------------------- ranges
    @property
    def int_bits(self) -> int:
        """Integer bits excluding the sign bit."""
        return self.word_bits - self.frac_bits - (1 if self.signed else 0)

    @property
    def int_min(self) -> int:
        return -(1 << (self.word_bits - 1)) if self.signed else 0

    @property
    def int_max(self) -> int:
        return (1 << (self.word_bits - 1)) - 1 if self.signed else (1 << self.word_bits) - 1

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac_bits

    @property
    def min(self) -> float:
        return self.int_min * self.lsb

    @property
    def max(self) -> float:
        return self.int_max * self.lsb

    @property
    def one(self) -> int:
        """The integer that represents 1.0 (it need not be in range)."""
        return 1 << self.frac_bits if self.frac_bits >= 0 else 0

    @property
    def fxp_dtype(self) -> str:
        """fxpmath dtype string, e.g. ``fxp-s16/11``."""
        return f"fxp-{'s' if self.signed else 'u'}{self.word_bits}/{self.frac_bits}"

    def describe(self) -> str:
        q = f"Q{self.int_bits + (1 if self.signed else 0)}.{self.frac_bits}"
        return (f"{self.name or 'format'}: {'s' if self.signed else 'u'}{self.word_bits} {q} "
                f"range [{self.min:g}, {self.max:g}] lsb {self.lsb:g} "
                f"{self.rounding}/{self.overflow}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "QFormat":
        return cls(**d)

    def renamed(self, name: str) -> "QFormat":
        return QFormat(self.word_bits, self.frac_bits, self.signed, self.rounding,
                       self.overflow, name)

    # ------------------------------------------------------------ arithmetic
    def fit(self, values):
        """Apply this format's overflow mode to integers (int64 array or int)."""
        v = np.asarray(values, dtype=np.int64)
        if self.overflow == "saturate":
            # numpy-typed bounds: numpy 2 checks Python-int bounds against the array's
            # dtype on every call, which costs more than clipping a small array
            out = v.clip(np.int64(self.int_min), np.int64(self.int_max))
        else:
            span = 1 << self.word_bits
            out = (v - self.int_min) % span + self.int_min
        return out if isinstance(values, np.ndarray) else (int(out) if out.ndim == 0 else out)

    def shift_round(self, values, shift: int):
        """Divide integers by 2**shift with this format's rounding (no overflow)."""
        v = np.asarray(values, dtype=np.int64)
        if shift <= 0:
            return v << (-shift)
        if self.rounding == "nearest_posinf":
            return (v + (1 << (shift - 1))) >> shift
        return v >> shift

    def requantize(self, values, from_frac: int):
        """Integers with ``from_frac`` fractional bits -> this format (round, then overflow)."""
        return self.fit(self.shift_round(values, from_frac - self.frac_bits))

    def quantize(self, x, what: str = "value"):
        """Real numbers -> integers of this format (round, then overflow).

        NaN or infinity raises :class:`FormatError` naming ``what``.
        """
        a = np.asarray(x, dtype=np.float64)
        if not np.all(np.isfinite(a)):
            bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
            raise FormatError(f"{what}: {bad} value(s) are NaN or infinite")
        scaled = np.ldexp(a, self.frac_bits)
        if self.rounding == "nearest_posinf":
            r = np.floor(scaled + 0.5)
        else:
            r = np.floor(scaled)
        big = float(1 << 62)
        r = np.clip(r, -big, big)
        return self.fit(r.astype(np.int64))

    def to_float(self, ints):
        return np.asarray(ints, dtype=np.float64) * self.lsb

    def check_fits(self, x, what: str):
        """Raise if real values ``x`` lie outside this format's range (names ``what``)."""
        a = np.asarray(x, dtype=np.float64)
        if not np.all(np.isfinite(a)):
            bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
            raise FormatError(f"{what}: {bad} value(s) are NaN or infinite")
        if a.size == 0:
            return
        lo, hi = float(a.min()), float(a.max())
        if lo < self.min - self.lsb / 2 or hi > self.max + self.lsb / 2:
            worst = max(self.min - lo, hi - self.max)
            raise FormatError(
                f"{what}: values span [{lo:.6g}, {hi:.6g}] but {self.describe()}; "
                f"exceeds it by {worst:.6g}. Choose a wider format "
                f"(e.g. weight_format_for) or rescale the tensor.")


@dataclass(frozen=True)
class LSTMFormats:
    """The formats of one LSTM datapath (see the module docstring for the defaults).

    Attributes
    ----------
    vec : QFormat
        x and h.
    weight : QFormat
        kernel, recurrent kernel, bias (and dense weights).
    preact : QFormat
        gate pre-activation z and cell state c.
    act : QFormat
        sigmoid / tanh outputs.
    """

    vec: QFormat
    weight: QFormat
    preact: QFormat
    act: QFormat

    def __post_init__(self):
        if self.weight.frac_bits + self.vec.frac_bits < self.preact.frac_bits:
            raise FormatError(
                "formats: preact.frac_bits must not exceed weight.frac_bits + vec.frac_bits "
                f"({self.preact.frac_bits} > {self.weight.frac_bits} + {self.vec.frac_bits})")
        for f in (self.vec, self.weight, self.preact, self.act):
            if not f.signed:
                raise FormatError(f"formats: {f.name or 'format'} must be signed")
        if self.act.int_bits < 1:
            raise FormatError("formats: act needs at least one integer bit so that 1.0 is representable")
        if self.preact.frac_bits < TABLE_STEP_LOG2:
            raise FormatError(
                f"formats: preact.frac_bits must be at least {TABLE_STEP_LOG2} "
                f"(activation table step 2^-{TABLE_STEP_LOG2}), got {self.preact.frac_bits}")
        if self.preact.word_bits - 1 - (self.preact.frac_bits - TABLE_STEP_LOG2) > 12:
            raise FormatError(
                "formats: preact range too wide for the activation table "
                f"(at most 4096 entries; {self.preact.describe()})")

    @property
    def acc_frac(self) -> int:
        return self.weight.frac_bits + self.vec.frac_bits

    def to_dict(self) -> dict:
        return {k: getattr(self, k).to_dict() for k in ("vec", "weight", "preact", "act")}

    @classmethod
    def from_dict(cls, d: dict) -> "LSTMFormats":
        return cls(**{k: QFormat.from_dict(d[k]) for k in ("vec", "weight", "preact", "act")})

    def with_rounding(self, rounding: str) -> "LSTMFormats":
        def r(f):
            return QFormat(f.word_bits, f.frac_bits, f.signed, rounding, f.overflow, f.name)
        return LSTMFormats(r(self.vec), r(self.weight), r(self.preact), r(self.act))

    def describe(self) -> str:
        return "\n".join(getattr(self, k).describe() for k in ("vec", "weight", "preact", "act"))


#: Activation-table sample spacing is 2^-TABLE_STEP_LOG2 in the pre-activation domain.
TABLE_STEP_LOG2 = 5
#: Extra fractional bits stored in table entries beyond the activation format.
TABLE_GUARD_BITS = 4

VEC = QFormat(16, 14, name="vec")
WEIGHT = QFormat(16, 12, name="weight")
PREACT = QFormat(16, 11, name="preact")
ACT = QFormat(16, 14, name="act")
DEFAULT_FORMATS = LSTMFormats(VEC, WEIGHT, PREACT, ACT)


def bits_for(count: int) -> int:
    """Unsigned bits that index ``count`` items, ``0 .. count-1`` (at least one bit)."""
    return max(1, (int(count) - 1).bit_length())


def accumulator_bits(fmts: LSTMFormats, terms: int) -> int:
    """Bits of a gate accumulator summing ``terms`` products plus the bias.

    A product of two signed words needs ``wv + ww`` bits; ``terms`` of them plus the
    bias (shifted to the product scale, smaller than one product) need
    ``ceil(log2(terms + 1))`` more.
    """
    if terms < 1:
        raise FormatError(f"accumulator: terms must be positive, got {terms}")
    return fmts.weight.word_bits + fmts.vec.word_bits + max(1, math.ceil(math.log2(terms + 1)))


def weight_format_for(tensors: dict, word_bits: int = 16, base: QFormat = WEIGHT) -> QFormat:
    """Widest-fraction format of ``word_bits`` that holds every tensor in ``tensors``.

    Chooses the integer bits from the largest magnitude (measured, not assumed).
    """
    peak = 0.0
    for name, t in tensors.items():
        a = np.asarray(t, dtype=np.float64)
        if not np.all(np.isfinite(a)):
            raise FormatError(f"weights: tensor {name!r} contains NaN or infinity")
        if a.size:
            peak = max(peak, float(np.max(np.abs(a))))
    int_bits = 0
    while (2.0 ** int_bits) - 2.0 ** -(word_bits - 1 - int_bits) < peak:
        int_bits += 1
        if int_bits >= word_bits - 1:
            raise FormatError(f"weights: magnitude {peak:g} does not fit {word_bits} bits")
    return QFormat(word_bits, word_bits - 1 - int_bits, True, base.rounding, base.overflow,
                   name=base.name or "weight")


@dataclass(frozen=True)
class DenseFormats:
    """The formats of the autoencoder's Dense layer.

    Its input is the last LSTM layer's h, in that layer's ``vec`` format; the
    accumulator is exact with ``weight.frac + vec.frac`` fractional bits and is
    requantized once, into ``out`` (the reconstruction).

    Attributes
    ----------
    weight : QFormat
        Dense kernel and bias.
    out : QFormat
        The reconstruction.
    """

    weight: QFormat
    out: QFormat

    def __post_init__(self):
        for role in ("weight", "out"):
            if not getattr(self, role).signed:
                raise FormatError(f"dense formats: {role} must be signed")

    def to_dict(self) -> dict:
        return {"weight": self.weight.to_dict(), "out": self.out.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "DenseFormats":
        return cls(QFormat.from_dict(d["weight"]), QFormat.from_dict(d["out"]))


@dataclass(frozen=True)
class ModelFormats:
    """The formats of a whole autoencoder: one :class:`LSTMFormats` per LSTM layer
    (encoder first, then decoder) and the Dense layer's :class:`DenseFormats`.

    Layer ``k`` takes its input x and produces its h in ``layers[k].vec``; where
    layer ``k + 1``'s ``vec`` differs, h (or the latent vector) is requantized into
    it (round with the destination's rounding, then its overflow mode).  The windows
    are quantized into ``layers[0].vec``.
    """

    layers: tuple
    dense: DenseFormats

    def __post_init__(self):
        layers = tuple(self.layers)
        if not layers:
            raise FormatError("model formats: need the formats of at least one LSTM layer")
        for k, f in enumerate(layers):
            if not isinstance(f, LSTMFormats):
                raise FormatError(f"model formats: layer {k + 1} must be LSTMFormats, "
                                  f"got {type(f).__name__}")
        if not isinstance(self.dense, DenseFormats):
            raise FormatError(f"model formats: dense must be DenseFormats, got "
                              f"{type(self.dense).__name__}")
        object.__setattr__(self, "layers", layers)

    @classmethod
    def uniform(cls, fmts: LSTMFormats, num_layers: int) -> "ModelFormats":
        """Every layer in ``fmts``; the Dense layer in ``fmts.weight`` and ``fmts.vec``
        (the single global formats the project used before per-layer formats)."""
        if isinstance(fmts, ModelFormats):
            if len(fmts.layers) != num_layers:
                raise FormatError(f"model formats: {len(fmts.layers)} layers given, the model "
                                  f"has {num_layers}")
            return fmts
        return cls((fmts,) * int(num_layers), DenseFormats(fmts.weight, fmts.vec))

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def input(self) -> QFormat:
        """The windows' format (the first layer's ``vec``)."""
        return self.layers[0].vec

    @property
    def output(self) -> QFormat:
        """The reconstruction's format."""
        return self.dense.out

    @property
    def dense_in(self) -> QFormat:
        return self.layers[-1].vec

    @property
    def dense_acc_frac(self) -> int:
        return self.dense.weight.frac_bits + self.dense_in.frac_bits

    @property
    def global_formats(self):
        """The one :class:`LSTMFormats` every layer and the Dense layer use, or None
        when the formats differ between layers."""
        f = self.layers[0]
        if all(g == f for g in self.layers) and self.dense == DenseFormats(f.weight, f.vec):
            return f
        return None

    @property
    def is_global(self) -> bool:
        return self.global_formats is not None

    def word_bits(self, role: str) -> set:
        """The word widths a role (``vec``, ``weight``, ``preact``, ``act``) takes over
        the layers (the Dense layer's weight counts as ``weight``, its out as ``vec``)."""
        out = {getattr(f, role).word_bits for f in self.layers}
        if role == "weight":
            out.add(self.dense.weight.word_bits)
        if role == "vec":
            out.add(self.dense.out.word_bits)
        return out

    def to_dict(self) -> dict:
        return {"layers": [f.to_dict() for f in self.layers], "dense": self.dense.to_dict()}

    @classmethod
    def from_dict(cls, d: dict, num_layers: int) -> "ModelFormats":
        """Per-layer formats, or the global formats of older model files (the keys
        ``vec``, ``weight``, ``preact``, ``act``), which apply to every layer."""
        if "layers" not in d:
            return cls.uniform(LSTMFormats.from_dict(d), num_layers)
        layers = tuple(LSTMFormats.from_dict(f) for f in d["layers"])
        if len(layers) != num_layers:
            raise FormatError(f"model formats: formats for {len(layers)} LSTM layers, the "
                              f"model has {num_layers}")
        return cls(layers, DenseFormats.from_dict(d["dense"]))

    def with_rounding(self, rounding: str) -> "ModelFormats":
        def r(f):
            return QFormat(f.word_bits, f.frac_bits, f.signed, rounding, f.overflow, f.name)
        return ModelFormats(tuple(f.with_rounding(rounding) for f in self.layers),
                            DenseFormats(r(self.dense.weight), r(self.dense.out)))

    def describe(self, names=None) -> str:
        lines = []
        for k, f in enumerate(self.layers):
            label = names[k] if names else f"LSTM {k + 1}"
            lines.append(f"{label}: " + "; ".join(short_format(getattr(f, r), r)
                                                for r in ("vec", "weight", "preact", "act")))
        lines.append("dense: " + short_format(self.dense.weight, "weight") + "; "
                     + short_format(self.dense.out, "out"))
        return "\n".join(lines)


def short_format(fmt: QFormat, role: str = "") -> str:
    """``role Q2.14`` (the signed Q notation, integer bits including the sign)."""
    q = f"Q{fmt.int_bits + (1 if fmt.signed else 0)}.{fmt.frac_bits}"
    return f"{role} {q}" if role else q


class ClampCounts:
    """Counts of values a requantization point clamped (or wrapped), per layer and
    tensor.

    The kernels record into it when given one: ``counts[(layer, tensor)]`` is
    ``[clamped, seen]``.  Tensors: ``x`` (the input quantized or requantized into the
    layer's vec format), ``z_i``, ``z_f``, ``z_g``, ``z_o`` (gate pre-activations),
    ``c``, ``h``; the Dense layer records ``y``.  ``tanh_g`` and ``tanh_c`` count the
    candidate pre-activations and cell states beyond the tanh table's end, where tanh
    saturates without a requantization clamping (recorded only where that can change a
    result: :func:`golden.activations.tanh_input_limit`).
    """

    def __init__(self):
        self.counts = {}

    def record(self, layer: str, tensor: str, values, fmt: QFormat) -> None:
        """Count the integers of ``values`` (before overflow) outside ``fmt``."""
        v = np.asarray(values)
        over = 0
        # two reductions settle the usual case, nothing outside, without temporaries
        if v.size and (v.min() < fmt.int_min or v.max() > fmt.int_max):
            over = int(np.count_nonzero((v < fmt.int_min) | (v > fmt.int_max)))
        self.add(layer, tensor, over, int(v.size))

    def add(self, layer: str, tensor: str, clamped: int, seen: int) -> None:
        slot = self.counts.setdefault((layer, tensor), [0, 0])
        slot[0] += int(clamped)
        slot[1] += int(seen)

    @property
    def total(self) -> int:
        return sum(c for c, _ in self.counts.values())

    def clamped(self):
        """``(layer, tensor, clamped, seen)`` of every tensor with a clamp, in order."""
        return [(layer, t, c, n) for (layer, t), (c, n) in self.counts.items() if c]

    def to_list(self) -> list:
        return [{"layer": layer, "tensor": t, "clamped": c, "seen": n}
                for (layer, t), (c, n) in self.counts.items()]

    def merge(self, other: "ClampCounts") -> None:
        for (layer, t), (c, n) in other.counts.items():
            self.add(layer, t, c, n)
