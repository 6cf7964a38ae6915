"""Configuration of the whole-window engine: topology, lanes, formats, widths and cycles.

:class:`AutoencoderEngineConfig` is what :func:`hdl.autoencoder_engine.autoencoder_engine`,
its conversion (:mod:`hdl.convert`) and the co-simulation
(:mod:`cosim.autoencoder`) read.  It takes the autoencoder's sizes from a
:class:`golden.autoencoder.AutoencoderConfig` (never constants), the pass layout and the
memory map from :mod:`golden.autoencoder_memory_map`, refuses impossible combinations
naming the parameter, and derives every width, depth, gap and the cycle formula.

Cycles of one window (host always offering and always ready)::

    cycles_per_window = T*F                                   load the window
                      + sum over LSTM passes n of
                            G0[n] + T*(H/P)*(D+H) + (T-1)*G[n]
                      + G0[L] + T*B*H_last + (T-1)*W          dense pass

* ``T*F``: the input beats are written into the sequence buffer one element per
  cycle (a beat of F elements is taken in its F-th cycle);
* ``(H/P)*(D+H)``: every lane multiplies one weight per cycle, row-block after
  row-block, step after step -- the multiplier bound of the layer;
* ``G[n] = max(0, LAT - (D + H - P))`` idle cycles between two steps of pass n: the
  next step's first row-block reads h_prev element j at column D + j, and an h leaves
  the row pipeline ``LAT`` cycles after its block's last column (20, or 22 with the
  shared activation units of P = 1; zero gap for every reference layer: the next step
  starts at once);
* ``G0[n]`` idle cycles before pass n (same reason, for the first reads of the
  previous pass's output; :meth:`AutoencoderEngineConfig.pass_gap`);
* dense pass: ``B = ceil(F / (4P))`` row-blocks of ``H_last`` columns per step; between
  steps ``W = 5 + l_last`` cycles while the reconstructed vector reaches the output
  register and is taken (``l_last``: the lane of the last output, ``((F-1) mod 4P) // 4``).

It is the spacing of the first input beats of consecutive windows when the host
streams windows back to back (measured in simulation, equal to the formula).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from golden.autoencoder import AutoencoderConfig
from golden.autoencoder_memory_map import GATE_UNITS, AutoencoderLayout
from golden.formats import DEFAULT_FORMATS, FormatError, LSTMFormats, ModelFormats, bits_for

from .config import ENGINE_Z_STAGE, DatapathConfig, EngineConfig, UsesDatapath, row_stages
from .pass_formats import PassFormats

#: The whole-window design's activation units carry the extra register after the
#: interpolation (hdl.activation_unit ``pipelined``): its steps overlap, so the two
#: extra cycles of h latency cost no cycles per step for any reference layer, and
#: without it the UP5K clock stays near 15 MHz.
PIPELINED_ACTIVATIONS = True

#: Cycles from a block's last column (its v-cycle ``A``) to its lane-0 row sum leaving
#: the drain chain with its bias read (stage S0 of the row pipeline, see lstm_engine).
ROW_LEAVES = 1
#: Cycles from S0 to the gate unit's registered, requantized result (z and y): the
#: layer engine's, plus the biased sum's register (hdl.gate_unit, ``registered_sum``).
GATE_RESULT = ENGINE_Z_STAGE + 1
#: Rows must leave the lanes at least this many cycles apart for one sigmoid unit to
#: serve the three sigmoid gates in turn (shared activations).
SHARED_ROW_SPACING = 3


@dataclass(frozen=True)
class AutoencoderEngineConfig(UsesDatapath):
    """Parameters of the whole-window engine (every layer, every weight on chip).

    Parameters
    ----------
    model : golden.autoencoder.AutoencoderConfig
        Topology: features F, encoder and decoder hidden sizes, timesteps T.
    lanes : int
        ``P``, multiply-accumulate lanes per gate unit (4P multipliers); must divide
        every hidden size.
    fmts : golden.formats.LSTMFormats or golden.formats.ModelFormats
        Number formats (overflow ``saturate``, rounding ``nearest_posinf`` or ``floor``):
        one set for every layer, or per-layer formats whose roles share one word width
        (:mod:`hdl.pass_formats`; per-layer formats that are all equal are kept as the
        one set).  :attr:`formats` gives them as ModelFormats either way.

    Raises
    ------
    golden.formats.FormatError
        On any refused parameter; the message names it and says why.
    """

    model: AutoencoderConfig
    lanes: int
    fmts: object = field(default=DEFAULT_FORMATS)

    def __post_init__(self):
        if not isinstance(self.model, AutoencoderConfig):
            raise FormatError(f"autoencoder engine: model must be a golden.autoencoder.AutoencoderConfig, "
                              f"got {type(self.model).__name__}")
        p = self.lanes
        if isinstance(p, bool) or not isinstance(p, int):
            raise FormatError(f"autoencoder engine: lanes must be an integer, got {p!r}")
        if p < 1:
            raise FormatError(f"autoencoder engine: lanes must be at least 1, got {p}")
        if isinstance(self.fmts, ModelFormats):
            ModelFormats.uniform(self.fmts, self.model.num_layers)     # the layer count
            if self.fmts.is_global:     # one set after all: the global design, unchanged
                object.__setattr__(self, "fmts", self.fmts.global_formats)
        elif not isinstance(self.fmts, LSTMFormats):
            raise FormatError(f"autoencoder engine: fmts must be golden.formats.LSTMFormats or "
                              f"ModelFormats, got {type(self.fmts).__name__}")
        self.layout  # refuses lanes that do not divide every hidden size
        for n, (d, h) in enumerate(self.model.layer_shapes):
            try:
                EngineConfig(int(d), int(h), p, self.formats.layers[n])
            except FormatError as exc:
                raise FormatError(f"autoencoder engine: {self.model.layer_name(n)} (D={d}, H={h}): "
                                  f"{exc}") from None
        self.datapath   # refuses per-layer formats the one datapath cannot run

    @property
    def formats(self) -> ModelFormats:
        """Every layer's formats (golden.formats.ModelFormats), global ones included."""
        return ModelFormats.uniform(self.fmts, self.model.num_layers)

    @property
    def per_layer(self) -> bool:
        """The layers' binary points differ (the formats are not one global set)."""
        return isinstance(self.fmts, ModelFormats)

    @property
    def pass_formats(self) -> PassFormats:
        """Every pass's formats and the shifts that move between passes."""
        names = tuple(self.model.layer_name(n) for n in range(self.model.num_layers))
        return PassFormats(self.formats, names)

    @property
    def datapath(self) -> DatapathConfig:
        """The shared datapath, its accumulator sized for the widest layer's rows (the dense
        pass has fewer columns than the last LSTM layer, so it fits too)."""
        widest = max(d + h for d, h in self.model.layer_shapes)
        if not self.per_layer:
            return DatapathConfig(self.fmts, self.lanes, int(widest), "autoencoder engine")
        pf = self.pass_formats
        return DatapathConfig(pf.datapath_formats, self.lanes, int(widest), "autoencoder engine", pf)

    # ------------------------------------------------------------- structure
    @property
    def layout(self) -> AutoencoderLayout:
        return AutoencoderLayout.for_config(self.model, self.lanes)

    @property
    def passes(self) -> tuple:
        """:class:`golden.autoencoder_memory_map.PassLayout` of every pass (LSTM layers, dense)."""
        return self.layout.passes

    @property
    def features(self) -> int:
        return self.model.features

    @property
    def timesteps(self) -> int:
        return self.model.timesteps

    @property
    def num_layers(self) -> int:
        return self.model.num_layers

    @property
    def hidden_max(self) -> int:
        return max(self.model.hidden_sizes)

    # ---------------------------------------------------------------- widths
    @property
    def in_bits(self) -> int:
        """Width of ``in_tdata``: F words of the vec format."""
        return self.features * self.vec_bits

    @property
    def out_bits(self) -> int:
        """Width of ``out_tdata``: F words of the vec format."""
        return self.features * self.vec_bits

    @property
    def addr_bits(self) -> int:
        """Width of ``wr_addr`` (golden.autoencoder_memory_map)."""
        return self.layout.address_bits

    @property
    def bank_addr_bits(self) -> int:
        return bits_for(self.layout.bank_words)

    @property
    def sequence_words(self) -> int:
        """Words of the sequence buffer: ``T * max_n (W_in[n] + H[n])``.

        One simple dual-port RAM holds the sequences: pass n reads its input (``W_in``
        wide: F for the first layer, else the previous layer's H) and its own h_prev
        (one element per cycle, so one read port serves both) and writes its h.  Even
        passes store their sequence from address 0 upwards, odd passes (and the input
        window) from the top downwards, so a pass's input and output never overlap and
        each sequence lives until the pass after next overwrites it.
        """
        widths = (self.features,) + tuple(self.model.hidden_sizes)
        return self.timesteps * max(a + b for a, b in zip(widths, widths[1:]))

    @property
    def shared_activations(self) -> bool:
        """One sigmoid unit (i, f, o in turn) and one tanh unit (g) instead of four.

        Chosen when a row leaves the lanes at most every third cycle: P = 1 and every
        LSTM layer has D + H >= 3.  It saves two activation units' tables (the UP5K's
        block RAM) and delays h by two cycles.
        """
        return self.lanes == 1 and min(d + h for d, h in self.model.layer_shapes) >= SHARED_ROW_SPACING

    @property
    def activation_units(self) -> int:
        """Activation units instantiated (the cell update's tanh(c') included)."""
        return 3 if self.shared_activations else 5

    def row_stages(self) -> dict:
        """Stages of the row pipeline, counted from S0 (the row's bias read).

        ``z``: gate results registered; ``act``: the four activations and c_prev
        presented to the cell update (``c_read``: its c RAM read); ``c``: c' registered;
        ``h``: h' registered (written into the sequence buffer at the end of it).  With
        shared activations the sigmoid unit takes z_i, z_f, z_o in three cycles.
        """
        return row_stages(GATE_RESULT, PIPELINED_ACTIVATIONS,
                          SHARED_ROW_SPACING - 1 if self.shared_activations else 0)

    @property
    def out_groups(self) -> int:
        """Cycles that fill the output register: four outputs per cycle, ``ceil(F/4)``."""
        return math.ceil(self.features / GATE_UNITS)

    # ---------------------------------------------------------------- memory
    @property
    def memory_bits(self) -> dict:
        """Storage bits by memory."""
        rom_bits = self.datapath.activation_rom_bits
        lay = self.layout
        return {
            "weights": GATE_UNITS * self.lanes * lay.bank_words * self.weight_bits,
            "biases": GATE_UNITS * lay.bias_words * self.weight_bits,
            "sequence_buffer": self.sequence_words * self.vec_bits,
            "c_state": self.hidden_max * self.datapath.fmts.preact.word_bits,
            "activation_tables": self.activation_units * rom_bits,
        }

    # ---------------------------------------------------------------- cycles
    @property
    def h_latency(self) -> int:
        """``LAT``: from a block's last column (v-cycle A) to the first read issue that sees
        the h of its lane-0 row (written at the end of cycle A + ROW_LEAVES + stage h)."""
        return ROW_LEAVES + self.row_stages()["h"] + 1

    @property
    def dense_wait(self) -> int:
        """``W``: idle cycles between dense steps (host ready): the last output's lane
        result is registered ``ROW_LEAVES + GATE_RESULT + l_last`` cycles after A, written
        into the output register, shown, and taken; the next step issues in that cycle."""
        last_lane = ((self.features - 1) % (GATE_UNITS * self.lanes)) // GATE_UNITS
        return ROW_LEAVES + GATE_RESULT + 1 + last_lane

    def step_gap(self, n: int) -> int:
        """``G[n]``: idle cycles between two steps of pass n (the dense wait for the dense pass)."""
        ps = self.passes[n]
        if ps.kind == "dense":
            return self.dense_wait
        return max(0, self.h_latency - (ps.columns - self.lanes))

    def step_cycles(self, n: int) -> int:
        """Cycles between the first columns of two consecutive steps of pass n."""
        ps = self.passes[n]
        return ps.blocks * ps.columns + self.step_gap(n)

    def pass_gap(self, n: int) -> int:
        """``G0[n]``: idle cycles before pass n's first column.

        Pass n reads row r of pass n-1's output at its step r (at every step for the
        first decoder layer, which repeats the latent vector, row T-1).  Element j of
        the last row-block of row r is readable ``LAT + (j mod P)`` cycles after that
        block's last column, and is read at column j of the reader's first row-block:
        the distance is least for r = 0 or r = T-1 (it is linear in r).
        """
        if n == 0:
            return 0
        ps, writer = self.passes[n], self.passes[n - 1]
        margin = writer.hidden - self.lanes
        if not ps.repeat:
            t = self.timesteps
            margin += (t - 1) * min(self.step_cycles(n - 1), self.step_cycles(n))
        return max(0, self.h_latency - margin)

    def pass_cycles(self, n: int) -> int:
        ps = self.passes[n]
        t = self.timesteps
        return self.pass_gap(n) + t * ps.blocks * ps.columns + (t - 1) * self.step_gap(n)

    @property
    def load_cycles(self) -> int:
        """``T*F``: one input element per cycle into the sequence buffer."""
        return self.timesteps * self.features

    @property
    def cycles_per_window(self) -> int:
        """The documented window period (module docstring)."""
        return self.load_cycles + sum(self.pass_cycles(n) for n in range(len(self.passes)))

    @property
    def latency_cycles(self) -> int:
        """Edge taking a window's first beat -> edge taking its last output (host eager).

        The next window's first beat is taken F cycles after the dense pass's last column;
        the last output is taken ``1 + W`` cycles after that column.
        """
        return self.cycles_per_window - (self.features - 1) + self.dense_wait

    @property
    def macs_per_window(self) -> int:
        t = self.timesteps
        lstm = sum(4 * h * (d + h) for d, h in self.model.layer_shapes)
        return t * (lstm + self.model.hidden_sizes[-1] * self.features)

    @property
    def ideal_cycles(self) -> int:
        """``ceil(MACs / 4P)``: every multiplier busy every cycle, nothing else."""
        return math.ceil(self.macs_per_window / self.multipliers)

    @property
    def mac_utilisation(self) -> float:
        """Ideal over actual: the fraction of multiplier-cycles doing useful work."""
        return self.macs_per_window / (self.multipliers * self.cycles_per_window)

    def cycle_table(self) -> list:
        """Per pass: name, D, H, blocks, columns, gaps, cycles, ideal, utilisation."""
        rows = []
        for ps in self.passes:
            n = ps.index
            if ps.kind == "dense":
                macs = self.timesteps * ps.inputs * self.features
            else:
                macs = self.timesteps * 4 * ps.hidden * ps.columns
            cyc = self.pass_cycles(n)
            rows.append({"pass": n, "name": ps.name, "inputs": ps.inputs, "hidden": ps.hidden,
                         "blocks": ps.blocks, "columns": ps.columns, "pass_gap": self.pass_gap(n),
                         "step_gap": self.step_gap(n), "step_cycles": self.step_cycles(n),
                         "cycles": cyc, "ideal": math.ceil(macs / self.multipliers),
                         "mac_utilisation": macs / (self.multipliers * cyc)})
        return rows

    # ------------------------------------------------------------------ names
    @property
    def module_name(self) -> str:
        """Verilog/VHDL module name carrying the topology, T, P and the formats."""
        m = self.model
        enc = "x".join(str(h) for h in m.encoder_sizes)
        dec = "x".join(str(h) for h in m.decoder_sizes)
        return f"lstm_autoencoder_f{m.features}_e{enc}_d{dec}_t{m.timesteps}_p{self.lanes}_{self.format_tag}"

    def to_dict(self) -> dict:
        return {"model": self.model.to_dict(), "lanes": self.lanes, "fmts": self.fmts.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "AutoencoderEngineConfig":
        model = AutoencoderConfig.from_dict(d["model"])
        fm = ModelFormats.from_dict(d["fmts"], model.num_layers) if "fmts" in d else DEFAULT_FORMATS
        return cls(model, int(d["lanes"]), fm)

    @classmethod
    def for_model(cls, fixed_model, lanes: int) -> "AutoencoderEngineConfig":
        """The engine for a :class:`golden.autoencoder.FixedAutoencoder` (its sizes and formats)."""
        return cls(fixed_model.cfg, int(lanes), fixed_model.formats)

    def describe(self) -> str:
        return (f"{self.model.describe()}, P={self.lanes}: {self.cycles_per_window:,} cycles/window "
                f"(ideal {self.ideal_cycles:,}, {100 * self.mac_utilisation:.1f}% of "
                f"{self.multipliers} multipliers busy)")
