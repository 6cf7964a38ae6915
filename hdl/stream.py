"""AXI4-Stream-style interface object: tdata, tvalid, tready, tlast.

A transfer ("beat") happens at a rising clock edge that samples ``tvalid`` and
``tready`` both high.  The source holds ``tdata``/``tlast`` stable and keeps ``tvalid``
high until the beat is taken; the sink may lower ``tready`` at any time
(back-pressure)::

    clk     _/~\\_/~\\_/~\\_/~\\_/~\\_/~\\_
    tvalid  ___/~~~~~~~~~~~~~~~\\_______
    tready  ~~~~~~~\\_______/~~~~~~~~~~~
    tdata   ---< A            >--------
                           ^ beat A taken here (both high)

The engine's top level has flat ports (``in_tdata`` ... ``out_tlast``) so the
converted module carries exactly those names; :meth:`Stream.ports` maps a stream onto
them for benches and co-simulation, and :meth:`Stream.of` bundles them again for the
blocks inside.
"""

from __future__ import annotations


class Stream:
    """The four signals of one stream direction.

    Parameters
    ----------
    data_bits : int
        Width of ``tdata`` (``count`` packed words: element k in bits
        ``[(k+1)*W-1 : k*W]``).

    Attributes
    ----------
    tdata : Signal(intbv[data_bits:])
    tvalid, tready, tlast : Signal(bool)
    """

    def __init__(self, data_bits: int):
        from myhdl import Signal, intbv

        if data_bits < 1:
            raise ValueError(f"stream: data_bits must be positive, got {data_bits}")
        self.data_bits = data_bits
        self.tdata = Signal(intbv(0)[data_bits:])
        self.tvalid = Signal(bool(0))
        self.tready = Signal(bool(0))
        self.tlast = Signal(bool(0))

    @classmethod
    def of(cls, tdata, tvalid, tready, tlast) -> "Stream":
        """The stream over existing signals, e.g. a top level's flat ports."""
        stream = cls.__new__(cls)
        stream.data_bits = len(tdata)
        stream.tdata, stream.tvalid, stream.tready, stream.tlast = tdata, tvalid, tready, tlast
        return stream

    def ports(self, prefix: str) -> dict:
        """``{prefix_tdata: ..., prefix_tvalid: ..., prefix_tready: ..., prefix_tlast: ...}``."""
        return {f"{prefix}_{name}": getattr(self, name)
                for name in ("tdata", "tvalid", "tready", "tlast")}


def pack_words(words, word_bits: int) -> int:
    """Pack signed integers into one unsigned integer, element k at bits [k*W, (k+1)*W)."""
    mask = (1 << word_bits) - 1
    out = 0
    for k, w in enumerate(words):
        w = int(w)
        if not -(1 << (word_bits - 1)) <= w < (1 << (word_bits - 1)):
            raise ValueError(f"pack_words: element {k} = {w} does not fit {word_bits} signed bits")
        out |= (w & mask) << (k * word_bits)
    return out


def unpack_words(value: int, count: int, word_bits: int) -> list:
    """Inverse of :func:`pack_words`: ``count`` signed words from an unsigned integer."""
    value = int(value)
    mask = (1 << word_bits) - 1
    sign = 1 << (word_bits - 1)
    out = []
    for k in range(count):
        w = (value >> (k * word_bits)) & mask
        out.append(w - (1 << word_bits) if w & sign else w)
    return out
