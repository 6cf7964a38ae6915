r"""Stimulus, traces, and the host model that drives the stream ports cycle by cycle.

One host model serves both simulators: :class:`HostModel` is plain Python and runs
inside the MyHDL bench (:func:`host_bench`, used with the Icarus VPI cosimulation); the
Verilator harness (:mod:`cosim.verilator`) is a line-by-line C++ transcription of it.
Both read the same :class:`Stimulus` and produce the same :class:`Trace` text, so the
two simulators can be compared as traces, cycle numbers included.

What the host does, cycle by cycle (all decisions are taken right after a rising edge
``c``, from the values sampled just before it, and drive cycle ``c + 1``)::

    clk      _/~\_/~\_/~\_/~\_/~\_/~\_/~\_/~\_/~\_/~\_/~\_/~\_
    rst      ~~~~~~~\___________________________/~~~\_________   reset_cycles, then mid-run resets
    wr_en    _______/~~~~~~~~~~~\_____________________________   every image word once
    in_tvalid___________________/~~~~~~~\_/~~~\______/~~~~~~   gaps[k] idle cycles before beat k
    in_tready~~~~~~~~~~~~~~~~~~~~~~~~~~~~\___/~~~\___________   (from the device)
    out_tready  ready[c % len(ready)]                            back-pressure pattern

* a beat is *accepted* at edge ``c`` when tvalid and tready were both high and rst low;
* an output beat is *taken* at edge ``c`` when out_tvalid and out_tready were high;
  its *first* cycle is the edge at which it was first seen valid (latency measurement);
* while ``out_tvalid && !out_tready``, out_tdata/out_tlast must not change and
  out_tvalid must stay high (AXI4-Stream rule), else a violation is recorded;
* after beat ``k`` is accepted, a scheduled reset waits ``reset_wait[k]`` cycles (no
  new beat is offered meanwhile, so the reset cuts the stream exactly after beat
  ``k``) and drives rst for ``reset_len[k]`` cycles: beats in flight are legitimately
  lost, the next beat starts a new sequence from h = c = 0;
* the run ends ``tail_cycles`` after the last expected output (extra beats in the tail
  are caught as duplicates), or at ``max_cycles`` with status ``timeout``.

Trace text (one record per line, shared by both simulators)::

    in  <beat> <cycle>
    out <cycle> <first> <last> <hex data>
    rst <cycle>
    viol <cycle> <what>
    end <cycle> <status>
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class StreamShape:
    """How the stream words split into elements: counts and bits of in/out elements."""

    in_count: int
    in_bits: int
    out_count: int
    out_bits: int
    addr_bits: int
    data_bits: int


@dataclass(frozen=True)
class Stimulus:
    """Everything the host does in one run (see the module docstring).

    Attributes
    ----------
    image : tuple of (int, int)
        (address, unsigned word) writes, in order, after the first reset.
    beats : tuple of (int, bool)
        Input beats: packed tdata (unsigned) and tlast.
    gaps : tuple of int
        Idle cycles (tvalid low) before offering each beat.
    ready : tuple of bool
        out_tready pattern, value at cycle c is ``ready[c % len(ready)]``.
    reset_wait, reset_len : tuple of int
        Per beat: -1 for no reset after it, else the cycles to wait after its acceptance
        and the cycles rst is held.
    """

    image: tuple
    beats: tuple
    gaps: tuple
    ready: tuple = (True,)
    reset_wait: tuple = ()
    reset_len: tuple = ()
    reset_cycles: int = 2
    tail_cycles: int = 8
    max_cycles: int = 1_000_000

    def __post_init__(self):
        n = len(self.beats)
        if len(self.gaps) != n:
            raise ValueError(f"stimulus: gaps has {len(self.gaps)} entries for {n} beats")
        if not self.reset_wait:
            object.__setattr__(self, "reset_wait", (-1,) * n)
            object.__setattr__(self, "reset_len", (0,) * n)
        if len(self.reset_wait) != n or len(self.reset_len) != n:
            raise ValueError("stimulus: reset_wait and reset_len need one entry per beat")
        if not 1 <= len(self.ready) <= 65535:
            raise ValueError(f"stimulus: ready pattern needs 1..65535 entries, got {len(self.ready)}")
        if self.reset_cycles < 1:
            raise ValueError("stimulus: reset_cycles must be at least 1")
        for k, (w, ln) in enumerate(zip(self.reset_wait, self.reset_len)):
            if w >= 0 and ln < 1:
                raise ValueError(f"stimulus: beat {k}: a reset needs reset_len >= 1")

    @property
    def reset_points(self) -> list:
        """Beat indices after which a reset is scheduled."""
        return [k for k, w in enumerate(self.reset_wait) if w >= 0]

    @property
    def segments(self) -> list:
        """Beat index ranges between resets: [(start, stop), ...]."""
        bounds = [0] + [k + 1 for k in self.reset_points] + [len(self.beats)]
        return list(zip(bounds[:-1], bounds[1:]))

    @property
    def expect_final(self) -> int:
        """Outputs expected after the last reset (every beat of the last segment)."""
        start, stop = self.segments[-1]
        return stop - start

    def to_text(self) -> str:
        """The stimulus file the Verilator harness reads."""
        lines = [f"reset_cycles {self.reset_cycles}", f"max_cycles {self.max_cycles}",
                 f"tail_cycles {self.tail_cycles}", f"expect_final {self.expect_final}",
                 f"ready {len(self.ready)} " + "".join("1" if r else "0" for r in self.ready),
                 f"image {len(self.image)}"]
        lines += [f"{a:x} {d:x}" for a, d in self.image]
        lines.append(f"beats {len(self.beats)}")
        for (data, last), gap, w, ln in zip(self.beats, self.gaps, self.reset_wait, self.reset_len):
            lines.append(f"{gap} {int(bool(last))} {data:x} {w} {ln}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(cls, text: str) -> "Stimulus":
        """Read the text written by :meth:`to_text`."""
        tok = text.split()
        pos = 0

        def take(key=None):
            nonlocal pos
            if key is not None:
                if tok[pos] != key:
                    raise ValueError(f"stimulus text: expected {key!r}, found {tok[pos]!r}")
                pos += 1
            pos += 1
            return tok[pos - 1]

        head = {k: int(take(k)) for k in ("reset_cycles", "max_cycles", "tail_cycles", "expect_final")}
        nready = int(take("ready"))
        ready = ""
        while len(ready) < nready:
            ready += take()
        image = tuple((int(take(), 16), int(take(), 16)) for _ in range(int(take("image"))))
        rows = [(int(take()), take() == "1", int(take(), 16), int(take()), int(take()))
                for _ in range(int(take("beats")))]
        return cls(image, tuple((d, last) for _, last, d, _, _ in rows), tuple(r[0] for r in rows),
                   tuple(ch == "1" for ch in ready), tuple(r[3] for r in rows), tuple(r[4] for r in rows),
                   head["reset_cycles"], head["tail_cycles"], head["max_cycles"])


@dataclass(frozen=True)
class OutBeat:
    cycle: int      # edge at which it was taken
    first: int      # edge at which it was first seen valid
    last: bool
    data: int


@dataclass
class Trace:
    """What a run observed (see the module docstring for the text form)."""

    accepts: list = field(default_factory=list)     # [(beat, cycle)]
    outputs: list = field(default_factory=list)     # [OutBeat]
    resets: list = field(default_factory=list)      # [cycle rst first driven]
    violations: list = field(default_factory=list)  # [(cycle, what)]
    end_cycle: int = 0
    status: str = "running"
    xz_errors: int | None = None    # None: the simulator cannot see X/Z (Verilator)
    xz_messages: list = field(default_factory=list)
    simulator: str = ""
    wall_seconds: float = 0.0
    vcd: str | None = None

    def core(self) -> tuple:
        """The simulator-independent part, for comparing two simulators."""
        return (tuple(self.accepts), tuple(self.outputs), tuple(self.resets),
                tuple(self.violations), self.end_cycle, self.status)

    def to_text(self) -> str:
        lines = [f"in {b} {c}" for b, c in self.accepts]
        lines += [f"out {o.cycle} {o.first} {int(o.last)} {o.data:x}" for o in self.outputs]
        lines += [f"rst {c}" for c in self.resets]
        lines += [f"viol {c} {w}" for c, w in self.violations]
        lines.append(f"end {self.end_cycle} {self.status}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(cls, text: str, simulator: str = "") -> "Trace":
        t = cls(simulator=simulator)
        for n, line in enumerate(text.splitlines(), 1):
            f = line.split()
            if not f:
                continue
            try:
                if f[0] == "in":
                    t.accepts.append((int(f[1]), int(f[2])))
                elif f[0] == "out":
                    t.outputs.append(OutBeat(int(f[1]), int(f[2]), f[3] == "1", int(f[4], 16)))
                elif f[0] == "rst":
                    t.resets.append(int(f[1]))
                elif f[0] == "viol":
                    t.violations.append((int(f[1]), " ".join(f[2:])))
                elif f[0] == "end":
                    t.end_cycle, t.status = int(f[1]), f[2]
                else:
                    raise ValueError(f"unknown record {f[0]!r}")
            except (IndexError, ValueError) as exc:
                raise ValueError(f"trace line {n}: cannot read {line!r}: {exc}") from exc
        t.accepts.sort(key=lambda a: a[1])
        t.outputs.sort(key=lambda o: o.cycle)
        return t

    def segment_of(self, cycle: int) -> int:
        """How many mid-run resets began at or before ``cycle``."""
        return sum(1 for r in self.resets if r <= cycle)


@dataclass
class Drive:
    """Values the host drives during one cycle."""

    rst: int = 1
    in_tvalid: int = 0
    in_tdata: int = 0
    in_tlast: int = 0
    out_tready: int = 0
    wr_en: int = 0
    wr_addr: int = 0
    wr_data: int = 0


class HostModel:
    """The host state machine (see the module docstring); the C++ harness mirrors it."""

    def __init__(self, stim: Stimulus):
        self.stim = stim
        self.trace = Trace()
        self.rst_left = stim.reset_cycles
        self.wr_idx = 0
        self.beat = 0
        self.gap_left = stim.gaps[0] if stim.beats else 0
        self.offering = False
        self.reset_wait = -1
        self.reset_len = 0
        self.outs_since_reset = 0
        self.tail_left = -1
        self.prev_valid = False
        self.prev_taken = False
        self.stall = None          # (data, last) held while valid && !ready
        self.first = 0
        self.drive = Drive(rst=1)
        self.rst_left -= 1
        self.probes = {}

    def initial(self) -> Drive:
        return Drive(**vars(self.drive))

    def edge(self, c: int, in_tready: int, out_tvalid: int, out_tdata: int, out_tlast: int):
        """Process rising edge ``c``; return the Drive for cycle c+1, or None when done."""
        d, st, tr = self.drive, self.stim, self.trace
        if not d.rst:
            if d.wr_en:
                self.wr_idx += 1
            if d.in_tvalid and in_tready:
                tr.accepts.append((self.beat, c))
                if st.reset_wait[self.beat] >= 0:
                    self.reset_wait = st.reset_wait[self.beat]
                    self.reset_len = st.reset_len[self.beat]
                self.beat += 1
                self.offering = False
                if self.beat < len(st.beats):
                    self.gap_left = st.gaps[self.beat]
            if self.stall is not None:
                if not out_tvalid:
                    tr.violations.append((c, "out_tvalid dropped before out_tready"))
                elif (out_tdata, bool(out_tlast)) != self.stall:
                    tr.violations.append((c, "out_tdata/out_tlast changed while stalled"))
            if out_tvalid and (not self.prev_valid or self.prev_taken):
                self.first = c
            taken = bool(out_tvalid and d.out_tready)
            if taken:
                tr.outputs.append(OutBeat(c, self.first, bool(out_tlast), int(out_tdata)))
                self.outs_since_reset += 1
            self.stall = (int(out_tdata), bool(out_tlast)) if out_tvalid and not d.out_tready else None
            self.prev_valid, self.prev_taken = bool(out_tvalid), taken
        else:
            self.stall = None
            self.prev_valid = self.prev_taken = False

        if c + 1 >= st.max_cycles:
            tr.end_cycle, tr.status = c, "timeout"
            return None
        if self.tail_left < 0 and self.beat == len(st.beats) and self.reset_wait < 0 \
                and self.rst_left == 0 and not d.rst and self.outs_since_reset >= st.expect_final:
            self.tail_left = st.tail_cycles
        if self.tail_left == 0:
            tr.end_cycle, tr.status = c, "ok"
            return None
        if self.tail_left > 0:
            self.tail_left -= 1

        nd = Drive(rst=0, out_tready=int(st.ready[(c + 1) % len(st.ready)]))
        if self.reset_wait == 0:
            self.reset_wait = -1
            self.rst_left = self.reset_len
            tr.resets.append(c + 1)
            self.outs_since_reset = 0
        elif self.reset_wait > 0:
            self.reset_wait -= 1
        if self.rst_left > 0:
            self.rst_left -= 1
            nd = Drive(rst=1)
            self.offering = False
        elif self.wr_idx < len(st.image):
            nd.wr_en = 1
            nd.wr_addr, nd.wr_data = st.image[self.wr_idx]
        elif self.beat < len(st.beats) and self.reset_wait < 0:
            if not self.offering:
                if self.gap_left > 0:
                    self.gap_left -= 1
                else:
                    self.offering = True
            if self.offering:
                nd.in_tvalid = 1
                nd.in_tdata, last = st.beats[self.beat]
                nd.in_tlast = int(bool(last))
        self.drive = nd
        return Drive(**vars(nd))


def host_bench(ports: dict, stim: Stimulus, half_period: int = 5, wall_timeout: float = 600.0,
               probes: tuple = ()):
    """MyHDL generators driving ``ports`` (name -> Signal) with a :class:`HostModel`.

    Returns ``(instances, model)``; after the simulation ``model.trace`` holds the trace
    and ``model.probes`` the final values of the ``probes`` signals (read before MyHDL
    clears every signal at the end of a simulation).  The clock starts at 0 (a clock
    from X would never toggle).  ``wall_timeout`` stops a hung run with status
    ``wall-timeout``.
    """
    from myhdl import StopSimulation, delay, instance

    model = HostModel(stim)
    clk = ports["clk"]
    driven = ("rst", "in_tvalid", "in_tdata", "in_tlast", "out_tready", "wr_en", "wr_addr", "wr_data")

    def apply(d: Drive):
        for name in driven:
            ports[name].next = getattr(d, name)

    @instance
    def clock():
        clk.next = 0
        while True:
            yield delay(half_period)
            clk.next = not clk

    @instance
    def host():
        apply(model.initial())
        start = time.monotonic()
        c = 0
        while True:
            yield clk.posedge
            nd = model.edge(c, int(ports["in_tready"].val), int(ports["out_tvalid"].val),
                            int(ports["out_tdata"].val), int(ports["out_tlast"].val))
            if nd is None or ((c & 1023) == 0 and time.monotonic() - start > wall_timeout):
                if nd is not None:
                    model.trace.end_cycle, model.trace.status = c, "wall-timeout"
                model.probes = {p: int(ports[p].val) for p in probes}
                raise StopSimulation("host finished")
            apply(nd)
            c += 1

    return (clock, host), model
