"""Cycles per step measured in MyHDL simulation, beside the ideal and the formula.

``python -m cosim.cycles`` simulates the engine for the reference layer shapes
(6->64, 64->32, 32->32, 32->64) at several lane counts, streams a few beats back to
back and prints, per configuration: the ideal ``ceil(H(D+H)/P)``, the documented
``cfg.cycles_per_step``, the measured latency (input handshake edge to the first edge
sampling out_tvalid high) and spacing of accepted beats, the target
``1.1 * ideal + 16`` and the share of multiplier-cycles doing useful work.

The engine's control has no data-dependent path, so the timing is measured with the
weight memory left unwritten (the block tests check the values with real weights).
The host is the co-simulation's (:func:`cosim.engine.run_engine` on the MyHDL block).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

from hdl.config import EngineConfig

REFERENCE_SHAPES = ((6, 64), (64, 32), (32, 32), (32, 64))
DEFAULT_LANES = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class CycleRow:
    input_size: int
    hidden_size: int
    lanes: int
    ideal: int
    formula: int
    latency: tuple
    spacing: tuple
    target: float
    seconds: float

    @property
    def measured(self) -> int:
        """The measured cycles per step (every latency and spacing must agree)."""
        values = set(self.latency) | set(self.spacing)
        if len(values) != 1:
            raise AssertionError(f"D={self.input_size} H={self.hidden_size} P={self.lanes}: "
                                 f"latencies {self.latency} and spacings {self.spacing} disagree")
        return values.pop()

    @property
    def busy(self) -> float:
        return self.hidden_size * (self.input_size + self.hidden_size) / (self.lanes * self.measured)


def measure(d: int, h: int, p: int, steps: int = 3) -> CycleRow:
    """Simulate ``steps`` back-to-back beats of the (D, H, P) engine; returns the timings."""
    from .engine import run_engine

    cfg = EngineConfig(d, h, p)
    t0 = time.perf_counter()
    run = run_engine(cfg, [], [([0] * d, False)] * steps)
    if run.violations:
        raise AssertionError(f"{cfg.module_name}: stream violations {run.violations}")
    spacing = tuple(b - a for a, b in zip(run.accept_edges, run.accept_edges[1:]))
    return CycleRow(d, h, p, cfg.ideal_cycles, cfg.cycles_per_step, tuple(run.latencies), spacing,
                    cfg.target_cycles, time.perf_counter() - t0)


def table(rows, markdown: bool = True) -> str:
    head = ["D->H", "P", "MACs", "ideal", "formula", "measured", "target", "measured/ideal", "MAC busy"]
    lines = []
    for r in rows:
        lines.append([f"{r.input_size}->{r.hidden_size}", str(r.lanes), str(4 * r.lanes), str(r.ideal),
                      str(r.formula), str(r.measured),
                      f"{r.target:.0f}" + ("" if r.measured <= r.target else " (missed)"),
                      f"{r.measured / r.ideal:.3f}", f"{100 * r.busy:.1f}%"])
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        out += ["| " + " | ".join(cells) + " |" for cells in lines]
        return "\n".join(out)
    widths = [max(len(x) for x in col) for col in zip(head, *lines)]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(cells, widths)) for cells in [head] + lines)


def _shapes(text: str):
    shapes = []
    for part in text.split(","):
        try:
            d, h = part.lower().split("x")
            shapes.append((int(d), int(h)))
        except ValueError:
            raise argparse.ArgumentTypeError(f"--shapes: expected DxH[,DxH...], got {part!r}") from None
    return shapes


def _ints(text: str):
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cosim.cycles", description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=_shapes, default=list(REFERENCE_SHAPES),
                        help="layer shapes DxH, comma separated (default: the reference shapes)")
    parser.add_argument("--lanes", type=_ints, default=list(DEFAULT_LANES),
                        help="lane counts P (those not dividing H are skipped; default 1,2,4,8,16)")
    parser.add_argument("--steps", type=int, default=3, help="beats streamed per configuration")
    parser.add_argument("--text", action="store_true", help="plain columns instead of a markdown table")
    args = parser.parse_args(argv)
    rows = []
    for d, h in args.shapes:
        for p in args.lanes:
            if p < 1 or h % p:
                continue
            row = measure(d, h, p, args.steps)
            rows.append(row)
            if row.measured != row.formula:
                print(f"D={d} H={h} P={p}: measured {row.measured} != formula {row.formula}", file=sys.stderr)
                return 1
            print(f"  measured D={d} H={h} P={p} in {row.seconds:.1f} s", file=sys.stderr)
    print(table(rows, markdown=not args.text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
