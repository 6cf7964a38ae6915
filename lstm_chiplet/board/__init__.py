"""The iCEBreaker board: its top (PLL, pins), the host driver, and the link's figures.

* :mod:`.clocking`: the iCE40 PLL settings for a design clock, and the clock/baud check;
* :mod:`.top`: the iCEBreaker top module (PLL + the board core) and its ``.pcf``;
* :mod:`.driver`: the host side over a serial port (pyserial);
* :mod:`.figures`: bytes, line time and cycles per window (``lstm-chiplet board-link``).

See docs/board.md.
"""
