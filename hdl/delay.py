"""A fixed delay of an unsigned value: a chain of registers."""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, concat, instances, intbv


@block
def delay(clk, d, q, *, cycles):
    """q = d of ``cycles`` cycles earlier (``cycles >= 1``).

    Ports
      clk  in   1
      d    in   unsigned
      q    out  unsigned, len(d) bits (the last register)
    Latency: ``cycles`` cycles.  No reset: what flows through is aligned with rows
    that carry their own valid flags.
    """
    if cycles < 1:
        raise ValueError(f"delay: cycles must be at least 1, got {cycles}")
    w = len(d)
    chain = Signal(intbv(0)[cycles * w:])
    oldest = chain(cycles * w, (cycles - 1) * w)

    if cycles == 1:
        @always(clk.posedge)
        def seq_shift():
            chain.next = d
    else:
        @always(clk.posedge)
        def seq_shift():
            chain.next = concat(chain[(cycles - 1) * w:], d)

    @always_comb
    def comb_out():
        q.next = oldest

    return instances()
