"""Weight-memory map of the LSTM engine and the image that loads a layer into it.

The engine has four gate units (gate order i, f, g, o = 0..3), each with ``P``
multiply-accumulate lanes.  Row ``j`` of gate ``g`` is served by lane ``l = j % P`` in
row-block ``rb = j // P``; a lane reads one weight per cycle from its own bank, column
``k`` of v = [x; h_prev] after column ``k - 1``.  The write port sees one flat space of
word addresses::

    weight (g, row j, column k)   addr = ((g*P + l) * (H/P) + rb) * (D + H) + k
                                  k <  D: kernel[k, g*H + j]
                                  k >= D: recurrent[k - D, g*H + j]
    bias (g, row j)               addr = 4*H*(D + H) + g*H + j

so lane ``(g, l)`` owns the contiguous bank ``[(g*P + l) * (H/P) * (D+H), +(H/P)*(D+H))``
and reads it with the local address ``rb*(D+H) + k`` (a counter), and gate ``g``'s biases
sit in ``[4H(D+H) + g*H, +H)``, read with the row index.  Values are written as the
two's-complement unsigned word of the weight format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from .formats import FormatError, bits_for
from .lstm_float import GATES, ShapeError

#: Gate units of the datapath, one per gate (order i, f, g, o).
GATE_UNITS = len(GATES)


@dataclass(frozen=True)
class MemoryRegion:
    """One memory of the write-port address space: ``words`` words from ``base``.

    ``gate`` is the gate it serves (``i``, ``f``, ``g``, ``o``); ``lane`` the lane of a
    weight bank, None for a bias block.
    """

    name: str
    base: int
    words: int
    gate: str
    lane: Optional[int]

    def to_dict(self) -> dict:
        return {"name": self.name, "base": self.base, "words": self.words, "gate": self.gate,
                "lane": self.lane}


@dataclass(frozen=True)
class LayerLayout:
    """Banks and bias blocks of the single-layer engine for ``D``, ``H`` and ``P``.

    Derived once here; the engine, its conversion, the image writer and the memory map
    all read it.
    """

    input_size: int
    hidden_size: int
    lanes: int

    def __post_init__(self):
        for name in ("input_size", "hidden_size", "lanes"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise FormatError(f"memory map: {name} must be a positive integer, got {v!r}")
            object.__setattr__(self, name, int(v))
        if self.hidden_size % self.lanes:
            raise FormatError(f"memory map: lanes ({self.lanes}) must divide hidden_size "
                              f"({self.hidden_size})")

    @property
    def columns(self) -> int:
        """``D + H``: words of one row."""
        return self.input_size + self.hidden_size

    @property
    def bank_depth(self) -> int:
        """Words in one lane's bank: its ``H/P`` rows of ``D + H`` columns."""
        return (self.hidden_size // self.lanes) * self.columns

    @property
    def weight_words(self) -> int:
        """Kernel and recurrent-kernel words: ``4 H (D + H)``."""
        return GATE_UNITS * self.hidden_size * self.columns

    @property
    def bias_base(self) -> int:
        return self.weight_words

    @property
    def words(self) -> int:
        """Words of the whole address space (weights, then biases)."""
        return self.weight_words + GATE_UNITS * self.hidden_size

    @property
    def address_bits(self) -> int:
        """Width of the write port's address."""
        return bits_for(self.words)

    def weight_bank(self, g: int, lane: int) -> MemoryRegion:
        depth = self.bank_depth
        return MemoryRegion(f"weights_{GATES[g]}_lane{lane}", (g * self.lanes + lane) * depth,
                            depth, GATES[g], lane)

    def bias_block(self, g: int) -> MemoryRegion:
        return MemoryRegion(f"bias_{GATES[g]}", self.bias_base + g * self.hidden_size,
                            self.hidden_size, GATES[g], None)

    @property
    def regions(self) -> List[MemoryRegion]:
        """Every lane bank (gate-major), then every bias block."""
        return ([self.weight_bank(g, lane) for g in range(GATE_UNITS) for lane in range(self.lanes)]
                + [self.bias_block(g) for g in range(GATE_UNITS)])


def memory_map(input_size: int, hidden_size: int, lanes: int) -> dict:
    """Describe the regions of the engine's write-port address space.

    Returns
    -------
    dict
        ``words`` (total), ``weight_words``, ``bias_base``, ``bank_depth``, the formulas
        as text, and ``regions``: one entry per lane bank and per gate bias block with
        ``name``, ``base``, ``words``, ``gate``, ``lane`` (None for biases).
    """
    lay = LayerLayout(input_size, hidden_size, lanes)
    return {
        "input_size": lay.input_size, "hidden_size": lay.hidden_size, "lanes": lay.lanes,
        "words": lay.words,
        "weight_words": lay.weight_words,
        "bias_base": lay.bias_base,
        "bank_depth": lay.bank_depth,
        "weight_address": "((g*P + j%P) * (H/P) + j//P) * (D+H) + k",
        "bias_address": "4*H*(D+H) + g*H + j",
        "gate_order": list(GATES),
        "regions": [r.to_dict() for r in lay.regions],
    }


def weight_address(g, j, k, input_size: int, hidden_size: int, lanes: int):
    """Word address of weight (gate ``g``, row ``j``, column ``k`` of [x; h]); arrays broadcast."""
    g, j, k = (np.asarray(a, dtype=np.int64) for a in (g, j, k))
    hb = hidden_size // lanes
    return ((g * lanes + j % lanes) * hb + j // lanes) * (input_size + hidden_size) + k


def bias_address(g, j, input_size: int, hidden_size: int):
    """Word address of the bias of (gate ``g``, row ``j``); arrays broadcast."""
    g, j = np.asarray(g, dtype=np.int64), np.asarray(j, dtype=np.int64)
    return 4 * hidden_size * (input_size + hidden_size) + g * hidden_size + j


def layer_image(fixed_weights, lanes: int) -> list:
    """The memory image of one layer: ``[(addr, word), ...]`` sorted by address.

    Parameters
    ----------
    fixed_weights : golden.lstm_fixed.FixedLSTMWeights
        Integer weights (Keras layout, kernel (D, 4H), recurrent (H, 4H), bias (4H)).
    lanes : int
        ``P`` lanes per gate unit of the target engine.

    Returns
    -------
    list of (int, int)
        Every address of :func:`memory_map` once, with the weight as the unsigned
        two's-complement word of ``fixed_weights.fmts.weight``.
    """
    w = fixed_weights
    if getattr(w, "peephole", None) is not None:
        raise ShapeError("memory image: the engine has no peephole connections; "
                         "this layer's weights carry a peephole tensor")
    kernel = np.asarray(w.kernel, dtype=np.int64)
    recurrent = np.asarray(w.recurrent, dtype=np.int64)
    bias = np.asarray(w.bias, dtype=np.int64)
    d, h = kernel.shape[0], recurrent.shape[0]
    LayerLayout(d, h, lanes)
    fmt = w.fmts.weight
    for name, t in (("kernel", kernel), ("recurrent", recurrent), ("bias", bias)):
        if t.size and (t.min() < fmt.int_min or t.max() > fmt.int_max):
            raise FormatError(f"memory image: {name} integers span [{t.min()}, {t.max()}], "
                              f"outside {fmt.describe()}")
    cols = d + h
    v = np.concatenate([kernel, recurrent], axis=0)          # (D+H, 4H): column k of v
    g, j, k = np.meshgrid(np.arange(4), np.arange(h), np.arange(cols), indexing="ij")
    addr = weight_address(g, j, k, d, h, lanes).ravel()
    vals = v[k.ravel(), (g * h + j).ravel()]
    gb, jb = np.meshgrid(np.arange(4), np.arange(h), indexing="ij")
    addr = np.concatenate([addr, bias_address(gb, jb, d, h).ravel()])
    vals = np.concatenate([vals, bias[(gb * h + jb).ravel()]])
    words = vals & ((1 << fmt.word_bits) - 1)
    order = np.argsort(addr, kind="stable")
    image = [(int(a), int(x)) for a, x in zip(addr[order], words[order])]
    if len(image) != 4 * h * cols + 4 * h or any(a != i for i, (a, _) in enumerate(image)):
        raise AssertionError("memory image: addresses are not a permutation of the map")
    return image
