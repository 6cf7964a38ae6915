"""The whole-window engine: the complete LSTM autoencoder on one datapath, weights on chip.

Structure (one clock, synchronous active-high reset; see docs/whole_window.md)::

    in stream --> sequence buffer -----> v = [x; h_prev] --> 4 x window gate unit --+
      (T x F)     (input window and                           (P lanes, every pass's |
                  every layer's h: a pass's                    weights, biases)      |
                  input at one end, its            z (LSTM rows)   |   y (dense rows) |
                  output at the other) ^                           v                  |
                                       |      activation units (4, or at P = 1 one    |
                                       |      sigmoid + one tanh shared by the gates) |
                                       |                           v                  |
                                       +---- h' (row t) <---- cell update (c RAM)     |
    out stream <-- output register <-- y (4 per cycle) <------------------------------+

A sequencer runs the passes one after the other over the window: the LSTM layers
(encoder, then decoder; the first decoder layer re-reads the latent vector, row T-1 of
the last encoder layer's output, at every step) and the dense layer, whose rows are
spread over the four gate units.  Per-pass constants (sizes, bank and bias bases,
buffer strides, gaps) are elaboration-time tables indexed by the pass number.

See :func:`autoencoder_engine` for ports and timing, :mod:`hdl.autoencoder_config` for
the cycle formula and :mod:`golden.autoencoder_memory_map` for the memory map.
"""

from __future__ import annotations

from myhdl import (Signal, always, always_comb, always_seq, block, concat, enum, instances,
                   intbv, modbv)

from golden.activations import SIGMOID, TANH
from golden.formats import bits_for

from .activation_unit import activation_unit
from .autoencoder_config import PIPELINED_ACTIVATIONS, AutoencoderEngineConfig
from .cell_update import cell_update
from .config import activation_latency
from .dual_port_ram import dual_port_ram
from .gate_unit import gate_unit
from .signals import signed, unsigned_for


def pass_tables(cfg: AutoencoderEngineConfig) -> dict:
    """The sequencer's per-pass constants, as tuples of Python ints indexed by pass number.

    ``*_next`` tables hold the value of the pass that follows (pass 0 after the dense
    pass, i.e. the next window).  Sequence-buffer addresses: pass n's input was written
    upwards from 0 (n odd) or downwards from the top (n even; the input window too), so
    ``x_base`` is the address of its first element read and the strides are magnitudes.
    """
    passes = cfg.passes
    t = cfg.timesteps
    n_pass = len(passes)
    top = cfg.sequence_words - 1
    xbase = []
    for ps in passes:
        down = ps.index % 2 == 0            # written by an odd pass, or the input window
        first = (t - 1) * passes[ps.index - 1].hidden if ps.repeat else 0   # the latent row
        xbase.append(top - first if down else first)
    tabs = {
        "cols_last": [ps.columns - 1 for ps in passes],
        "x_last": [ps.inputs - 1 for ps in passes],
        "blocks_last": [ps.blocks - 1 for ps in passes],
        # strides move to the next row at a step's end (never used when T = 1)
        "x_stride": [0 if ps.repeat or t == 1 else ps.inputs for ps in passes],
        "h_stride": [0 if t == 1 else ps.hidden for ps in passes],
        "weight_base": [ps.weight_base for ps in passes],
        "bias_base": [ps.bias_base for ps in passes],
        "step_gap": [cfg.step_gap(n) if ps.kind == "lstm" else 0 for n, ps in enumerate(passes)],
        "x_base_next": [xbase[(n + 1) % n_pass] for n in range(n_pass)],
        "gap_next": [cfg.pass_gap(n + 1) if n + 1 < n_pass else 0 for n in range(n_pass)],
    }
    return {k: tuple(int(v) for v in vals) for k, vals in tabs.items()}


@block
def autoencoder_engine(clk, rst, in_tdata, in_tvalid, in_tready, in_tlast,
                       out_tdata, out_tvalid, out_tready, out_tlast,
                       wr_en, wr_addr, wr_data, *, cfg):
    """The autoencoder of golden.autoencoder.FixedAutoencoder over one window of T steps.

    encoder LSTM layers -> latent (last h) repeated T times -> decoder LSTM layers ->
    y_t = vec.requantize(h_t @ Wd + (bd << vec.frac), acc_frac) at every step.
    Each LSTM step: z = preact(x Wk + h Wr + (b << vec.frac)); c' = f c + i g;
    h' = o tanh(c') (golden.lstm_fixed), h = c = 0 at the start of every layer.

    Ports (F features, T steps; VW = vec word bits, WW = weight word bits)
      clk         in   1
      rst         in   1, synchronous, active high: clears the sequencer, the streams
                       and the partial window; weights are kept
      in_tdata    in   F*VW: x_t, element k in bits [(k+1)*VW-1 : k*VW], vec format
                       (e.g. Q2.14), two's complement
      in_tvalid   in   1
      in_tready   out  1, high in the F-th cycle of a beat while a window is loading
                       (element k is written into the sequence buffer in the beat's
                       k-th cycle; in_tdata must be held, as AXI4-Stream requires)
      in_tlast    in   1, the last step of a window; a beat with tlast before step T-1
                       drops the partial window (the next beat is step 0 again)
      out_tdata   out  F*VW: y_t, same packing, registered, held while not taken
      out_tvalid  out  1
      out_tready  in   1, back-pressure: the dense pass waits while a y is held
      out_tlast   out  1, on y_{T-1}
      wr_en       in   1, write one weight word (only while idle, between windows)
      wr_addr     in   word address (golden.autoencoder_memory_map: regions of
                       2^region_bits words; lane banks, then bias blocks)
      wr_data     in   WW, the weight's two's-complement word (e.g. Q4.12)

    Timing: a window is T beats taken F cycles apart (T*F cycles), then the passes
    run back to back; the dense pass streams y_0 .. y_{T-1} while it runs, and the
    next window is taken as soon as the dense pass has issued its last column.  The
    spacing of windows is cfg.cycles_per_window (hdl.autoencoder_config).

        clk        _/~\\_/~\\_/~\\_/~\\_ ... _/~\\_/~\\_ ... _/~\\_/~\\_
        in_tvalid  _/~~~~~~~~~~~~~~~~ ... ~~~~~~\\___ ... __________
        in_tready  _________/~~\\____ ... ___/~~\\___ ... __________   (F-th cycle of a beat)
        out_tvalid ________________ ... __________ ... _/~~\\____   (one y per dense step)
                        beat 0 taken ^   beat T-1 ^  passes ... ^ y_t
    """
    if not isinstance(cfg, AutoencoderEngineConfig):
        raise TypeError(f"autoencoder_engine: cfg must be an AutoencoderEngineConfig, "
                        f"got {type(cfg).__name__}")
    fm = cfg.fmts
    vw = fm.vec.word_bits
    f_count = cfg.features
    t_count = cfg.timesteps
    p = cfg.lanes
    passes = cfg.passes
    n_pass = len(passes)
    dense_pass = n_pass - 1
    tabs = pass_tables(cfg)
    seq_words = cfg.sequence_words
    buf_bits = bits_for(seq_words)
    top = seq_words - 1
    h_max = cfg.hidden_max
    og = cfg.out_groups
    last_group_words = f_count - 4 * (og - 1)       # outputs in the last group (1..4)
    last_shift = (f_count - 1) * vw
    last_step = t_count - 1
    last_group = og - 1
    last_c_row = h_max - 1

    stages = cfg.row_stages()
    shared = cfg.shared_activations
    i_z = stages["z"] - 1
    i_c_read = stages["c_read"] - 1                 # pipe bit i is stage S(i+1)
    i_act = stages["act"] - 1
    i_c = stages["c"] - 1
    i_h = stages["h"] - 1
    i_y = stages["z"] - 1

    t_state = enum("LOAD", "RUN", "GAP")
    state = Signal(t_state.LOAD)

    # ---- loading the window into the sequence buffer (downwards from the top)
    ld_shift = Signal(unsigned_for(last_shift + 1))
    ld_t = Signal(unsigned_for(t_count))
    ld_addr = Signal(intbv(top)[buf_bits:])
    load_we = Signal(bool(0))
    in_shifted = Signal(intbv(0)[f_count * vw:])
    in_word = Signal(signed(vw))

    # ---- sequencer
    pass_idx = Signal(unsigned_for(n_pass))
    step = Signal(unsigned_for(t_count))
    rblock = Signal(unsigned_for(max(ps.blocks for ps in passes)))
    col = Signal(unsigned_for(max(ps.columns for ps in passes)))
    waddr = Signal(unsigned_for(cfg.layout.bank_words))
    bias_blk = Signal(unsigned_for(cfg.layout.bias_words))
    x_row = Signal(intbv(tabs["x_base_next"][dense_pass])[buf_bits:])
    x_ptr = Signal(intbv(tabs["x_base_next"][dense_pass])[buf_bits:])
    h_row = Signal(intbv(0)[buf_bits:])
    h_ptr = Signal(intbv(0)[buf_bits:])
    gap_left = Signal(unsigned_for(max(max(tabs["step_gap"]), max(tabs["gap_next"])) + 1))
    is_dense = Signal(bool(0))
    parity = Signal(bool(0))
    issue = Signal(bool(0))
    owed = Signal(bool(0))          # a dense step was issued and its y is not taken yet
    dense_last = Signal(bool(0))    # the dense step in flight is step T-1

    # each table is as wide as the register it is compared with or added to (lint)
    widths = {"cols_last": len(col), "x_last": len(col), "blocks_last": len(rblock),
              "x_stride": buf_bits, "h_stride": buf_bits, "weight_base": len(waddr),
              "bias_base": len(bias_blk), "step_gap": len(gap_left), "x_base_next": buf_bits,
              "gap_next": len(gap_left)}
    tab = {name: Signal(intbv(0)[widths[name]:]) for name in tabs}
    cols_last_t, x_last_t, blocks_last_t = tab["cols_last"], tab["x_last"], tab["blocks_last"]
    x_stride_t, h_stride_t = tab["x_stride"], tab["h_stride"]
    weight_base_t, bias_base_t, step_gap_t = tab["weight_base"], tab["bias_base"], tab["step_gap"]
    x_base_next_t, gap_next_t = tab["x_base_next"], tab["gap_next"]
    rom_cols_last, rom_x_last, rom_blocks_last = tabs["cols_last"], tabs["x_last"], tabs["blocks_last"]
    rom_x_stride, rom_h_stride = tabs["x_stride"], tabs["h_stride"]
    rom_weight_base, rom_bias_base, rom_step_gap = tabs["weight_base"], tabs["bias_base"], tabs["step_gap"]
    rom_x_base_next, rom_gap_next = tabs["x_base_next"], tabs["gap_next"]

    # ---- issue-aligned (v-cycle) controls and block descriptors
    first_a = Signal(bool(0))
    last_a = Signal(bool(0))
    v_zero = Signal(bool(0))
    last_b = Signal(bool(0))
    da_bias = Signal(unsigned_for(cfg.layout.bias_words))
    da_first_step = Signal(bool(0))
    da_first_pass = Signal(bool(0))
    da_step0 = Signal(bool(0))
    da_parity = Signal(bool(0))
    da_dense = Signal(bool(0))
    db_first_step = Signal(bool(0))
    db_first_pass = Signal(bool(0))
    db_step0 = Signal(bool(0))
    db_parity = Signal(bool(0))
    db_dense = Signal(bool(0))
    bias_ctr = Signal(unsigned_for(cfg.layout.bias_words))
    post_issue = Signal(bool(0))

    # ---- row pipeline flags (bit i = stage S(i+1))
    p_valid = Signal(intbv(0)[i_h + 1:])
    p_first_pass = Signal(intbv(0)[i_h + 1:])
    p_parity = Signal(intbv(0)[i_h + 1:])
    p_first_step = Signal(intbv(0)[i_c + 1:])
    p_step0 = Signal(intbv(0)[i_act + 1:])
    d_valid = Signal(intbv(0)[i_y + 1:])
    d_first = Signal(intbv(0)[i_y + 1:])
    lstm_row = Signal(bool(0))
    dense_row = Signal(bool(0))
    first_row_step = Signal(bool(0))
    first_row_pass = Signal(bool(0))

    # ---- datapath
    v = Signal(signed(vw))
    z = [Signal(signed(fm.preact.word_bits)) for _ in range(4)]
    y = [Signal(signed(vw)) for _ in range(4)]
    act = [Signal(signed(fm.act.word_bits)) for _ in range(4)]
    c_read = Signal(signed(fm.preact.word_bits))
    c_prev = Signal(signed(fm.preact.word_bits))
    c_new = Signal(signed(fm.preact.word_bits))
    h_new = Signal(signed(vw))
    c_raddr = Signal(unsigned_for(h_max))
    c_rctr = Signal(unsigned_for(h_max))
    c_waddr = Signal(unsigned_for(h_max))
    c_wctr = Signal(unsigned_for(h_max))
    c_we = Signal(bool(0))
    h_waddr = Signal(intbv(0)[buf_bits:])
    h_wctr = Signal(modbv(0)[buf_bits:])
    h_we = Signal(bool(0))
    seq_we = Signal(bool(0))
    seq_waddr = Signal(intbv(0)[buf_bits:])
    seq_wdata = Signal(signed(vw))
    seq_raddr = Signal(intbv(0)[buf_bits:])
    seq_rdata = Signal(signed(vw))
    out_group = Signal(intbv(0, min=0, max=og + 1))
    out_group_ctr = Signal(intbv(0, min=0, max=og + 1))
    out_reg = Signal(intbv(0)[f_count * vw:])

    gates = [gate_unit(clk, wr_en, wr_addr, wr_data, waddr, bias_ctr, v, first_a, last_a,
                       z[g], y[g], gate=g, datapath=cfg.datapath, layout=cfg.layout,
                       bank="single_port", registered_sum=True)
             for g in range(4)]
    if shared:
        # one sigmoid unit takes z_i, z_f, z_o in turn (rows are at least 3 cycles apart);
        # one tanh unit takes z_g; i, f, g wait in registers for o
        z_i, z_f, z_g, z_o = z
        sig_in = Signal(signed(fm.preact.word_bits))
        sig_out = Signal(signed(fm.act.word_bits))
        tanh_out = Signal(signed(fm.act.word_bits))
        z_f_held = Signal(signed(fm.preact.word_bits))
        z_o_held = Signal(signed(fm.preact.word_bits))
        i_held = Signal(signed(fm.act.word_bits))
        f_held = Signal(signed(fm.act.word_bits))
        g_held = Signal(signed(fm.act.word_bits))
        sigmoid = activation_unit(clk, sig_in, sig_out, kind=SIGMOID, fmts=fm,
                                  pipelined=PIPELINED_ACTIVATIONS)
        squash = activation_unit(clk, z_g, tanh_out, kind=TANH, fmts=fm, pipelined=PIPELINED_ACTIVATIONS)
        cell = cell_update(clk, i_held, f_held, g_held, sig_out, c_prev, c_new, h_new, fmts=fm,
                           pipelined=PIPELINED_ACTIVATIONS)
    else:
        activations = [activation_unit(clk, z[g], act[g], kind=TANH if g == 2 else SIGMOID, fmts=fm,
                                       pipelined=PIPELINED_ACTIVATIONS)
                       for g in range(4)]
        cell = cell_update(clk, act[0], act[1], act[2], act[3], c_prev, c_new, h_new, fmts=fm,
                           pipelined=PIPELINED_ACTIVATIONS)
    c_memory = dual_port_ram(clk, c_we, c_waddr, c_new, c_raddr, c_read, base=0, depth=h_max)
    sequences = dual_port_ram(clk, seq_we, seq_waddr, seq_wdata, seq_raddr, seq_rdata, base=0,
                              depth=seq_words)

    # ------------------------------------------------------------ pass tables
    @always_comb
    def rom_pass_cols():
        cols_last_t.next = rom_cols_last[pass_idx]

    @always_comb
    def rom_pass_inputs():
        x_last_t.next = rom_x_last[pass_idx]

    @always_comb
    def rom_pass_blocks():
        blocks_last_t.next = rom_blocks_last[pass_idx]

    @always_comb
    def rom_pass_x_stride():
        x_stride_t.next = rom_x_stride[pass_idx]

    @always_comb
    def rom_pass_h_stride():
        h_stride_t.next = rom_h_stride[pass_idx]

    @always_comb
    def rom_pass_weight_base():
        weight_base_t.next = rom_weight_base[pass_idx]

    @always_comb
    def rom_pass_bias_base():
        bias_base_t.next = rom_bias_base[pass_idx]

    @always_comb
    def rom_pass_step_gap():
        step_gap_t.next = rom_step_gap[pass_idx]

    @always_comb
    def rom_pass_x_base_next():
        x_base_next_t.next = rom_x_base_next[pass_idx]

    @always_comb
    def rom_pass_gap_next():
        gap_next_t.next = rom_gap_next[pass_idx]

    # ------------------------------------------------------------- input side
    @always_comb
    def comb_input():
        in_tready.next = state == t_state.LOAD and ld_shift == last_shift
        load_we.next = state == t_state.LOAD and in_tvalid
        in_shifted.next = in_tdata >> ld_shift

    @always_comb
    def comb_input_word():
        in_word.next = in_shifted[vw:].signed()

    if f_count > 1:
        # the elements above the one being written: not needed (drained for lint)
        unused_in = Signal(intbv(0)[(f_count - 1) * vw:])

        @always_comb
        def comb_unused_in():
            unused_in.next = in_shifted[f_count * vw:vw]

    # ---------------------------------------------------------------- control
    @always_comb
    def comb_issue():
        is_dense.next = pass_idx == dense_pass
        parity.next = pass_idx[0]
        if state != t_state.RUN:
            issue.next = 0
        elif (pass_idx == dense_pass and col == 0 and rblock == 0 and owed
              and not (out_tvalid and out_tready)):
            issue.next = 0      # the previous y is still held: wait for the host
        else:
            issue.next = 1

    @always_seq(clk.posedge, reset=rst)
    def seq_sequencer():
        first_a.next = 0
        last_a.next = 0
        if out_tvalid and out_tready:
            owed.next = 0
        if state == t_state.LOAD:
            if in_tvalid:
                if ld_shift == last_shift:
                    ld_shift.next = 0
                    if ld_t == last_step:
                        ld_t.next = 0
                        ld_addr.next = top
                        state.next = t_state.RUN
                    elif in_tlast:
                        ld_t.next = 0
                        ld_addr.next = top
                    else:
                        ld_t.next = ld_t + 1
                        ld_addr.next = ld_addr - 1
                else:
                    ld_shift.next = ld_shift + vw
                    ld_addr.next = ld_addr - 1
        elif state == t_state.GAP:
            if gap_left == 1:
                state.next = t_state.RUN
            gap_left.next = gap_left - 1
        elif issue:
            first_a.next = col == 0
            last_a.next = col == cols_last_t
            if is_dense and col == 0 and rblock == 0:
                owed.next = 1
                dense_last.next = step == last_step
            if col == cols_last_t:
                col.next = 0
                if rblock == blocks_last_t:
                    rblock.next = 0
                    if step == last_step:
                        step.next = 0
                        x_row.next = x_base_next_t
                        x_ptr.next = x_base_next_t
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
                            if gap_next_t != 0:
                                gap_left.next = gap_next_t
                                state.next = t_state.GAP
                    else:
                        step.next = step + 1
                        waddr.next = weight_base_t
                        bias_blk.next = bias_base_t
                        if parity:      # odd pass: input upwards, own h downwards
                            x_row.next = x_row + x_stride_t
                            x_ptr.next = x_row + x_stride_t
                        else:
                            x_row.next = x_row - x_stride_t
                            x_ptr.next = x_row - x_stride_t
                        if step == 0:
                            h_ptr.next = h_row
                        elif parity:
                            h_row.next = h_row - h_stride_t
                            h_ptr.next = h_row - h_stride_t
                        else:
                            h_row.next = h_row + h_stride_t
                            h_ptr.next = h_row + h_stride_t
                        if step_gap_t != 0:
                            gap_left.next = step_gap_t
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
                if col < x_last_t:
                    if parity:
                        x_ptr.next = x_ptr + 1
                    else:
                        x_ptr.next = x_ptr - 1
                elif col > x_last_t:
                    if parity:
                        h_ptr.next = h_ptr - 1
                    else:
                        h_ptr.next = h_ptr + 1

    @always(clk.posedge)
    def seq_issue_align():
        # what the v-cycle needs to know about the element read this cycle; when nothing
        # is issued the lanes multiply 0, so their accumulators hold while idle
        v_zero.next = not issue or (step == 0 and col > x_last_t)
        da_bias.next = bias_blk
        da_first_step.next = rblock == 0
        da_first_pass.next = step == 0 and rblock == 0
        da_step0.next = step == 0
        da_parity.next = parity
        da_dense.next = is_dense

    # ------------------------------------------------------------- the vector
    @always_comb
    def comb_buffer_read():
        # one element per cycle: the input's or the pass's own h_prev
        if col <= x_last_t:
            seq_raddr.next = x_ptr
        else:
            seq_raddr.next = h_ptr

    @always_comb
    def comb_vector():
        if v_zero:
            v.next = 0
        else:
            v.next = seq_rdata

    # ------------------------------------------------------ drain descriptor
    @always(clk.posedge)
    def seq_descriptor():
        if last_a:
            db_first_step.next = da_first_step
            db_first_pass.next = da_first_pass
            db_step0.next = da_step0
            db_parity.next = da_parity
            db_dense.next = da_dense

    if p > 1:
        post_left = Signal(intbv(0, min=0, max=p))
        last_lane = p - 1
        # the bias address steps to the next lane's row while more rows follow
        more_rows = Signal(bool(0))

        if p > 2:
            @always_comb
            def comb_more_rows():
                more_rows.next = last_b or post_left > 1
        else:
            @always_comb
            def comb_more_rows():
                more_rows.next = last_b

        @always_seq(clk.posedge, reset=rst)
        def seq_drain():
            last_b.next = last_a
            if last_a:
                bias_ctr.next = da_bias
            elif more_rows:
                bias_ctr.next = bias_ctr + 1
            if last_b:
                post_left.next = last_lane
            elif post_left != 0:
                post_left.next = post_left - 1

        @always_comb
        def comb_post_issue():
            post_issue.next = last_b or post_left != 0
    else:
        @always_seq(clk.posedge, reset=rst)
        def seq_drain():
            last_b.next = last_a
            if last_a:
                bias_ctr.next = da_bias

        @always_comb
        def comb_post_issue():
            post_issue.next = last_b

    @always_comb
    def comb_rows():
        lstm_row.next = post_issue and not db_dense
        dense_row.next = post_issue and db_dense
        first_row_step.next = last_b and db_first_step
        first_row_pass.next = last_b and db_first_pass

    @always_seq(clk.posedge, reset=rst)
    def seq_row_flags():
        p_valid.next = concat(p_valid[i_h:], lstm_row)
        p_first_pass.next = concat(p_first_pass[i_h:], first_row_pass)
        p_parity.next = concat(p_parity[i_h:], db_parity)
        p_first_step.next = concat(p_first_step[i_c:], first_row_step)
        p_step0.next = concat(p_step0[i_act:], db_step0)
        d_valid.next = concat(d_valid[i_y:], dense_row)
        d_first.next = concat(d_first[i_y:], first_row_step)

    # ----------------------------------------------------- cell state, h write
    @always_comb
    def comb_cell_addresses():
        if p_first_step[i_c_read]:
            c_raddr.next = 0
        else:
            c_raddr.next = c_rctr
        if p_first_step[i_c]:
            c_waddr.next = 0
        else:
            c_waddr.next = c_wctr
        c_we.next = p_valid[i_c]
        if p_step0[i_act]:
            c_prev.next = 0
        else:
            c_prev.next = c_read

    @always_comb
    def comb_h_write():
        # even passes write their sequence upwards from 0, odd ones downwards from the top
        if p_first_pass[i_h]:
            if p_parity[i_h]:
                h_waddr.next = top
            else:
                h_waddr.next = 0
        else:
            h_waddr.next = h_wctr
        h_we.next = p_valid[i_h]

    @always(clk.posedge)
    def seq_row_counters():
        if p_valid[i_c_read]:
            if c_raddr == last_c_row:
                c_rctr.next = 0
            else:
                c_rctr.next = c_raddr + 1
        if p_valid[i_c]:
            if c_waddr == last_c_row:
                c_wctr.next = 0
            else:
                c_wctr.next = c_waddr + 1
        if p_valid[i_h]:
            if p_parity[i_h]:
                h_wctr.next = h_waddr - 1
            else:
                h_wctr.next = h_waddr + 1

    @always_comb
    def comb_buffer_write():
        if load_we:
            seq_we.next = 1
            seq_waddr.next = ld_addr
            seq_wdata.next = in_word
        else:
            seq_we.next = h_we
            seq_waddr.next = h_waddr
            seq_wdata.next = h_new

    if shared:
        # z_i, z_f, z_o enter the sigmoid unit at bits i_z, i_z + 1, i_z + 2 (bit i = S(i+1));
        # each result is taken the unit's latency later (o goes straight on at act)
        lat = activation_latency(PIPELINED_ACTIVATIONS)
        i_s3, i_s4 = i_z + 1, i_z + 2
        i_take_i, i_take_f = i_z + lat, i_z + 1 + lat

        @always_comb
        def comb_sigmoid_input():
            if p_valid[i_s3]:
                sig_in.next = z_f_held
            elif p_valid[i_s4]:
                sig_in.next = z_o_held
            else:
                sig_in.next = z_i

        @always(clk.posedge)
        def seq_shared_activations():
            if p_valid[i_z]:
                z_f_held.next = z_f
                z_o_held.next = z_o
            if p_valid[i_take_i]:
                i_held.next = sig_out
                g_held.next = tanh_out
            if p_valid[i_take_f]:
                f_held.next = sig_out

    # ----------------------------------------------------------- output side
    @always_comb
    def comb_group():
        if d_first[i_y]:
            out_group.next = 0
        else:
            out_group.next = out_group_ctr

    # Four outputs per cycle enter the output register from the top; the last group
    # brings the remaining 1..4, so output f ends in bits [(f+1)*VW-1 : f*VW].
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
            if d_valid[i_y] and out_group < last_group:
                out_reg.next = concat(full_words, out_reg[f_count * vw:4 * vw])
            elif d_valid[i_y] and out_group == last_group:
                out_reg.next = concat(last_words, out_reg[f_count * vw:last_group_words * vw])
    elif f_count > last_group_words:  # cannot happen: one group holds at most 4 outputs
        raise AssertionError("autoencoder_engine: output grouping")
    else:
        @always(clk.posedge)
        def seq_out_register():
            if d_valid[i_y] and out_group == 0:
                out_reg.next = last_words

    @always_seq(clk.posedge, reset=rst)
    def seq_output():
        if d_valid[i_y] and out_group < og:
            out_group_ctr.next = out_group + 1
        if out_tvalid and out_tready:
            out_tvalid.next = 0
        if d_valid[i_y] and out_group == last_group:
            out_tvalid.next = 1
            out_tlast.next = dense_last

    @always_comb
    def comb_out_data():
        out_tdata.next = out_reg

    return instances()
