"""Gate unit of the whole-window engine: P lanes over every layer's weights, two results."""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, instances, intbv

from .mac_lane import mac_lane
from .requantize import requantize
from .weight_memory import weight_memory
from .weight_spram import weight_spram


def _signed(bits):
    return intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1))


@block
def window_gate_unit(clk, wr_en, wr_addr, wr_data, rd_addr, bias_addr, v, first, last, z, y,
                     *, gate, cfg):
    """s[row] = sum_k W[row,k] v[k] + (b[row] << vec.frac); z = preact(s), y = vec(s).

    One of the four gate units (gate order i, f, g, o) of hdl.autoencoder_engine.  Lane
    l keeps its rows of every pass in one single-port bank (hdl.weight_spram, region
    g*P + l of golden.autoencoder_memory_map), read at the shared bank
    address; the gate's biases of every pass are in one bias block (region 4P + g).
    As in hdl.gate_unit, all lanes see the same v[k], a row-block's P sums leave
    through the lanes' drain chain one per cycle, get their bias and are requantized:
    to the preact format (z, the LSTM gate pre-activation) and to the vec format (y,
    the dense layer's output) -- the arithmetic of golden.lstm_fixed and of
    golden.autoencoder.FixedAutoencoder.dense_int.

    Ports
      clk        in   1
      wr_en, wr_addr, wr_data   in   the engine's weight write port (global map)
      rd_addr    in   unsigned, bank address weight_base[n] + rb*columns + k, all lanes
      bias_addr  in   unsigned, bias-block address of the row leaving the chain next cycle
      v          in   signed vec word (e.g. Q2.14 s16), one cycle after rd_addr
      first      in   1, column 0 of a row-block (aligned with v)
      last       in   1, the last column of a row-block (aligned with v)
      z          out  signed preact word (e.g. Q5.11 s16), registered
      y          out  signed vec word (e.g. Q2.14 s16), registered, same cycle as z
    Latency: with `last` of a block in cycle A, the row of lane l is in z and y during
    cycle A + 4 + l (product, accumulate, l drain steps, bias add register, requantize
    register; hdl.autoencoder_config.GATE_RESULT after the row leaves the chain);
    bias_addr must address it during cycle A + 1 + l.
    """
    fm = cfg.fmts
    p = cfg.lanes
    lay = cfg.layout
    ab = cfg.acc_bits
    rb = lay.region_bits

    weights = [Signal(_signed(fm.weight.word_bits)) for _ in range(p)]
    drains = [Signal(_signed(ab)) for _ in range(p)]
    bias = Signal(_signed(fm.weight.word_bits))
    total = Signal(_signed(ab))

    banks = [weight_spram(clk, wr_en, wr_addr, wr_data, rd_addr, weights[lane],
                          region=lay.weight_region(gate, lane), region_bits=rb, depth=lay.bank_words)
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
                                base=lay.bias_region(gate) << rb, depth=lay.bias_words)
    bias_memory.name = "bias_bank"
    head = drains[0]

    # b << vec.frac as a product by 2^vec.frac: Verilog widens a product to its
    # context, so the bias is sign-extended to the accumulator in one operator.
    bias_scale = 1 << fm.vec.frac_bits

    @always_comb
    def comb_add_bias():
        total.next = head + bias * bias_scale

    # The biased sum is registered before the requantizations: bias read, accumulator-wide
    # add, rounding and saturation in one cycle were the UP5K's critical path (40 ns).
    total_r = Signal(_signed(ab))

    @always(clk.posedge)
    def seq_biased_sum():
        total_r.next = total

    to_preact = requantize(clk, total_r, z, from_frac=fm.acc_frac, fmt=fm.preact)
    to_preact.name = "to_preact"
    to_vec = requantize(clk, total_r, y, from_frac=fm.acc_frac, fmt=fm.vec)
    to_vec.name = "to_vec"

    return instances()
