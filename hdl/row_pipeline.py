"""The whole-window engine's row pipeline after the gate units: activations, cell state, h write-back."""

from __future__ import annotations

from myhdl import Signal, always, always_comb, always_seq, block, concat, instances, intbv, modbv

from golden.activations import SIGMOID, TANH
from golden.lstm_float import GATES

from .activation_unit import activation_unit
from .autoencoder_config import PIPELINED_ACTIVATIONS, AutoencoderEngineConfig
from .cell_update import cell_update
from .config import activation_latency
from .dual_port_ram import dual_port_ram
from .rom import rom
from .signals import signed, unsigned_for


@block
def row_pipeline(clk, rst, last, desc, z, bias_addr, h_we, h_addr, h_data, y_valid, y_first,
                 extras=None, *, cfg):
    """i, f, o = sigmoid(z_i, z_f, z_o); g = tanh(z_g); c' = f c + i g; h' = o tanh(c').

    The rows of a finished row-block leave the gate units one per cycle (lane 0 first):
    this block counts them out (the bias address of each), carries each row's flags
    down the pipeline, and for an LSTM row runs the activations (golden.activations)
    and the cell update (golden.lstm_fixed), keeps c in the c RAM (row j at address j,
    c_prev = 0 in step 0) and writes h' into the sequence buffer: even passes upwards
    from address 0, odd passes downwards from the top, row after row.  A dense row
    only marks its gate units' y as valid for the output register.

    Ports (P lanes; Hmax = the widest layer)
      clk        in   1
      rst        in   1, synchronous, active high: clears the drain counter and the flags
      last       in   1, the last column of a row-block is on v (hdl.pass_sequencer)
      desc       in   BlockDescriptor of that block (bias base; step, pass, parity, dense)
      z          in   4 signed preact words (e.g. Q5.11 s16), the gate units' z (i, f, g, o)
      bias_addr  out  unsigned, bias-block address of the row leaving the drain chain
                      next cycle (registered)
      h_we       out  1, write h' (comb.)
      h_addr     out  unsigned, its sequence-buffer address (comb.)
      h_data     out  signed vec word (e.g. Q2.14 s16), h' (registered in the cell update)
      y_valid    out  1, the gate units' y holds a dense row (comb.)
      y_first    out  1, that row is the first of its step
      extras     out  PassExtras (only when the passes' binary points move,
                      hdl.pass_formats): the shifts ``bias`` and ``z`` of the row at S0,
                      for the gate units; the row pipeline takes ``act`` and ``h`` itself
    Latency: stages count from S0, the row's bias read, in cycle A + 1 + l for lane l
    when the block's last column is on v in cycle A (cfg.row_stages()): z and y in
    S(z), the activations in S(act), c' in S(c), and h' is written at the end of S(h),
    cycle A + 1 + l + S(h): A + 14 for lane 0 with four activation units, A + 16 with
    the shared ones (P = 1: one sigmoid unit takes z_i, z_f, z_o in three cycles, one
    tanh unit takes z_g).
    """
    if not isinstance(cfg, AutoencoderEngineConfig):
        raise TypeError(f"row_pipeline: cfg must be an AutoencoderEngineConfig, "
                        f"got {type(cfg).__name__}")
    fm = cfg.datapath.fmts
    p = cfg.lanes
    h_max = cfg.hidden_max
    top = cfg.sequence_words - 1
    last_c_row = h_max - 1
    buf_bits = len(h_addr)
    shared = cfg.shared_activations

    stages = cfg.row_stages()
    i_z = stages["z"] - 1
    i_c_read = stages["c_read"] - 1                 # flag bit i is stage S(i+1)
    i_act = stages["act"] - 1
    i_c = stages["c"] - 1
    i_h = stages["h"] - 1
    i_y = stages["z"] - 1

    last_b = Signal(bool(0))        # the lanes' accumulate stage: the block is finished
    post_issue = Signal(bool(0))    # a row leaves the drain chain (S0 next cycle)

    # ---- row flags (bit i = stage S(i+1))
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

    # ---- cell state and h write-back
    c_read = Signal(signed(fm.preact.word_bits))
    c_prev = Signal(signed(fm.preact.word_bits))
    c_new = Signal(signed(fm.preact.word_bits))
    c_raddr = Signal(unsigned_for(h_max))
    c_rctr = Signal(unsigned_for(h_max))
    c_waddr = Signal(unsigned_for(h_max))
    c_wctr = Signal(unsigned_for(h_max))
    c_we = Signal(bool(0))
    h_wctr = Signal(modbv(0)[buf_bits:])

    # ---- the binary points of the row's pass, where they move (hdl.pass_formats)
    pf = cfg.pass_formats
    moving = cfg.per_layer and bool(pf.varying)
    if moving:
        pass_bits = len(desc.pass_num)
        p_pass = Signal(intbv(0)[(i_act + 1) * pass_bits:])    # group i = stage S(i+1)

        def pass_at(i):
            return p_pass((i + 1) * pass_bits, i * pass_bits)

        def extra_signal(name):
            sh = pf.shift(name)
            return Signal(intbv(0, min=0, max=sh.span + 1)) if sh.varies else None

        # the ROMs (shift, pass number, extra): S0, the gate units' bias and z shifts;
        # S(z), the activation units (and the next two stages for a shared sigmoid
        # unit); S(act), the cell update
        act_z, act_c, h_c = extra_signal("act"), extra_signal("act"), extra_signal("h")
        act_s3 = extra_signal("act") if shared else None
        act_s4 = extra_signal("act") if shared else None
        wanted = [("bias", desc.pass_num, extras.bias), ("z", desc.pass_num, extras.z),
                  ("act", pass_at(i_z), act_z), ("act", pass_at(i_act), act_c),
                  ("h", pass_at(i_act), h_c)]
        if shared:
            wanted += [("act", pass_at(i_z + 1), act_s3), ("act", pass_at(i_z + 2), act_s4)]
        wanted = [(name, index, sig) for name, index, sig in wanted if sig is not None]
        roms = [rom(index, sig, contents=pf.shift(name).extra) for name, index, sig in wanted]

        @always(clk.posedge)
        def seq_pass_tags():
            p_pass.next = concat(p_pass[i_act * pass_bits:], desc.pass_num)
    else:
        act_z = act_c = h_c = None
    table_fmts = pf.table_formats if cfg.per_layer else None
    passes = pf if cfg.per_layer else None

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
        if act_z is not None:
            # the row whose z enters the sigmoid unit: as comb_sigmoid_input picks it
            sig_extra = Signal(intbv(0, min=0, max=act_z.max))
        else:
            sig_extra = None
        sigmoid = activation_unit(clk, sig_in, sig_out, kind=SIGMOID, fmts=fm,
                                  pipelined=PIPELINED_ACTIVATIONS, table_fmts=table_fmts,
                                  extra=sig_extra)
        sigmoid.name = "sigmoid_ifo"
        squash = activation_unit(clk, z_g, tanh_out, kind=TANH, fmts=fm, pipelined=PIPELINED_ACTIVATIONS,
                                 table_fmts=table_fmts, extra=act_z)
        squash.name = "tanh_g"
        cell = cell_update(clk, i_held, f_held, g_held, sig_out, c_prev, c_new, h_data, fmts=fm,
                           pipelined=PIPELINED_ACTIVATIONS, passes=passes, extra_c=act_c,
                           extra_h=h_c)
    else:
        act = [Signal(signed(fm.act.word_bits)) for _ in range(4)]
        activations = [activation_unit(clk, z[g], act[g], kind=TANH if g == 2 else SIGMOID, fmts=fm,
                                       pipelined=PIPELINED_ACTIVATIONS, table_fmts=table_fmts,
                                       extra=act_z)
                       for g in range(4)]
        for g in range(4):
            activations[g].name = f"{'tanh' if g == 2 else 'sigmoid'}_{GATES[g]}"
        cell = cell_update(clk, act[0], act[1], act[2], act[3], c_prev, c_new, h_data, fmts=fm,
                           pipelined=PIPELINED_ACTIVATIONS, passes=passes, extra_c=act_c,
                           extra_h=h_c)
    cell.name = "cell"
    c_state = dual_port_ram(clk, c_we, c_waddr, c_new, c_raddr, c_read, base=0, depth=h_max)
    c_state.name = "c_state"

    # ------------------------------------------------- drain: one row per cycle
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
            last_b.next = last
            if last:
                bias_addr.next = desc.bias
            elif more_rows:
                bias_addr.next = bias_addr + 1
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
            last_b.next = last
            if last:
                bias_addr.next = desc.bias

        @always_comb
        def comb_post_issue():
            post_issue.next = last_b

    # ------------------------------------------------------------- row flags
    @always_comb
    def comb_rows():
        lstm_row.next = post_issue and not desc.dense
        dense_row.next = post_issue and desc.dense
        first_row_step.next = last_b and desc.first_step
        first_row_pass.next = last_b and desc.first_pass

    @always_seq(clk.posedge, reset=rst)
    def seq_row_flags():
        p_valid.next = concat(p_valid[i_h:], lstm_row)
        p_first_pass.next = concat(p_first_pass[i_h:], first_row_pass)
        p_parity.next = concat(p_parity[i_h:], desc.parity)
        p_first_step.next = concat(p_first_step[i_c:], first_row_step)
        p_step0.next = concat(p_step0[i_act:], desc.step0)
        d_valid.next = concat(d_valid[i_y:], dense_row)
        d_first.next = concat(d_first[i_y:], first_row_step)

    @always_comb
    def comb_dense_rows():
        y_valid.next = d_valid[i_y]
        y_first.next = d_first[i_y]

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
                h_addr.next = top
            else:
                h_addr.next = 0
        else:
            h_addr.next = h_wctr
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
                h_wctr.next = h_addr - 1
            else:
                h_wctr.next = h_addr + 1

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

        if sig_extra is not None:
            @always_comb
            def comb_sigmoid_extra():
                if p_valid[i_s3]:
                    sig_extra.next = act_s3
                elif p_valid[i_s4]:
                    sig_extra.next = act_s4
                else:
                    sig_extra.next = act_z

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

    return instances()
