"""Sigmoid or tanh from the golden interpolated table, pipelined."""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, instances, intbv

from golden.activations import SIGMOID, TANH, activation_table

from .delay import delay
from .requantize import requantize


def table_roms(fmts):
    """The table as two ROMs of Python ints: samples ``T[k]`` and slopes ``T[k+1] - T[k]``.

    For k = 0 .. N-1 (the last sample is only ever reached through the slope of the
    interval before it).  The table is monotonic, so no slope is negative.
    """
    t = activation_table(fmts)
    e = t.entries
    samples = tuple(int(v) for v in e[:-1])
    slopes = tuple(int(b - a) for a, b in zip(e[:-1], e[1:]))
    if min(slopes) < 0:
        raise ValueError("activation table: samples must not decrease")
    return samples, slopes


@block
def activation_unit(clk, z, y, *, kind, fmts, pipelined=False, table_fmts=None, extra=None):
    """y = golden.activations.activate(z, kind): interpolated sigmoid table.

    u = min(|z| (2|z| for tanh), u_max);  k = u >> shift;  r = u & (2^shift - 1)
    s = (T[k] << shift) + (T[k+1] - T[k]) * r
    sigmoid: z >= 0 ? s : ONE - s        tanh: z >= 0 ? 2s - ONE : ONE - 2s
    y = act.requantize(value, table_frac + shift)        (round, saturate)

    Ports
      clk    in   1
      z      in   signed preact word (e.g. Q5.11 s16): pre-activation or cell state
      extra  in   unsigned 0 .. E (optional), aligned with z: z has that many fraction
                  bits fewer than the pass with the most (hdl.pass_formats, shift
                  ``act``); u is shifted left by it, so that every pass interpolates at
                  the scale of the most fraction bits (``table_fmts``: the formats with
                  the fewest, whose table has every entry any pass reads)
      y      out  signed act word (e.g. Q2.14 s16), registered
    Latency: hdl.config.activation_latency(pipelined) cycles, one new z every cycle:
    2 (table read register; interpolation, symmetry and requantization into y), or
    5 with ``pipelined``: |z| registered before the clamp and the table address, and a
    register after the interpolation's product and one after its sum, so that none of
    them shares a cycle with another or with the symmetry, rounding and saturation (on
    the iCE40 UP5K the unit's path was 66 ns in one cycle; with the sum registered,
    34.5 ns of table read, product in logic and sum; with the product registered too,
    33.5 ns from the shared unit's input select through |z| and the clamp).  The table
    (golden.activations.activation_table) is two ROMs, samples and slopes, each read
    in its own registered assignment.
    """
    if kind not in (SIGMOID, TANH):
        raise ValueError(f"activation_unit: kind must be {SIGMOID!r} or {TANH!r}, got {kind!r}")
    table_fmts = fmts if table_fmts is None else table_fmts
    t = activation_table(table_fmts)
    samples, slopes = table_roms(table_fmts)
    span = 0 if extra is None else extra.max - 1
    shift = t.shift + span                  # fraction bits of the interpolation
    value_frac = t.table_frac + shift
    eb, db = t.entry_bits, t.delta_bits
    u_max = t.u_max
    ub = u_max.bit_length()
    zb = len(z)
    one = 1 << value_frac
    is_tanh = kind == TANH
    # |z| of a zb-bit two's-complement number needs zb bits unsigned (|int_min| = 2^(zb-1)).
    magnitude = Signal(intbv(0, min=0, max=(1 << (zb - 1)) + 1))
    negative = Signal(bool(0))
    if pipelined:
        # |z| registered before the clamp and the table address: the sign, the negation's
        # carry chain and whatever selects z (a shared unit's input) get a cycle of their own
        magnitude_r = Signal(intbv(0, min=0, max=(1 << (zb - 1)) + 1))
        negative_in = Signal(bool(0))

        @always(clk.posedge)
        def seq_magnitude():
            magnitude_r.next = magnitude
            negative_in.next = negative

        if extra is not None:
            extra_in = Signal(intbv(0, min=0, max=extra.max))
            extra_delay = delay(clk, extra, extra_in, cycles=1)
            extra_delay.name = "extra_in"
        else:
            extra_in = None
    else:
        magnitude_r, negative_in, extra_in = magnitude, negative, extra
    u = Signal(intbv(0, min=0, max=u_max + 1))
    if span:
        scaled = Signal(intbv(0)[ub + span:])      # u << extra

        @always_comb
        def comb_scale():
            scaled.next = u << extra_in

    def looked_up(hi, lo):
        """Bits hi-1 .. lo of u << extra (of u itself without extra: no second name for u)."""
        return scaled(hi, lo) if span else u(hi, lo)

    index = looked_up(ub + span, shift)

    # MyHDL writes constants of 2^30 and more with an extra sign bit: size the sample
    # register to match so that lint sees no truncation (never for the defaults).
    sample_bits = eb + 1 if max(samples) >= (1 << 30) else eb
    sample = Signal(intbv(0)[sample_bits:])
    negative_r = Signal(bool(0))
    e = t.entries
    y_max = max((e[k] << shift) + (e[k + 1] - e[k]) * ((1 << shift) - 1) for k in range(len(e) - 1))
    peak = max(y_max, one - e[0] * (1 << shift), 2 * y_max - one, one)   # largest |value|
    vb = peak.bit_length() + 1
    # The interpolated sample is non-negative but held signed at the width of the
    # symmetry step, so that step is one same-width subtraction.
    interp = Signal(intbv(0, min=-(1 << (vb - 1)), max=1 << (vb - 1)))
    value = Signal(intbv(0, min=-(1 << (vb - 1)), max=1 << (vb - 1)))
    step = 1 << shift

    @always_comb
    def comb_magnitude():
        negative.next = z < 0
        if z < 0:
            magnitude.next = -z
        else:
            magnitude.next = z

    if is_tanh:
        half_max = u_max >> 1

        @always_comb
        def comb_clamp():
            if magnitude_r > half_max:
                u.next = u_max
            else:
                u.next = magnitude_r[ub - 1:] * 2
    else:
        @always_comb
        def comb_clamp():
            if magnitude_r > u_max:
                u.next = u_max
            else:
                u.next = magnitude_r[ub:]

    if shift > 0:
        frac = looked_up(shift, 0)
        slope = Signal(intbv(0)[db:])
        frac_r = Signal(intbv(0)[shift:])

        @always(clk.posedge)
        def seq_table():
            sample.next = samples[index]
            slope.next = slopes[index]
            frac_r.next = frac
            negative_r.next = negative_in
    else:
        # preact.frac == table step: every code is a sample, nothing to interpolate
        # (and a 0-bit fraction signal cannot exist).
        @always(clk.posedge)
        def seq_table():
            sample.next = samples[index]
            negative_r.next = negative_in

    if pipelined:
        # the product registered, then the sum: neither shares a cycle with the other,
        # nor with the symmetry, rounding and saturation
        sample_p = Signal(intbv(0)[sample_bits:])
        negative_p = Signal(bool(0))
        interp_r = Signal(intbv(0, min=-(1 << (vb - 1)), max=1 << (vb - 1)))
        negative_rr = Signal(bool(0))
        if shift > 0:
            # held at the sum's width, so the sum is one same-width addition in Verilog
            product = Signal(intbv(0, min=-(1 << (vb - 1)), max=1 << (vb - 1)))

            @always(clk.posedge)
            def seq_product():
                product.next = slope * frac_r
                sample_p.next = sample
                negative_p.next = negative_r

            @always_comb
            def comb_interpolate():
                interp.next = sample_p * step + product
        else:
            @always(clk.posedge)
            def seq_product():
                sample_p.next = sample
                negative_p.next = negative_r

            @always_comb
            def comb_interpolate():
                interp.next = sample_p

        @always(clk.posedge)
        def seq_interpolate():
            interp_r.next = interp
            negative_rr.next = negative_p
    else:
        if shift > 0:
            @always_comb
            def comb_interpolate():
                interp.next = sample * step + slope * frac_r
        else:
            @always_comb
            def comb_interpolate():
                interp.next = sample
        interp_r, negative_rr = interp, negative_r

    if is_tanh:
        @always_comb
        def comb_symmetry():
            if negative_rr:
                value.next = one - interp_r * 2
            else:
                value.next = interp_r * 2 - one
    else:
        @always_comb
        def comb_symmetry():
            if negative_rr:
                value.next = one - interp_r
            else:
                value.next = interp_r

    requantization = requantize(clk, value, y, from_frac=value_frac, fmt=fmts.act)
    requantization.name = "to_act"

    return instances()
