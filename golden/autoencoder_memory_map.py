"""Weight-memory map of the whole-window autoencoder engine, and the image that loads it.

The whole-window engine (``hdl.autoencoder_engine``) runs every layer of the
autoencoder on one datapath: four gate units (gate order i, f, g, o = 0..3) of ``P``
multiply-accumulate lanes each, used by one *pass* after another over the window --
the LSTM layers, encoder first, then the dense output layer.  Every weight is
resident, so each lane's bank holds its share of every pass, one pass after the other.

Passes and row-blocks
---------------------
LSTM pass ``n`` (input size ``D``, hidden size ``H``): row ``j`` of gate ``g`` is
served by lane ``l = j % P`` in row-block ``rb = j // P`` (``H / P`` row-blocks per
step), column ``k`` of v = [x; h_prev] (``D + H`` columns) after column ``k - 1`` --
the single-layer engine's order (:mod:`golden.memory_map`).

Dense pass (``F`` outputs from the last decoder layer's ``H_last`` values): output ``f``
is row ``4*(b*P + l) + g`` -- row-block ``b``, lane ``l``, gate unit ``g``; there are
``ceil(F / (4P))`` row-blocks of ``H_last`` columns per step.  The four gate units'
results of one lane leave together, so four consecutive outputs appear per cycle.
Rows ``f >= F`` of the last block are padding (zero weights and bias).

Address space (write port, one word per address)
------------------------------------------------
The space is cut into regions of ``2**region_bits`` words, so the hardware decodes a
write by its top bits (holes between the regions are never written)::

    region r = g*P + l        weight bank of (gate g, lane l)
    region r = 4*P + g        bias block of gate g
    address  = (r << region_bits) + local

Inside the bank of (gate ``g``, lane ``l``), pass ``n`` starts at ``weight_base[n]``
(the words of the passes before it) and a step reads the pass's words in order::

    LSTM n:  local = weight_base[n] + rb*(D+H) + k   holds  k <  D: kernel[k, g*H + j]
                                                           k >= D: recurrent[k - D, g*H + j]
             with j = rb*P + l
    dense:   local = weight_base[L] + b*H_last + k    holds  dense_kernel[k, f], f = 4*(b*P + l) + g

Inside the bias block of gate ``g``::

    LSTM n:  local = bias_base[n] + j                 holds  bias[g*H + j]
    dense:   local = bias_base[L] + b*P + l           holds  dense_bias[f]

Values are the two's-complement unsigned words of the weight format.
:func:`autoencoder_image` writes every word of every region (padding as zeros).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from .formats import FormatError, bits_for
from .memory_map import GATE_UNITS, MemoryRegion
from .lstm_float import GATES, ShapeError

LSTM = "lstm"
DENSE = "dense"


@dataclass(frozen=True)
class PassLayout:
    """One pass of the datapath over the window (an LSTM layer or the dense layer).

    Attributes
    ----------
    index : int
        Pass number ``n`` (0 .. L; L is the dense pass).
    name : str
        ``encoder LSTM 1`` ... ``decoder LSTM k``, ``dense``.
    kind : str
        ``lstm`` or ``dense``.
    inputs : int
        ``D``: columns read from the pass's input sequence.
    hidden : int
        ``H``: recurrent columns (0 for the dense pass).
    rows : int
        Rows per gate unit and step: ``H`` (LSTM) or ``F`` (dense, spread over 4 gates).
    blocks : int
        Row-blocks per step: ``H / P`` or ``ceil(F / (4P))``.
    weight_base, bias_base : int
        Bank-local addresses of the pass's first weight and first bias.
    repeat : bool
        The pass reads the latent vector (row T-1 of the previous pass's output) at every
        step: the first decoder layer.
    """

    index: int
    name: str
    kind: str
    inputs: int
    hidden: int
    rows: int
    blocks: int
    weight_base: int
    bias_base: int
    repeat: bool

    @property
    def columns(self) -> int:
        """Cycles per row-block: ``D + H`` (``H_last`` for the dense pass)."""
        return self.inputs + self.hidden

    @property
    def weight_words(self) -> int:
        """Words of this pass in one lane's bank."""
        return self.blocks * self.columns

    @property
    def input_buffer(self) -> int:
        """Sequence buffer holding the pass's input (ping-pong: ``n % 2``)."""
        return self.index % 2

    def to_dict(self) -> dict:
        return {"index": self.index, "name": self.name, "kind": self.kind, "inputs": self.inputs,
                "hidden": self.hidden, "rows": self.rows, "blocks": self.blocks,
                "columns": self.columns, "weight_base": self.weight_base,
                "bias_base": self.bias_base, "repeat": self.repeat,
                "input_buffer": self.input_buffer}


@dataclass(frozen=True)
class AutoencoderLayout:
    """Passes, banks and regions of the whole-window engine for one topology and ``P``.

    Parameters
    ----------
    features : int
        ``F``.
    encoder_sizes, decoder_sizes : tuple of int
        Hidden sizes (the autoencoder's topology).
    lanes : int
        ``P`` lanes per gate unit; must divide every hidden size.
    """

    features: int
    encoder_sizes: tuple
    decoder_sizes: tuple
    lanes: int

    def __post_init__(self):
        p = self.lanes
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1:
            raise FormatError(f"autoencoder memory map: lanes must be a positive integer, got {p!r}")
        object.__setattr__(self, "lanes", int(p))
        object.__setattr__(self, "encoder_sizes", tuple(int(h) for h in self.encoder_sizes))
        object.__setattr__(self, "decoder_sizes", tuple(int(h) for h in self.decoder_sizes))
        if not self.encoder_sizes or not self.decoder_sizes:
            raise ShapeError("autoencoder memory map: needs at least one encoder and one decoder layer")
        if int(self.features) < 1:
            raise ShapeError(f"autoencoder memory map: features must be positive, got {self.features!r}")
        for n, h in enumerate(self.hidden_sizes):
            if h < 1:
                raise ShapeError(f"autoencoder memory map: {self._layer_name(n)} has hidden size {h}")
            if h % self.lanes:
                divisors = [k for k in range(1, h + 1) if all(x % k == 0 for x in self.hidden_sizes)]
                raise FormatError(
                    f"autoencoder memory map: lanes ({self.lanes}) must divide the hidden size of "
                    f"every LSTM layer; {self._layer_name(n)} has {h}. Lane counts dividing all "
                    f"of {list(self.hidden_sizes)}: {divisors}")

    @classmethod
    def for_config(cls, cfg, lanes: int) -> "AutoencoderLayout":
        """From a :class:`golden.autoencoder.AutoencoderConfig`."""
        return cls(cfg.features, tuple(cfg.encoder_sizes), tuple(cfg.decoder_sizes), lanes)

    # -------------------------------------------------------------- structure
    @property
    def hidden_sizes(self) -> tuple:
        return tuple(self.encoder_sizes) + tuple(self.decoder_sizes)

    @property
    def num_layers(self) -> int:
        """``L``: LSTM layers (passes 0 .. L-1); pass L is the dense layer."""
        return len(self.hidden_sizes)

    def _layer_name(self, n: int) -> str:
        ne = len(self.encoder_sizes)
        return f"encoder LSTM {n + 1}" if n < ne else f"decoder LSTM {n - ne + 1}"

    @property
    def dense_blocks(self) -> int:
        """Row-blocks of the dense pass: ``ceil(F / (4P))``."""
        return math.ceil(self.features / (GATE_UNITS * self.lanes))

    @property
    def passes(self) -> Tuple[PassLayout, ...]:
        p = self.lanes
        out, d, wbase, bbase = [], self.features, 0, 0
        ne = len(self.encoder_sizes)
        for n, h in enumerate(self.hidden_sizes):
            ps = PassLayout(n, self._layer_name(n), LSTM, d, h, h, h // p, wbase, bbase, n == ne)
            out.append(ps)
            wbase += ps.weight_words
            bbase += ps.blocks * p
            d = h
        out.append(PassLayout(len(out), "dense", DENSE, d, 0, self.features, self.dense_blocks,
                              wbase, bbase, False))
        return tuple(out)

    # ------------------------------------------------------------------ sizes
    @property
    def bank_words(self) -> int:
        """Words in one lane's weight bank (every pass)."""
        last = self.passes[-1]
        return last.weight_base + last.weight_words

    @property
    def bias_words(self) -> int:
        """Words in one gate unit's bias block."""
        last = self.passes[-1]
        return last.bias_base + last.blocks * self.lanes

    @property
    def regions(self) -> int:
        """Number of regions: 4P weight banks and 4 bias blocks."""
        return GATE_UNITS * self.lanes + GATE_UNITS

    @property
    def region_bits(self) -> int:
        """Low address bits inside a region."""
        return bits_for(max(self.bank_words, self.bias_words))

    @property
    def address_bits(self) -> int:
        """Width of the write port's address."""
        return self.region_bits + bits_for(self.regions)

    def weight_region(self, g: int, lane: int) -> int:
        return g * self.lanes + lane

    def bias_region(self, g: int) -> int:
        return GATE_UNITS * self.lanes + g

    def weight_bank(self, g: int, lane: int) -> MemoryRegion:
        return MemoryRegion(f"weights_{GATES[g]}_lane{lane}",
                            self.weight_region(g, lane) << self.region_bits, self.bank_words,
                            GATES[g], lane)

    def bias_block(self, g: int) -> MemoryRegion:
        return MemoryRegion(f"bias_{GATES[g]}", self.bias_region(g) << self.region_bits,
                            self.bias_words, GATES[g], None)

    @property
    def memory_regions(self) -> List[MemoryRegion]:
        """Every lane bank (gate-major), then every bias block."""
        return ([self.weight_bank(g, lane) for g in range(GATE_UNITS) for lane in range(self.lanes)]
                + [self.bias_block(g) for g in range(GATE_UNITS)])

    @property
    def used_words(self) -> int:
        """Addresses written by the image (every region's words, padding included)."""
        return GATE_UNITS * self.lanes * self.bank_words + GATE_UNITS * self.bias_words


def memory_map(cfg, lanes: int) -> dict:
    """Describe the write-port address space of the whole-window engine.

    Parameters
    ----------
    cfg : golden.autoencoder.AutoencoderConfig
    lanes : int

    Returns
    -------
    dict
        ``region_bits``, ``address_bits``, ``bank_words``, ``bias_words``,
        ``used_words``, the address formulas as text, ``passes`` (one dict per pass:
        sizes, bases) and ``regions`` (``name``, ``base``, ``words``, ``gate``, ``lane``).
    """
    lay = AutoencoderLayout.for_config(cfg, lanes)
    p, rb = lay.lanes, lay.region_bits
    return {
        "features": lay.features, "hidden_sizes": list(lay.hidden_sizes), "lanes": p,
        "region_bits": rb, "address_bits": lay.address_bits, "bank_words": lay.bank_words,
        "bias_words": lay.bias_words, "used_words": lay.used_words,
        "address": "(region << region_bits) + local; weight region g*P + l, bias region 4*P + g",
        "lstm_weight_local": "weight_base[n] + (j//P)*(D+H) + k, lane j%P",
        "lstm_bias_local": "bias_base[n] + j",
        "dense_weight_local": "weight_base[L] + b*H_last + k for output f = 4*(b*P + l) + g",
        "dense_bias_local": "bias_base[L] + b*P + l",
        "gate_order": list(GATES),
        "passes": [ps.to_dict() for ps in lay.passes],
        "regions": [r.to_dict() for r in lay.memory_regions],
    }


def _check_model(fixed, lay: AutoencoderLayout) -> None:
    cfg = fixed.cfg
    if (cfg.features, tuple(cfg.hidden_sizes)) != (lay.features, lay.hidden_sizes):
        raise ShapeError("autoencoder image: the model's topology differs from the layout's")
    fm = fixed.formats
    tensors = []
    for n, w in enumerate(fixed.layers):
        if getattr(w, "peephole", None) is not None:
            raise ShapeError(f"autoencoder image: {cfg.layer_name(n)} has peephole weights; "
                             "the engine has no peephole connections")
        fmt = fm.layers[n].weight
        tensors += [(f"{cfg.layer_name(n)} kernel", w.kernel, fmt),
                    (f"{cfg.layer_name(n)} recurrent kernel", w.recurrent, fmt),
                    (f"{cfg.layer_name(n)} bias", w.bias, fmt)]
    tensors += [("dense kernel", fixed.dense_kernel, fm.dense.weight),
                ("dense bias", fixed.dense_bias, fm.dense.weight)]
    for name, t, fmt in tensors:
        t = np.asarray(t, dtype=np.int64)
        if t.size and (t.min() < fmt.int_min or t.max() > fmt.int_max):
            raise FormatError(f"autoencoder image: {name} integers span [{t.min()}, {t.max()}], "
                              f"outside {fmt.describe()}")


def bank_contents(fixed, lanes: int) -> Tuple[np.ndarray, np.ndarray]:
    """Signed integer contents of every bank and bias block.

    Returns
    -------
    (banks, biases) : int64 arrays
        ``banks[g, l, local]`` (4, P, bank_words) and ``biases[g, local]`` (4, bias_words).
    """
    lay = AutoencoderLayout.for_config(fixed.cfg, lanes)
    _check_model(fixed, lay)
    p = lay.lanes
    banks = np.zeros((GATE_UNITS, p, lay.bank_words), dtype=np.int64)
    biases = np.zeros((GATE_UNITS, lay.bias_words), dtype=np.int64)
    passes = lay.passes
    for ps, w in zip(passes[:-1], fixed.layers):
        h = ps.hidden
        v = np.concatenate([np.asarray(w.kernel, dtype=np.int64),
                            np.asarray(w.recurrent, dtype=np.int64)], axis=0)   # (D+H, 4H)
        for g in range(GATE_UNITS):
            rows = v[:, g * h:(g + 1) * h].T                      # (H, D+H): row j, column k
            for lane in range(p):
                block = rows[lane::p]                             # rows rb*P + lane, rb = 0..
                banks[g, lane, ps.weight_base:ps.weight_base + ps.weight_words] = block.ravel()
            biases[g, ps.bias_base:ps.bias_base + h] = np.asarray(w.bias, dtype=np.int64)[g * h:(g + 1) * h]
    dense = passes[-1]
    hl = dense.inputs
    wd = np.asarray(fixed.dense_kernel, dtype=np.int64)
    bd = np.asarray(fixed.dense_bias, dtype=np.int64)
    for f in range(lay.features):
        group, g = divmod(f, GATE_UNITS)
        b, lane = divmod(group, p)
        base = dense.weight_base + b * hl
        banks[g, lane, base:base + hl] = wd[:, f]
        biases[g, dense.bias_base + b * p + lane] = bd[f]
    return banks, biases


def autoencoder_image(fixed_autoencoder, lanes: int) -> List[Tuple[int, int]]:
    """The memory image of a whole autoencoder: ``[(addr, word), ...]`` sorted by address.

    Parameters
    ----------
    fixed_autoencoder : golden.autoencoder.FixedAutoencoder
        Integer weights of every layer.
    lanes : int
        ``P`` lanes per gate unit of the target engine.

    Returns
    -------
    list of (int, int)
        Every word of every region of :func:`memory_map` once (padding rows as 0), the
        weight as the unsigned two's-complement word of the weight format.
    """
    lay = AutoencoderLayout.for_config(fixed_autoencoder.cfg, lanes)
    banks, biases = bank_contents(fixed_autoencoder, lanes)
    widths = fixed_autoencoder.formats.word_bits("weight")
    if len(widths) != 1:
        raise FormatError(f"autoencoder image: the layers' weights are {sorted(widths)} bits "
                          "wide; one memory needs one weight width")
    mask = (1 << widths.pop()) - 1
    image = []
    for g in range(GATE_UNITS):
        for lane in range(lay.lanes):
            base = lay.weight_bank(g, lane).base
            image += [(base + a, int(v) & mask) for a, v in enumerate(banks[g, lane].tolist())]
    for g in range(GATE_UNITS):
        base = lay.bias_block(g).base
        image += [(base + a, int(v) & mask) for a, v in enumerate(biases[g].tolist())]
    image.sort()
    if len(image) != lay.used_words or len({a for a, _ in image}) != len(image):
        raise AssertionError("autoencoder image: addresses are not one per word of the map")
    return image
