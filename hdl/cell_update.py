"""Cell update: c' = f*c + i*g and h' = o*tanh(c'), pipelined, one row per cycle."""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, concat, instances, intbv

from golden.activations import TANH

from .activation_unit import activation_unit
from .config import activation_latency, cell_state_latency
from .delay import delay
from .requantize import requantize
from .signals import signed


@block
def cell_update(clk, i, f, g, o, c_prev, c_new, h_new, *, fmts, pipelined=False, passes=None,
                extra_c=None, extra_h=None):
    """golden.lstm_fixed.cell_update: requantizations 2 and 3 of one row.

    c' = preact.requantize((f*c_prev << a) + (i*g << b), F)
    h' = vec.requantize(o * tanh(c'), 2*act.frac)
    F = max(act.frac + preact.frac, 2*act.frac); a, b align both products to F.

    Ports
      clk     in   1
      i, f, g, o  in   signed act words (e.g. Q2.14 s16), one row per cycle
      c_prev  in   signed preact word (e.g. Q5.11 s16), same cycle as the gates
      c_new   out  signed preact word, registered,
                   hdl.config.cell_state_latency(pipelined) cycles after the inputs (2 or 3)
      h_new   out  signed vec word (e.g. Q2.14 s16), registered,
                   hdl.config.cell_output_latency(pipelined) cycles after (6 or 8)
      extra_c, extra_h  in  unsigned (optional, with ``passes``), aligned with the gates:
                   the row's pass's shifts ``act`` and ``h`` (hdl.pass_formats): c_prev has
                   extra_c fraction bits fewer than the pass with the most, h' extra_h more
    Latency: c_new 2 cycles (products; aligned sum + requantize), h_new 6 cycles
    (+ 2 for tanh(c') in an activation unit, + 1 output product, + 1 requantize).
    ``pipelined`` adds two registers, 3 and 8 cycles: the aligned sum is registered
    before its requantization (the product -> sum -> rounding -> saturation path was an
    iCE40's critical one), and the tanh unit has its extra register (hdl.activation_unit).

    With ``passes`` (hdl.pass_formats.PassFormats) whose binary points move, both
    products are aligned to the largest F any pass needs (``passes.cell_frac``), f*c_prev
    by a shift that moves with extra_c, and the requantizations take the moving shifts.
    """
    a_frac = fmts.act.frac_bits
    moving = passes is not None and (extra_c is not None or extra_h is not None)
    if moving:
        z_fmt = max((f.preact for f in passes.layers), key=lambda q: q.frac_bits)
        h_fmt = max((f.vec for f in passes.layers), key=lambda q: q.frac_bits)
        big = passes.cell_frac
        table_fmts = passes.table_formats
    else:
        z_fmt, h_fmt, big, table_fmts = fmts.preact, fmts.vec, None, None
    fc_frac = a_frac + z_fmt.frac_bits
    ig_frac = 2 * a_frac
    big = max(fc_frac, ig_frac) if big is None else big
    sa, sb = big - fc_frac, big - ig_frac
    span_c = 0 if extra_c is None else extra_c.max - 1
    fc_bits = len(f) + len(c_prev)
    ig_bits = len(i) + len(g)
    sum_bits = max(fc_bits + sa + span_c, ig_bits + sb) + 1
    ob = len(o)
    c_cycles = cell_state_latency(pipelined)
    delay_cycles = c_cycles + activation_latency(pipelined)  # o waits for tanh(c')

    # Both product registers have the width of the aligned sum, so the alignment
    # shifts and the addition happen at one width (Verilog sizes a product by its target).
    fc = Signal(signed(sum_bits))
    ig = Signal(signed(sum_bits))
    total = Signal(signed(sum_bits))
    # the requantizer's input: the sum itself, or (pipelined) the sum one cycle later
    total_q = Signal(signed(sum_bits)) if pipelined else total
    tanh_c = Signal(signed(fmts.act.word_bits))
    o_pipe = Signal(intbv(0)[delay_cycles * ob:])
    o_late = o_pipe(delay_cycles * ob, (delay_cycles - 1) * ob)
    hp = Signal(signed(ob + len(tanh_c)))

    @always(clk.posedge)
    def seq_products():
        fc.next = f * c_prev
        ig.next = i * g
        o_pipe.next = concat(o_pipe[(delay_cycles - 1) * ob:], o[ob:])

    if extra_c is None:
        @always_comb
        def comb_align():
            total.next = (fc << sa) + (ig << sb)
        c_sum = c_act = c_req = None
    else:
        # extra_c one cycle on (with fc), then with the requantizer's input, then with
        # c_new into tanh
        c_sum = Signal(intbv(0, min=0, max=extra_c.max))
        c_act = Signal(intbv(0, min=0, max=extra_c.max))
        c_delays = [delay(clk, extra_c, c_sum, cycles=1), delay(clk, extra_c, c_act, cycles=c_cycles)]
        c_delays[0].name = "extra_c_sum"
        c_delays[1].name = "extra_c_act"
        if pipelined:
            c_req = Signal(intbv(0, min=0, max=extra_c.max))
            c_delays.append(delay(clk, extra_c, c_req, cycles=c_cycles - 1))
            c_delays[-1].name = "extra_c_requant"
        else:
            c_req = c_sum

        @always_comb
        def comb_align():
            total.next = ((fc << c_sum) << sa) + (ig << sb)

    if pipelined:
        @always(clk.posedge)
        def seq_sum():
            total_q.next = total

    state = requantize(clk, total_q, c_new, from_frac=big, fmt=z_fmt, extra=c_req)
    state.name = "to_c"
    squash = activation_unit(clk, c_new, tanh_c, kind=TANH, fmts=fmts, pipelined=pipelined,
                             table_fmts=table_fmts, extra=c_act)
    squash.name = "tanh_c"

    @always(clk.posedge)
    def seq_output_product():
        hp.next = o_late.signed() * tanh_c

    if extra_h is None:
        h_out = None
    else:
        h_out = Signal(intbv(0, min=0, max=extra_h.max))
        h_delay = delay(clk, extra_h, h_out, cycles=delay_cycles + 1)
        h_delay.name = "extra_h_out"
    output = requantize(clk, hp, h_new, from_frac=2 * a_frac,
                        fmt=h_fmt, extra=h_out)
    output.name = "to_h"

    return instances()
