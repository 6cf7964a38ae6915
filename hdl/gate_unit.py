"""Gate unit: P lanes computing W.x + U.h + b for one gate's rows, requantized once."""

from __future__ import annotations

from myhdl import Signal, always_comb, block, instances, intbv

from .mac_lane import mac_lane
from .requantize import requantize
from .weight_memory import weight_memory


def _signed(bits):
    return intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1))


@block
def gate_unit(clk, wr_en, wr_addr, wr_data, rd_addr, bias_addr, v, first, last, z,
              *, gate, cfg):
    """z[j] = preact.requantize(sum_k W[j,k] v[k] + (b[j] << vec.frac), acc_frac).

    One of the four gate units (gate order i, f, g, o).  Lane l owns the weight bank
    of rows j = rb*P + l (golden.memory_map); all lanes see the same v[k] each cycle,
    so a row-block of P rows takes D+H cycles.  When a block finishes, its P row sums
    leave through the lanes' drain chain one per cycle (row rb*P first); each gets its
    bias (read from this gate's bias memory at bias_addr = j) and is requantized.

    Ports
      clk        in   1
      wr_en, wr_addr, wr_data   in   the engine's weight write port (global map)
      rd_addr    in   unsigned, bank address rb*(D+H) + k, shared by all lanes
      bias_addr  in   unsigned, row j whose sum leaves the drain chain next cycle
      v          in   signed vec word (x and h, e.g. Q2.14 s16), one cycle after rd_addr
      first      in   1, k == 0 (aligned with v)
      last       in   1, k == D+H-1 (aligned with v)
      z          out  signed preact word (e.g. Q5.11 s16), registered
    Latency: with `last` of a block in cycle A, row j = rb*P + l is in z during
    cycle A + 3 + l (product, accumulate, l drain steps, bias add and requantize
    register); bias_addr must be j during cycle A + 1 + l.
    """
    fm = cfg.fmts
    p = cfg.lanes
    ab = cfg.acc_bits
    depth = cfg.bank_depth
    vec_frac = fm.vec.frac_bits

    weights = [Signal(_signed(fm.weight.word_bits)) for _ in range(p)]
    drains = [Signal(_signed(ab)) for _ in range(p)]
    bias = Signal(_signed(fm.weight.word_bits))
    total = Signal(_signed(ab))

    banks = [weight_memory(clk, wr_en, wr_addr, wr_data, rd_addr, weights[lane],
                           base=(gate * p + lane) * depth, depth=depth)
             for lane in range(p)]
    for lane in range(p):
        banks[lane].name = f"bank{lane}"
    lanes = [mac_lane(clk, v, weights[lane], first, last,
                      drains[lane + 1] if lane + 1 < p else None, drains[lane],
                      product_bits=cfg.product_bits)
             for lane in range(p)]
    for lane in range(p):
        lanes[lane].name = f"lane{lane}"
    bias_memory = weight_memory(clk, wr_en, wr_addr, wr_data, bias_addr, bias,
                                base=cfg.bias_base + gate * cfg.hidden_size,
                                depth=cfg.hidden_size)
    bias_memory.name = "bias_bank"
    head = drains[0]

    # b << vec.frac, written as a product by 2^vec.frac: Verilog widens a product
    # to its context, so the bias is sign-extended to the accumulator in one operator.
    bias_scale = 1 << vec_frac

    @always_comb
    def comb_add_bias():
        total.next = head + bias * bias_scale

    requantization = requantize(clk, total, z, from_frac=fm.acc_frac, fmt=fm.preact)
    requantization.name = "to_preact"

    return instances()
