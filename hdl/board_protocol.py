"""The board layer's protocol over the serial line: the bridge's commands plus IDENT and status.

The bytes on the line are the host bridge's protocol (:mod:`hdl.host_bridge`: WRITE,
STEP, STEP_LAST and their tx frames ``0x80 | tlast, h``) with a few commands of the
board's own, recognised only where a command starts (never inside a payload) and
never passed to the bridge::

    host -> board, at a command boundary
      0x00 NOP        ignored (pads a half-received command to its end: resync)
      0x01..0x03      the bridge's WRITE, STEP, STEP_LAST and their payloads
      0x10 IDENT      -> IDENT frame
      0x11 STATUS     -> STATUS frame
      0x12 CLEAR      clears the sticky status flags
      0x13 RESET      resets the bridge and the engine (weights are kept) and clears
                      the flags; bytes after it are kept
      anything else   ignored, and sets BAD_OPCODE
    board -> host, whole frames only (a board frame never splits a bridge frame)
      0x80 | tlast    h (Y bytes)                 the bridge's output frame
      0xA0 IDENT      length, then the ident bytes (:func:`ident_bytes`)
      0xA1 STATUS     flags: bit 0 RX_OVERRUN, 1 FRAMING_ERROR, 2 BAD_OPCODE
                      (sent when asked, and unprompted whenever a flag newly sets)

:func:`ident_bytes` is what the board answers and what a driver expects of the model
it is about to load: format version, features, steps, lanes, the four port widths and
a digest of the engine configuration (topology, lanes, every format), so a board
holding another design is refused before any weight is sent.
"""

from __future__ import annotations

import hashlib
import json

CMD_NOP = 0x00
CMD_IDENT = 0x10
CMD_STATUS = 0x11
CMD_CLEAR = 0x12
CMD_RESET = 0x13
#: Opcodes the board consumes itself (all others at a boundary but the bridge's are bad).
BOARD_COMMANDS = (CMD_NOP, CMD_IDENT, CMD_STATUS, CMD_CLEAR, CMD_RESET)

FRAME_IDENT = 0xA0
FRAME_STATUS = 0xA1

FLAG_RX_OVERRUN = 0x01
FLAG_FRAMING_ERROR = 0x02
FLAG_BAD_OPCODE = 0x04
FLAG_NAMES = {FLAG_RX_OVERRUN: "receive overrun (a byte arrived while the board's buffer was full)",
              FLAG_FRAMING_ERROR: "framing error (a stop bit was low: wrong baud rate or a noisy line)",
              FLAG_BAD_OPCODE: "unknown command byte at a command boundary"}
#: Bits of the status byte the board uses.
FLAG_BITS = 3

#: Version of the IDENT layout below.
IDENT_VERSION = 1
#: Bytes of the configuration digest in IDENT.
DIGEST_BYTES = 4
#: Clock cycles the RESET command holds the bridge and the engine in reset.
RESET_CYCLES = 4


def config_digest(cfg) -> bytes:
    """First :data:`DIGEST_BYTES` of the SHA-256 of the engine configuration's dict."""
    text = json.dumps(cfg.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).digest()[:DIGEST_BYTES]


def ident_bytes(cfg, geo) -> tuple:
    """The IDENT payload for an :class:`hdl.autoencoder_config.AutoencoderEngineConfig`.

    ``version, F, T, P, in_bits (2 bytes), out_bits (2), addr_bits, data_bits,
    digest (4)``, multi-byte fields least significant byte first.
    """
    values = [IDENT_VERSION, cfg.features, cfg.timesteps, cfg.lanes]
    for name, v in (("features", cfg.features), ("timesteps", cfg.timesteps), ("lanes", cfg.lanes),
                    ("addr_bits", geo.addr_bits), ("data_bits", geo.data_bits)):
        if not 0 < v < 256:
            raise ValueError(f"board ident: {name} = {v} does not fit one byte")
    for v in (geo.in_bits, geo.out_bits):
        if not 0 < v < 65536:
            raise ValueError(f"board ident: a vector of {v} bits does not fit the ident")
        values += [v & 0xFF, v >> 8]
    values += [geo.addr_bits, geo.data_bits]
    values += list(config_digest(cfg))
    return tuple(int(v) for v in values)


def ident_frame(cfg, geo) -> tuple:
    """The whole IDENT frame: header, length, payload."""
    payload = ident_bytes(cfg, geo)
    return (FRAME_IDENT, len(payload)) + payload


#: Offset of the lanes byte inside the IDENT payload.
IDENT_LANES_AT = 3


def describe_ident(payload) -> str:
    """A readable line for an IDENT payload (for error messages)."""
    p = list(payload)
    if len(p) < 12:
        return f"a {len(p)}-byte ident {bytes(p).hex()}"
    return (f"version {p[0]}, F={p[1]}, T={p[2]}, P={p[3]}, in {p[4] | p[5] << 8} bits, "
            f"out {p[6] | p[7] << 8} bits, address {p[8]} bits, word {p[9]} bits, "
            f"digest {bytes(p[10:]).hex()}")


def describe_flags(flags: int) -> str:
    names = [text for bit, text in FLAG_NAMES.items() if flags & bit]
    return "; ".join(names) if names else "no error"


#: NOPs of a resync: enough to finish the longest payload of any design whose input
#: vector is up to 2,048 bits (the driver does not know the board's design yet).
RESYNC_NOPS = 256


def resync_bytes() -> list:
    """NOPs that finish any half-received bridge command, then RESET.

    A WRITE cut short finishes as a write of zeros (the weights are loaded again
    afterwards), a STEP cut short as a beat that the RESET then drops.
    """
    return [CMD_NOP] * RESYNC_NOPS + [CMD_RESET]
