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

import numpy as np

from .formats import FormatError
from .lstm_float import GATES, ShapeError


def _check(d: int, h: int, p: int) -> None:
    for name, v in (("input_size", d), ("hidden_size", h), ("lanes", p)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise FormatError(f"memory map: {name} must be a positive integer, got {v!r}")
    if h % p:
        raise FormatError(f"memory map: lanes ({p}) must divide hidden_size ({h})")


def memory_map(input_size: int, hidden_size: int, lanes: int) -> dict:
    """Describe the regions of the engine's write-port address space.

    Returns
    -------
    dict
        ``words`` (total), ``weight_words``, ``bias_base``, ``bank_depth``, the formulas
        as text, and ``regions``: one entry per lane bank and per gate bias block with
        ``name``, ``base``, ``words``, ``gate``, ``lane`` (None for biases).
    """
    _check(input_size, hidden_size, lanes)
    d, h, p = int(input_size), int(hidden_size), int(lanes)
    cols = d + h
    depth = (h // p) * cols
    regions = []
    for g in range(4):
        for lane in range(p):
            regions.append({"name": f"weights_{GATES[g]}_lane{lane}", "base": (g * p + lane) * depth,
                            "words": depth, "gate": GATES[g], "lane": lane})
    bias_base = 4 * h * cols
    for g in range(4):
        regions.append({"name": f"bias_{GATES[g]}", "base": bias_base + g * h, "words": h,
                        "gate": GATES[g], "lane": None})
    return {
        "input_size": d, "hidden_size": h, "lanes": p,
        "words": bias_base + 4 * h,
        "weight_words": bias_base,
        "bias_base": bias_base,
        "bank_depth": depth,
        "weight_address": "((g*P + j%P) * (H/P) + j//P) * (D+H) + k",
        "bias_address": "4*H*(D+H) + g*H + j",
        "gate_order": list(GATES),
        "regions": regions,
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
    _check(d, h, lanes)
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
