"""The LSTM engine as the device under test: cases, references, planted bugs.

An :class:`EngineCase` is one configuration's weights, a set of input sequences and a
traffic pattern.  It turns into a :class:`cosim.stream.Stimulus` (the weight image of
:func:`golden.memory_map.layer_image` through the write port, one beat per time step,
``tlast`` on each sequence's last step) and provides the reference the scoreboard
holds the RTL to: :func:`golden.lstm_fixed.lstm_layer_fixed`, run from h = c = 0 on
every sequence (a sequence cut by a reset is simply shorter).

Random cases come from one integer seed (:func:`random_case`), so a failing
hypothesis example is reproduced by its seed and a handful of small parameters.

:func:`engine_device` is the engine in both forms (MyHDL block, converted Verilog) for
:func:`cosim.runner.simulate`; :func:`run_engine` streams steps through it and returns
an :class:`EngineRun` (decoded h, every edge), what the block tests in ``tests/hdl``
and the cycle tables of :mod:`cosim.cycles` read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .mutants import Mutant
from .traffic import Traffic, stimulus
from .verilog import pack_words

#: Ways to draw weights (and inputs), from ordinary to hostile.
WEIGHT_MODES = ("trained", "uniform", "extreme", "sparse")
INPUT_MODES = ("scaled", "uniform", "extreme")


def random_ints(rng: np.random.Generator, fmt, shape, mode: str, typical: float = 0.5) -> np.ndarray:
    """Integers of ``fmt`` drawn the ``mode`` way.

    ``trained``/``scaled``: normal with standard deviation ``typical`` (real units),
    or uniform in [0, 1] for ``scaled`` inputs; ``uniform``: the whole integer range;
    ``extreme``: only int_min, int_max, 0, +-1 LSB; ``sparse``: mostly zero, the rest
    anywhere in range.
    """
    lo, hi = fmt.int_min, fmt.int_max
    if mode == "trained":
        v = fmt.quantize(rng.normal(0.0, typical, shape))
    elif mode == "scaled":
        v = fmt.quantize(rng.uniform(0.0, 1.0, shape))
    elif mode == "uniform":
        v = rng.integers(lo, hi + 1, shape)
    elif mode == "extreme":
        v = rng.choice(np.array([lo, hi, 0, 1, -1], dtype=np.int64), size=shape)
    elif mode == "sparse":
        v = np.where(rng.random(shape) < 0.8, 0, rng.integers(lo, hi + 1, shape))
    else:
        raise ValueError(f"mode must be one of {WEIGHT_MODES + INPUT_MODES}, got {mode!r}")
    return np.asarray(v, dtype=np.int64).reshape(shape)


def random_weights(rng: np.random.Generator, cfg, mode: str = "trained"):
    """:class:`golden.lstm_fixed.FixedLSTMWeights` for ``cfg`` drawn the ``mode`` way."""
    from golden.lstm_fixed import FixedLSTMWeights

    d, h, f = cfg.input_size, cfg.hidden_size, cfg.fmts.weight
    return FixedLSTMWeights.from_ints(random_ints(rng, f, (d, 4 * h), mode),
                                      random_ints(rng, f, (h, 4 * h), mode),
                                      random_ints(rng, f, (4 * h,), mode), cfg.fmts, layer="random")


def engine_reference(weights):
    """``reference(xs, lasts)`` for the scoreboard: the fast golden kernel, h = c = 0 at
    the start and after every tlast."""
    from golden.lstm_fixed import lstm_layer_fixed

    def reference(xs, lasts):
        out, start = [], 0
        for k, last in enumerate(lasts):
            if last or k == len(lasts) - 1:
                seq = np.asarray(xs[start:k + 1], dtype=np.int64)[None]
                h, _ = lstm_layer_fixed(seq, weights)
                out.extend(tuple(int(v) for v in row) for row in h[0])
                start = k + 1
        return out

    return reference


@dataclass
class EngineCase:
    """Weights, input sequences ((T_i, D) integer arrays) and traffic for one run."""

    cfg: object
    weights: object
    sequences: list
    traffic: Traffic
    context: dict

    @property
    def n_beats(self) -> int:
        return sum(len(s) for s in self.sequences)

    def beats(self) -> list:
        vb = self.cfg.fmts.vec.word_bits
        out = []
        for seq in self.sequences:
            for t, x in enumerate(seq):
                out.append((pack_words(x, vb), t == len(seq) - 1))
        return out

    def image(self) -> list:
        from golden.memory_map import layer_image
        return [(int(a), int(w)) for a, w in layer_image(self.weights, self.cfg.lanes)]

    def stimulus(self, traffic: Traffic | None = None, **kw):
        """The host's stimulus; ``max_cycles`` defaults to a generous multiple of the work."""
        cfg = self.cfg
        traffic = traffic or self.traffic
        kw.setdefault("max_cycles", 10_000 + cfg.memory_words
                      + 4 * (self.n_beats + 2) * (cfg.cycles_per_step + 40))
        kw.setdefault("tail_cycles", 8)
        return stimulus(self.image(), self.beats(), traffic, **kw)

    def reference(self):
        return engine_reference(self.weights)

    def rtl_h(self, trace) -> list:
        """The traced output beats as (T_i, H) signed arrays, one per sequence.

        Only meaningful for a run without resets; raises if the beat count is off.
        """
        from .verilog import unpack_words

        vb, h = self.cfg.fmts.vec.word_bits, self.cfg.hidden_size
        rows = [unpack_words(o.data, h, vb) for o in trace.outputs]
        if len(rows) != self.n_beats:
            raise AssertionError(f"{len(rows)} output beats for {self.n_beats} input beats")
        out, pos = [], 0
        for s in self.sequences:
            out.append(np.asarray(rows[pos:pos + len(s)], dtype=np.int64).reshape(len(s), h))
            pos += len(s)
        return out

    def golden_h(self) -> list:
        """Fast-kernel h per sequence (no resets): list of (T_i, H) arrays."""
        from golden.lstm_fixed import lstm_layer_fixed
        return [lstm_layer_fixed(np.asarray(s)[None], self.weights)[0][0] for s in self.sequences]


def random_case(cfg, seed: int, *, n_sequences: int = 2, max_len: int = 5, weight_mode: str = "trained",
                input_mode: str = "scaled", resets: int = 0, stall_prob: float = 0.0,
                gap_prob: float = 0.0, long_stalls: bool = False, exact_len: bool = False) -> EngineCase:
    """A reproducible random :class:`EngineCase` (everything follows from ``seed``).

    ``long_stalls`` makes out_tready low in runs of up to twice a step, so finished
    steps meet an output the host has not taken yet; ``exact_len`` makes every
    sequence ``max_len`` steps long (windows) instead of 1..max_len.
    """
    stall_run_max = 2 * cfg.cycles_per_step + 8 if long_stalls else 1
    rng = np.random.default_rng(seed)
    weights = random_weights(rng, cfg, weight_mode)
    seqs = [random_ints(rng, cfg.fmts.vec, (max_len if exact_len else int(rng.integers(1, max_len + 1)),
                                             cfg.input_size), input_mode)
            for _ in range(n_sequences)]
    n = sum(len(s) for s in seqs)
    if resets or stall_prob or gap_prob:
        traffic = Traffic.random(rng, n, resets=resets, stall_prob=stall_prob, gap_prob=gap_prob,
                                 stall_run_max=stall_run_max, reset_wait_max=cfg.cycles_per_step + 8)
    else:
        traffic = Traffic.smooth(n)
    ctx = {"seed": seed, "config": cfg.module_name, "sequences": [len(s) for s in seqs],
           "weights": weight_mode, "inputs": input_mode, "resets": resets, "stall": stall_prob,
           "gaps": gap_prob, "long_stalls": long_stalls}
    return EngineCase(cfg, weights, seqs, traffic, ctx)


# --------------------------------------------------------------------------- runs of the engine
def engine_device(cfg):
    """The single-layer engine for ``cfg`` as a :class:`cosim.host.Device` (MyHDL or Verilog)."""
    from hdl.lstm_engine import lstm_engine
    from hdl.ports import top_ports

    from .compile import engine_design, engine_shape
    from .host import Device

    return Device("engine", cfg, lstm_engine, top_ports, engine_design, engine_shape(cfg))


class SimulationTimeout(RuntimeError):
    """The run ran out of cycles before every expected output arrived."""


@dataclass
class EngineRun:
    """What the host saw, decoded for the engine's tests.

    Edges are numbered from 1 (edge n is the n-th rising edge of the run); the trace's
    cycles count the same edges from 0.

    Attributes
    ----------
    outputs : list of (list of int, bool)
        h (signed vec integers) and tlast of each output beat, in order.
    accept_edges : list of int
        Edge at which each input beat was taken.
    output_edges : list of int
        Edge at which each output beat was taken.
    first_valid_edges : list of int
        Edge at which each output beat was first seen valid.
    violations : list of str
        Stream-rule violations seen (empty when the engine behaved).
    cycles : int
        Edges until the last output was taken (the host's tail, which would catch a
        duplicate beat, not counted).
    trace : Trace
        The run's trace itself.
    """

    outputs: list = field(default_factory=list)
    accept_edges: list = field(default_factory=list)
    output_edges: list = field(default_factory=list)
    first_valid_edges: list = field(default_factory=list)
    violations: list = field(default_factory=list)
    cycles: int = 0
    trace: object = None

    @property
    def latencies(self) -> list:
        """Edges from each input beat's acceptance to its output first seen valid."""
        return [o - a for a, o in zip(self.accept_edges, self.first_valid_edges)]

    @classmethod
    def from_trace(cls, trace, shape) -> "EngineRun":
        from .verilog import unpack_words

        outs = trace.outputs
        return cls([(list(unpack_words(o.data, shape.out_count, shape.out_bits)), o.last) for o in outs],
                   [c + 1 for _, c in trace.accepts], [o.cycle + 1 for o in outs],
                   [o.first + 1 for o in outs], [f"edge {c + 1}: {what}" for c, what in trace.violations],
                   outs[-1].cycle + 1 if outs else trace.end_cycle + 1, trace)


def run_engine(cfg, image, steps, *, ready=(1,), gaps=None, reset_cycles=2, reset_after=None,
               max_cycles=None, simulator: str = "myhdl", vcd=None) -> EngineRun:
    """Stream ``steps`` through the engine for ``cfg`` under the host model.

    Parameters
    ----------
    cfg : hdl.config.EngineConfig
    image : list of (int, int)
        Memory image (address, unsigned word), e.g. :func:`golden.memory_map.layer_image`.
    steps : list of (sequence of int, bool)
        Input beats: x (D signed vec integers) and tlast.
    ready : sequence of int
        out_tready in the cycle ending at edge n is ``ready[(n - 1) % len(ready)]``.
    gaps : sequence of int, optional
        Idle cycles before offering each beat.
    reset_after : (int, int, int), optional
        ``(beat, wait, length)``: ``wait`` cycles after beat ``beat`` is taken, hold
        ``rst`` high for ``length`` cycles (no beat offered meanwhile).  With ``wait``
        shorter than a step, that beat's output is lost and the following beats
        start a new sequence.
    max_cycles : int, optional
        Safety limit; default from ``cfg.cycles_per_step`` and the beat count.
    simulator : {"myhdl", "icarus", "verilator"}
        The MyHDL block (default) or its converted Verilog; the host is the same.
    vcd : path, optional
        Waveform of the run (``myhdl`` and ``icarus``).

    Raises
    ------
    SimulationTimeout
        When the run did not end normally (an output never came).
    """
    from .runner import simulate
    from .stream import Stimulus

    steps = [(list(x), bool(last)) for x, last in steps]
    for n, (x, _) in enumerate(steps):
        if len(x) != cfg.input_size:
            raise ValueError(f"run_engine: beat {n} has {len(x)} elements, expected {cfg.input_size}")
    gaps = [int(g) for g in gaps] if gaps is not None else [0] * len(steps)
    ready = [int(r) for r in ready] or [1]
    if max_cycles is None:
        stall = max(1, len(ready) - sum(ready) + 1)
        max_cycles = (reset_cycles + len(image) + 20
                      + (len(steps) + 1) * (cfg.cycles_per_step + 4) * stall + sum(gaps))
    waits, lens = [-1] * len(steps), [0] * len(steps)
    if reset_after is not None:
        beat, wait, length = reset_after
        waits[beat], lens[beat] = int(wait), max(1, int(length))
    vw = cfg.vec_bits
    tail = 8
    stim = Stimulus(tuple((int(a), int(w)) for a, w in image),
                    tuple((pack_words(x, vw), last) for x, last in steps), tuple(gaps),
                    tuple(bool(r) for r in ready), tuple(waits), tuple(lens), reset_cycles=reset_cycles,
                    tail_cycles=tail, max_cycles=max_cycles + tail)
    device = engine_device(cfg)
    trace = simulate(device, stim, simulator, vcd=vcd)
    if trace.status != "ok":
        raise SimulationTimeout(f"engine {cfg.module_name}: {len(trace.outputs)} of {len(steps)} outputs "
                                f"after {trace.end_cycle + 1} cycles (status {trace.status})")
    return EngineRun.from_trace(trace, device.shape)


# --------------------------------------------------------------------------- planted bugs
def _minus_one(m) -> str:
    return f"{m.group(1)}{int(m.group(2)) - 1})"


def _plus_one(m) -> str:
    return f"{m.group(1)}{int(m.group(2)) + 1};"


#: Planted bugs in the converted engine.  The patterns follow MyHDL's naming of the
#: blocks in ``hdl/`` (``cell_fc``, ``gate_f_total``, ...); when the HDL
#: changes, :meth:`cosim.mutants.Mutant.apply` refuses a stale pattern loudly.
ENGINE_MUTANTS = [
    Mutant("swap_i_f", "gates swapped",
           "the cell update multiplies c_prev by i and g by f (input and forget gates swapped)",
           r"(_fc <= \()sigmoid_f_y( \* c_prev\);)", r"\1sigmoid_i_y\2", 1,
           ((r"(_ig <= \()sigmoid_i_y( \* )", r"\1sigmoid_f_y\2", 1),)),
    Mutant("swap_g_o", "gates swapped",
           "the candidate g and output gate o trade places in the cell update",
           r"(_ig <= \(sigmoid_i_y \* )tanh_g_y\);", r"\1sigmoid_o_y);", 1,
           ((r"(_o_pipe\[[^\]]*\], )sigmoid_o_y", r"\1tanh_g_y", 1),)),
    Mutant("truncate_h", "truncation instead of rounding",
           "h = o*tanh(c) is truncated (floor) instead of rounded half up",
           r"if \((cell_hp)\[\(\d+ - 1\)\]\)", "if (1'b0)", 1),
    Mutant("truncate_z", "truncation instead of rounding",
           "the gate pre-activations z are truncated instead of rounded half up",
           r"if \((gate_[ifgo]_total)\[\(\d+ - 1\)\]\)", "if (1'b0)", 4),
    Mutant("wrap_z", "wrap instead of saturation",
           "z keeps its low bits when the accumulator leaves the preact range (no clamp)",
           r"if \((gate_[ifgo]_to_preact_fits)\) begin", "if (1'b1) begin", 4),
    Mutant("wrap_c", "wrap instead of saturation",
           "the cell state c wraps instead of saturating",
           r"if \((cell_to_c_fits)\)(\s*begin\s*c_new)", r"if (1'b1)\2", 1),
    Mutant("drop_bias_f", "bias dropped", "the forget gate's bias is never added",
           r"(assign gate_f_total = \(gate_f_head) \+ \(gate_f_bias\b[^;]*;", r"\1 + 0);", 1),
    Mutant("row_end_early", "counter off by one",
           "the column counter marks the end of a row one column early",
           r"(last_a <= \(col == )(\d+)\)", _minus_one, 1),
    Mutant("short_step", "counter off by one",
           "the step ends one weight address early (last column of the last row-block skipped)",
           r"(if \(\(waddr == )(\d+)\)", _minus_one, 1),
    Mutant("late_ready", "handshake one cycle late",
           "in_tready rises one cycle after the derived step gap: same values, one cycle more "
           "per step",
           r"(gap_left <= )([1-9]\d*);", _plus_one, 1),
    Mutant("tready_ignored", "tready ignored",
           "out_tvalid drops after one cycle whether or not the host took the beat",
           r"if \(\(out_tvalid && out_tready\)\) begin", "if (out_tvalid) begin", 1),
    Mutant("overwrite_stalled", "tready ignored",
           "a finished step overwrites an output the host has not taken yet",
           r"if \(\(out_tready \|\| \(!out_tvalid\)\)\) begin", "if (1'b1) begin", 1),
    Mutant("accept_while_busy", "tready ignored",
           "the input register takes every tvalid beat, even while a step is running",
           r"assign accept = \(in_tvalid && in_tready\);", "assign accept = in_tvalid;", 1),
    Mutant("tlast_ignored", "state not cleared",
           "h and c carry over from one sequence into the next (tlast ignored)",
           r"zero_state <= step_last;", "zero_state <= 0;", 1),
    Mutant("bank_not_swapped", "state not cleared",
           "the h double buffer never swaps: every step reads the h it is overwriting",
           r"read_bank <= \(!read_bank\);", "read_bank <= read_bank;", 1),
]


def engine_mutants() -> list:
    """The engine's mutant catalogue (see :mod:`cosim.mutants`)."""
    return list(ENGINE_MUTANTS)


def saturation_case(cfg, sign: int = 1, steps: int | None = None, gate_signs=None) -> EngineCase:
    """Every weight at an extreme, every input at vec.int_max, one long sequence.

    ``gate_signs`` (four of +1/-1, gate order i, f, g, o; default all ``sign``) picks
    int_max or int_min for each gate's kernel, recurrent kernel and bias.  With all
    +1 every pre-activation saturates high (i, f, o, g -> 1) and the cell state grows
    by about 1 per step until it saturates at preact.max; ``steps`` defaults to enough
    steps to get there (``ceil(preact.max) + 4``).
    """
    from golden.lstm_fixed import FixedLSTMWeights

    fm = cfg.fmts
    d, h = cfg.input_size, cfg.hidden_size
    signs = tuple(gate_signs) if gate_signs is not None else (sign,) * 4
    col = np.repeat([fm.weight.int_max if s > 0 else fm.weight.int_min for s in signs], h)
    weights = FixedLSTMWeights.from_ints(np.tile(col, (d, 1)), np.tile(col, (h, 1)), col.copy(), fm,
                                         layer="saturation")
    steps = steps or int(np.ceil(fm.preact.max)) + 4
    seq = np.full((steps, d), fm.vec.int_max, dtype=np.int64)
    ctx = {"case": "saturation", "gate_signs": "".join("+" if s > 0 else "-" for s in signs),
           "config": cfg.module_name, "steps": steps}
    return EngineCase(cfg, weights, [seq], Traffic.smooth(steps), ctx)


def check_cycles(design, case: EngineCase, simulator: str = "icarus") -> list:
    """Run ``case`` back to back with no back-pressure; assert every latency equals the
    documented ``latency_cycles`` and every accept interval the documented
    ``beat_spacing`` (hdl.config.EngineConfig).  Returns the latencies."""
    from .runner import verify
    from .scoreboard import accept_intervals, latencies

    stim = case.stimulus(Traffic.smooth(case.n_beats))
    trace = verify(design, stim, case.reference(), simulator=simulator, context=case.context,
                   name=f"cycles-{design.label}")
    lat = [c for _, c in latencies(trace, stim)]
    gaps = accept_intervals(trace)
    want, spacing = case.cfg.latency_cycles, case.cfg.beat_spacing
    assert lat and set(lat) == {want}, (
        f"{design.label}: handshake-to-out_tvalid latencies {sorted(set(lat))}, documented {want}")
    assert not gaps or set(gaps) == {spacing}, (
        f"{design.label}: back-to-back accept intervals {sorted(set(gaps))}, documented {spacing}")
    return lat


def kill_checks(cfg, simulator: str = "icarus", keep_vcd: bool = False) -> list:
    """The regression the planted bugs must not survive: ``[(name, check(design))]``.

    Cheap, deterministic cases (fixed seeds) in the order of the properties: values on
    ordinary weights with mixed traffic, values at saturating weights, heavy
    back-pressure, a long saturating sequence (c reaches preact.max), and the cycle count.
    """
    from .runner import verify

    def values(seeds, **kw):
        def run(design):
            for seed in seeds:
                case = random_case(cfg, seed, **kw)
                verify(design, case.stimulus(), case.reference(), simulator=simulator,
                       context=case.context, name=f"kill-{design.label}", keep_vcd=keep_vcd)
        return run

    def saturation(design):
        for sign in (1, -1):
            case = saturation_case(cfg, sign)
            verify(design, case.stimulus(), case.reference(), simulator=simulator,
                   context=case.context, name=f"kill-{design.label}", keep_vcd=keep_vcd)

    def cycles(design):
        check_cycles(design, random_case(cfg, 11, n_sequences=2, max_len=3), simulator)

    return [
        ("ordinary weights, mixed traffic",
         values((1, 2), n_sequences=3, max_len=4, resets=1, stall_prob=0.3, gap_prob=0.3)),
        ("saturating weights", values((3, 4), n_sequences=2, max_len=3, weight_mode="uniform",
                                      input_mode="uniform")),
        ("heavy back-pressure", values((5,), n_sequences=3, max_len=3, stall_prob=0.6, gap_prob=0.5,
                                       long_stalls=True)),
        ("long saturating sequence", saturation),
        ("cycles per step", cycles),
    ]


__all__ = ["EngineCase", "random_case", "random_weights", "random_ints", "engine_reference",
           "engine_mutants", "Mutant"]


def mutation_report(cfg, simulator: str = "icarus", mutants=None) -> dict:
    """Plant every bug of the catalogue in ``cfg``'s converted engine and run :func:`kill_checks`.

    The unmutated design must pass the same checks first (else the report would prove
    nothing).  Writes ``build/cosim/mutants-<module>.json`` and returns the summary:
    ``total``, ``killed``, ``kinds`` and one entry per mutant with the check that
    caught it and the lines it changed.
    """
    import json
    import time

    from .compile import engine_design
    from .mutants import changed_lines, kill, mutant_design
    from .paths import build_root

    design = engine_design(cfg)
    checks = kill_checks(cfg, simulator)
    survivor = kill(design, checks)
    if survivor is not None:
        raise AssertionError(f"the unmutated engine fails the kill checks: {survivor}")
    results = []
    for m in (mutants if mutants is not None else ENGINE_MUTANTS):
        start = time.monotonic()
        killed_by = kill(mutant_design(design, m), checks)
        results.append({"name": m.name, "kind": m.kind, "description": m.description,
                        "killed_by": killed_by, "seconds": round(time.monotonic() - start, 2),
                        "changed": [{"from": a, "to": b} for a, b in changed_lines(design, m)[:6]]})
    summary = {"config": cfg.module_name, "simulator": simulator, "total": len(results),
               "killed": sum(r["killed_by"] is not None for r in results),
               "kinds": sorted({r["kind"] for r in results}),
               "checks": [name for name, _ in checks], "mutants": results}
    path = build_root() / f"mutants-{cfg.module_name}.json"
    path.write_text(json.dumps(summary, indent=1) + "\n")
    summary["report"] = str(path)
    return summary
