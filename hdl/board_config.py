"""What a board build is: the engine, the design clock, the baud rate and the receive buffer.

:class:`BoardConfig` derives everything the board's blocks, the harness and the host
driver share from those four: the serial timing (:class:`hdl.uart.UartTiming`), the
bridge's byte counts (:class:`hdl.host_bridge.BridgeGeometry`), the IDENT frame, the
module names and the link's bytes and line time per window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .board_protocol import config_digest, ident_frame
from .host_bridge import BridgeGeometry
from .uart import UartTiming

#: Serial rate of the board: the FT2232H makes 3 Mbaud exactly (its 12 MHz x 4 / 16
#: base), and a design clock of a multiple of 3 MHz divides it exactly.
DEFAULT_BAUD = 3_000_000
#: Receive buffer bytes.  Under the documented protocol (a window, then wait for its
#: outputs) the bridge stalls the received bytes only while the engine takes a beat
#: (F cycles, far less than one byte time), so a few bytes absorb any stall; an
#: overrun is reported, never silent.
DEFAULT_FIFO_DEPTH = 4
#: Power-on reset: held this long after configuration (and after the PLL locks).
POR_SECONDS = 10e-6


@dataclass(frozen=True)
class BoardConfig:
    """The board layer around one whole-window engine.

    Parameters
    ----------
    engine : hdl.autoencoder_config.AutoencoderEngineConfig
    clock_hz : float
        The design clock (the PLL's output, or the simulation's clock).
    baud : int
    fifo_depth : int
        Bytes of the receive buffer (a power of two).
    """

    engine: object
    clock_hz: float
    baud: int = DEFAULT_BAUD
    fifo_depth: int = DEFAULT_FIFO_DEPTH

    def __post_init__(self):
        self.timing      # refuses a clock that cannot make the baud rate
        d = self.fifo_depth
        if isinstance(d, bool) or not isinstance(d, int) or d < 2 or d & (d - 1):
            raise ValueError(f"board: fifo_depth must be a power of two of at least 2, got {d!r}")

    @property
    def timing(self) -> UartTiming:
        return UartTiming(self.clock_hz, self.baud)

    @property
    def divisor(self) -> int:
        return self.timing.divisor

    @property
    def geometry(self) -> BridgeGeometry:
        e = self.engine
        return BridgeGeometry(e.in_bits, e.out_bits, e.addr_bits, e.weight_bits)

    @property
    def ident(self) -> tuple:
        """The IDENT frame the board sends (header, length, payload)."""
        return ident_frame(self.engine, self.geometry)

    @property
    def por_cycles(self) -> int:
        return max(2, math.ceil(self.clock_hz * POR_SECONDS))

    @property
    def heartbeat_bits(self) -> int:
        """Counter bits whose top bit blinks a LED at about 1 Hz."""
        return max(2, round(math.log2(self.clock_hz)))

    @property
    def tag(self) -> str:
        return f"{config_digest(self.engine).hex()}_div{self.divisor}_fifo{self.fifo_depth}"

    @property
    def io_module(self) -> str:
        """Module name of :func:`hdl.board_io.board_io` for this configuration."""
        return f"board_io_{self.tag}"

    @property
    def core_module(self) -> str:
        """The board top without the PLL: board layer and engine (what simulation runs)."""
        return f"board_core_{self.tag}"

    @property
    def top_module(self) -> str:
        """The iCEBreaker top: PLL, then :attr:`core_module`."""
        return f"icebreaker_{self.tag}"

    def link(self) -> dict:
        """Bytes and line time of one window each way, and the engine's cycles beside them."""
        e, g, t = self.engine, self.geometry, self.timing
        steps = e.timesteps
        rx = steps * g.step_rx_bytes
        tx = steps * g.step_tx_bytes
        return {"baud": self.baud, "divisor": t.divisor, "clock_hz": self.clock_hz,
                "bytes_in_per_window": rx, "bytes_out_per_window": tx,
                "line_seconds_in": t.seconds(rx), "line_seconds_out": t.seconds(tx),
                "line_cycles_in": rx * t.byte_cycles, "line_cycles_out": tx * t.byte_cycles,
                "engine_cycles_per_window": e.cycles_per_window,
                "engine_seconds_per_window": e.cycles_per_window / self.clock_hz}

    def to_dict(self) -> dict:
        return {"engine": self.engine.to_dict(), "clock_hz": self.clock_hz, "baud": self.baud,
                "fifo_depth": self.fifo_depth}
