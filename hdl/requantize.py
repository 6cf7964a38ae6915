"""Registered requantization: round to fewer fraction bits, then saturate."""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, instances

from .signals import signed


#: Widest upper-bit field whose all-ones constant MyHDL writes as a plain integer
#: literal (it sizes constants from 2**30 up); VHDL integers are 32-bit, so the
#: equality range test is used only up to this width, the comparisons beyond it.
PLAIN_INT_BITS = 30


@block
def requantize(clk, x, y, *, from_frac, fmt):
    """y <= fmt.fit(fmt.shift_round(x, from_frac - fmt.frac_bits)), registered.

    The arithmetic of golden.formats.QFormat.requantize: with s = from_frac -
    fmt.frac_bits > 0, 'nearest_posinf' adds half an LSB (2^(s-1)) and then shifts
    right arithmetically, 'floor' only shifts; s <= 0 shifts left (exact); the
    result saturates to [fmt.int_min, fmt.int_max].

    Ports
      clk  in   1
      x    in   signed, from_frac fraction bits (any width)
      y    out  signed fmt.word_bits, fmt.frac_bits fraction bits (registered)
    Latency: 1 cycle.  Rounding half up adds bit s-1 of x to x >> s (the same
    value as (x + 2^(s-1)) >> s, without a wider sum); every operation keeps x's
    width, and only the final saturated slice has y's width.  For signed formats the
    range test looks only at the bits above the word (all equal to the sign bit:
    in range), which keeps the saturation off a carry chain.
    """
    s = from_frac - fmt.frac_bits
    xb = len(x)
    lo, hi = fmt.int_min, fmt.int_max
    wb = fmt.word_bits
    if s > 0 and fmt.rounding == "nearest_posinf":
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
        @always(clk.posedge)
        def seq_saturate():
            y.next = q
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
