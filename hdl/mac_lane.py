"""One multiply-accumulate lane of a gate unit, with its slot in the drain chain."""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, instances, intbv


@block
def mac_lane(clk, v, w, first, last, drain_in, drain_out, *, product_bits):
    """acc = sum_k w[k] * v[k] over one row; the finished sum enters the drain chain.

    Stage 1: prod <= w * v                 (exact: product_bits, held accumulator-wide)
    Stage 2: acc  <= (first ? 0 : acc) + prod
             drain_out <= last ? (that same sum) : drain_in

    Ports
      clk        in   1
      v          in   signed vec word, e.g. Q2.14 s16: element k of [x; h_prev]
      w          in   signed weight word, e.g. Q4.12 s16: W[row, k] (RAM read data)
      first      in   1, marks k = 0 of a row (aligned with v and w)
      last       in   1, marks k = D+H-1 of a row (aligned with v and w)
      drain_in   in   signed accumulator, weight.frac + vec.frac fraction bits:
                      the next lane's drain register (None for the last lane)
      drain_out  out  signed accumulator: the finished row sum, then the sums of
                      the following lanes, one per cycle (registered)
    Latency: 2 cycles from (v, w, last) to the row sum in drain_out; a lane takes one
    product per cycle with no bubble between rows.  The accumulator is
    golden.formats.accumulator_bits wide, so a row's sum cannot overflow.  Between
    rows the lane goes on adding ``w * v``: the driver puts ``v = 0`` on idle cycles
    (both engines do), or the idle sum could leave the accumulator's range.
    """
    if product_bits > len(drain_out):
        raise ValueError("mac_lane: the accumulator must be at least as wide as a product")
    ab = len(drain_out)
    # The product register has the accumulator's width: Verilog sizes the product
    # by its target, so this is the exact product_bits result, sign-extended once.
    prod = Signal(intbv(0, min=-(1 << (ab - 1)), max=1 << (ab - 1)))
    acc = Signal(intbv(0, min=-(1 << (ab - 1)), max=1 << (ab - 1)))
    total = Signal(intbv(0, min=-(1 << (ab - 1)), max=1 << (ab - 1)))
    first_p = Signal(bool(0))
    last_p = Signal(bool(0))

    @always(clk.posedge)
    def seq_multiply():
        prod.next = w * v
        first_p.next = first
        last_p.next = last

    @always_comb
    def comb_sum():
        if first_p:
            total.next = prod
        else:
            total.next = acc + prod

    if drain_in is None:  # the last lane of the chain holds its sum until the next one
        @always(clk.posedge)
        def seq_accumulate():
            acc.next = total
            if last_p:
                drain_out.next = total
    else:
        @always(clk.posedge)
        def seq_accumulate():
            acc.next = total
            if last_p:
                drain_out.next = total
            else:
                drain_out.next = drain_in

    return instances()
