"""The board layer between the serial line's bytes and the host bridge (protocol in hdl.board_protocol)."""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, concat, instances, intbv

from .board_protocol import (CMD_CLEAR, CMD_IDENT, CMD_NOP, CMD_RESET, CMD_STATUS, FLAG_BAD_OPCODE, FLAG_BITS,
                             FLAG_FRAMING_ERROR, FLAG_RX_OVERRUN, FRAME_STATUS, RESET_CYCLES)
from .host_bridge import CMD_STEP, CMD_STEP_LAST, CMD_WRITE


@block
def board_link(clk, rst, rx_data, rx_valid, rx_pop, overrun, framing_error,
               tx_data, tx_valid, tx_ready,
               br_rx_data, br_rx_valid, br_rx_ready, br_tx_data, br_tx_valid, br_tx_ready,
               core_rst, flags, *, geo, ident):
    """Received bytes -> the bridge's commands or the board's own; bridge frames and board frames -> tx.

    It follows the bridge's command lengths (:class:`hdl.host_bridge.BridgeGeometry`)
    to know where each command starts, takes the board's commands there (IDENT,
    STATUS, CLEAR, RESET, NOP) and forwards everything else to the bridge; on the tx
    side it counts the bridge's frame bytes and puts a board frame only between two
    bridge frames.

    Ports
      clk, rst        in   1, rst synchronous active high (power-on reset)
      rx_data         in   8, oldest received byte (from the byte buffer)
      rx_valid        in   1
      rx_pop          out  1, the byte is taken (combinational)
      overrun         in   1, pulse: the byte buffer dropped a byte
      framing_error   in   1, pulse: the receiver dropped a frame
      tx_data         out  8, to the serial transmitter (combinational)
      tx_valid        out  1
      tx_ready        in   1, the transmitter is free
      br_rx_*         out/out/in: the bridge's rx byte stream
      br_tx_*         in/in/out: the bridge's tx byte stream
      core_rst        out  1, reset of the bridge and the engine: rst, or
                      RESET_CYCLES cycles after a RESET command
      flags           out  FLAG_BITS, the sticky status flags (a LED shows them)
    ``ident`` is the IDENT frame (:func:`hdl.board_protocol.ident_frame`), sent from a
    table.  Latency: a byte is forwarded in the cycle it is offered when the bridge is
    ready; a board frame starts one cycle after its command is taken, or after the
    bridge frame being sent ends.
    """
    write_len = geo.addr_bytes + geo.data_bytes
    step_len = geo.in_bytes
    frame_len = geo.step_tx_bytes
    ident = tuple(int(v) for v in ident)
    ident_last = len(ident) - 1
    pad_bits = 8 - FLAG_BITS
    if (FLAG_RX_OVERRUN, FLAG_FRAMING_ERROR, FLAG_BAD_OPCODE) != (1, 2, 4) or FLAG_BITS != 3:
        raise AssertionError("board_link: the flags are packed as bad, framing, overrun (bits 2..0)")

    remaining = Signal(intbv(0, min=0, max=max(write_len, step_len) + 1))   # payload bytes owed to the bridge
    reset_left = Signal(intbv(0, min=0, max=RESET_CYCLES + 1))
    in_reset = Signal(bool(0))
    forward = Signal(bool(0))
    consume = Signal(bool(0))
    bad_now = Signal(bool(0))
    sticky = Signal(intbv(0)[FLAG_BITS:])
    ident_pending = Signal(bool(0))
    status_pending = Signal(bool(0))
    replying = Signal(bool(0))
    reply_ident = Signal(bool(0))
    reply_idx = Signal(intbv(0, min=0, max=len(ident)))
    snapshot = Signal(intbv(0)[FLAG_BITS:])
    ident_byte = Signal(intbv(0)[8:])
    br_pos = Signal(intbv(0, min=0, max=frame_len))    # bytes of the current bridge frame sent
    blocked = Signal(bool(0))

    # ---------------------------------------------------------------- logic
    @always_comb
    def comb_reset():
        in_reset.next = rst or reset_left != 0
        core_rst.next = rst or reset_left != 0
        flags.next = sticky

    @always_comb
    def comb_parse():
        op = rx_data
        bridge_op = op == CMD_WRITE or op == CMD_STEP or op == CMD_STEP_LAST
        board_op = (op == CMD_NOP or op == CMD_IDENT or op == CMD_STATUS or op == CMD_CLEAR
                    or op == CMD_RESET)
        waits = (op == CMD_IDENT and ident_pending) or (op == CMD_STATUS and status_pending)
        fwd = rx_valid and not in_reset and (remaining != 0 or bridge_op)
        con = rx_valid and not in_reset and remaining == 0 and not bridge_op and not waits
        forward.next = fwd
        consume.next = con
        bad_now.next = con and not board_op
        br_rx_data.next = rx_data
        br_rx_valid.next = fwd
        rx_pop.next = (fwd and br_rx_ready) or con

    @always(clk.posedge)
    def seq_parse():
        if rst:
            remaining.next = 0
            reset_left.next = 0
        else:
            if reset_left != 0:
                reset_left.next = reset_left - 1
            if forward and br_rx_ready:
                if remaining != 0:
                    remaining.next = remaining - 1
                elif rx_data == CMD_WRITE:
                    remaining.next = write_len
                else:
                    remaining.next = step_len
            if consume and rx_data == CMD_RESET:
                reset_left.next = RESET_CYCLES

    @always_comb
    def comb_ident_rom():
        ident_byte.next = ident[reply_idx]

    @always_comb
    def comb_transmit():
        block_bridge = br_pos == 0 and (ident_pending or status_pending)
        blocked.next = block_bridge
        if replying:
            if reply_ident:
                tx_data.next = ident_byte
            elif reply_idx == 0:
                tx_data.next = FRAME_STATUS
            else:
                tx_data.next = concat(intbv(0)[pad_bits:], snapshot)
            tx_valid.next = 1
            br_tx_ready.next = 0
        else:
            tx_data.next = br_tx_data
            tx_valid.next = br_tx_valid and not block_bridge
            br_tx_ready.next = tx_ready and not block_bridge

    @always(clk.posedge)
    def seq_status():
        if rst:
            sticky.next = 0
            ident_pending.next = 0
            status_pending.next = 0
            replying.next = 0
            reply_ident.next = 0
            reply_idx.next = 0
            snapshot.next = 0
            br_pos.next = 0
        else:
            # tx: the bridge's frame position, and the board's frames between them
            if in_reset:
                br_pos.next = 0
            elif not replying and br_tx_valid and tx_ready and not blocked:
                if br_pos == frame_len - 1:
                    br_pos.next = 0
                else:
                    br_pos.next = br_pos + 1
            if replying:
                if tx_ready:
                    if (reply_ident and reply_idx == ident_last) or (not reply_ident and reply_idx == 1):
                        replying.next = 0
                    else:
                        reply_idx.next = reply_idx + 1
            elif blocked:
                replying.next = 1
                reply_idx.next = 0
                snapshot.next = sticky
                if ident_pending:
                    reply_ident.next = 1
                    ident_pending.next = 0
                else:
                    reply_ident.next = 0
                    status_pending.next = 0
            # flags (after the reply's start, so that a request in the same cycle stays)
            raised = concat(bad_now, framing_error, overrun)
            cleared = consume and (rx_data == CMD_CLEAR or rx_data == CMD_RESET)
            if cleared:
                sticky.next = raised
            else:
                sticky.next = sticky | raised
            if (raised | sticky) != sticky or (cleared and raised != 0):
                status_pending.next = 1
            if consume and rx_data == CMD_STATUS:
                status_pending.next = 1
            if consume and rx_data == CMD_IDENT:
                ident_pending.next = 1

    return instances()
