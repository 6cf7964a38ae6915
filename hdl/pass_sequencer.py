"""The whole-window engine's sequencer: passes, steps, row-blocks and columns, one column a cycle."""

from __future__ import annotations

from myhdl import Signal, always, always_comb, always_seq, block, enum, instances, intbv

from .autoencoder_config import AutoencoderEngineConfig
from .pass_table import pass_tables, register_bits
from .requantize import requantize
from .rom import rom
from .signals import signed, unsigned_for


class BlockDescriptor:
    """What the row pipeline needs to know about the row-block whose last column is on v.

    Attributes
    ----------
    bias : Signal(intbv), bias-block address of the block's first row, aligned with v
    first_step, first_pass, step0, parity, dense : Signal(bool)
        Registered on the block's last column (valid from the cycle after it, until the
        next block's last column): the block is the first of its step; the first of its
        pass; in step 0 (h_prev = c_prev = 0); in an odd pass (its h is written
        downwards); in the dense pass (its rows are outputs y, not LSTM rows).
    pass_num : Signal(intbv) or None
        The block's pass number, registered like the flags; only where the passes'
        binary points move (:func:`moving_points`), for the rows' shifts.
    """

    def __init__(self, cfg: AutoencoderEngineConfig):
        self.bias = Signal(unsigned_for(cfg.layout.bias_words))
        self.first_step = Signal(bool(0))
        self.first_pass = Signal(bool(0))
        self.step0 = Signal(bool(0))
        self.parity = Signal(bool(0))
        self.dense = Signal(bool(0))
        self.pass_num = Signal(unsigned_for(len(cfg.passes))) if moving_points(cfg) else None


def moving_points(cfg: AutoencoderEngineConfig) -> bool:
    """Some shift of hdl.pass_formats differs between the passes of ``cfg``."""
    return cfg.per_layer and bool(cfg.pass_formats.varying)


@block
def pass_sequencer(clk, rst, out, loading, loaded, pass_idx, consts, seq_raddr, seq_rdata,
                   waddr, v, first, last, desc, dense_last, *, cfg):
    """Runs every pass over the window: v[k] = [x_t; h_{t-1}][k] and bank address per cycle.

    for pass n, step t, row-block rb, column k (one per cycle, while RUN):
        waddr     = weight_base[n] + rb*columns[n] + k        (the same in every bank)
        seq_raddr = x_t[k] (k <= x_last[n]) or h_{t-1}[k - inputs[n]] (k > x_last[n])
    FSM ``state``: LOAD (a window loads: hdl.window_loader) -> RUN (issue columns) and
    GAP (idle cycles between steps or before a pass, pass_table's step_gap / gap_next),
    back to LOAD after the dense pass's last column.

    Ports (VW = vec word bits)
      clk         in   1
      rst         in   1, synchronous, active high: back to LOAD, pass 0
      out         in   Stream (tvalid, tready read): the host takes y when both are high
      loading     out  1, state LOAD
      loaded      in   1, the window's last element is written in this cycle
      pass_idx    out  unsigned, the pass number (registered)
      consts      in   PassConstants of pass_idx (hdl.pass_table)
      seq_raddr   out  unsigned, sequence-buffer read address of this cycle's column
      seq_rdata   in   signed vec word (e.g. Q2.14 s16), the buffer's read data
      waddr       out  unsigned, bank address of this cycle's column (registered)
      v           out  signed vec word: the element read, or 0 when no column was issued
      first       out  1, v is column 0 of a row-block
      last        out  1, v is the last column of a row-block
      desc        out  BlockDescriptor of the block whose last column is on v
      dense_last  out  1, the dense step in flight is step T-1 (its y is y_{T-1})
    Latency: a column issued in cycle c (waddr, seq_raddr) is on v, first, last in
    cycle c + 1 (the bank and the buffer have registered reads).  The first column of
    a dense step waits while the previous step's y is held and not taken:

        clk         _/~~~\\___/~~~\\___/~~~\\___/~~~\\___/~~~\\___
        out.tvalid  ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\\_______    y_{t-1}, held
        out.tready  _________________________/~~~~~~~\\_______
        issue       _________________________/~~~~~~~~~~~~~~~    step t's column 0 goes
                                       y_{t-1} taken ^           with the take
    """
    if not isinstance(cfg, AutoencoderEngineConfig):
        raise TypeError(f"pass_sequencer: cfg must be an AutoencoderEngineConfig, "
                        f"got {type(cfg).__name__}")
    t_count = cfg.timesteps
    p = cfg.lanes
    n_pass = len(cfg.passes)
    dense_pass = n_pass - 1
    last_step = t_count - 1
    top = cfg.sequence_words - 1
    first_x = pass_tables(cfg)["x_base_next"][dense_pass]      # pass 0's first input address
    bits = register_bits(cfg)
    buf_bits = bits["buffer_address"]

    t_state = enum("LOAD", "RUN", "GAP")
    state = Signal(t_state.LOAD)

    step = Signal(unsigned_for(t_count))
    rblock = Signal(intbv(0)[bits["rblock"]:])
    col = Signal(intbv(0)[bits["col"]:])
    bias_blk = Signal(intbv(0)[bits["bias_blk"]:])
    x_row = Signal(intbv(first_x)[buf_bits:])
    x_ptr = Signal(intbv(first_x)[buf_bits:])
    h_row = Signal(intbv(0)[buf_bits:])
    h_ptr = Signal(intbv(0)[buf_bits:])
    gap_left = Signal(intbv(0)[bits["gap_left"]:])
    is_dense = Signal(bool(0))
    parity = Signal(bool(0))
    issue = Signal(bool(0))
    owed = Signal(bool(0))          # a dense step was issued and its y is not taken yet

    x_shift = cfg.pass_formats.shift("x")
    da_pass = Signal(unsigned_for(n_pass))      # v-cycle: the pass of the column on v
    v_x = Signal(bool(0))                       # v-cycle: the column is the pass's input

    # issue-aligned (v-cycle) copies of what the issued column belongs to
    v_zero = Signal(bool(0))
    da_first_step = Signal(bool(0))
    da_first_pass = Signal(bool(0))
    da_step0 = Signal(bool(0))
    da_parity = Signal(bool(0))
    da_dense = Signal(bool(0))

    @always_comb
    def comb_loading():
        loading.next = state == t_state.LOAD

    @always_comb
    def comb_issue():
        is_dense.next = pass_idx == dense_pass
        parity.next = pass_idx[0]
        if state != t_state.RUN:
            issue.next = 0
        elif (pass_idx == dense_pass and col == 0 and rblock == 0 and owed
              and not (out.tvalid and out.tready)):
            issue.next = 0      # the previous y is still held: wait for the host
        else:
            issue.next = 1

    @always_seq(clk.posedge, reset=rst)
    def seq_sequencer():
        first.next = 0
        last.next = 0
        if out.tvalid and out.tready:
            owed.next = 0
        if state == t_state.LOAD:
            if loaded:
                state.next = t_state.RUN
        elif state == t_state.GAP:
            if gap_left == 1:
                state.next = t_state.RUN
            gap_left.next = gap_left - 1
        elif issue:
            first.next = col == 0
            last.next = col == consts.cols_last
            if is_dense and col == 0 and rblock == 0:
                owed.next = 1
                dense_last.next = step == last_step
            if col == consts.cols_last:
                col.next = 0
                if rblock == consts.blocks_last:
                    rblock.next = 0
                    if step == last_step:
                        step.next = 0
                        x_row.next = consts.x_base_next
                        x_ptr.next = consts.x_base_next
                        # the next pass writes downwards from the top when it is odd
                        if parity or is_dense:
                            h_row.next = 0
                            h_ptr.next = 0
                        else:
                            h_row.next = top
                            h_ptr.next = top
                        if is_dense:
                            pass_idx.next = 0
                            waddr.next = 0
                            bias_blk.next = 0
                            state.next = t_state.LOAD
                        else:
                            pass_idx.next = pass_idx + 1
                            waddr.next = waddr + 1
                            bias_blk.next = bias_blk + p
                            if consts.gap_next != 0:
                                gap_left.next = consts.gap_next
                                state.next = t_state.GAP
                    else:
                        step.next = step + 1
                        waddr.next = consts.weight_base
                        bias_blk.next = consts.bias_base
                        if parity:      # odd pass: input upwards, own h downwards
                            x_row.next = x_row + consts.x_stride
                            x_ptr.next = x_row + consts.x_stride
                        else:
                            x_row.next = x_row - consts.x_stride
                            x_ptr.next = x_row - consts.x_stride
                        if step == 0:
                            h_ptr.next = h_row
                        elif parity:
                            h_row.next = h_row - consts.h_stride
                            h_ptr.next = h_row - consts.h_stride
                        else:
                            h_row.next = h_row + consts.h_stride
                            h_ptr.next = h_row + consts.h_stride
                        if consts.step_gap != 0:
                            gap_left.next = consts.step_gap
                            state.next = t_state.GAP
                else:
                    rblock.next = rblock + 1
                    waddr.next = waddr + 1
                    bias_blk.next = bias_blk + p
                    x_ptr.next = x_row
                    h_ptr.next = h_row
            else:
                col.next = col + 1
                waddr.next = waddr + 1
                if col < consts.x_last:
                    if parity:
                        x_ptr.next = x_ptr + 1
                    else:
                        x_ptr.next = x_ptr - 1
                elif col > consts.x_last:
                    if parity:
                        h_ptr.next = h_ptr - 1
                    else:
                        h_ptr.next = h_ptr + 1

    @always(clk.posedge)
    def seq_issue_align():
        # what the v-cycle needs to know about the element read this cycle; when nothing
        # is issued the lanes multiply 0, so their accumulators hold while idle
        v_zero.next = not issue or (step == 0 and col > consts.x_last)
        desc.bias.next = bias_blk
        da_first_step.next = rblock == 0
        da_first_pass.next = step == 0 and rblock == 0
        da_step0.next = step == 0
        da_parity.next = parity
        da_dense.next = is_dense

    @always_comb
    def comb_buffer_read():
        # one element per cycle: the input's or the pass's own h_prev
        if col <= consts.x_last:
            seq_raddr.next = x_ptr
        else:
            seq_raddr.next = h_ptr

    if x_shift.varies:
        # a pass's input read from the buffer is in the previous layer's vec format: it is
        # requantized into the pass's own on the way to the lanes (golden's requantize_between)
        x_extra = Signal(intbv(0, min=0, max=x_shift.span + 1))
        x_requantized = Signal(signed(len(seq_rdata)))
        x_fmt = cfg.datapath.fmts.vec
        x_table = rom(da_pass, x_extra, contents=x_shift.extra)
        x_table.name = "x_shift"
        to_input = requantize(clk, seq_rdata, x_requantized, from_frac=x_shift.base + x_fmt.frac_bits,
                              fmt=x_fmt, extra=x_extra, registered=False)
        to_input.name = "to_input"

        @always_comb
        def comb_vector():
            if v_zero:
                v.next = 0
            elif v_x:
                v.next = x_requantized
            else:
                v.next = seq_rdata
    else:
        @always_comb
        def comb_vector():
            if v_zero:
                v.next = 0
            else:
                v.next = seq_rdata

    @always(clk.posedge)
    def seq_descriptor():
        if last:
            desc.first_step.next = da_first_step
            desc.first_pass.next = da_first_pass
            desc.step0.next = da_step0
            desc.parity.next = da_parity
            desc.dense.next = da_dense

    if desc.pass_num is not None or x_shift.varies:
        @always(clk.posedge)
        def seq_pass_align():
            da_pass.next = pass_idx
            v_x.next = col <= consts.x_last

    if desc.pass_num is not None:
        @always(clk.posedge)
        def seq_pass_descriptor():
            if last:
                desc.pass_num.next = da_pass

    return instances()
