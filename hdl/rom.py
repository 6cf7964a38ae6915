"""A combinational ROM: a tuple of Python ints indexed by a signal."""

from __future__ import annotations

from myhdl import always_comb, block


@block
def rom(index, value, *, contents):
    """value = contents[index].

    Ports
      index  in   unsigned, 0 .. len(contents)-1
      value  out  unsigned, as wide as the register it feeds (every entry must fit)
    Latency: combinational (a Verilog ``case`` on index, a VHDL ``case`` statement).
    """
    contents = tuple(int(v) for v in contents)   # numpy ints would convert to invalid HDL
    if not contents:
        raise ValueError("rom: contents must not be empty")
    if len(contents) > 1 << len(index):
        raise ValueError(f"rom: {len(contents)} entries need more than the index's {len(index)} bits")
    if min(contents) < value.min or max(contents) >= value.max:
        raise ValueError(f"rom: entries span [{min(contents)}, {max(contents)}], outside the "
                         f"{len(value)}-bit value port")

    @always_comb
    def comb_read():
        value.next = contents[index]

    return comb_read
