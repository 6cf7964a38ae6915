"""The serial link's figures per window: bytes, line time and cycles, computed and measured.

``python -m lstm_chiplet.board.figures`` prints, for the board build of the shipped
model (or ``--model``), the bytes one window takes each way (T frames of
``1 + ceil(F*VW/8)`` bytes), their line time (bytes x 10 bits / baud) in seconds
and design clocks, and the engine's cycles per window.  With ``--measure`` it runs
the simulated board (:class:`cosim.board.BoardSimulation`) through the real driver and
reads from the harness, in design clocks counted on the pins: how long each window's
bytes took to arrive, and the time from its first start bit to its last output byte.
Writes ``build/board/link.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from cosim.paths import REPO

DEFAULT_OUT = REPO / "build" / "board"


def computed(board) -> dict:
    return board.link()


def measure(board, fixed, windows: int, timeout: float = 120.0) -> dict:
    """Weights and ``windows`` random windows through the simulated board; cycles from its pins."""
    from cosim.board import BoardSimulation, parse_bursts
    from golden.autoencoder_memory_map import autoencoder_image

    from .driver import BoardDriver

    cfg = fixed.cfg
    x = np.random.default_rng(0).uniform(0.0, 1.0, (windows, cfg.timesteps, cfg.features))
    with BoardSimulation(board, wall_seconds=600) as sim:
        with BoardDriver(sim.port, board.baud, timeout) as drv:
            drv.attach(board.engine)
            image = autoencoder_image(fixed, board.engine.lanes)
            drv.load_weights(image)
            got = drv.reconstruct(fixed.quantize_windows(x))
    exact = bool(np.array_equal(got, fixed.reconstruct_int(x)))
    link = board.link()
    per_window = [b for b in parse_bursts(sim.log) if b["rx_bytes"] == link["bytes_in_per_window"]]
    weights = max(parse_bursts(sim.log), key=lambda b: b["rx_bytes"])
    return {"windows": windows, "bit_exact": exact, "weight_words": len(image),
            "weight_bytes": weights["rx_bytes"], "weight_cycles": weights["rx_end"] - weights["start"],
            "window_rx_cycles": [b["rx_end"] - b["start"] for b in per_window],
            "window_cycles": [b["tx_end"] - b["start"] for b in per_window],
            "window_tx_bytes": [b["tx_bytes"] for b in per_window]}


def report_text(board, c: dict, m: dict | None) -> str:
    hz = board.clock_hz
    lines = [f"board {board.top_module}: {board.engine.module_name}",
             f"  clock {hz / 1e6:g} MHz, {board.baud} baud, {board.divisor} clocks per bit",
             f"  per window: {c['bytes_in_per_window']} bytes in, {c['bytes_out_per_window']} bytes out",
             f"  line time in  {1e3 * c['line_seconds_in']:.3f} ms = {c['line_cycles_in']:,} cycles",
             f"  line time out {1e3 * c['line_seconds_out']:.3f} ms = {c['line_cycles_out']:,} cycles",
             f"  engine        {1e3 * c['engine_seconds_per_window']:.3f} ms = {c['engine_cycles_per_window']:,} cycles"]
    if m:
        wc = m["window_cycles"]
        lines += [f"  measured on the simulated board ({m['windows']} windows, bit-exact: {m['bit_exact']}):",
                  f"    weights (and the STATUS after them): {m['weight_words']:,} words, {m['weight_bytes']:,} bytes, "
                  f"{m['weight_cycles']:,} cycles = {m['weight_cycles'] / hz:.3f} s",
                  f"    window bytes arriving: {m['window_rx_cycles']} cycles",
                  f"    first start bit to last output byte: {wc} cycles"
                  + (f" = {1e3 * max(wc) / hz:.3f} ms" if wc else "")]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lstm_chiplet.board.figures", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=None, help="model file (default: the shipped model)")
    p.add_argument("--lanes", type=int, default=None, help="lanes of the board's engine (default 1)")
    p.add_argument("--clock-mhz", type=float, default=None, help="design clock (default 24)")
    p.add_argument("--baud", type=int, default=None, help="baud rate (default 3000000)")
    p.add_argument("--measure", action="store_true", help="also run the simulated board (Verilator, seconds)")
    p.add_argument("--windows", type=int, default=3, help="windows to measure (default 3)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of link.json (default build/board)")
    args = p.parse_args(argv)
    from lstm_chiplet.detect import load_model
    from lstm_chiplet.implementation.board import DEFAULT_BOARD_LANES, DEFAULT_CLOCK_MHZ, board_build

    fixed = load_model(args.model).fixed()
    board, _pll = board_build(fixed, args.lanes or DEFAULT_BOARD_LANES, args.clock_mhz or DEFAULT_CLOCK_MHZ,
                              args.baud)
    c = computed(board)
    m = None
    if args.measure:
        print("measuring on the simulated board ...", file=sys.stderr, flush=True)
        m = measure(board, fixed, args.windows)
    text = report_text(board, c, m)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / "link.json.partial"
    tmp.write_text(json.dumps({"board": board.to_dict(), "computed": c, "measured": m}, indent=2) + "\n")
    tmp.replace(args.out / "link.json")
    print(f"written {args.out / 'link.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
