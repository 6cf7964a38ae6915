"""The LSTM engine: one layer, weights on chip, one time step per input beat.

Structure (one clock, synchronous active-high reset)::

    in stream --> x register --+                    +--> 4 x activation unit --+
                               v = [x; h_prev] -->  | 4 x gate unit            |
    h double buffer (RAM) -----+   (one element      |   (P lanes, weight banks,|
                                    per cycle)       |    bias, requantize)     v
    c RAM <---------------------------------------- cell update (c', tanh, h') <-- c RAM
                                                         |
    out stream <-- output register <-- h assembly <------+--> h double buffer

See :func:`lstm_engine` for the ports, the timing and the handshakes, and
:mod:`hdl.config` for the cycle formula.
"""

from __future__ import annotations

from myhdl import (Signal, always, always_comb, always_seq, block, concat, enum, instances,
                   intbv)

from golden.activations import SIGMOID, TANH
from golden.lstm_float import GATES

from .activation_unit import activation_unit
from .cell_update import cell_update
from .config import ENGINE_Z_STAGE, EngineConfig, row_stages
from .gate_unit import gate_unit
from .signals import signed
from .dual_port_ram import dual_port_ram


@block
def lstm_engine(clk, rst, in_tdata, in_tvalid, in_tready, in_tlast,
                out_tdata, out_tvalid, out_tready, out_tlast,
                wr_en, wr_addr, wr_data, *, cfg):
    """One LSTM layer: per input beat x, h' and c' = step(x, h, c) with on-chip weights.

    acc = x @ Wk + h @ Wr + (b << vec.frac);  z = preact.requantize(acc, acc_frac)
    i, f, o = sigmoid(z_i, z_f, z_o);  g = tanh(z_g)        (golden.activations)
    c' = f*c + i*g;  h' = o*tanh(c')                        (golden.lstm_fixed)

    Ports (D inputs, H hidden, P lanes; VW = vec word bits, WW = weight word bits)
      clk         in   1
      rst         in   1, synchronous, active high: clears the controller, the
                       streams and the state (h = c = 0); weights are kept
      in_tdata    in   D*VW: x, element k in bits [(k+1)*VW-1 : k*VW], vec format
                       (e.g. Q2.14), two's complement
      in_tvalid   in   1
      in_tready   out  1, from registers only: high while idle, in a step's last
                       issue cycle or after it (once the step gap has passed) while
                       the output register is empty, low while an h waits for it
      in_tlast    in   1, last step of a sequence: h and c return to 0 after it
      out_tdata   out  H*VW: h', same packing (registered, held while not taken)
      out_tvalid  out  1
      out_tready  in   1, back-pressure: out_tdata/out_tlast hold while low
      out_tlast   out  1, the in_tlast of the step
      wr_en       in   1, write one weight word (only while idle)
      wr_addr     in   word address (golden.memory_map: lane banks, then biases)
      wr_data     in   WW, the weight's two's-complement word (e.g. Q4.12)

    Timing (hdl.config.EngineConfig): the beat taken at edge 0 yields out_tvalid
    sampled high at edge latency_cycles = (H/P)*(D+H) + P + step_overhead (12 with
    today's pipeline latencies; = cycles_per_step).
    The next beat is taken while that step drains: streaming back to back, with the
    host taking every h at once, beats are taken beat_spacing = (H/P)*(D+H) + step_gap
    edges apart, so latency_cycles > beat_spacing and every lane multiplies in every
    cycle.  step_gap (zero for every reference layer) is derived from the latencies:
    step t+1 reads h_prev[k] at column D+k of its first row-block, after step t wrote
    it; its rows read c after step t's wrote it; and a beat is taken only while the
    output register is empty, so a draining step's h never waits in the assembly
    register that the next step fills.  If an h is not taken, the next one waits in
    the assembly register (HOLD) and in_tready stays low until the first is taken.

        clk        _/~\\_/~\\_/~\\_ ... _/~\\_/~\\_/~\\_ ... _/~\\_/~\\_
        in_tvalid  ~~~~~~~~~~~~~~ ... ~~~~~~~~~~~~~ ... ~~~~~~~~~~
        in_tready  ~~~~\\_________ ... ___/~~~\\_____ ... __________   (last issue cycle)
        out_tvalid ______________ ... ____________ ... ___/~~~~\\__   (held until out_tready)
                       ^ beat 0 taken     ^ beat 1, beat_spacing later
                                                  ^ h_0, latency_cycles after beat 0

    Inside a step: 4 gate units x P lanes read weight (g, row rb*P+l, column k)
    and multiply it by v[k] = [x; h_prev][k]; a row-block of P rows takes D+H
    cycles, the step (H/P)*(D+H).  The rows of a finished block leave the lanes one
    per cycle through bias + requantize, the activation units and the cell update,
    overlapped with the next block; h' goes to the other half of the h double
    buffer and into the output shift register, c' back into the c RAM.  Step t+1's
    columns follow step t's last column in the next cycle (or step_gap cycles later):
    x from its own register, h_prev from the bank step t writes; each row-block carries
    its step's zero flag down the row pipeline (c_prev = 0 after a tlast step).
    """
    if not isinstance(cfg, EngineConfig):
        raise TypeError(f"lstm_engine: cfg must be an hdl.config.EngineConfig, got {type(cfg).__name__}")
    fm = cfg.fmts
    d, h, p = cfg.input_size, cfg.hidden_size, cfg.lanes
    vw = fm.vec.word_bits
    cols = cfg.columns
    last_col = cols - 1
    last_addr = cfg.bank_depth - 1
    rbits = cfg.row_bits
    last_row = h - 1
    last_lane = p - 1
    stages = row_stages(ENGINE_Z_STAGE)
    n_pipe = stages["h"]
    bit_c_read = stages["c_read"] - 1
    bit_act = stages["act"] - 1
    bit_c = stages["c"] - 1
    bit_h = stages["h"] - 1
    gap = cfg.step_gap
    gap_start = max(gap - 1, 0)     # TAIL cycles before in_tready may rise

    # RUN: columns issued; TAIL: all issued, the step drains; HOLD: its h waits in the
    # assembly register for the output register; IDLE: nothing in flight
    t_state = enum("IDLE", "RUN", "TAIL", "HOLD")
    state = Signal(t_state.IDLE)
    accept = Signal(bool(0))
    step_done = Signal(bool(0))     # the last h of a step is written in this cycle

    # ---- step sequencer: bank address, column k, h index
    waddr = Signal(intbv(0, min=0, max=cfg.bank_depth))
    col = Signal(intbv(0, min=0, max=cols))
    h_index = Signal(intbv(0)[rbits:])
    gap_left = Signal(intbv(0, min=0, max=gap + 1))
    first_a = Signal(bool(0))       # aligned with RAM read data (one cycle after issue)
    issue_a = Signal(bool(0))       # a column is on v (otherwise v is 0: idle lanes add 0)
    last_a = Signal(bool(0))
    from_x = Signal(bool(0))
    last_b = Signal(bool(0))        # the lanes' accumulate stage: block finished
    step_last = Signal(bool(1))     # tlast of the step accepted last (1: start from zero)
    drain_last = Signal(bool(0))    # tlast of the step whose rows drain
    zero_state = Signal(bool(1))    # the issuing step has h_prev = c_prev = 0
    zero_a = Signal(bool(0))        # ... aligned with v
    zero_b = Signal(bool(0))        # ... of the block whose rows drain
    zero_rows = Signal(intbv(0)[bit_act + 1:])  # ... of the row at stage S(i+1), bit i
    read_bank = Signal(bool(1))     # toggles when a beat is taken
    write_bank = Signal(bool(1))    # toggles when a step's last h is written

    # ---- vector v = [x; h_prev]
    x_words = Signal(intbv(0)[d * vw:])
    x_elem = Signal(signed(vw))
    h_read = Signal(signed(vw))
    v = Signal(signed(vw))
    h_raddr = Signal(intbv(0)[rbits + 1:])
    h_waddr = Signal(intbv(0)[rbits + 1:])

    # ---- row pipeline: S0 bias read .. S(n_pipe) h' registered
    post_left = Signal(intbv(0, min=0, max=p))
    post_issue = Signal(bool(0))
    post_row = Signal(intbv(0)[rbits:])
    pipe = Signal(intbv(0)[n_pipe:])
    c_read_row = Signal(intbv(0)[rbits:])
    c_write_row = Signal(intbv(0)[rbits:])
    h_row = Signal(intbv(0)[rbits:])
    c_write = pipe(bit_c)
    h_write = pipe(bit_h)
    c_read_issue = pipe(bit_c_read)

    z = [Signal(signed(fm.preact.word_bits)) for _ in range(4)]
    act = [Signal(signed(fm.act.word_bits)) for _ in range(4)]
    c_read = Signal(signed(fm.preact.word_bits))
    c_prev = Signal(signed(fm.preact.word_bits))
    c_new = Signal(signed(fm.preact.word_bits))
    h_new = Signal(signed(vw))
    assembly = Signal(intbv(0)[h * vw:])
    assembly_next = Signal(intbv(0)[h * vw:])

    # ---- datapath blocks
    gates = [gate_unit(clk, wr_en, wr_addr, wr_data, waddr, post_row, v, first_a, last_a, z[g],
                       gate=g, datapath=cfg.datapath, layout=cfg.layout)
             for g in range(4)]
    activations = [activation_unit(clk, z[g], act[g], kind=TANH if g == 2 else SIGMOID, fmts=fm)
                   for g in range(4)]
    for g in range(4):      # named in the HDL after the gate (i, f, g, o)
        gates[g].name = f"gate_{GATES[g]}"
        activations[g].name = f"{'tanh' if g == 2 else 'sigmoid'}_{GATES[g]}"
    cell = cell_update(clk, act[0], act[1], act[2], act[3], c_prev, c_new, h_new, fmts=fm)
    cell.name = "cell"
    c_memory = dual_port_ram(clk, c_write, c_write_row, c_new, c_read_row, c_read,
                             base=0, depth=h)
    c_memory.name = "c_state"
    h_memory = dual_port_ram(clk, h_write, h_waddr, h_new, h_raddr, h_read,
                             base=0, depth=2 << rbits)
    h_memory.name = "h_buffer"

    @always_comb
    def comb_handshake():
        accept.next = in_tvalid and in_tready
        post_issue.next = last_b or post_left != 0
        step_done.next = h_write and h_row == last_row

    # in_tready depends on registers only.  A beat is taken while the output register
    # is empty whenever a step will still finish after it (its h must not wait in the
    # assembly register the new step fills), and, with a step gap, only once the gap
    # has passed (EngineConfig.step_gap).
    if gap == 0:
        @always_comb
        def comb_ready():
            if state == t_state.IDLE:
                in_tready.next = 1
            elif state == t_state.RUN:
                in_tready.next = waddr == last_addr and not out_tvalid
            elif state == t_state.TAIL:
                in_tready.next = not out_tvalid
            else:
                in_tready.next = 0
    else:
        @always_comb
        def comb_ready():
            if state == t_state.IDLE:
                in_tready.next = 1
            elif state == t_state.TAIL:
                in_tready.next = gap_left == 0 and not out_tvalid
            else:
                in_tready.next = 0

    @always_comb
    def comb_vector():
        if not issue_a:
            v.next = 0
        elif from_x:
            v.next = x_elem
        elif zero_a:
            v.next = 0
        else:
            v.next = h_read

    @always_comb
    def comb_cell_prev():
        if zero_rows[bit_act]:
            c_prev.next = 0
        else:
            c_prev.next = c_read

    @always_comb
    def comb_h_addresses():
        h_raddr.next = concat(read_bank, h_index)
        h_waddr.next = concat(write_bank, h_row)

    if h > 1:
        @always_comb
        def comb_assemble():
            assembly_next.next = concat(h_new[vw:], assembly[h * vw:vw])
    else:
        @always_comb
        def comb_assemble():
            assembly_next.next = h_new[vw:]

    if d > 1:
        @always(clk.posedge)
        def seq_input():
            if accept:
                x_words.next = in_tdata
            elif state == t_state.RUN and col < d:
                x_elem.next = x_words[vw:].signed()
                x_words.next = concat(x_words[vw:], x_words[d * vw:vw])
    else:
        @always(clk.posedge)
        def seq_input():
            if accept:
                x_words.next = in_tdata
            elif state == t_state.RUN and col < d:
                x_elem.next = x_words[vw:].signed()

    @always(clk.posedge)
    def seq_assembly():
        if h_write:
            assembly.next = assembly_next

    @always_seq(clk.posedge, reset=rst)
    def seq_rows():
        last_b.next = last_a
        if last_a:
            zero_b.next = zero_a
        pipe.next = concat(pipe[n_pipe - 1:], post_issue)
        zero_rows.next = concat(zero_rows[bit_act:], zero_b)
        if last_b:
            post_left.next = last_lane
        elif post_left != 0:
            post_left.next = post_left - 1
        if post_issue:
            if post_row == last_row:
                post_row.next = 0
            else:
                post_row.next = post_row + 1
        if c_read_issue:
            if c_read_row == last_row:
                c_read_row.next = 0
            else:
                c_read_row.next = c_read_row + 1
        if c_write:
            if c_write_row == last_row:
                c_write_row.next = 0
            else:
                c_write_row.next = c_write_row + 1
        if h_write:
            if h_row == last_row:
                h_row.next = 0
            else:
                h_row.next = h_row + 1

    @always_seq(clk.posedge, reset=rst)
    def seq_control():
        first_a.next = 0
        last_a.next = 0
        from_x.next = 0
        issue_a.next = 0
        zero_a.next = zero_state
        if accept:
            # a new step: its h_prev is the last step's h (the bank that step writes)
            zero_state.next = step_last
            step_last.next = in_tlast
            read_bank.next = not read_bank
        if state == t_state.IDLE:
            if accept:
                state.next = t_state.RUN
        elif state == t_state.RUN:
            issue_a.next = 1
            first_a.next = col == 0
            last_a.next = col == last_col
            from_x.next = col < d
            if col == last_col:
                col.next = 0
                h_index.next = 0
            else:
                col.next = col + 1
                if col >= d:
                    h_index.next = h_index + 1
            if waddr == last_addr:
                waddr.next = 0
                drain_last.next = step_last
                if not accept:
                    gap_left.next = gap_start
                    state.next = t_state.TAIL
            else:
                waddr.next = waddr + 1
        elif state == t_state.TAIL:
            if gap_left != 0:
                gap_left.next = gap_left - 1
            if accept:
                state.next = t_state.RUN
            elif step_done and out_tvalid and not out_tready:
                state.next = t_state.HOLD
            elif step_done:
                state.next = t_state.IDLE
        elif out_tready:
            state.next = t_state.IDLE

    @always_seq(clk.posedge, reset=rst)
    def seq_output():
        if out_tvalid and out_tready:
            out_tvalid.next = 0
        if step_done:
            write_bank.next = not write_bank
            if out_tready or not out_tvalid:
                out_tdata.next = assembly_next
                out_tvalid.next = 1
                out_tlast.next = drain_last
        elif state == t_state.HOLD and out_tready:
            out_tdata.next = assembly
            out_tvalid.next = 1
            out_tlast.next = drain_last

    return instances()
