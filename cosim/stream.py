r"""The stream protocol's records: what the host is told to do, and what it saw.

The engines speak AXI4-Stream-style handshakes (``in_t*`` into the device, ``out_t*``
out of it) beside a weight write port (``wr_en``, ``wr_addr``, ``wr_data``).  A run of
the host is described once, as a :class:`Stimulus`, and observed once, as a
:class:`Trace`; both have a text form, so the host model in Python
(:mod:`cosim.host`: the driver of :mod:`cosim.driver` and the monitor of
:mod:`cosim.monitor`) and its transcriptions (the C++ harness of
:mod:`cosim.verilator`, the Verilog bench of :mod:`cosim.icarus_file`) read the same
stimulus file and write the same trace, cycle numbers included.

What the host does, cycle by cycle (all decisions are taken right after a rising edge
``c``, from the values sampled just before it, and drive cycle ``c + 1``; the first
rising edge is cycle 0)::

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

Trace text (one record per line, shared by every runner)::

    in  <beat> <cycle>
    out <cycle> <first> <last> <hex data>
    rst <cycle>
    viol <cycle> <what>
    end <cycle> <status>
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


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
    expect_outputs : int, optional
        Output beats to wait for after the last reset; by default one per input beat of
        the last segment (an engine answers every step), a device that answers with a
        different count (a byte bridge: frames of bytes) says how many.
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
    expect_outputs: int | None = None

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
        if self.expect_outputs is not None and self.expect_outputs < 0:
            raise ValueError(f"stimulus: expect_outputs must not be negative, got {self.expect_outputs}")

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
        """Outputs expected after the last reset (default: every beat of the last segment)."""
        if self.expect_outputs is not None:
            return self.expect_outputs
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
        stim = cls(image, tuple((d, last) for _, last, d, _, _ in rows), tuple(r[0] for r in rows),
                   tuple(ch == "1" for ch in ready), tuple(r[3] for r in rows), tuple(r[4] for r in rows),
                   head["reset_cycles"], head["tail_cycles"], head["max_cycles"])
        if stim.expect_final != head["expect_final"]:
            stim = replace(stim, expect_outputs=head["expect_final"])
        return stim


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
