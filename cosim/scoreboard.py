"""Scoreboard: expected beats from a reference model, checks of a trace, mismatch reports.

The reference is plain Python: ``reference(xs, lasts) -> outputs`` maps one segment's
input beats (element tuples and tlast flags, state starting at zero and returning to
zero after every tlast) to the output element tuples.  :func:`check` holds a
:class:`cosim.stream.Trace` against it:

* the run finished (no timeout: a lost beat shows up as a run that never delivers);
* every input beat was accepted exactly once, in order;
* no AXI4-Stream stability violation, no X/Z on the outputs (Icarus);
* per segment between resets, the output beats equal the expected beats in order,
  element by element as integers, tlast included; the last segment must deliver every
  beat and nothing more (no loss, no duplicate); a segment cut by a reset may miss
  only its last ``max_lost_at_reset`` beats (those in flight), never deliver a wrong
  or extra one.

On failure, :class:`Report` describes the first differing beat: its index and cycle,
its input integers, expected and actual integers (and which elements differ), the
example's context (hypothesis seed, configuration), and where the failing case was
saved (stimulus, expected beats, VCD) for :mod:`cosim.repro`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .paths import build_root
from .stream import Stimulus, StreamShape, Trace
from .verilog import unpack_words


class MismatchError(AssertionError):
    """The design under test disagreed with the reference; the message is the report."""

    def __init__(self, report: "Report"):
        super().__init__(report.text())
        self.report = report


def _short(values, limit: int = 16) -> str:
    """A vector for a report: all of it when short, else its head and its length."""
    v = [int(x) for x in values]
    if len(v) <= limit:
        return str(v)
    return f"{str(v[:limit])[:-1]}, ... ({len(v)} elements)]"


@dataclass
class BeatMismatch:
    beat: int
    segment: int
    cycle: int
    inputs: tuple
    expected: tuple
    actual: tuple
    expected_last: bool
    actual_last: bool

    def differing(self) -> list:
        return [k for k, (e, a) in enumerate(zip(self.expected, self.actual)) if e != a]

    def text(self) -> str:
        diff = self.differing()
        lines = [f"first differing beat: #{self.beat} (segment {self.segment}), taken at cycle {self.cycle}",
                 f"  inputs   x = {_short(self.inputs)}",
                 f"  expected h = {_short(self.expected)}  tlast={int(self.expected_last)}",
                 f"  actual   h = {_short(self.actual)}  tlast={int(self.actual_last)}"]
        if diff:
            shown = ", ".join(f"[{k}] {self.expected[k]} != {self.actual[k]} "
                              f"(diff {self.actual[k] - self.expected[k]:+d})" for k in diff[:8])
            more = f" and {len(diff) - 8} more" if len(diff) > 8 else ""
            lines.append(f"  differing elements: {shown}{more}")
        return "\n".join(lines)


@dataclass
class Report:
    """Outcome of :func:`check`."""

    label: str
    problems: list = field(default_factory=list)
    mismatch: BeatMismatch | None = None
    context: dict = field(default_factory=dict)
    saved: str | None = None
    vcd: str | None = None
    simulator: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems and self.mismatch is None

    def text(self) -> str:
        if self.ok:
            return f"{self.label}: ok"
        lines = [f"{self.label} ({self.simulator}): the design disagrees with the reference"]
        if self.context:
            lines.append("  example: " + ", ".join(f"{k}={v}" for k, v in self.context.items()))
        if self.mismatch is not None:
            lines.append(self.mismatch.text())
        lines += [f"- {p}" for p in self.problems[:12]]
        if len(self.problems) > 12:
            lines.append(f"- ... {len(self.problems) - 12} more problems")
        if self.vcd:
            lines.append(f"waveform of the failing example (GTKWave): {self.vcd}")
        if self.saved:
            lines.append(f"reproduce: python -m cosim.repro {self.saved}")
        return "\n".join(lines)


def beats_elements(stim: Stimulus, shape: StreamShape) -> list:
    """Input beats as (element tuple, tlast) in stimulus order."""
    return [(unpack_words(d, shape.in_count, shape.in_bits), bool(last)) for d, last in stim.beats]


def expected_segments(stim: Stimulus, shape: StreamShape, reference) -> list:
    """Per segment between resets: the expected (output tuple, tlast) of each beat."""
    beats = beats_elements(stim, shape)
    out = []
    for start, stop in stim.segments:
        seg = beats[start:stop]
        if not seg:
            out.append([])
            continue
        ys = reference([x for x, _ in seg], [last for _, last in seg])
        if len(ys) != len(seg):
            raise ValueError(f"reference returned {len(ys)} outputs for {len(seg)} beats")
        out.append([(tuple(int(v) for v in y), last) for y, (_, last) in zip(ys, seg)])
    return out


def check(trace: Trace, stim: Stimulus, shape: StreamShape, reference, *, label: str = "design",
          max_lost_at_reset: int = 3, context: dict | None = None, expected=None) -> Report:
    """Hold ``trace`` against ``reference`` (see the module docstring); never raises."""
    rep = Report(label, context=dict(context or {}), simulator=trace.simulator)
    n = len(stim.beats)
    if trace.status != "ok":
        rep.problems.append(f"run ended with status {trace.status!r} at cycle {trace.end_cycle} "
                            f"({len(trace.accepts)}/{n} beats accepted, {len(trace.outputs)} outputs): "
                            "a beat was lost or the design hung")
    idx = [b for b, _ in trace.accepts]
    if idx != list(range(len(idx))) or (trace.status == "ok" and len(idx) != n):
        rep.problems.append(f"input beats accepted out of order or not all: {idx[:20]}")
    for c, what in trace.violations[:5]:
        rep.problems.append(f"AXI4-Stream rule broken at cycle {c}: {what}")
    if trace.xz_errors:
        rep.problems.append(f"{trace.xz_errors} cycle(s) with X/Z on the outputs after reset: "
                            + "; ".join(trace.xz_messages[:3]))
    exp = expected if expected is not None else expected_segments(stim, shape, reference)
    inputs = beats_elements(stim, shape)
    segs = stim.segments
    by_seg = [[] for _ in segs]
    for o in trace.outputs:
        s = trace.segment_of(o.cycle)
        if s < len(by_seg):
            by_seg[s].append(o)
        else:
            rep.problems.append(f"output beat at cycle {o.cycle} after more resets than scheduled")
    for s, ((start, stop), want, got) in enumerate(zip(segs, exp, by_seg)):
        final = s == len(segs) - 1
        for k, o in enumerate(got):
            if k >= len(want):
                rep.problems.append(f"segment {s}: extra output beat #{k} at cycle {o.cycle} "
                                    f"(only {len(want)} beats went in): a duplicate or stale beat")
                break
            actual = unpack_words(o.data, shape.out_count, shape.out_bits)
            if actual != want[k][0] or o.last != want[k][1]:
                if rep.mismatch is None:
                    rep.mismatch = BeatMismatch(start + k, s, o.cycle, inputs[start + k][0], want[k][0],
                                                actual, want[k][1], o.last)
                break
        if trace.status == "ok":
            lost = len(want) - len(got)
            if final and lost > 0:
                rep.problems.append(f"segment {s}: {lost} of {len(want)} output beats never came "
                                    f"(first missing: beat #{start + len(got)})")
            elif not final and lost > max_lost_at_reset:
                rep.problems.append(f"segment {s}: {lost} beats lost at the reset, more than the "
                                    f"{max_lost_at_reset} that can be in flight")
    return rep


def latencies(trace: Trace, stim: Stimulus) -> list:
    """Handshake edge -> first edge with out_tvalid, per delivered beat: [(beat, cycles)]."""
    accepted = dict(trace.accepts)
    out = []
    segs = stim.segments
    by_seg = [[] for _ in segs]
    for o in trace.outputs:
        s = trace.segment_of(o.cycle)
        if s < len(by_seg):
            by_seg[s].append(o)
    for (start, _), got in zip(segs, by_seg):
        for k, o in enumerate(got):
            beat = start + k
            if beat in accepted:
                out.append((beat, o.first - accepted[beat]))
    return out


def accept_intervals(trace: Trace) -> list:
    """Cycles between consecutive accepted input beats."""
    cyc = [c for _, c in trace.accepts]
    return [b - a for a, b in zip(cyc, cyc[1:])]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120] or "case"


def save_failure(report: Report, stim: Stimulus, shape: StreamShape, expected: list,
                 design_verilog: str, module: str, name: str) -> Path:
    """Keep a failing case under build/cosim/failures/<name>/ for :mod:`cosim.repro`."""
    folder = build_root() / "failures" / _safe(name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stimulus.txt").write_text(stim.to_text())
    case = {"module": module, "verilog": str(design_verilog), "shape": vars(shape),
            "expected": [[list(y), bool(last)] for y, last in (b for seg in expected for b in seg)],
            "segments": [len(seg) for seg in expected], "context": report.context,
            "stimulus": {"reset_cycles": stim.reset_cycles, "tail_cycles": stim.tail_cycles,
                         "max_cycles": stim.max_cycles}}
    (folder / "case.json").write_text(json.dumps(case, indent=1, default=str))
    report.saved = str(folder)
    (folder / "report.txt").write_text(report.text() + "\n")
    return folder
