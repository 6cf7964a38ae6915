"""The whole-window engine's output side: the dense layer's outputs into the out stream."""

from __future__ import annotations

from myhdl import Signal, always, always_comb, always_seq, block, concat, instances, intbv

from golden.autoencoder_memory_map import GATE_UNITS

from .autoencoder_config import AutoencoderEngineConfig


@block
def output_packer(clk, rst, y, y_valid, y_first, dense_last, out, *, cfg):
    """out.tdata = y_t = [y[0] .. y[F-1]], packed four outputs per cycle as the rows arrive.

    Output f is row 4*(b*P + l) + g of the dense pass (row-block b, lane l, gate unit
    g), so each cycle of valid rows brings four consecutive outputs, one per gate unit.
    They enter the output register from the top; the last of the ceil(F/4) groups
    brings the remaining 1..4, so output f ends in bits [(f+1)*VW-1 : f*VW], and
    out.tvalid rises.

    Ports (F features; VW = vec word bits)
      clk         in   1
      rst         in   1, synchronous, active high: drops the y being shown
      y           in   4 signed vec words (e.g. Q2.14 s16), the gate units' y (i, f, g, o)
      y_valid     in   1, y holds four outputs of a dense row (one group)
      y_first     in   1, that group is the first of its step
      dense_last  in   1, the step is T-1 (hdl.pass_sequencer)
      out         out  Stream of y_t: tdata F*VW (element f in bits [(f+1)*VW-1 : f*VW],
                       vec format), tvalid, tlast out (registered, held until taken);
                       tready in
    Latency: out.tvalid rises in the cycle after the last group's y_valid and stays
    high until the edge that samples out.tready high (the sequencer holds back the
    next dense step while a y is owed):

        clk         _/~~~\\___/~~~\\___/~~~\\___/~~~\\___/~~~\\___/~~~\\___
        y_valid     _/~~~~~~~~~~~~~~~\\_______________________________    two groups (F = 6)
        out.tvalid  _________________/~~~~~~~~~~~~~~~~~~~~~~~\\_______
        out.tready  _________________________________/~~~~~~~\\_______
        out.tdata                     < y_t                   >
                                                   y_t taken ^
    """
    if not isinstance(cfg, AutoencoderEngineConfig):
        raise TypeError(f"output_packer: cfg must be an AutoencoderEngineConfig, "
                        f"got {type(cfg).__name__}")
    vw = cfg.vec_bits
    f_count = cfg.features
    og = cfg.out_groups
    last_group_words = f_count - GATE_UNITS * (og - 1)     # outputs in the last group (1..4)
    last_group = og - 1

    out_group = Signal(intbv(0, min=0, max=og + 1))
    out_group_ctr = Signal(intbv(0, min=0, max=og + 1))
    out_reg = Signal(intbv(0)[f_count * vw:])

    @always_comb
    def comb_group():
        if y_first:
            out_group.next = 0
        else:
            out_group.next = out_group_ctr

    y0, y1, y2, y3 = y          # named: generators must not index a list of ports
    last_words = Signal(intbv(0)[last_group_words * vw:])
    if last_group_words == 4:
        @always_comb
        def comb_last_words():
            last_words.next = concat(y3[vw:], y2[vw:], y1[vw:], y0[vw:])
    elif last_group_words == 3:
        @always_comb
        def comb_last_words():
            last_words.next = concat(y2[vw:], y1[vw:], y0[vw:])
    elif last_group_words == 2:
        @always_comb
        def comb_last_words():
            last_words.next = concat(y1[vw:], y0[vw:])
    else:
        @always_comb
        def comb_last_words():
            last_words.next = y0[vw:]
    if og == 1 and last_group_words < 4:
        # outputs f >= F of the only group are padding rows: their gates' y is not needed
        unused_y = Signal(intbv(0)[(4 - last_group_words) * vw:])
        if last_group_words == 1:
            @always_comb
            def comb_unused_y():
                unused_y.next = concat(y3[vw:], y2[vw:], y1[vw:])
        elif last_group_words == 2:
            @always_comb
            def comb_unused_y():
                unused_y.next = concat(y3[vw:], y2[vw:])
        else:
            @always_comb
            def comb_unused_y():
                unused_y.next = y3[vw:]

    if og > 1:
        full_words = Signal(intbv(0)[4 * vw:])

        @always_comb
        def comb_full_words():
            full_words.next = concat(y3[vw:], y2[vw:], y1[vw:], y0[vw:])

        @always(clk.posedge)
        def seq_out_register():
            if y_valid and out_group < last_group:
                out_reg.next = concat(full_words, out_reg[f_count * vw:4 * vw])
            elif y_valid and out_group == last_group:
                out_reg.next = concat(last_words, out_reg[f_count * vw:last_group_words * vw])
    elif f_count > last_group_words:  # cannot happen: one group holds at most 4 outputs
        raise AssertionError("output_packer: output grouping")
    else:
        @always(clk.posedge)
        def seq_out_register():
            if y_valid and out_group == 0:
                out_reg.next = last_words

    @always_seq(clk.posedge, reset=rst)
    def seq_output():
        if y_valid and out_group < og:
            out_group_ctr.next = out_group + 1
        if out.tvalid and out.tready:
            out.tvalid.next = 0
        if y_valid and out_group == last_group:
            out.tvalid.next = 1
            out.tlast.next = dense_last

    @always_comb
    def comb_out_data():
        out.tdata.next = out_reg

    return instances()
