"""Cell update: c' = f*c + i*g and h' = o*tanh(c'), pipelined, one row per cycle."""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, concat, instances, intbv

from golden.activations import TANH

from .activation_unit import activation_unit
from .config import CELL_STATE_LATENCY, activation_latency
from .requantize import requantize
from .signals import signed


@block
def cell_update(clk, i, f, g, o, c_prev, c_new, h_new, *, fmts, pipelined=False):
    """golden.lstm_fixed.cell_update: requantizations 2 and 3 of one row.

    c' = preact.requantize((f*c_prev << a) + (i*g << b), F)
    h' = vec.requantize(o * tanh(c'), 2*act.frac)
    F = max(act.frac + preact.frac, 2*act.frac); a, b align both products to F.

    Ports
      clk     in   1
      i, f, g, o  in   signed act words (e.g. Q2.14 s16), one row per cycle
      c_prev  in   signed preact word (e.g. Q5.11 s16), same cycle as the gates
      c_new   out  signed preact word, registered, 2 cycles after the inputs
      h_new   out  signed vec word (e.g. Q2.14 s16), registered,
                   hdl.config.cell_output_latency(pipelined) cycles after (6 or 7)
    Latency: c_new 2 cycles (products; aligned sum + requantize), h_new 6 cycles
    (+ 2 for tanh(c') in an activation unit, + 1 output product, + 1 requantize), 7
    with ``pipelined`` (the tanh unit's extra register, hdl.activation_unit).
    """
    a_frac, z_frac = fmts.act.frac_bits, fmts.preact.frac_bits
    fc_frac = a_frac + z_frac
    ig_frac = 2 * a_frac
    big = max(fc_frac, ig_frac)
    sa, sb = big - fc_frac, big - ig_frac
    fc_bits = len(f) + len(c_prev)
    ig_bits = len(i) + len(g)
    sum_bits = max(fc_bits + sa, ig_bits + sb) + 1
    ob = len(o)
    delay = CELL_STATE_LATENCY + activation_latency(pipelined)  # o waits for tanh(c')

    # Both product registers have the width of the aligned sum, so the alignment
    # shifts and the addition happen at one width (Verilog sizes a product by its target).
    fc = Signal(signed(sum_bits))
    ig = Signal(signed(sum_bits))
    total = Signal(signed(sum_bits))
    tanh_c = Signal(signed(fmts.act.word_bits))
    o_pipe = Signal(intbv(0)[delay * ob:])
    o_late = o_pipe(delay * ob, (delay - 1) * ob)
    hp = Signal(signed(ob + len(tanh_c)))

    @always(clk.posedge)
    def seq_products():
        fc.next = f * c_prev
        ig.next = i * g
        o_pipe.next = concat(o_pipe[(delay - 1) * ob:], o[ob:])

    @always_comb
    def comb_align():
        total.next = (fc << sa) + (ig << sb)

    state = requantize(clk, total, c_new, from_frac=big, fmt=fmts.preact)
    state.name = "to_c"
    squash = activation_unit(clk, c_new, tanh_c, kind=TANH, fmts=fmts, pipelined=pipelined)
    squash.name = "tanh_c"

    @always(clk.posedge)
    def seq_output_product():
        hp.next = o_late.signed() * tanh_c

    output = requantize(clk, hp, h_new, from_frac=2 * a_frac, fmt=fmts.vec)
    output.name = "to_h"

    return instances()
