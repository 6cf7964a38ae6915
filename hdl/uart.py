"""Asynchronous serial line, 8N1: the bit timing, a receiver and a transmitter.

A frame on the line is idle-high; a start bit (0), eight data bits least significant
first, a stop bit (1), each ``divisor`` design clocks long::

    line  ~~~~~\\_____/~~~~~\\_____ ... /~~~~~~~~~~
               start  d0    d1          stop
               |<-D->|                            D = divisor clocks per bit

:class:`UartTiming` derives the divisor from the design clock and the baud rate (the
only place either is turned into the other) and refuses a pair whose integer divisor
misses the baud rate by more than :data:`MAX_BAUD_ERROR`.
"""

from __future__ import annotations

from dataclasses import dataclass

from myhdl import Signal, always, always_comb, block, concat, instances, intbv

from .signals import unsigned_for

#: Largest relative error of the bit time a divisor may make.  The receiver samples
#: mid-bit, so the far end tolerates a drift of half a bit over the 9.5 bits to the
#: stop bit's middle (about 5 %), shared between both ends' clock errors and the one
#: clock of sampling jitter; a 1 % share leaves the rest to the far end.
MAX_BAUD_ERROR = 0.01
#: Fewest clocks per bit: the 2-flop synchroniser delays the line by two clocks and
#: mid-bit sampling needs a middle.
MIN_DIVISOR = 4
#: Bits per frame on the line (start, 8 data, stop).
FRAME_BITS = 10


@dataclass(frozen=True)
class UartTiming:
    """The design clock and the baud rate, and the divisor between them.

    Parameters
    ----------
    clock_hz : float
        The design clock (what the PLL makes, not what was asked of it).
    baud : int
        Bits per second on the line.

    Raises
    ------
    ValueError
        The integer divisor is below :data:`MIN_DIVISOR` or misses ``baud`` by more
        than :data:`MAX_BAUD_ERROR` (the message gives both figures).
    """

    clock_hz: float
    baud: int

    def __post_init__(self):
        if not self.clock_hz > 0:
            raise ValueError(f"uart: the design clock must be positive, got {self.clock_hz!r} Hz")
        if isinstance(self.baud, bool) or not isinstance(self.baud, int) or self.baud < 1:
            raise ValueError(f"uart: baud must be a positive integer, got {self.baud!r}")
        if self.divisor < MIN_DIVISOR:
            raise ValueError(f"uart: {self.baud} baud at a {self.clock_hz / 1e6:g} MHz clock is "
                             f"{self.clock_hz / self.baud:.2f} clocks per bit; at least {MIN_DIVISOR} "
                             "are needed")
        if abs(self.error) > MAX_BAUD_ERROR:
            raise ValueError(f"uart: a {self.clock_hz / 1e6:g} MHz clock cannot make {self.baud} baud: "
                             f"{self.divisor} clocks per bit give {self.actual_baud:.0f} baud, "
                             f"{100 * self.error:+.2f} % off (at most {100 * MAX_BAUD_ERROR:g} %)")

    @property
    def divisor(self) -> int:
        """Design clocks per bit."""
        return max(1, round(self.clock_hz / self.baud))

    @property
    def actual_baud(self) -> float:
        return self.clock_hz / self.divisor

    @property
    def error(self) -> float:
        """Relative error of the achieved baud rate."""
        return self.actual_baud / self.baud - 1.0

    @property
    def byte_cycles(self) -> int:
        """Design clocks one byte occupies on the line."""
        return FRAME_BITS * self.divisor

    def seconds(self, nbytes: int) -> float:
        """Line time of ``nbytes`` bytes back to back."""
        return nbytes * FRAME_BITS / self.actual_baud


@block
def uart_rx(clk, rst, line, data, valid, framing_error, *, divisor):
    """One received byte per frame: ``data`` = d7..d0 of the frame, shown for one cycle.

    Ports
      clk            in   1
      rst            in   1, synchronous, active high: back to idle
      line           in   1, the serial line (asynchronous to clk)
      data           out  8, the byte, valid with ``valid``
      valid          out  1, one-cycle pulse: a frame ended with a good stop bit
      framing_error  out  1, one-cycle pulse: the stop bit was low (the byte is
                     dropped); the receiver then waits for the line to go high, so a
                     break (a line held low) counts once
    Latency: ``valid`` pulses in the middle of the stop bit, 2 clocks of
    synchroniser plus ~9.5 bit times after the start bit's falling edge.  A start bit
    that is no longer low in its middle is taken for a glitch and ignored.

    The line goes through two flip-flops before use; they hold its inverse so that
    their power-up value (zero) is the idle line.
    """
    if divisor < MIN_DIVISOR:
        raise ValueError(f"uart_rx: divisor must be at least {MIN_DIVISOR}, got {divisor}")
    if len(data) != 8:
        raise ValueError("uart_rx: data must be 8 bits wide")
    half = divisor // 2 - 1
    last_tick = divisor - 1
    st_idle, st_start, st_data, st_stop, st_break = range(5)
    low_meta = Signal(bool(0))         # first synchroniser flop (inverted line)
    low = Signal(bool(0))              # second: the line is low
    state = Signal(intbv(st_idle, min=0, max=5))
    tick = Signal(unsigned_for(divisor))
    bit = Signal(intbv(0, min=0, max=8))
    shift = Signal(intbv(0)[8:])

    # ---------------------------------------------------------------- logic
    @always(clk.posedge)
    def seq_synchronise():
        low_meta.next = not line
        low.next = low_meta

    @always(clk.posedge)
    def seq_receive():
        valid.next = 0
        framing_error.next = 0
        if rst:
            state.next = st_idle
            tick.next = 0
            bit.next = 0
        elif state == st_idle:
            if low:
                state.next = st_start
                tick.next = half
        elif tick != 0:
            tick.next = tick - 1
        elif state == st_start:
            if low:
                state.next = st_data
                tick.next = last_tick
                bit.next = 0
            else:
                state.next = st_idle
        elif state == st_data:
            shift.next = concat(not low, shift[8:1])
            tick.next = last_tick
            if bit == 7:
                state.next = st_stop
            else:
                bit.next = bit + 1
        elif state == st_stop:
            if low:
                framing_error.next = 1
                state.next = st_break
            else:
                valid.next = 1
                state.next = st_idle
        else:                               # st_break: wait for the idle line
            if not low:
                state.next = st_idle

    @always_comb
    def comb_data():
        data.next = shift

    return instances()


@block
def uart_tx(clk, rst, line, data, valid, ready, *, divisor):
    """Sends ``data`` as one 8N1 frame when ``valid`` and ``ready`` are both high.

    Ports
      clk    in   1
      rst    in   1, synchronous, active high: abandons a frame, the line goes idle
      line   out  1, the serial line (registered; idle high, also at power-up)
      data   in   8, the byte, taken with valid & ready
      valid  in   1
      ready  out  1, combinational: no frame is being sent
    Latency: the start bit begins on the edge after the byte is taken; the frame takes
    10 * divisor clocks, after which ``ready`` is high again (back-to-back frames
    leave no idle time).
    """
    if divisor < 1:
        raise ValueError(f"uart_tx: divisor must be positive, got {divisor}")
    if len(data) != 8:
        raise ValueError("uart_tx: data must be 8 bits wide")
    last_tick = divisor - 1
    line_low = Signal(bool(0))         # the line's inverse: zero at power-up is idle
    busy = Signal(bool(0))
    tick = Signal(unsigned_for(divisor))
    bits_left = Signal(intbv(0, min=0, max=FRAME_BITS))
    shift = Signal(intbv(0)[9:])       # data bits then the stop bit, sent from bit 0

    # ---------------------------------------------------------------- logic
    @always_comb
    def comb_outputs():
        ready.next = not busy
        line.next = not line_low

    @always(clk.posedge)
    def seq_send():
        if rst:
            busy.next = 0
            line_low.next = 0
            tick.next = 0
            bits_left.next = 0
        elif not busy:
            if valid:
                busy.next = 1
                line_low.next = 1          # the start bit
                shift.next = concat(True, data)
                tick.next = last_tick
                bits_left.next = FRAME_BITS - 1
        elif tick != 0:
            tick.next = tick - 1
        elif bits_left == 0:
            busy.next = 0                  # the stop bit has lasted its time
        else:
            line_low.next = not shift[0]
            shift.next = concat(True, shift[9:1])
            bits_left.next = bits_left - 1
            tick.next = last_tick

    return instances()
