"""Per-layer number formats on the whole-window engine: the shifts that move from pass to pass.

The whole-window engine time-shares one datapath over its passes (the LSTM layers, then
the dense layer), so every format role keeps one word width, the datapath's.  Per-layer
formats (:class:`golden.formats.ModelFormats`) may still move the binary points from
layer to layer, and in the hardware a binary point is nothing but a shift amount.
:class:`PassFormats` derives, for pass ``n`` (layer formats ``fm_n``; the dense pass reads
the last layer's h), every shift the datapath applies::

    bias   b << vec_n.frac                                    gate units, before z
    z      acc_frac_n - preact_n.frac                        requantization (1)
    act    preact_max.frac - preact_n.frac                   activation units, cell update
    h      2 act.frac - vec_n.frac                           requantization (4)
    x      vec_{n-1}.frac - vec_n.frac                       the read of a pass's input

Each is ``base + extra[n]`` with ``extra[n] >= 0``; a shift whose extra is zero for every
pass is a constant, and the block that applies it is the one a global-format design has,
gate for gate.  A shift that varies is applied by a small multiplexer selected by the
row's pass number (:mod:`hdl.row_pipeline` carries it with every row).

Why one scale works for the activations and the cell state: golden evaluates pass n's
interpolation at ``table_frac + (preact_n.frac - 5)`` fraction bits and requantizes from
there; the hardware evaluates every pass at the scale of the largest ``preact.frac`` by
shifting the interpolation fraction left by ``act[n]``, which multiplies the value by a
power of two exactly, and a requantization of an exactly rescaled value rounds and
saturates to the same integer.  The table itself is the one for the smallest
``preact.frac`` (the widest range): its entries are the same samples, and it has every
entry any pass reads.  The cell update aligns its two products to the largest fraction
any pass needs, for the same reason.

What the hardware needs of the formats (refused otherwise, naming the layer and role):
one word width per role (the dense weight counts as ``weight``, the reconstruction as
``vec``); one rounding mode per role; one ``act`` format in every layer (the activation
units hold one table); ``vec.frac >= 0`` (the bias is shifted left by it).
"""

from __future__ import annotations

from dataclasses import dataclass

from golden.formats import FormatError, LSTMFormats, ModelFormats

from .config import FORMAT_ROLES

#: The per-pass shifts, in the order of the module docstring.
SHIFTS = ("bias", "z", "act", "h", "x")


@dataclass(frozen=True)
class Shift:
    """One shift amount per pass: ``base + extra[n]`` (``extra[n] >= 0``)."""

    name: str
    base: int
    extra: tuple

    @property
    def span(self) -> int:
        """The largest extra: the select runs over ``0 .. span``."""
        return max(self.extra)

    @property
    def varies(self) -> bool:
        return self.span > 0

    @classmethod
    def of(cls, name: str, amounts) -> "Shift":
        amounts = tuple(int(a) for a in amounts)
        base = min(amounts)
        return cls(name, base, tuple(a - base for a in amounts))


def _check_shared(formats: ModelFormats, names) -> None:
    """Refuse formats the one datapath cannot run (module docstring)."""
    layers = formats.layers
    slots = {role: [(names[k], getattr(f, role)) for k, f in enumerate(layers)]
             for role in FORMAT_ROLES}
    slots["weight"].append(("dense", formats.dense.weight))
    slots["vec"].append(("dense output", formats.dense.out))
    for role, fs in slots.items():
        first_name, first = fs[0]
        for name, f in fs[1:]:
            if f.word_bits != first.word_bits:
                raise FormatError(
                    f"whole-window engine: {role} is {first.word_bits} bits in {first_name} but "
                    f"{f.word_bits} in {name}; the one datapath needs one word width per role "
                    "(quantize without --per-layer-words)")
            if f.rounding != first.rounding:
                raise FormatError(
                    f"whole-window engine: {role} rounds {first.rounding!r} in {first_name} but "
                    f"{f.rounding!r} in {name}; the datapath needs one rounding mode per role")
    for name, f in slots["act"][1:]:
        if f != slots["act"][0][1]:
            raise FormatError(
                f"whole-window engine: act is {slots['act'][0][1].describe()} in "
                f"{slots['act'][0][0]} but {f.describe()} in {name}; the activation units hold "
                "one table, so every layer needs the same act format")
    for name, f in slots["vec"][:-1]:
        if f.frac_bits < 0:
            raise FormatError(f"whole-window engine: {name}'s vec has {f.frac_bits} fraction "
                              "bits; the bias is shifted left by vec.frac, which must be >= 0")


@dataclass(frozen=True)
class PassFormats:
    """The formats of every pass of the whole-window engine and the shifts they give.

    Parameters
    ----------
    formats : golden.formats.ModelFormats
    names : tuple of str
        The LSTM layers' names, for error messages.
    """

    formats: ModelFormats
    names: tuple

    def __post_init__(self):
        if not isinstance(self.formats, ModelFormats):
            raise FormatError(f"pass formats: expected golden.formats.ModelFormats, got "
                              f"{type(self.formats).__name__}")
        _check_shared(self.formats, self.names)

    @property
    def layers(self) -> tuple:
        return self.formats.layers

    @property
    def is_global(self) -> bool:
        return self.formats.is_global

    @property
    def datapath_formats(self) -> LSTMFormats:
        """The formats the datapath's widths come from: every word width, and the
        binary points of the first layer (all of them for global formats)."""
        return self.layers[0]

    @property
    def act(self):
        return self.layers[0].act

    @property
    def preact_frac_max(self) -> int:
        return max(f.preact.frac_bits for f in self.layers)

    @property
    def table_formats(self) -> LSTMFormats:
        """Formats whose activation table serves every pass: the smallest preact.frac."""
        return min(self.layers, key=lambda f: f.preact.frac_bits)

    @property
    def cell_frac(self) -> int:
        """``F``: the fraction bits the cell update aligns both products to, the largest
        any pass needs (golden.lstm_fixed: ``max(act.frac + preact.frac, 2 act.frac)``)."""
        a = self.act.frac_bits
        return max(max(a + f.preact.frac_bits, 2 * a) for f in self.layers)

    def shift(self, name: str) -> Shift:
        """The per-pass amounts of one shift of :data:`SHIFTS` (one entry per pass, the
        dense pass last; a pass that does not use the shift gets the base, extra 0)."""
        lay = self.layers
        fill = None
        if name == "bias":
            amounts = [f.vec.frac_bits for f in lay] + [self.formats.dense_in.frac_bits]
        elif name == "z":
            amounts = [f.acc_frac - f.preact.frac_bits for f in lay]
        elif name == "act":
            amounts = [self.preact_frac_max - f.preact.frac_bits for f in lay]
        elif name == "h":
            amounts = [2 * self.act.frac_bits - f.vec.frac_bits for f in lay]
        elif name == "x":
            amounts = [0] + [lay[n - 1].vec.frac_bits - lay[n].vec.frac_bits
                             for n in range(1, len(lay))] + [0]
        else:
            raise ValueError(f"pass formats: no shift {name!r}; the shifts are {SHIFTS}")
        if len(amounts) == len(lay):            # the dense pass does not use it
            fill = min(amounts)
            amounts = amounts + [fill]
        return Shift.of(name, amounts)

    @property
    def varying(self) -> tuple:
        """The names of the shifts that differ between passes."""
        return tuple(s for s in SHIFTS if self.shift(s).varies)

    def describe(self) -> str:
        parts = []
        for s in SHIFTS:
            sh = self.shift(s)
            if sh.varies:
                parts.append(f"{s} {sh.base}+" + "/".join(str(e) for e in sh.extra))
        return "per-pass shifts: " + (", ".join(parts) if parts else "none (global formats)")


class PassShiftSignals:
    """One unsigned signal per shift that moves (``None`` for a constant one), each in
    ``0 .. span``: the extra of the row it travels with."""

    def __init__(self, pf: PassFormats):
        from myhdl import Signal, intbv

        for name in SHIFTS:
            sh = pf.shift(name)
            setattr(self, name, Signal(intbv(0, min=0, max=sh.span + 1)) if sh.varies else None)
