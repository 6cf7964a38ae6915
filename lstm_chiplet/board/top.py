"""The iCEBreaker top: the PLL in front of the board core, and the pin constraints.

This is the one place where the PLL exists.  Simulation (:mod:`cosim.board`) runs the
board core with the simulation clock as the design clock; only this wrapper, for
synthesis, makes the design clock from the 12 MHz oscillator with an
``SB_PLL40_PAD`` (the oscillator arrives on the PLL's own pad, pin 35) and holds the
core in reset until the PLL has locked.

Pins (iCEBreaker, UP5K SG48; the board's public pinout)::

    CLK     35  12 MHz oscillator
    RX       6  FTDI channel B TX -> FPGA (host to board)
    TX       9  FPGA -> FTDI channel B RX (board to host)
    LEDR_N  11  red LED, active low: a status flag is set (overrun, framing, command)
    LEDG_N  37  green LED, active low: blinks at about 1 Hz when clocked and out of reset
"""

from __future__ import annotations

#: Top-level port -> package pin.
ICEBREAKER_PINS = {"CLK": 35, "RX": 6, "TX": 9, "LEDR_N": 11, "LEDG_N": 37}
#: What each pin carries (for the docs and the report).
PIN_ROLES = {"CLK": "12 MHz oscillator (PLL input pad)", "RX": "serial from the host (FTDI channel B TX)",
             "TX": "serial to the host (FTDI channel B RX)", "LEDR_N": "red LED, low = a status flag is set",
             "LEDG_N": "green LED, low/high at about 1 Hz = running"}


def pcf_text() -> str:
    lines = ["# iCEBreaker pins of the board top (lstm_chiplet.board.top)"]
    lines += [f"set_io -nowarn {name} {pin}" for name, pin in ICEBREAKER_PINS.items()]
    return "\n".join(lines) + "\n"


def icebreaker_verilog(board, pll) -> str:
    """The top module ``board.top_module``: PLL (``pll``: :class:`.clocking.PllSettings`) + core."""
    lines = [f"// {board.top_module}: the iCEBreaker top (lstm_chiplet.board.top).",
             f"// Design clock {pll.output_hz / 1e6:g} MHz from the {pll.input_hz / 1e6:g} MHz oscillator; "
             f"{board.baud} baud, {board.divisor} clocks per bit.",
             f"module {board.top_module} (CLK, RX, TX, LEDR_N, LEDG_N);",
             "input CLK;", "input RX;", "output TX;", "output LEDR_N;", "output LEDG_N;",
             "wire clk;", "wire locked;", "wire led_error;", "wire led_alive;"]
    if pll.used:
        lines += ["SB_PLL40_PAD #(",
                  '    .FEEDBACK_PATH("SIMPLE"),',
                  f"    .DIVR(4'd{pll.divr}), .DIVF(7'd{pll.divf}), .DIVQ(3'd{pll.divq}),",
                  f"    .FILTER_RANGE(3'd{pll.filter_range})",
                  ") pll (",
                  "    .PACKAGEPIN(CLK), .PLLOUTGLOBAL(clk), .LOCK(locked),",
                  "    .RESETB(1'b1), .BYPASS(1'b0)",
                  ");"]
    else:
        lines += ["assign clk = CLK;", "assign locked = 1'b1;"]
    lines += [f"{board.core_module} core (",
              "    .clk(clk), .rst_in(~locked), .rx(RX), .tx(TX),",
              "    .led_error(led_error), .led_alive(led_alive)",
              ");",
              "assign LEDR_N = ~led_error;",
              "assign LEDG_N = ~led_alive;",
              "endmodule", ""]
    return "\n".join(lines)
