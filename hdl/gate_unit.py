"""Gate unit: P lanes computing W.x + U.h + b for one gate's rows, requantized."""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, instances, intbv

from .delay import delay
from .dual_port_ram import dual_port_ram
from .mac_lane import mac_lane
from .requantize import requantize
from .signals import signed
from .single_port_ram import single_port_ram

#: Bank memories a gate unit can keep its lanes' weights in.
BANK_KINDS = ("dual_port", "single_port")


@block
def gate_unit(clk, wr_en, wr_addr, wr_data, rd_addr, bias_addr, v, first, last, z, y=None,
              extra_bias=None, extra_z=None,
              *, gate, datapath, layout, bank="dual_port", registered_sum=False):
    """s[row] = sum_k W[row,k] v[k] + (b[row] << vec.frac); z = preact(s), y = vec(s).

    One of the four gate units (gate order i, f, g, o) of either engine.  Lane l owns
    the weight bank ``layout.weight_bank(gate, l)`` and the gate's biases sit in
    ``layout.bias_block(gate)`` (golden.memory_map for the single-layer engine,
    golden.autoencoder_memory_map for the whole-window engine).  All lanes see the same
    v[k] each cycle, so a row-block of P rows takes one cycle per column; when a block
    finishes, its P row sums leave through the lanes' drain chain one per cycle (lane 0
    first), each gets its bias (read at bias_addr) and is requantized: to the preact
    format (z, an LSTM gate pre-activation, golden.lstm_fixed) and, when ``y`` is given,
    to the vec format (y, a dense output, golden.autoencoder.FixedAutoencoder.dense_int).

    Ports
      clk        in   1
      wr_en, wr_addr, wr_data   in   the engine's weight write port (global map)
      rd_addr    in   unsigned, bank address of column k, shared by all lanes
      bias_addr  in   unsigned, bias-block address of the row leaving the chain next cycle
      v          in   signed vec word (x and h, e.g. Q2.14 s16), one cycle after rd_addr;
                      0 on idle cycles (the lanes keep adding between rows)
      first      in   1, column 0 of a row-block (aligned with v)
      last       in   1, the last column of a row-block (aligned with v)
      z          out  signed preact word (e.g. Q5.11 s16), registered
      y          out  signed vec word (e.g. Q2.14 s16), registered in the cycle of z (optional)
      extra_bias, extra_z  in  unsigned (optional; the whole-window engine when its passes'
                      binary points move, hdl.pass_formats): the row's shifts ``bias`` and
                      ``z`` beyond their smallest, aligned with bias_addr

    Parameters
      gate            0..3
      datapath        hdl.config.DatapathConfig: formats, lanes, accumulator width
      layout          the engine's memory layout (weight_bank, bias_block; region_bits
                      for single-port banks)
      bank            "dual_port": hdl.dual_port_ram banks (separate read and write
                      addresses); "single_port": hdl.single_port_ram banks (one address,
                      the shape of the iCE40 UP5K's SPRAM; writes only while idle)
      registered_sum  register the biased sum before the requantizations (one cycle more)

    Latency: with `last` of a block in cycle A, the row of lane l is in z (and y) during
    cycle A + 3 + l, or A + 4 + l with ``registered_sum`` (product, accumulate, l drain
    steps, [biased-sum register,] requantize register); bias_addr must address it during
    cycle A + 1 + l.
    """
    if bank not in BANK_KINDS:
        raise ValueError(f"gate_unit: bank must be one of {BANK_KINDS}, got {bank!r}")
    fm = datapath.fmts
    p = datapath.lanes
    ab = datapath.acc_bits

    weights = [Signal(signed(fm.weight.word_bits)) for _ in range(p)]
    drains = [Signal(signed(ab)) for _ in range(p)]
    bias = Signal(signed(fm.weight.word_bits))
    total = Signal(signed(ab))

    regions = [layout.weight_bank(gate, lane) for lane in range(p)]
    if bank == "single_port":
        rb = layout.region_bits
        banks = [single_port_ram(clk, wr_en, wr_addr, wr_data, rd_addr, weights[lane],
                                 region=regions[lane].base >> rb, region_bits=rb,
                                 depth=regions[lane].words)
                 for lane in range(p)]
    else:
        banks = [dual_port_ram(clk, wr_en, wr_addr, wr_data, rd_addr, weights[lane],
                               base=regions[lane].base, depth=regions[lane].words)
                 for lane in range(p)]
    lanes = [mac_lane(clk, v, weights[lane], first, last,
                      drains[lane + 1] if lane + 1 < p else None, drains[lane],
                      product_bits=datapath.product_bits)
             for lane in range(p)]
    for lane in range(p):       # named in the HDL after the lane
        banks[lane].name = f"bank{lane}"
        lanes[lane].name = f"lane{lane}"
    biases = layout.bias_block(gate)
    bias_memory = dual_port_ram(clk, wr_en, wr_addr, wr_data, bias_addr, bias,
                                base=biases.base, depth=biases.words)
    bias_memory.name = "bias_bank"
    head = drains[0]

    passes = datapath.passes
    shifts = {name: passes.shift(name) for name in ("bias", "z")} if passes is not None else {}
    # b << vec.frac, written as a product by 2^vec.frac: Verilog widens a product
    # to its context, so the bias is sign-extended to the accumulator in one operator.
    bias_scale = 1 << (shifts["bias"].base if extra_bias is not None else fm.vec.frac_bits)

    if extra_bias is None:
        @always_comb
        def comb_add_bias():
            total.next = head + bias * bias_scale
    else:
        bias_shift = Signal(intbv(0, min=0, max=extra_bias.max))    # with the bias read
        bias_delay = delay(clk, extra_bias, bias_shift, cycles=1)
        bias_delay.name = "extra_bias_read"

        @always_comb
        def comb_add_bias():
            total.next = head + ((bias * bias_scale) << bias_shift)

    if registered_sum:
        # bias read, accumulator-wide add, rounding and saturation in one cycle were the
        # UP5K's critical path (40 ns)
        total_r = Signal(signed(ab))

        @always(clk.posedge)
        def seq_biased_sum():
            total_r.next = total
    else:
        total_r = total

    if extra_z is None:
        z_shift, z_from = None, fm.acc_frac
    else:
        z_shift = Signal(intbv(0, min=0, max=extra_z.max))         # with total_r
        z_delay = delay(clk, extra_z, z_shift, cycles=2 if registered_sum else 1)
        z_delay.name = "extra_z_sum"
        z_from = shifts["z"].base + fm.preact.frac_bits
    to_preact = requantize(clk, total_r, z, from_frac=z_from, fmt=fm.preact, extra=z_shift)
    to_preact.name = "to_preact"
    if y is not None:
        # the dense rows: the last layer's h times the dense weights, into the output
        if passes is not None:
            y_from, y_fmt = passes.formats.dense_acc_frac, passes.formats.output
        else:
            y_from, y_fmt = fm.acc_frac, fm.vec
        to_vec = requantize(clk, total_r, y, from_frac=y_from, fmt=y_fmt)
        to_vec.name = "to_vec"

    return instances()
