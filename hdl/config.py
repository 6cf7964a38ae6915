"""Engine configuration: sizes, lanes and number formats, validated, with derived widths.

:class:`EngineConfig` is the one object every hardware block, the conversion script
and the co-simulation read their parameters from.  It refuses impossible combinations
before any hardware is elaborated, naming the parameter and the reason, and derives
every port width, memory depth and latency from the golden formats
(:mod:`golden.formats`) so that no width is typed twice.

Cycle budget of one step (see :mod:`hdl.lstm_engine` for the pipeline)::

    latency_cycles = (H / P) * (D + H)  +  P  +  STEP_OVERHEAD      (= cycles_per_step)
    beat_spacing   = (H / P) * (D + H)  +  step_gap

* ``(H/P)*(D+H)``: every lane multiplies one weight per cycle, back to back (the ideal
  ``ceil(H*(D+H)/P)``, exact because ``P`` divides ``H``);
* ``P``: the rows of the last row-block leave the lanes one per cycle;
* ``STEP_OVERHEAD``: the fixed pipeline depth (address, multiply, accumulate, bias and
  requantization, activation, cell update, tanh, output product, output register).

The latency is counted from the rising edge that takes an input beat to the first
rising edge that samples its ``out_tvalid`` high.  The engine takes the next beat while
a step drains, so when the host streams back to back (and takes every output at once)
accepted beats are ``beat_spacing`` apart: the multipliers' ``(H/P)(D+H)`` cycles plus
``step_gap`` idle cycles, zero for every reference layer, that only configurations
with a short step need (:attr:`EngineConfig.step_gap` derives them from the latencies
above: the next step's h_prev reads, the c RAM and the output register).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from golden.formats import (DEFAULT_FORMATS, FormatError, LSTMFormats, QFormat, accumulator_bits,
                            bits_for)
from golden.memory_map import GATE_UNITS, LayerLayout

if TYPE_CHECKING:
    from .pass_formats import PassFormats

#: Rounding modes the RTL implements at every requantization.
RTL_ROUNDING = ("nearest_posinf", "floor")

#: Pipeline latencies in cycles of the post-accumulation path (documented in each block).
MAC_LATENCY = 3          # address issue -> weight read -> product register -> accumulator
REQUANT_LATENCY = 1      # hdl.requantize: one register
ACTIVATION_LATENCY = 2   # hdl.activation_unit: table read, interpolate + requantize
CELL_STATE_LATENCY = 2   # hdl.cell_update: products, sum + requantize -> c' (3 pipelined)
#: Stage of the layer engine's row pipeline at which z is registered, counted from S0
#: (the row's bias read): the bias add, then one requantization.
ENGINE_Z_STAGE = 1 + REQUANT_LATENCY


def activation_latency(pipelined: bool = False) -> int:
    """Cycles of hdl.activation_unit: three more with ``pipelined`` (registers after |z|,
    after the interpolation's product and after its sum, which take the unit off an
    iCE40's critical path)."""
    return ACTIVATION_LATENCY + (3 if pipelined else 0)


def cell_state_latency(pipelined: bool = False) -> int:
    """Cycles of hdl.cell_update from its inputs to c': one more with ``pipelined`` (the
    aligned sum f*c + i*g registered before its requantization, which takes the cell
    update off an iCE40's critical path)."""
    return CELL_STATE_LATENCY + (1 if pipelined else 0)


def cell_output_latency(pipelined: bool = False) -> int:
    """Cycles of hdl.cell_update from its inputs to h' (``pipelined`` or not)."""
    return cell_state_latency(pipelined) + activation_latency(pipelined) + 2


def row_stages(z: int, pipelined: bool = False, act_wait: int = 0) -> dict:
    """Stage numbers of a row pipeline after the lanes, counted from S0 (the row's bias
    read), for both engines.

    ``z``: gate results registered (the engine's ``z`` stage); ``act``: the four
    activations and c_prev presented to the cell update, ``act_wait`` cycles after the
    activation units' latency (``pipelined``: hdl.activation_unit's extra register);
    ``c_read``: the c RAM read; ``c``: c' registered; ``h``: h' registered (``pipelined``
    also selects the cell update's registered sum).
    """
    act = z + activation_latency(pipelined) + act_wait
    return {"z": z, "act": act, "c_read": act - 1, "c": act + cell_state_latency(pipelined),
            "h": act + cell_output_latency(pipelined)}


def _q_tag(f: QFormat) -> str:
    int_part = f.word_bits - f.frac_bits
    frac = f"{f.frac_bits}" if f.frac_bits >= 0 else f"m{-f.frac_bits}"
    ints = f"{int_part}" if int_part >= 0 else f"m{-int_part}"
    return f"{ints}q{frac}"


#: Format roles of the datapath, in the order the format tag lists them.
FORMAT_ROLES = ("vec", "weight", "preact", "act")


@dataclass(frozen=True)
class DatapathConfig:
    """The datapath both engines share: formats, lanes and every width derived from them.

    Four gate units of ``lanes`` multiply-accumulate lanes, the activation units, the cell
    update and the requantizers.  The single-layer engine and the whole-window engine each
    build one (:attr:`EngineConfig.datapath`,
    :attr:`hdl.autoencoder_config.AutoencoderEngineConfig.datapath`); every block of the
    datapath reads its widths from it.

    Parameters
    ----------
    fmts : golden.formats.LSTMFormats
        Overflow must be ``saturate`` and rounding one of :data:`RTL_ROUNDING` in every format.
    lanes : int
        ``P``, lanes per gate unit.
    columns : int
        The most products one row sums (``D + H`` of the widest layer): sizes the accumulator.
    what : str
        Names the engine in error messages.
    passes : hdl.pass_formats.PassFormats, optional
        The whole-window engine's per-pass formats when its layers' binary points differ
        (``fmts`` is then the first layer's: the word widths): the accumulator and the
        activation table serve every pass.
    """

    fmts: LSTMFormats
    lanes: int
    columns: int
    what: str = field(default="engine", compare=False)
    passes: Optional["PassFormats"] = None

    def __post_init__(self):
        if not isinstance(self.fmts, LSTMFormats):
            raise FormatError(f"{self.what}: fmts must be a golden.formats.LSTMFormats, "
                              f"got {type(self.fmts).__name__}")
        checked = [(role, getattr(lf, role)) for lf in self.pass_layer_formats for role in FORMAT_ROLES]
        if self.passes is not None:
            checked += [("dense weight", self.passes.formats.dense.weight),
                        ("dense out", self.passes.formats.dense.out)]
        for role, f in checked:
            if f.overflow != "saturate":
                raise FormatError(
                    f"{self.what}: format {role} has overflow {f.overflow!r}; the RTL implements "
                    "'saturate' only (a wrapping datapath would hide overflows)")
            if f.rounding not in RTL_ROUNDING:
                raise FormatError(
                    f"{self.what}: format {role} has rounding {f.rounding!r}; the RTL implements "
                    f"{RTL_ROUNDING}")
        if any(lf.acc_frac < lf.preact.frac_bits for lf in self.pass_layer_formats):
            # LSTMFormats already refuses this; keep the RTL's assumption explicit
            raise FormatError(f"{self.what}: preact.frac_bits must not exceed weight.frac_bits "
                              "+ vec.frac_bits")

    @property
    def multipliers(self) -> int:
        return GATE_UNITS * self.lanes

    @property
    def vec_bits(self) -> int:
        return self.fmts.vec.word_bits

    @property
    def weight_bits(self) -> int:
        return self.fmts.weight.word_bits

    @property
    def product_bits(self) -> int:
        return self.fmts.weight.word_bits + self.fmts.vec.word_bits

    @property
    def acc_bits(self) -> int:
        """Accumulator bits: :attr:`columns` products plus the bias never overflow.

        ``golden.formats.accumulator_bits`` counts the bias as one more product; when the
        vec format has more fraction bits than a product operand can shift in
        (``vec.frac > vec.word - 1``) the exact bound below is wider and wins.
        """
        return max(self._acc_bits(f) for f in self.pass_layer_formats)

    def _acc_bits(self, f: LSTMFormats) -> int:
        bound = (self.columns * (1 << (self.product_bits - 2))
                 + (1 << (f.weight.word_bits - 1 + max(0, f.vec.frac_bits))))
        return max(accumulator_bits(f, self.columns), bound.bit_length() + 1)

    @property
    def pass_layer_formats(self) -> tuple:
        """The LSTM formats of every pass (``(fmts,)`` for one set of formats)."""
        return self.passes.layers if self.passes is not None else (self.fmts,)

    @property
    def activation_table(self):
        """The interpolated sigmoid table every activation unit holds (golden.activations)."""
        from golden.activations import activation_table

        return activation_table(self.passes.table_formats if self.passes is not None else self.fmts)

    @property
    def activation_rom_bits(self) -> int:
        """Storage bits of one activation unit's table (entries and deltas)."""
        t = self.activation_table
        return (len(t.entries) - 1) * (t.entry_bits + t.delta_bits)

    @property
    def format_tag(self) -> str:
        """The formats in a module name, e.g. ``v2q14_w4q12_z5q11_a2q14``."""
        f = self.fmts
        tag = "_".join(f"{t}{_q_tag(getattr(f, r))}" for t, r in zip("vwza", FORMAT_ROLES))
        modes = {getattr(f, r).rounding for r in FORMAT_ROLES}
        if modes != {"nearest_posinf"}:
            tag += "_r" + "".join("f" if getattr(f, r).rounding == "floor" else "n"
                                  for r in FORMAT_ROLES)
        if self.passes is not None and not self.passes.is_global:
            # the binary points of every layer, in a short digest of the formats
            digest = hashlib.sha1(json.dumps(self.passes.formats.to_dict(),
                                             sort_keys=True).encode()).hexdigest()[:8]
            tag += f"_pl{digest}"
        return tag


class UsesDatapath:
    """The datapath's widths on an engine configuration that has a :attr:`datapath`."""

    @property
    def multipliers(self) -> int:
        return self.datapath.multipliers

    @property
    def vec_bits(self) -> int:
        return self.datapath.vec_bits

    @property
    def weight_bits(self) -> int:
        return self.datapath.weight_bits

    @property
    def product_bits(self) -> int:
        return self.datapath.product_bits

    @property
    def acc_bits(self) -> int:
        return self.datapath.acc_bits

    @property
    def format_tag(self) -> str:
        return self.datapath.format_tag


@dataclass(frozen=True)
class EngineConfig(UsesDatapath):
    """Parameters of one LSTM engine (one layer, weights resident on chip).

    Parameters
    ----------
    input_size : int
        ``D``, elements of x per step (>= 1).
    hidden_size : int
        ``H``, elements of h and c (>= 1).
    lanes : int
        ``P``, multiply-accumulate lanes per gate unit (4P multipliers in all);
        ``P`` must divide ``H`` and must not exceed ``D + H``.
    fmts : golden.formats.LSTMFormats
        Number formats; overflow must be ``saturate`` and rounding ``nearest_posinf``
        or ``floor`` in every format.

    Raises
    ------
    golden.formats.FormatError
        On any refused parameter; the message names it and says why.
    """

    input_size: int
    hidden_size: int
    lanes: int
    fmts: LSTMFormats = field(default=DEFAULT_FORMATS)

    def __post_init__(self):
        for name in ("input_size", "hidden_size", "lanes"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise FormatError(f"engine: {name} must be an integer, got {v!r}")
        d, h, p = self.input_size, self.hidden_size, self.lanes
        if d < 1:
            raise FormatError(f"engine: input_size must be at least 1, got {d}")
        if h < 1:
            raise FormatError(f"engine: hidden_size must be at least 1, got {h}")
        if p < 1:
            raise FormatError(f"engine: lanes must be at least 1, got {p}")
        if h % p:
            divisors = [k for k in range(1, h + 1) if h % k == 0]
            raise FormatError(
                f"engine: lanes ({p}) must divide hidden_size ({h}) so every lane serves "
                f"the same number of rows; possible lane counts: {divisors}")
        if p > d + h:  # implied by p dividing h; kept as the pipeline's stated requirement
            raise FormatError(
                f"engine: lanes ({p}) must not exceed input_size + hidden_size ({d + h}): the "
                "activation and cell-update pipeline takes one row per cycle and must finish "
                "a row-block's rows while the next block accumulates")
        self.datapath  # refuses formats the RTL does not implement

    @property
    def datapath(self) -> DatapathConfig:
        return DatapathConfig(self.fmts, self.lanes, self.columns, "engine")

    @property
    def layout(self) -> LayerLayout:
        """Banks and bias blocks of the write-port address space (golden.memory_map)."""
        return LayerLayout(self.input_size, self.hidden_size, self.lanes)

    # ----------------------------------------------------------------- sizes
    @property
    def columns(self) -> int:
        """``D + H``: elements of v = [x; h_prev], cycles per row-block."""
        return self.input_size + self.hidden_size

    @property
    def row_blocks(self) -> int:
        """``H / P``: row-blocks per step (rows a lane serves)."""
        return self.hidden_size // self.lanes

    # ---------------------------------------------------------------- widths
    @property
    def in_bits(self) -> int:
        """Width of ``in_tdata``: D words of the vec format."""
        return self.input_size * self.vec_bits

    @property
    def out_bits(self) -> int:
        """Width of ``out_tdata``: H words of the vec format."""
        return self.hidden_size * self.vec_bits

    # ---------------------------------------------------------------- memory
    @property
    def bank_depth(self) -> int:
        """Words in one lane's weight bank: its rows times ``D + H`` columns."""
        return self.layout.bank_depth

    @property
    def bank_addr_bits(self) -> int:
        return bits_for(self.bank_depth)

    @property
    def memory_words(self) -> int:
        """Words of the whole write-port address space (weights then biases)."""
        return self.layout.words

    @property
    def addr_bits(self) -> int:
        """Width of ``wr_addr``."""
        return self.layout.address_bits

    @property
    def row_bits(self) -> int:
        """Bits of a row index ``j`` in ``0 .. H-1``."""
        return bits_for(self.hidden_size)

    @property
    def memory_bits(self) -> dict:
        """Storage bits by memory: weights and biases, h double buffer, c, tables."""
        lay = self.layout
        return {
            "weights": lay.weight_words * self.weight_bits,
            "biases": (lay.words - lay.weight_words) * self.weight_bits,
            "h_double_buffer": 2 * (1 << self.row_bits) * self.vec_bits,
            "c_state": self.hidden_size * self.fmts.preact.word_bits,
            "activation_tables": 5 * self.datapath.activation_rom_bits,
        }

    # ---------------------------------------------------------------- cycles
    @property
    def ideal_cycles(self) -> int:
        """``ceil(H (D + H) / P)``: one MAC per lane per cycle, nothing else."""
        return math.ceil(self.hidden_size * self.columns / self.lanes)

    @property
    def post_latency(self) -> int:
        """Cycles from a row leaving the lanes to its h being registered (see lstm_engine)."""
        return row_stages(ENGINE_Z_STAGE)["h"]

    @property
    def step_overhead(self) -> int:
        """The constant part of :attr:`cycles_per_step` beyond ``(H/P)(D+H) + P``.

        The last weight address goes out ``(H/P)(D+H)`` cycles after the handshake
        edge; its block's first row leaves the lanes ``MAC_LATENCY - 1`` cycles later
        and its last row ``P - 1`` after that; that row's h is registered
        :attr:`post_latency` cycles later and ``out_tvalid`` rises one cycle after it.
        """
        return (MAC_LATENCY - 1) + self.post_latency

    @property
    def latency_cycles(self) -> int:
        """Input handshake edge -> first edge sampling that step's ``out_tvalid`` high.

        The step's last h is written :attr:`latency_cycles` ``- 1`` edges after its beat
        (``out_tvalid`` is registered from that write), the h of lane ``l`` of its last
        row-block ``P - 1 - l`` edges before that.
        """
        return self.row_blocks * self.columns + self.lanes + self.step_overhead

    @property
    def cycles_per_step(self) -> int:
        """The latency (:attr:`latency_cycles`), the name the manifests and reports use."""
        return self.latency_cycles

    @property
    def step_gap(self) -> int:
        """Idle issue cycles between two steps in steady streaming (:attr:`beat_spacing`).

        Three reads of step t+1 must come after writes of step t; with beat edges ``e``
        and ``e + S`` (``S`` the spacing, L = :attr:`latency_cycles`):

        * h_prev: element ``H-P+l`` (lane ``l`` of the last row-block) is written at edge
          ``e + L - P + l`` and read at column ``D+H-P+l`` of step t+1's first row-block,
          edge ``e + S + D + H - P + l + 1`` (the h RAM reads the old word at the write
          edge): ``S >= L - (D + H)``; earlier row-blocks are written ``D + H`` cycles
          per block earlier and read only ``P`` per block earlier, so this row binds;
        * c: row j's c' is written at stage ``c`` of the row pipeline, step t+1's row j
          reads it at stage ``c_read``, ``S`` cycles later: ``S > c - c_read``;
        * output register: the beat is taken only while the register is empty (so
          step t's h never waits where step t+1 assembles its own); step t-1's h is
          shown at ``e - S + L`` and taken there at the earliest: ``2 S > L``.
        """
        stages = row_stages(ENGINE_Z_STAGE)
        busy = self.row_blocks * self.columns
        least = max(busy,
                    self.latency_cycles - self.columns,
                    stages["c"] - stages["c_read"] + 1,
                    self.latency_cycles // 2 + 1)
        return least - busy

    @property
    def beat_spacing(self) -> int:
        """Edges between accepted beats when the host streams back to back and takes every
        output at once: ``(H/P)(D+H) + step_gap``."""
        return self.row_blocks * self.columns + self.step_gap

    @property
    def target_cycles(self) -> float:
        """The project's target: at most ``1.1 * ideal + 16`` cycles per step."""
        return 1.1 * self.ideal_cycles + 16

    @property
    def meets_target(self) -> bool:
        return self.cycles_per_step <= self.target_cycles

    @property
    def mac_utilisation(self) -> float:
        """Fraction of multiplier-cycles doing useful work in steady streaming
        (one step every :attr:`beat_spacing` cycles)."""
        return self.hidden_size * self.columns / (self.lanes * self.beat_spacing)

    # ------------------------------------------------------------------ names
    @property
    def module_name(self) -> str:
        """Verilog/VHDL module name carrying D, H, P and the formats."""
        return (f"lstm_engine_d{self.input_size}_h{self.hidden_size}_p{self.lanes}_"
                f"{self.format_tag}")

    def to_dict(self) -> dict:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                "lanes": self.lanes, "fmts": self.fmts.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "EngineConfig":
        fm = LSTMFormats.from_dict(d["fmts"]) if "fmts" in d else DEFAULT_FORMATS
        return cls(int(d["input_size"]), int(d["hidden_size"]), int(d["lanes"]), fm)

    def describe(self) -> str:
        return (f"D={self.input_size} H={self.hidden_size} P={self.lanes}: "
                f"a step every {self.beat_spacing} cycles, latency {self.latency_cycles} "
                f"(ideal {self.ideal_cycles}), "
                f"{self.memory_words} weight words, {self.multipliers} multipliers")
