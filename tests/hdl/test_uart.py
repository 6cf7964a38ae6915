"""The 8N1 receiver and transmitter in MyHDL simulation against a line model written from the frame's definition."""

import pytest
from hypothesis import given, strategies as st
from myhdl import Signal, StopSimulation, always, block, delay, instance, intbv

from hdl.uart import MAX_BAUD_ERROR, MIN_DIVISOR, UartTiming, uart_rx, uart_tx


def line_levels(byte: int, stop: int = 1) -> list:
    """The frame's bit levels in order: start 0, d0..d7, stop (written out, not shifted)."""
    return [0] + [(byte >> k) & 1 for k in range(8)] + [stop]


def frame_segments(frames, bit_cycles, gap_cycles):
    """(level, cycles) segments of ``frames`` sent ``bit_cycles`` per bit, idle between them."""
    segs = []
    for levels in frames:
        segs += [(lv, bit_cycles) for lv in levels] + [(1, gap_cycles)]
    return segs


@block
def rx_bench(segments, divisor, got, errors):
    """Drive the line through ``segments`` ((level, cycles), cycles may be fractional:
    a slightly wrong baud rate) and record what the receiver reports."""
    clk, rst, line = Signal(bool(0)), Signal(bool(0)), Signal(bool(1))
    data, valid, ferr = Signal(intbv(0)[8:]), Signal(bool(0)), Signal(bool(0))
    dut = uart_rx(clk, rst, line, data, valid, ferr, divisor=divisor)

    @always(delay(5))
    def clock():
        clk.next = not clk

    @instance
    def drive():
        for _ in range(3):
            yield clk.negedge
        t = 0.0
        for level, cycles in segments:
            line.next = bool(level)
            t += cycles
            while t >= 1.0:
                yield clk.negedge
                t -= 1.0
        line.next = 1
        for _ in range(4 * divisor):
            yield clk.negedge
        raise StopSimulation

    @always(clk.posedge)
    def record():
        if valid:
            got.append(int(data))
        if ferr:
            errors.append(len(got))

    return dut, clock, drive, record


def run_rx(segments, divisor):
    got, errors = [], []
    bench = rx_bench(segments, divisor, got, errors)
    bench.run_sim(quiet=True)
    bench.quit_sim()
    return got, errors


@given(st.lists(st.integers(0, 255), min_size=1, max_size=6), st.sampled_from([4, 8, 12]),
       st.sampled_from([-MAX_BAUD_ERROR, 0.0, MAX_BAUD_ERROR]))
def test_rx_takes_every_byte_at_the_baud_rate_and_its_tolerance(values, divisor, error):
    segs = frame_segments([line_levels(v) for v in values], divisor * (1 + error), 0)  # back to back
    got, errors = run_rx(segs, divisor)
    assert got == values
    assert errors == []


def test_rx_reports_a_low_stop_bit_and_drops_the_byte():
    frames = [line_levels(0x5A), line_levels(0xC3, stop=0), line_levels(0x81)]
    got, errors = run_rx(frame_segments(frames, 8, 24), 8)
    assert got == [0x5A, 0x81]
    assert errors == [1]             # after the first byte, before the third


def test_rx_counts_a_break_once():
    got, errors = run_rx([(0, 400), (1, 24)] + frame_segments([line_levels(0x42)], 8, 24), 8)
    assert errors == [0]
    assert got == [0x42]


def test_rx_ignores_a_glitch_shorter_than_half_a_bit():
    got, errors = run_rx([(0, 2), (1, 30)] + frame_segments([line_levels(0x17)], 8, 24), 8)
    assert got == [0x17]
    assert errors == []


@block
def tx_bench(values, divisor, levels):
    clk, rst, line = Signal(bool(0)), Signal(bool(0)), Signal(bool(1))
    data, valid, ready = Signal(intbv(0)[8:]), Signal(bool(0)), Signal(bool(0))
    dut = uart_tx(clk, rst, line, data, valid, ready, divisor=divisor)

    @always(delay(5))
    def clock():
        clk.next = not clk

    @instance
    def feed():
        for v in values:
            data.next = v
            valid.next = 1
            yield clk.posedge
            while not ready:
                yield clk.posedge
            yield clk.negedge
            while True:            # the byte was taken at the edge that saw ready
                if not ready:
                    break
                yield clk.negedge
            valid.next = 0
        for _ in range(12 * divisor):
            yield clk.posedge
        raise StopSimulation

    @always(clk.posedge)
    def sample():
        levels.append(int(line))

    return dut, clock, feed, sample


def decode_exact(levels, divisor):
    """Bytes of a line sampled every cycle, checking that every bit lasts exactly ``divisor`` cycles."""
    out, i = [], 0
    while i < len(levels):
        if levels[i] == 1:
            i += 1
            continue
        frame = levels[i:i + 10 * divisor]
        assert len(frame) == 10 * divisor, "frame cut short"
        bits = [frame[k * divisor:(k + 1) * divisor] for k in range(10)]
        for k, b in enumerate(bits):
            assert len(set(b)) == 1, f"bit {k} changes inside its {divisor} cycles: {b}"
        assert bits[0][0] == 0 and bits[9][0] == 1
        out.append(sum(bits[1 + k][0] << k for k in range(8)))
        i += 10 * divisor
    return out


@pytest.mark.parametrize("divisor", [4, 8, 12], ids=lambda d: f"div{d}")
def test_tx_sends_each_byte_with_exact_bit_times(divisor):
    values = [0x00, 0xFF, 0xA5, 0x01, 0x80]
    levels = []
    bench = tx_bench(values, divisor, levels)
    bench.run_sim(quiet=True)
    bench.quit_sim()
    assert levels[0] == 1
    assert decode_exact(levels, divisor) == values


def test_timing_derives_the_divisor_and_refuses_a_clock_that_misses_the_baud_rate():
    assert UartTiming(24e6, 3_000_000).divisor == 8
    assert UartTiming(36e6, 3_000_000).divisor == 12
    assert UartTiming(24e6, 3_000_000).byte_cycles == 80
    with pytest.raises(ValueError, match=r"28\.125 MHz clock cannot make 3000000 baud.*\+4\.17 %"):
        UartTiming(28.125e6, 3_000_000)
    with pytest.raises(ValueError, match=f"at least {MIN_DIVISOR}"):
        UartTiming(6e6, 3_000_000)
    assert UartTiming(28.125e6, 1_000_000).divisor == 28          # 0.45 % off: accepted
