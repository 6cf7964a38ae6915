"""A tiny stream design with the LSTM engine's port shape, to test the co-simulation kit.

``stream_accumulator`` keeps one saturating running sum per element: for each input
beat ``x`` (``n`` signed words of ``word_bits``) it emits ``s = sat(s + x + w)`` where
``w`` are ``n`` weights written through the memory-mapped port (weight k at address
k); after a beat with ``tlast`` the sums return to zero.  A latency counter makes a
step take :func:`toy_cycles_per_step` cycles from the input handshake to
``out_tvalid``, so cycle counting, back-pressure and mid-step reset have something to
bite on.  It lives with the tests: it is a fixture of the co-simulation kit, not part
of the product.

Run as a script to convert: ``python toy_design.py OUTDIR N WORD_BITS LATENCY``
(conversion runs in its own process so generated names are repeatable).
"""

from __future__ import annotations

import sys

from myhdl import ConcatSignal, ResetSignal, Signal, always_comb, always_seq, block, instances, intbv


def toy_name(n: int, word_bits: int, latency: int) -> str:
    return f"toy_accumulator_n{n}_w{word_bits}_l{latency}"


def toy_cycles_per_step(latency: int) -> int:
    """Handshake edge -> first edge that samples out_tvalid high."""
    return latency + 2


def toy_reference(weights, beats, word_bits):
    """Python model: list of (x tuple, last) -> list of output tuples."""
    lo, hi = -(1 << (word_bits - 1)), (1 << (word_bits - 1)) - 1
    s = [0] * len(weights)
    out = []
    for x, last in beats:
        s = [min(hi, max(lo, a + b + w)) for a, b, w in zip(s, x, weights)]
        out.append(tuple(s))
        if last:
            s = [0] * len(weights)
    return out


@block
def accumulator_lane(clk, rst, x_word, y_word, capture, load, clear, wr_en, wr_addr, wr_data,
                     *, index, word_bits):
    """One element: x <= x_word on capture; s, y <= sat(s + x + w) on load; s <= 0 on clear."""
    lo, hi = -(1 << (word_bits - 1)), (1 << (word_bits - 1)) - 1
    w = Signal(intbv(0, min=lo, max=hi + 1))
    x = Signal(intbv(0, min=lo, max=hi + 1))
    s = Signal(intbv(0, min=lo, max=hi + 1))
    y = Signal(intbv(0, min=lo, max=hi + 1))

    @always_seq(clk.posedge, reset=None)
    def seq_weight():
        if wr_en and wr_addr == index:
            w.next = wr_data.signed()

    @always_seq(clk.posedge, reset=rst)
    def seq_accumulate():
        total = intbv(0, min=3 * lo, max=3 * hi + 1)
        if capture:
            x.next = x_word.signed()
        total[:] = s + x + w
        if clear:
            s.next = 0
        elif load:
            if total > hi:
                s.next = hi
                y.next = hi
            elif total < lo:
                s.next = lo
                y.next = lo
            else:
                s.next = total
                y.next = total

    @always_comb
    def comb_out():
        y_word.next = y[word_bits:]

    return seq_weight, seq_accumulate, comb_out


@block
def stream_accumulator(clk, rst, in_tdata, in_tvalid, in_tready, in_tlast,
                       out_tdata, out_tvalid, out_tready, out_tlast,
                       wr_en, wr_addr, wr_data, *, n, word_bits, latency):
    """Saturating running sum per element, one beat per step.

    Ports: in_tdata/out_tdata carry n signed words of word_bits (element k in bits
    [(k+1)W-1:kW]); AXI4-Stream handshakes; wr_* writes weight k at address k.
    """
    x_words = [in_tdata((k + 1) * word_bits, k * word_bits) for k in range(n)]
    y_words = [Signal(intbv(0)[word_bits:]) for _ in range(n)]
    capture = Signal(bool(0))
    load = Signal(bool(0))
    clear = Signal(bool(0))
    busy = Signal(bool(0))
    last_held = Signal(bool(0))
    count = Signal(intbv(0, min=0, max=latency + 2))
    sums = ConcatSignal(*reversed(y_words)) if n > 1 else y_words[0]

    lanes = [accumulator_lane(clk, rst, x_words[k], y_words[k], capture, load, clear,
                              wr_en, wr_addr, wr_data, index=k, word_bits=word_bits)
             for k in range(n)]

    @always_comb
    def comb_ready():
        in_tready.next = not busy and not out_tvalid and not load
        capture.next = in_tvalid and not busy and not out_tvalid and not load

    @always_seq(clk.posedge, reset=rst)
    def seq_control():
        load.next = 0
        clear.next = 0
        if capture:
            busy.next = 1
            count.next = 1
            last_held.next = in_tlast
        elif busy:
            if count == latency:
                busy.next = 0
                load.next = 1
            else:
                count.next = count + 1
        if load:
            out_tvalid.next = 1
            out_tlast.next = last_held
            clear.next = last_held
        elif out_tvalid and out_tready:
            out_tvalid.next = 0

    @always_comb
    def comb_pack():
        out_tdata.next = sums

    return instances()


def toy_ports(n: int, word_bits: int) -> dict:
    """Fresh signals for every port of :func:`stream_accumulator`, keyed by port name."""
    aw = max(1, (n - 1).bit_length())
    return {"clk": Signal(bool(0)), "rst": ResetSignal(0, active=1, isasync=False),
            "in_tdata": Signal(intbv(0)[n * word_bits:]), "in_tvalid": Signal(bool(0)),
            "in_tready": Signal(bool(0)), "in_tlast": Signal(bool(0)),
            "out_tdata": Signal(intbv(0)[n * word_bits:]), "out_tvalid": Signal(bool(0)),
            "out_tready": Signal(bool(0)), "out_tlast": Signal(bool(0)),
            "wr_en": Signal(bool(0)), "wr_addr": Signal(intbv(0)[aw:]), "wr_data": Signal(intbv(0)[word_bits:])}


def convert(outdir: str, n: int, word_bits: int, latency: int) -> str:
    inst = stream_accumulator(**toy_ports(n, word_bits), n=n, word_bits=word_bits, latency=latency)
    name = toy_name(n, word_bits, latency)
    inst.convert(hdl="Verilog", name=name, path=outdir, initial_values=False)
    return name


if __name__ == "__main__":
    print(convert(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
