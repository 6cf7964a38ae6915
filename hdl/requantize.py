"""Registered requantization: round to fewer fraction bits, then saturate."""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, instances

from .signals import signed


#: Widest upper-bit field whose all-ones constant MyHDL writes as a plain integer
#: literal (it sizes constants from 2**30 up); VHDL integers are 32-bit, so the
#: equality range test is used only up to this width, the comparisons beyond it.
PLAIN_INT_BITS = 30


@block
def variable_shift_round(x, extra, q, *, s, rounding):
    """q = shift_round(x, s + extra): golden.formats.QFormat.shift_round by a shift that
    moves (``extra`` in 0 .. extra.max - 1), combinational.

    ``x`` is first shifted left by a constant ``L`` (the least that makes the smallest
    shift at least 1 when rounding, at least 0 when not), then right by the constant
    ``s + L - 1`` (``s + L``), then by ``extra``: one multiplexer level per bit of extra.
    Rounding half up adds the last bit shifted out, as :func:`requantize` does.

    Ports
      x      in   signed, any width
      extra  in   unsigned
      q      out  signed, len(x) + L bits
    """
    near = rounding == "nearest_posinf"
    lead = max(0, (1 if near else 0) - s)
    xb = len(x)
    wide = Signal(signed(xb + lead))
    t = Signal(signed(xb + lead))
    base = s + lead - (1 if near else 0)

    @always_comb
    def comb_align():
        wide.next = x * (1 << lead)

    @always_comb
    def comb_shift():
        t.next = (wide >> base) >> extra

    if near:
        @always_comb
        def comb_round():
            if t[0]:
                q.next = (t >> 1) + 1
            else:
                q.next = t >> 1
    else:
        @always_comb
        def comb_round():
            q.next = t

    return instances()


def variable_shift_bits(xb: int, s: int, rounding: str) -> int:
    """Width of :func:`variable_shift_round`'s q for an ``xb``-bit x and smallest shift s."""
    return xb + max(0, (1 if rounding == "nearest_posinf" else 0) - s)


@block
def requantize(clk, x, y, *, from_frac, fmt, extra=None, registered=True):
    """y <= fmt.fit(fmt.shift_round(x, from_frac + extra - fmt.frac_bits)), registered.

    The arithmetic of golden.formats.QFormat.requantize: with s = from_frac -
    fmt.frac_bits > 0, 'nearest_posinf' adds half an LSB (2^(s-1)) and then shifts
    right arithmetically, 'floor' only shifts; s <= 0 shifts left (exact); the
    result saturates to [fmt.int_min, fmt.int_max].

    Ports
      clk    in   1
      x      in   signed, from_frac fraction bits (any width)
      extra  in   unsigned 0 .. extra.max - 1 (optional), aligned with x: x has that
                  many fraction bits more (a binary point that moves from pass to pass,
                  hdl.pass_formats); the shift becomes a multiplexer over those amounts
                  (:func:`variable_shift_round`)
      y      out  signed fmt.word_bits, fmt.frac_bits fraction bits (registered, or
                  combinational with ``registered=False``)
    Latency: 1 cycle (0 with ``registered=False``).  Rounding half up adds bit s-1 of x to x >> s (the same
    value as (x + 2^(s-1)) >> s, without a wider sum); every operation keeps x's
    width, and only the final saturated slice has y's width.  For signed formats the
    range test looks only at the bits above the word (all equal to the sign bit:
    in range), which keeps the saturation off a carry chain.
    """
    s = from_frac - fmt.frac_bits
    xb = len(x)
    lo, hi = fmt.int_min, fmt.int_max
    wb = fmt.word_bits
    if extra is not None:
        q = Signal(signed(variable_shift_bits(xb, s, fmt.rounding)))
        shifter = variable_shift_round(x, extra, q, s=s, rounding=fmt.rounding)
        shifter.name = "shift"
    elif s > 0 and fmt.rounding == "nearest_posinf":
        # (x + 2^(s-1)) >> s == (x >> s) + bit s-1 of x: the sum cannot overflow x's
        # width because x >> s is 2^s times smaller than x's range.
        q = Signal(signed(xb))

        @always_comb
        def comb_round():
            if x[s - 1]:
                q.next = (x >> s) + 1
            else:
                q.next = x >> s
    elif s > 0:
        q = Signal(signed(xb))

        @always_comb
        def comb_round():
            q.next = x >> s
    elif s == 0:
        q = x
    else:
        q = Signal(signed(xb - s))

        @always_comb
        def comb_round():
            q.next = x * (1 << -s)

    if len(q) <= wb:  # fits without saturation (only for narrow inputs)
        if registered:
            @always(clk.posedge)
            def seq_saturate():
                y.next = q
        else:
            @always_comb
            def seq_saturate():
                y.next = q
        return instances()

    if not registered:
        @always_comb
        def comb_saturate():
            if q > hi:
                y.next = hi
            elif q < lo:
                y.next = lo
            else:
                y.next = q[wb:].signed()
        return instances()

    qb = len(q)
    ub = qb - wb + 1
    if fmt.signed and ub <= PLAIN_INT_BITS:
        # q fits the word iff its bits qb-1 .. wb-1 all equal the sign: two equality
        # tests of the upper bits (LUT trees) instead of two magnitude comparisons
        # (carry chains as long as q), the same function; q's sign picks the bound.
        upper = q(qb, wb - 1)
        ones = (1 << ub) - 1
        fits = Signal(bool(0))

        @always_comb
        def comb_fits():
            fits.next = upper == 0 or upper == ones

        @always(clk.posedge)
        def seq_saturate():
            if fits:
                y.next = q[wb:].signed()
            elif q[qb - 1]:
                y.next = lo
            else:
                y.next = hi

        return instances()

    @always(clk.posedge)
    def seq_saturate():
        if q > hi:
            y.next = hi
        elif q < lo:
            y.next = lo
        else:
            y.next = q[wb:].signed()

    return instances()
