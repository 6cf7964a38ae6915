"""``lstm-chiplet synth``: the implementation flow, generic cell counts and utilisation, in one run.

Owns the command's options and defaults (which designs a plain run implements) and
the run itself: each part's results replace their entries in ``summary.json`` and
``summary.md`` under ``--out`` and keep the others, each entry dated.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from cosim.tools import MissingToolError, ToolFailed

from hdl.board_config import DEFAULT_BAUD

from .board import BOARDS, DEFAULT_BOARD_LANES, DEFAULT_CLOCK_MHZ, BoardRefused, board_build, board_markdown, implement_board
from .device import TARGET_MHZ, UP5K
from .flow import implement
from .nextpnr import DEFAULT_SEED
from .reports import load_summary, summary_markdown
from .sources import DEFAULT_OUT, DesignSource, autoencoder_source, engine_source
from .utilisation import (generic_cells, utilisation, utilisation_markdown, utilisation_plot, window_utilisation,
                          window_utilisation_markdown)

#: Single-layer engines reported by default: (D, H, P); the first, the smallest engine,
#: places its whole datapath (tables, gate units, cell update) on the device.
DEFAULT_ENGINES = ((2, 4, 1), (6, 64, 1), (6, 64, 2), (32, 32, 1), (32, 32, 2))
#: Lanes of the whole-window design in the default run: one SPRAM block per gate feeds
#: one multiplier (the UP5K's four SPRAMs hold the four gates' weights).
DEFAULT_AUTOENCODER_LANES = 1
#: Generic cell counts by default: shape (D, H) at these lane counts.
DEFAULT_GENERIC_SHAPE = (32, 32)
DEFAULT_GENERIC_LANES = (1, 2, 4, 8)


def _engines(text: str):
    out = []
    for part in text.split(","):
        try:
            d, h, p = (int(v) for v in part.lower().split("x"))
        except ValueError:
            raise ValueError(f"--engines: expected DxHxP[,DxHxP...], got {part!r}") from None
        out.append((d, h, p))
    return out


def _ints(text: str, what: str):
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{what}: expected comma-separated integers, got {text!r}") from None


def _seeds(text: str):
    """``A-B`` or ``A,B,...``: the seeds in order, at least one, no repeats."""
    try:
        if "-" in text:
            lo, hi = (int(v) for v in text.split("-"))
            seeds = list(range(lo, hi + 1))
        else:
            seeds = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--seeds: expected A-B or A,B,... (integers), got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"--seeds: expected distinct non-negative seeds, got {text!r}")
    return seeds


def add_arguments(p) -> None:
    p.add_argument("--manifest", action="append", default=[],
                   help="a converted design's manifest (repeatable): any top module with the manifest "
                        "layout of hdl.convert, e.g. the whole-window design")
    p.add_argument("--engines", default=None,
                   help="single-layer engines DxHxP, comma separated")
    p.add_argument("--autoencoder", type=int, default=None, metavar="P",
                   help="the whole-window design of the reference autoencoder at P lanes "
                        "(lstm-chiplet convert-autoencoder). Without --manifest, --engines and --autoencoder "
                        f"the flow runs the whole-window design at P={DEFAULT_AUTOENCODER_LANES} and the "
                        "engines " + ",".join("x".join(map(str, e)) for e in DEFAULT_ENGINES))
    p.add_argument("--model", type=Path, default=None,
                   help="the whole-window design of this model file's topology and formats "
                        "(e.g. the output of lstm-chiplet quantize) instead of the reference "
                        "model's, at --autoencoder P lanes")
    p.add_argument("--target-mhz", type=float, default=TARGET_MHZ, help=f"clock constraint (default {TARGET_MHZ:g})")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"nextpnr seed (default {DEFAULT_SEED})")
    p.add_argument("--seeds", default=None, metavar="A-B|A,B,...",
                   help="place and route the synthesized netlist at each of these nextpnr seeds (the "
                        "first makes the bitstream), e.g. 1-5; every seed's clock goes into the report")
    p.add_argument("--bridge", choices=("auto", "yes", "no"), default="auto",
                   help="wrap in the byte-wide host bridge (auto: when the design has the stream ports)")
    p.add_argument("--no-place", action="store_true", help="synthesis only, no nextpnr")
    p.add_argument("--generic-shape", default="x".join(map(str, DEFAULT_GENERIC_SHAPE)),
                   help="DxH of the generic cell counts (default %(default)s)")
    p.add_argument("--generic-lanes", default=",".join(map(str, DEFAULT_GENERIC_LANES)),
                   help="lane counts of the generic cell counts; empty to skip (default %(default)s)")
    p.add_argument("--no-utilisation", action="store_true", help="skip the multiplier utilisation table")
    p.add_argument("--measure-cycles", action="store_true",
                   help="measure the utilisation tables' cycles: single-layer engines in MyHDL simulation, "
                        "the whole-window design on Verilator (minutes)")
    p.add_argument("--only", choices=("up5k", "generic", "utilisation"), default=None,
                   help="run one part only")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default build/synth)")
    board = p.add_argument_group("board (docs/board.md)")
    board.add_argument("--board", choices=BOARDS, default=None,
                       help="build the bitstream of this board's top instead: the whole-window design "
                            "(--model, --autoencoder P lanes, default 1) behind the serial board layer, "
                            "with the PLL and the board's pins; nothing else runs")
    board.add_argument("--clock-mhz", type=float, default=DEFAULT_CLOCK_MHZ,
                       help=f"board: design clock made by the PLL (default {DEFAULT_CLOCK_MHZ:g})")
    board.add_argument("--baud", type=int, default=DEFAULT_BAUD,
                       help=f"board: serial baud rate (default {DEFAULT_BAUD})")


def run(args) -> int:
    try:
        if getattr(args, "board", None):
            return _run_board(args)
        return _run(args)
    except BoardRefused as exc:
        print(f"lstm-chiplet synth: refused: {exc}", file=sys.stderr)
        return 2
    except (MissingToolError, ToolFailed) as exc:
        print(f"lstm-chiplet synth: error: {exc}", file=sys.stderr)
        return 1


def _run_board(args) -> int:
    """``--board``: the board top of one design, through the whole flow."""
    fixed = None
    if args.model is not None:
        from lstm_chiplet.models.store import load_any_model

        try:
            fixed = load_any_model(args.model).fixed()
        except ValueError as exc:
            raise SystemExit(f"lstm-chiplet synth: error: {args.model}: {exc}") from None
    lanes = args.autoencoder or DEFAULT_BOARD_LANES
    board, pll = board_build(fixed, lanes, args.clock_mhz, args.baud)
    print(f"synth: {board.top_module} for the {args.board}: {board.engine.module_name}, "
          f"{board.clock_hz / 1e6:g} MHz, {board.baud} baud ...", file=sys.stderr, flush=True)
    r = implement_board(board, pll, Path(args.out), seed=args.seed, place=not args.no_place,
                        progress=lambda what: print(f"synth: {what} ...", file=sys.stderr, flush=True))
    print(board_markdown(r))
    print(f"written {Path(args.out) / r['design']}/ (report.json, report.md"
          + (f", {r['bitstream']}" if r["bitstream"] else "") + ")")
    return 0 if r["fits"] else 1


def _run(args) -> int:
    from hdl.config import EngineConfig

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = _seeds(args.seeds) if args.seeds else [args.seed]
    parts = {args.only} if args.only else {"up5k", "generic", "utilisation"}
    if args.no_utilisation:
        parts.discard("utilisation")
    today = time.strftime("%Y-%m-%d")
    summary = load_summary(out / "summary.json")
    summary.update(command="lstm-chiplet synth", date=today, device=UP5K.to_dict())
    if "up5k" in parts:
        sources = [DesignSource.from_manifest(m) for m in args.manifest]
        chosen = (bool(sources) or args.engines is not None or args.autoencoder is not None
                  or args.model is not None)
        ae_lanes = args.autoencoder if chosen else DEFAULT_AUTOENCODER_LANES
        model = None
        if args.model is not None:      # its topology and formats, at --autoencoder P
            from lstm_chiplet.models.store import load_any_model

            ae_lanes = args.autoencoder or DEFAULT_AUTOENCODER_LANES
            try:
                model = load_any_model(args.model).fixed()
                sources.append(autoencoder_source(ae_lanes, out / "rtl", model))
            except ValueError as exc:       # model file, shapes, formats the RTL refuses
                raise SystemExit(f"lstm-chiplet synth: error: {args.model}: {exc}") from None
        elif ae_lanes:
            sources.append(autoencoder_source(ae_lanes, out / "rtl"))
        engines = _engines(args.engines) if args.engines else ([] if chosen else list(DEFAULT_ENGINES))
        for d, h, p in engines:
            sources.append(engine_source(EngineConfig(d, h, p), out / "rtl"))
        for src in sources:
            print(f"synth: {src.module} on {UP5K.name} ...", file=sys.stderr, flush=True)
            r = implement(src, out, target_mhz=args.target_mhz, seed=seeds[0], bridge=args.bridge,
                          place=not args.no_place, more_seeds=seeds[1:])
            r["date"] = today
            summary["implementations"] = [x for x in summary["implementations"] if x["design"] != r["design"]] + [r]
            print(f"  {src.module}: " + " / ".join(r["verdict"]) + f" ({r['seconds']} s)", file=sys.stderr)
    if "generic" in parts:
        lanes = _ints(args.generic_lanes, "--generic-lanes")
        d, h = (int(v) for v in args.generic_shape.lower().split("x"))
        for p in lanes:
            print(f"synth: generic cells of D={d} H={h} P={p} ...", file=sys.stderr, flush=True)
            g = dict(generic_cells(EngineConfig(d, h, p), out), date=today)
            summary["generic"] = [x for x in summary["generic"] if x["design"] != g["design"]] + [g]
    if "utilisation" in parts:
        if args.measure_cycles:
            print("synth: measuring cycles per step in MyHDL simulation ...", file=sys.stderr, flush=True)
        rows = [dict(r, date=today) for r in utilisation(measure=args.measure_cycles)]
        wrows = [dict(r, date=today) for r in window_utilisation(
            measure=args.measure_cycles,
            progress=lambda what: print(f"synth: measuring {what} ...", file=sys.stderr, flush=True))]
        summary["utilisation"], summary["window_utilisation"] = rows, wrows
        (out / "utilisation.md").write_text(utilisation_markdown(rows) + "\n\n"
                                            + window_utilisation_markdown(wrows) + "\n")
        utilisation_plot(rows, out / "utilisation.png", wrows)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = summary_markdown(summary)
    (out / "summary.md").write_text(text + "\n")
    print(text)
    print(f"written {out / 'summary.json'}, {out / 'summary.md'}"
          + (f", {out / 'utilisation.png'}" if summary["utilisation"] else ""))
    return 0
