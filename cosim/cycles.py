"""Cycles per step measured in MyHDL simulation, beside the ideal and the formulas.

``python -m cosim.cycles`` simulates the engine for the reference layer shapes
(6->64, 64->32, 32->32, 32->64) at several lane counts, streams a few beats back to
back (out_tready high) and prints, per configuration: the ideal ``ceil(H(D+H)/P)``,
the documented beat spacing ``cfg.beat_spacing`` and the measured spacing of accepted
beats, the documented ``cfg.latency_cycles`` and the measured latency (input
handshake edge to the first edge sampling out_tvalid high), the target
``1.1 * ideal + 16`` for the spacing and the share of multiplier-cycles doing useful
work in steady streaming (``H(D+H) / (P * measured spacing)``).

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
    formula: int            # documented latency (cfg.latency_cycles = cfg.cycles_per_step)
    latency: tuple
    spacing: tuple
    target: float
    seconds: float
    spacing_formula: int = 0    # documented beat spacing (cfg.beat_spacing)

    @staticmethod
    def _one(what: str, values: tuple, row) -> int:
        if len(set(values)) != 1:
            raise AssertionError(f"D={row.input_size} H={row.hidden_size} P={row.lanes}: "
                                 f"{what} {values} differ from beat to beat")
        return values[0]

    @property
    def measured(self) -> int:
        """The measured latency, beat -> h (the same for every beat)."""
        return self._one("latencies", self.latency, self)

    @property
    def measured_spacing(self) -> int:
        """The measured spacing of back-to-back beats (the same for every pair)."""
        return self._one("spacings", self.spacing, self)

    @property
    def busy(self) -> float:
        return (self.hidden_size * (self.input_size + self.hidden_size)
                / (self.lanes * self.measured_spacing))


def measure(d: int, h: int, p: int, steps: int = 3) -> CycleRow:
    """Simulate ``steps`` back-to-back beats of the (D, H, P) engine; returns the timings."""
    from .engine import run_engine

    cfg = EngineConfig(d, h, p)
    t0 = time.perf_counter()
    run = run_engine(cfg, [], [([0] * d, False)] * steps)
    if run.violations:
        raise AssertionError(f"{cfg.module_name}: stream violations {run.violations}")
    spacing = tuple(b - a for a, b in zip(run.accept_edges, run.accept_edges[1:]))
    return CycleRow(d, h, p, cfg.ideal_cycles, cfg.latency_cycles, tuple(run.latencies), spacing,
                    cfg.target_cycles, time.perf_counter() - t0, cfg.beat_spacing)


def table(rows, markdown: bool = True) -> str:
    head = ["D->H", "P", "MACs", "ideal", "spacing formula", "spacing measured", "latency formula",
            "latency measured", "target", "spacing/ideal", "MAC busy"]
    lines = []
    for r in rows:
        sp = r.measured_spacing
        lines.append([f"{r.input_size}->{r.hidden_size}", str(r.lanes), str(4 * r.lanes), str(r.ideal),
                      str(r.spacing_formula), str(sp), str(r.formula), str(r.measured),
                      f"{r.target:.0f}" + ("" if sp <= r.target else " (missed)"),
                      f"{sp / r.ideal:.3f}", f"{100 * r.busy:.1f}%"])
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
    if args.steps < 2:
        parser.error(f"--steps: at least 2 beats are needed to measure their spacing, got {args.steps}")
    rows = []
    for d, h in args.shapes:
        for p in args.lanes:
            if p < 1 or h % p:
                continue
            row = measure(d, h, p, args.steps)
            rows.append(row)
            if row.measured != row.formula or row.measured_spacing != row.spacing_formula:
                print(f"D={d} H={h} P={p}: measured latency {row.measured} / spacing "
                      f"{row.measured_spacing} != formula {row.formula} / {row.spacing_formula}",
                      file=sys.stderr)
                return 1
            print(f"  measured D={d} H={h} P={p} in {row.seconds:.1f} s", file=sys.stderr)
    print(table(rows, markdown=not args.text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
