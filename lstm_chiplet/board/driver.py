"""Host driver of the board: serial port, IDENT check, weights, windows in, reconstructions out.

:class:`BoardDriver` speaks the board protocol (:mod:`hdl.board_protocol` around the
host bridge's, :mod:`hdl.host_bridge`) over a serial port (pyserial; any path that
behaves as one, such as the simulation's pseudo-terminal, :mod:`cosim.board`):

1. :meth:`~BoardDriver.identify` resynchronises the board (NOPs that finish any
   half-received command, then RESET) and reads its IDENT frame;
2. :meth:`~BoardDriver.attach` compares it with what the model's design would answer
   and refuses another design before a weight is sent;
3. :meth:`~BoardDriver.load_weights` writes the memory image
   (:func:`golden.autoencoder_memory_map.autoencoder_image`, the image the rtl
   backend writes) as WRITE commands, then asks for the status;
4. :meth:`~BoardDriver.reconstruct` sends one window (T STEP commands), reads its T
   output frames, and only then sends the next (the protocol the board's receive
   buffer is sized for), then asks for the status again.

Every wait has a deadline; a board that does not answer raises :class:`BoardTimeout`
naming the port and what was awaited.  A status frame with a flag set (overrun,
framing error, bad command) raises :class:`BoardError` with the flags spelled out.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from hdl.board_config import DEFAULT_BAUD
from hdl.board_protocol import (CMD_IDENT, CMD_STATUS, FRAME_IDENT, FRAME_STATUS, IDENT_LANES_AT,
                                describe_flags, describe_ident, ident_frame, resync_bytes)
from hdl.host_bridge import TX_HEADER

#: Seconds any one answer may take on a real board (a window's line time and compute
#: are milliseconds; the simulation is slower and passes its own figure).
DEFAULT_TIMEOUT = 5.0
#: Seconds the driver lets the board settle after a RESET before it reads.
SETTLE_SECONDS = 0.05
#: Bytes the driver skips while looking for the IDENT frame (leftovers of an aborted run).
MAX_SKIP = 65536
#: Bytes per write call (progress is reported between them).
WRITE_CHUNK = 4096


class BoardError(RuntimeError):
    """The board cannot be used, or it reported an error (the message says which)."""


class BoardTimeout(BoardError):
    """The board did not answer in time."""


class BoardDriver:
    """One board on one serial port.

    Parameters
    ----------
    port : str
        Serial device (``/dev/ttyUSB1`` for the iCEBreaker's second FTDI channel, a
        pseudo-terminal in simulation).
    baud : int
    timeout : float
        Seconds each awaited answer may take.
    """

    def __init__(self, port: str, baud: int = DEFAULT_BAUD, timeout: float = DEFAULT_TIMEOUT):
        import serial

        self.port_name = str(port)
        self.baud = int(baud)
        self.timeout = float(timeout)
        self.geometry = None
        self.engine = None
        if "://" not in self.port_name and not Path(self.port_name).exists():
            raise BoardError(f"board port {self.port_name} does not exist (is the board plugged in? "
                             "the iCEBreaker's UART is usually the second FTDI channel, /dev/ttyUSB1)")
        try:
            self.serial = serial.serial_for_url(self.port_name, baudrate=self.baud, timeout=0.05,
                                                write_timeout=self.timeout)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise BoardError(f"board port {self.port_name}: cannot open it at {self.baud} baud ({exc})") from None

    # ------------------------------------------------------------- plumbing
    def close(self) -> None:
        if self.serial is not None:
            self.serial.close()
            self.serial = None

    def __enter__(self) -> "BoardDriver":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _write(self, data) -> None:
        import serial

        try:
            self.serial.write(bytes(data))
            self.serial.flush()
        except serial.SerialTimeoutException:
            raise BoardTimeout(f"board on {self.port_name}: could not send within {self.timeout:g} s") from None
        except (serial.SerialException, OSError) as exc:
            raise BoardError(f"board on {self.port_name}: write failed ({exc})") from None

    def _read(self, n: int, what: str, timeout: Optional[float] = None) -> bytes:
        """Exactly ``n`` bytes, or :class:`BoardTimeout` naming ``what``."""
        import serial

        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        got = bytearray()
        while len(got) < n:
            try:
                got += self.serial.read(n - len(got))
            except (serial.SerialException, OSError) as exc:
                raise BoardError(f"board on {self.port_name}: read failed while awaiting {what} ({exc})") from None
            if len(got) < n and time.monotonic() > deadline:
                raise BoardTimeout(f"board on {self.port_name}: no answer within {limit:g} s while awaiting "
                                   f"{what} ({len(got)} of {n} bytes received)")
        return bytes(got)

    def _status_error(self, flags: int, what: str) -> BoardError:
        return BoardError(f"board on {self.port_name} reported an error while {what}: "
                          f"{describe_flags(flags)} (status 0x{flags:02x})")

    # --------------------------------------------------------------- protocol
    def identify(self) -> tuple:
        """Resynchronise the board and return its IDENT payload."""
        self._write(resync_bytes())
        time.sleep(SETTLE_SECONDS)
        self.serial.reset_input_buffer()
        self._write([CMD_IDENT])
        skipped = 0
        while True:
            head = self._read(1, "the IDENT frame (does the port lead to the board, at this baud rate?)")[0]
            if head == FRAME_IDENT:
                break
            skipped += 1
            if skipped > MAX_SKIP:
                raise BoardError(f"board on {self.port_name}: {skipped} bytes without an IDENT frame")
        length = self._read(1, "the IDENT length")[0]
        return tuple(self._read(length, "the IDENT payload"))

    def attach(self, engine_cfg, payload=None) -> None:
        """Check that the board holds the design of ``engine_cfg``
        (:class:`hdl.autoencoder_config.AutoencoderEngineConfig`); raise otherwise."""
        from hdl.host_bridge import BridgeGeometry

        geo = BridgeGeometry(engine_cfg.in_bits, engine_cfg.out_bits, engine_cfg.addr_bits,
                             engine_cfg.weight_bits)
        payload = self.identify() if payload is None else tuple(payload)
        want = ident_frame(engine_cfg, geo)[2:]
        if payload != want:
            raise BoardError(f"board on {self.port_name} holds another design ({describe_ident(payload)}); "
                             f"this model needs {describe_ident(want)}: build and flash it with "
                             "lstm-chiplet synth --board icebreaker --model ...")
        self.geometry = geo
        self.engine = engine_cfg

    @staticmethod
    def lanes_of(payload) -> int:
        """The lanes per gate unit an IDENT payload announces."""
        if len(payload) <= IDENT_LANES_AT:
            raise BoardError(f"IDENT payload too short: {describe_ident(payload)}")
        return int(payload[IDENT_LANES_AT])

    def status(self) -> int:
        """The board's sticky status flags (0 when all is well)."""
        self._write([CMD_STATUS])
        head = self._read(1, "the STATUS frame")[0]
        if head != FRAME_STATUS:
            raise BoardError(f"board on {self.port_name}: byte 0x{head:02x} where the STATUS frame was "
                             "awaited: the link lost framing")
        return self._read(1, "the STATUS flags")[0]

    def _require_attached(self) -> None:
        if self.geometry is None:
            raise BoardError("board driver: attach() a design before loading weights or windows")

    def load_weights(self, image, progress: Optional[Callable[[int, int], None]] = None) -> None:
        """Write every ``(addr, word)`` of ``image``; then check the status."""
        self._require_attached()
        geo = self.geometry
        data = bytearray()
        for addr, word in image:
            data += bytes(geo.encode_write(addr, word))
        for a in range(0, len(data), WRITE_CHUNK):
            self._write(data[a:a + WRITE_CHUNK])
            if progress is not None:
                progress(min(a + WRITE_CHUNK, len(data)), len(data))
        flags = self.status()
        if flags:
            raise self._status_error(flags, "loading the weights")

    def _read_output(self, what: str):
        geo = self.geometry
        head = self._read(1, what)[0]
        if head & 0xFE == TX_HEADER:
            body = self._read(geo.out_bytes, what)
            return geo.decode_frames(bytes([head]) + body)[0]
        if head == FRAME_STATUS:
            raise self._status_error(self._read(1, "the STATUS flags")[0], f"awaiting {what}")
        raise BoardError(f"board on {self.port_name}: byte 0x{head:02x} where {what} was awaited: "
                         "the link lost framing")

    def reconstruct(self, x_int, progress: Optional[Callable[[int, int], None]] = None) -> np.ndarray:
        """Windows (N, T, F) of vec-format integers -> their reconstruction, the same shape."""
        from cosim.verilog import pack_words, unpack_words

        self._require_attached()
        e, geo = self.engine, self.geometry
        x = np.asarray(x_int, dtype=np.int64)
        n, t, f = x.shape
        out = np.zeros((n, t, f), dtype=np.int64)
        vw = e.vec_bits
        if progress is not None:
            progress(0, n)
        for w in range(n):
            cmd = bytearray()
            for s in range(t):
                cmd += bytes(geo.encode_step(pack_words(x[w, s], vw), s == t - 1))
            self._write(cmd)
            for s in range(t):
                value, last = self._read_output(f"output {s} of window {w}")
                if last != (s == t - 1):
                    raise BoardError(f"board on {self.port_name}: output {s} of window {w} has "
                                     f"tlast={int(last)}, expected {int(s == t - 1)}")
                out[w, s] = unpack_words(value, f, vw)
            if progress is not None:
                progress(w + 1, n)
        flags = self.status()
        if flags:
            raise self._status_error(flags, "streaming the windows")
        return out
