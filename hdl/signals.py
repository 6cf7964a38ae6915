"""Signal shapes the blocks share: a signed word of a width, an unsigned counter of a range.

Widths come from golden.formats (a format's ``word_bits``, ``bits_for`` a count); these
only turn them into ``intbv`` shapes, so the rule "two's complement of N bits" is
written once.
"""

from __future__ import annotations

from myhdl import intbv

from golden.formats import bits_for


def signed(bits: int) -> intbv:
    """A zero ``intbv`` holding ``bits``-bit two's-complement values."""
    return intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1))


def unsigned_for(count: int) -> intbv:
    """A zero unsigned ``intbv`` that holds ``0 .. count-1`` (at least one bit)."""
    return intbv(0)[bits_for(count):]
