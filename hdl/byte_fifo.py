"""A small first-in first-out byte buffer that says when it overflows."""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, instances, intbv

from .signals import unsigned_for


@block
def byte_fifo(clk, rst, push_data, push, pop_data, pop_valid, pop, overrun, *, depth):
    """``depth`` bytes, oldest first: a pushed byte can be popped from the next cycle on.

    Ports
      clk        in   1
      rst        in   1, synchronous, active high: empties the buffer
      push_data  in   8
      push       in   1, store push_data (there is no back-pressure: a source
                 without flow control, such as a serial receiver)
      pop_data   out  8, the oldest byte (combinational read)
      pop_valid  out  1, the buffer holds a byte
      pop        in   1, drop the oldest byte (only while pop_valid)
      overrun    out  1, one-cycle pulse: a push found the buffer full (even if a pop
                 frees a place in the same cycle) and was dropped
    The storage is a register array read combinationally, which keeps a few bytes
    out of block RAM.
    """
    if depth < 2 or depth & (depth - 1):
        raise ValueError(f"byte_fifo: depth must be a power of two of at least 2, got {depth}")
    mem = [Signal(intbv(0)[8:]) for _ in range(depth)]
    rd = Signal(unsigned_for(depth))
    wr = Signal(unsigned_for(depth))
    count = Signal(intbv(0, min=0, max=depth + 1))
    mask = depth - 1

    # ---------------------------------------------------------------- logic
    @always_comb
    def comb_read():
        pop_data.next = mem[rd]
        pop_valid.next = count != 0

    @always(clk.posedge)
    def seq_store():
        if push and count != depth:
            mem[wr].next = push_data

    @always(clk.posedge)
    def seq_pointers():
        overrun.next = 0
        if rst:
            rd.next = 0
            wr.next = 0
            count.next = 0
        else:
            take = pop and count != 0
            put = push and count != depth
            if push and not put:
                overrun.next = 1
            if take:
                rd.next = (rd + 1) & mask
            if put:
                wr.next = (wr + 1) & mask
            if put and not take:
                count.next = count + 1
            elif take and not put:
                count.next = count - 1

    return instances()
