"""The board's side of the engine: serial line, board layer and host bridge, with reset and LEDs.

::

    rx pin -> uart_rx -> byte_fifo -> board_link -> host_bridge -> engine ports
    tx pin <- uart_tx <------------- board_link <- host_bridge <- engine ports

The engine itself is not inside: the board top (:mod:`lstm_chiplet.board.top`) wires
this block to the converted engine, and puts a PLL in front for the iCEBreaker.
"""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, instances, intbv

from .board_link import board_link
from .board_protocol import FLAG_BITS
from .byte_fifo import byte_fifo
from .host_bridge import host_bridge
from .uart import uart_rx, uart_tx


@block
def board_io(clk, rst_in, rx, tx, led_error, led_alive, core_rst,
             in_tdata, in_tvalid, in_tready, in_tlast,
             out_tdata, out_tvalid, out_tready, out_tlast,
             wr_en, wr_addr, wr_data, *, board):
    """Serial 8N1 at ``board.baud`` <-> the engine's streams and write port.

    Ports (``board``: :class:`hdl.board_config.BoardConfig`)
      clk        in   1, the design clock (board.clock_hz)
      rst_in     in   1, active high, any clock relation (PLL not locked, a button):
                 held through a 2-flop synchroniser into the power-on reset
      rx         in   1, serial line from the host (idle high)
      tx         out  1, serial line to the host (idle high, also at power-up)
      led_error  out  1, high while any status flag is set (hdl.board_protocol)
      led_alive  out  1, blinks at about 1 Hz: the clock runs and the reset is over
      core_rst   out  1, synchronous active-high reset for the engine: power-on,
                 rst_in, or the RESET command
      in_t*, out_t*, wr_*: the engine's ports, mirrored (hdl.host_bridge)
    Power-on reset: board.por_cycles cycles after configuration and after rst_in falls.
    """
    geo = board.geometry
    divisor = board.divisor
    por_max = board.por_cycles
    hb_bits = board.heartbeat_bits

    rst_meta = Signal(bool(0))
    rst_sync = Signal(bool(0))
    por_count = Signal(intbv(0, min=0, max=por_max + 1))
    rst = Signal(bool(0))
    rx_byte = Signal(intbv(0)[8:])
    rx_valid = Signal(bool(0))
    framing_error = Signal(bool(0))
    fifo_data = Signal(intbv(0)[8:])
    fifo_valid = Signal(bool(0))
    fifo_pop = Signal(bool(0))
    overrun = Signal(bool(0))
    tx_byte = Signal(intbv(0)[8:])
    tx_valid = Signal(bool(0))
    tx_ready = Signal(bool(0))
    br_rx_data = Signal(intbv(0)[8:])
    br_rx_valid = Signal(bool(0))
    br_rx_ready = Signal(bool(0))
    br_tx_data = Signal(intbv(0)[8:])
    br_tx_valid = Signal(bool(0))
    br_tx_ready = Signal(bool(0))
    flags = Signal(intbv(0)[FLAG_BITS:])
    heartbeat = Signal(intbv(0)[hb_bits:])

    receiver = uart_rx(clk, rst, rx, rx_byte, rx_valid, framing_error, divisor=divisor)
    buffer = byte_fifo(clk, rst, rx_byte, rx_valid, fifo_data, fifo_valid, fifo_pop, overrun,
                       depth=board.fifo_depth)
    link = board_link(clk, rst, fifo_data, fifo_valid, fifo_pop, overrun, framing_error,
                      tx_byte, tx_valid, tx_ready,
                      br_rx_data, br_rx_valid, br_rx_ready, br_tx_data, br_tx_valid, br_tx_ready,
                      core_rst, flags, geo=geo, ident=board.ident)
    transmitter = uart_tx(clk, rst, tx, tx_byte, tx_valid, tx_ready, divisor=divisor)
    bridge = host_bridge(clk, core_rst, br_rx_data, br_rx_valid, br_rx_ready,
                         br_tx_data, br_tx_valid, br_tx_ready,
                         in_tdata, in_tvalid, in_tready, in_tlast,
                         out_tdata, out_tvalid, out_tready, out_tlast,
                         wr_en, wr_addr, wr_data)

    # ---------------------------------------------------------------- logic
    @always(clk.posedge)
    def seq_power_on_reset():
        rst_meta.next = rst_in
        rst_sync.next = rst_meta
        if rst_sync:
            por_count.next = 0
        elif por_count != por_max:
            por_count.next = por_count + 1

    @always_comb
    def comb_reset():
        rst.next = por_count != por_max

    @always(clk.posedge)
    def seq_heartbeat():
        if rst:
            heartbeat.next = 0
        else:
            heartbeat.next = (heartbeat + 1) % (1 << hb_bits)

    @always_comb
    def comb_leds():
        led_error.next = flags != 0
        led_alive.next = heartbeat[hb_bits - 1]

    return instances()


def board_io_ports(board) -> dict:
    """Fresh signals for every port of :func:`board_io` (for benches and conversion)."""
    from .host_bridge import bridge_ports

    ports = {"clk": Signal(bool(0)), "rst_in": Signal(bool(0)), "rx": Signal(bool(1)),
             "tx": Signal(bool(1)), "led_error": Signal(bool(0)), "led_alive": Signal(bool(0)),
             "core_rst": Signal(bool(0))}
    engine_side = bridge_ports(board.geometry)
    for name in ("in_tdata", "in_tvalid", "in_tready", "in_tlast", "out_tdata", "out_tvalid",
                 "out_tready", "out_tlast", "wr_en", "wr_addr", "wr_data"):
        ports[name] = engine_side[name]
    return ports
