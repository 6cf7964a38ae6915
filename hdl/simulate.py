"""Run the engine in MyHDL simulation: load weights, stream steps, record every beat.

The bench drives the engine cycle by cycle like a host: reset, then one weight word
per cycle through the write port, then input beats (optionally with idle gaps) while
a ready pattern back-pressures the output.  It records the edge of every accepted
input and every output, checks the stream rules (output held while not taken, no
beat taken while the engine is busy) and returns the outputs for the caller to
compare with :func:`golden.lstm_fixed.lstm_layer_fixed`.

Used by the block tests (``tests/hdl``) and by :mod:`hdl.cycles`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import EngineConfig
from .stream import pack_words, unpack_words


class SimulationTimeout(RuntimeError):
    """The bench ran out of cycles before every expected output arrived."""


@dataclass
class EngineRun:
    """What the bench saw.

    Attributes
    ----------
    outputs : list of (list of int, bool)
        h (signed vec integers) and tlast of each output beat, in order.
    accept_edges : list of int
        Edge number at which each input beat was taken.
    output_edges : list of int
        Edge number at which each output beat was taken.
    first_valid_edges : list of int
        Edge number at which each output beat was first seen valid.
    violations : list of str
        Stream-rule violations seen (empty when the engine behaved).
    cycles : int
        Edges simulated in all.
    """

    outputs: list = field(default_factory=list)
    accept_edges: list = field(default_factory=list)
    output_edges: list = field(default_factory=list)
    first_valid_edges: list = field(default_factory=list)
    violations: list = field(default_factory=list)
    cycles: int = 0

    @property
    def latencies(self) -> list:
        """Edges from each input beat's acceptance to its output first seen valid."""
        return [o - a for a, o in zip(self.accept_edges, self.first_valid_edges)]


def run_engine(cfg: EngineConfig, image, steps, *, ready=(1,), gaps=None, reset_cycles=2,
               reset_after=None, max_cycles=None, trace=False) -> EngineRun:
    """Simulate ``lstm_engine`` for ``cfg`` in MyHDL.

    Parameters
    ----------
    cfg : EngineConfig
    image : list of (int, int)
        Memory image (address, unsigned word), e.g. :func:`golden.memory_map.layer_image`.
    steps : list of (sequence of int, bool)
        Input beats: x (D signed vec integers) and tlast.
    ready : sequence of int
        out_tready at cycle c is ``ready[c % len(ready)]`` (1: always ready).
    gaps : sequence of int, optional
        Idle cycles before offering each beat.
    reset_after : (int, int, int), optional
        ``(beat, wait, length)``: ``wait`` cycles after beat ``beat`` is taken, hold
        ``rst`` high for ``length`` cycles (in_tvalid low meanwhile).  With ``wait``
        shorter than a step, that beat's output is lost and the following beats
        start a new sequence; the run then expects one output fewer.
    max_cycles : int, optional
        Safety limit; default from ``cfg.cycles_per_step`` and the beat count.
    """
    from myhdl import ResetSignal, Signal, block, delay, instance, intbv, StopSimulation  # noqa: F401

    from .lstm_engine import lstm_engine
    from .ports import top_ports

    steps = [(list(x), bool(last)) for x, last in steps]
    for n, (x, _) in enumerate(steps):
        if len(x) != cfg.input_size:
            raise ValueError(f"run_engine: beat {n} has {len(x)} elements, expected {cfg.input_size}")
    gaps = list(gaps) if gaps is not None else [0] * len(steps)
    ready = [int(r) for r in ready] or [1]
    if max_cycles is None:
        stall = max(1, len(ready) - sum(ready) + 1)
        max_cycles = (reset_cycles + len(image) + 20
                      + (len(steps) + 1) * (cfg.cycles_per_step + 4) * stall + sum(gaps))
    vw = cfg.vec_bits
    ports = top_ports(cfg)
    run = EngineRun()

    @block
    def bench():
        dut = lstm_engine(**ports, cfg=cfg)
        clk = ports["clk"]

        @instance
        def clock():
            clk.next = 0
            while True:
                yield delay(5)
                clk.next = not clk

        @instance
        def host():
            p = ports
            edge = 0
            p["rst"].next = 1
            p["out_tready"].next = 0
            for _ in range(reset_cycles):
                yield clk.posedge
                edge += 1
            p["rst"].next = 0
            for addr, word in image:
                p["wr_en"].next = 1
                p["wr_addr"].next = addr
                p["wr_data"].next = word
                yield clk.posedge
                edge += 1
            p["wr_en"].next = 0
            beat = 0
            gap_left = gaps[0] if steps else 0
            held = None
            valid_since = None
            expected = len(steps) - (1 if reset_after is not None else 0)
            reset_wait = reset_len = None
            while len(run.outputs) < expected:
                # drive this cycle
                if reset_wait is not None and reset_wait == 0:
                    p["rst"].next = 1
                    p["in_tvalid"].next = 0
                    reset_len -= 1
                    if reset_len == 0:
                        reset_wait = None
                    held = None
                    valid_since = None
                elif beat < len(steps) and gap_left == 0:
                    p["rst"].next = 0
                    x, last = steps[beat]
                    p["in_tdata"].next = pack_words(x, vw)
                    p["in_tlast"].next = last
                    p["in_tvalid"].next = 1
                else:
                    p["rst"].next = 0
                    p["in_tvalid"].next = 0
                if reset_wait:
                    reset_wait -= 1
                p["out_tready"].next = ready[edge % len(ready)]
                yield clk.posedge
                edge += 1
                if edge > max_cycles:
                    run.cycles = edge
                    raise SimulationTimeout(
                        f"engine {cfg.module_name}: {len(run.outputs)} of {len(steps)} outputs "
                        f"after {edge} cycles")
                # what this edge sampled
                if p["rst"]:
                    continue
                if p["in_tvalid"] and p["in_tready"]:
                    run.accept_edges.append(edge)
                    if reset_after is not None and beat == reset_after[0]:
                        reset_wait, reset_len = reset_after[1], max(1, reset_after[2])
                    beat += 1
                    gap_left = gaps[beat] if beat < len(steps) else 0
                elif beat < len(steps) and gap_left > 0:
                    gap_left -= 1
                if p["out_tvalid"]:
                    now = (int(p["out_tdata"]), bool(p["out_tlast"]))
                    if valid_since is None:
                        valid_since = edge
                    if held is not None and now != held:
                        run.violations.append(f"edge {edge}: out_tdata/out_tlast changed while "
                                              "out_tvalid high and not taken")
                    if p["out_tready"]:
                        run.outputs.append((unpack_words(now[0], cfg.hidden_size, vw), now[1]))
                        run.output_edges.append(edge)
                        run.first_valid_edges.append(valid_since)
                        held = None
                        valid_since = None
                    else:
                        held = now
                elif held is not None:
                    run.violations.append(f"edge {edge}: out_tvalid dropped before the beat was taken")
                    held = None
                    valid_since = None
            run.cycles = edge
            raise StopSimulation()

        return dut, clock, host

    tb = bench()
    if trace:
        tb.config_sim(trace=True)
    try:
        tb.run_sim(quiet=1)
    finally:
        tb.quit_sim()
    return run


def run_pipeline(make_block, clk, inputs: dict, outputs: dict, vectors: list) -> list:
    """Drive a pipelined block with one input vector per cycle and collect its outputs.

    Parameters
    ----------
    make_block : callable
        Returns the block instance (built on the signals given here).
    clk : Signal(bool)
        The block's clock (started at 0 by the bench).
    inputs : dict name -> Signal
    outputs : dict name -> (Signal, latency)
        Each output is read ``latency`` (>= 1) rising edges after its input vector.
    vectors : list of dict name -> int
        ``vectors[n]`` is applied during cycle ``n``.

    Returns
    -------
    list of dict name -> int
        Output values belonging to each input vector.
    """
    from myhdl import Simulation, StopSimulation, delay

    if any(lat < 1 for _, lat in outputs.values()):
        raise ValueError("run_pipeline: every output latency must be at least 1")
    n = len(vectors)
    longest = max(lat for _, lat in outputs.values())
    results = [dict() for _ in range(n)]

    def clock():
        clk.next = 0
        while True:
            yield delay(5)
            clk.next = not clk

    def drive():
        for c in range(n + longest):
            if c < n:
                for name, value in vectors[c].items():
                    inputs[name].next = value
            yield clk.posedge
            yield delay(1)
            for name, (sig, lat) in outputs.items():
                idx = c + 1 - lat
                if 0 <= idx < n:
                    results[idx][name] = int(sig)
        raise StopSimulation()

    # The block under test is the top of its own hierarchy (MyHDL refuses a block
    # created through a helper inside another block), simulated with two generators.
    sim = Simulation(make_block(), clock(), drive())
    try:
        sim.run(quiet=1)
    finally:
        sim.quit()
    return results
