"""The board layer (UART, buffer, board commands, bridge) in MyHDL simulation, pins driven bit by bit.

The host side is a line model written from the 8N1 frame; the engine side is a stub
whose in_tready and output beats the test controls.  Expected bytes are written out
from the protocol's definition (hdl.board_protocol), not computed by the blocks' code.
"""

import pytest
from myhdl import StopSimulation, always, block, delay, instance

from golden.autoencoder import AutoencoderConfig
from hdl.autoencoder_config import AutoencoderEngineConfig
from hdl.board_config import BoardConfig
from hdl.board_io import board_io, board_io_ports
from hdl.board_protocol import config_digest

DIVISOR = 4
BOARD = BoardConfig(AutoencoderEngineConfig(AutoencoderConfig(), 1), clock_hz=12e6, baud=3_000_000)


def frame(byte, stop=1):
    return [0] + [(byte >> k) & 1 for k in range(8)] + [stop]


@block
def bench(host_frames, got, writes, beats, *, ready_after=0, out_beat=None, cycles=6000):
    """``host_frames``: level lists sent back to back after the power-on reset;
    ``ready_after``: cycle from which the engine stub takes beats (None: never)."""
    p = board_io_ports(BOARD)
    dut = board_io(**p, board=BOARD)
    clk, rx, tx = p["clk"], p["rx"], p["tx"]
    count = [0]

    @always(delay(5))
    def clock():
        clk.next = not clk

    @instance
    def host_send():
        for _ in range(BOARD.por_cycles + 8):
            yield clk.negedge
        for levels in host_frames:
            for level in levels:
                rx.next = bool(level)
                for _ in range(DIVISOR):
                    yield clk.negedge
        rx.next = 1

    @instance
    def host_receive():
        while True:
            yield clk.posedge
            if tx:
                continue
            for _ in range(DIVISOR // 2):
                yield clk.posedge
            assert not tx, "start bit not low in its middle"
            value = 0
            for k in range(8):
                for _ in range(DIVISOR):
                    yield clk.posedge
                value |= int(tx) << k
            for _ in range(DIVISOR):
                yield clk.posedge
            assert tx, "stop bit low"
            got.append(value)

    @always(clk.posedge)
    def engine_stub():
        count[0] += 1
        if count[0] > cycles:
            raise StopSimulation
        p["in_tready"].next = ready_after is not None and count[0] >= ready_after
        if p["wr_en"]:
            writes.append((int(p["wr_addr"]), int(p["wr_data"])))
        if p["in_tvalid"] and p["in_tready"]:
            beats.append((int(p["in_tdata"]), bool(p["in_tlast"])))
        if out_beat is not None and count[0] == out_beat[0]:
            p["out_tdata"].next = out_beat[1]
            p["out_tvalid"].next = 1
            p["out_tlast"].next = 1
        elif p["out_tready"]:
            p["out_tvalid"].next = 0

    return dut, clock, host_send, host_receive, engine_stub


def run(frames, **kw):
    got, writes, beats = [], [], []
    b = bench(frames, got, writes, beats, **kw)
    b.run_sim(quiet=True)
    b.quit_sim()
    return got, writes, beats


def test_ident_answers_the_geometry_and_digest_and_status_is_clear():
    got, _, _ = run([frame(0x10), frame(0x11)])
    digest = list(config_digest(BOARD.engine))
    # header, length 14: version 1, F=6, T=24, P=1, in 96 bits, out 96 bits, addr 17, word 16, digest
    assert got == [0xA0, 14, 1, 6, 24, 1, 96, 0, 96, 0, 17, 16] + digest + [0xA1, 0x00]


def test_write_is_forwarded_and_board_opcodes_inside_a_payload_are_data():
    # WRITE addr = 0x011110 (3 bytes: 10 11 01), word = 0x1213 (13 12): every payload byte a board opcode
    got, writes, _ = run([frame(b) for b in (0x01, 0x10, 0x11, 0x01, 0x13, 0x12)] + [frame(0x11)])
    assert writes == [(0x011110, 0x1213)]
    assert got == [0xA1, 0x00]           # only the STATUS asked for after the WRITE


def test_step_reaches_the_engine_with_tlast():
    payload = list(range(1, 13))
    _, _, beats = run([frame(0x03)] + [frame(b) for b in payload])
    assert beats == [(sum(b << (8 * k) for k, b in enumerate(payload)), True)]


def test_unknown_opcode_is_reported_unprompted_then_cleared():
    got, _, _ = run([frame(0x55), frame(0x12), frame(0x11)])
    assert got == [0xA1, 0x04, 0xA1, 0x00]


def test_framing_error_is_reported():
    got, _, _ = run([frame(0x11, stop=0), [1] * 4, frame(0x11)])
    assert got == [0xA1, 0x02, 0xA1, 0x02]


def test_overrun_is_reported_when_the_engine_never_takes_the_beat():
    step = [frame(0x02)] + [frame(0) for _ in range(12)]
    depth = BOARD.fifo_depth
    # NOPs would be taken by the board layer itself; the next STEP's bytes wait for the bridge
    got, _, beats = run(step + [frame(0x02)] + [frame(0)] * depth, ready_after=None, cycles=8000)
    assert beats == []
    assert got == [0xA1, 0x01]


def test_no_overrun_when_the_engine_takes_beats_late_within_the_buffer():
    step = [frame(0x02)] + [frame(0) for _ in range(12)]
    depth = BOARD.fifo_depth
    # the beat waits until (depth - 1) more bytes have arrived: they fit the buffer
    late = BOARD.por_cycles + 8 + 10 * DIVISOR * (13 + depth - 1)
    got, _, beats = run(step + step + [frame(0x11)], ready_after=late, cycles=9000)
    assert len(beats) == 2
    assert got == [0xA1, 0x00]


def test_a_board_frame_never_splits_an_output_frame():
    h = sum((0x40 + k) << (8 * k) for k in range(12))
    start = BOARD.por_cycles + 8
    got, _, _ = run([frame(0x10)], out_beat=(start + 2, h), cycles=8000)
    out = [0x81] + [0x40 + k for k in range(12)]
    ident = [0xA0, 14, 1, 6, 24, 1, 96, 0, 96, 0, 17, 16] + list(config_digest(BOARD.engine))
    assert got == out + ident


@pytest.mark.parametrize("depth", [3, 1])
def test_fifo_depth_must_be_a_power_of_two(depth):
    with pytest.raises(ValueError, match="fifo_depth"):
        BoardConfig(BOARD.engine, 12e6, 3_000_000, depth)
