"""Re-run a saved failing case: ``python -m cosim.repro build/cosim/failures/<name>``.

The folder written by :func:`cosim.scoreboard.save_failure` holds the stimulus, the
expected beats and the design's Verilog path; this re-runs it (Icarus by default,
writing ``wave.vcd`` beside it) and prints the report.  Exit status 0 when the design
now agrees, 1 when it still disagrees.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .compile import design_from_verilog
from .scoreboard import check
from .stream import Stimulus, StreamShape


def load_case(folder: Path):
    folder = Path(folder)
    case = json.loads((folder / "case.json").read_text())
    shape = StreamShape(**case["shape"])
    design = design_from_verilog(case["verilog"], case["module"], shape, label=case["module"])
    stim = Stimulus.from_text((folder / "stimulus.txt").read_text())
    flat = [(tuple(y), bool(last)) for y, last in case["expected"]]
    expected, pos = [], 0
    for n in case["segments"]:
        expected.append(flat[pos:pos + n])
        pos += n
    return design, stim, expected, case.get("context", {})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m cosim.repro", description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="a build/cosim/failures/<name> folder")
    p.add_argument("--simulator", choices=("icarus", "verilator"), default="icarus")
    p.add_argument("--no-vcd", action="store_true", help="do not write wave.vcd (Icarus)")
    args = p.parse_args(argv)
    design, stim, expected, context = load_case(args.folder)
    if args.simulator == "icarus":
        from .icarus import run_icarus
        trace = run_icarus(design, stim, vcd=None if args.no_vcd else args.folder / "wave.vcd")
    else:
        from .verilator import run_verilator
        trace = run_verilator(design, stim)
    report = check(trace, stim, design.shape, None, label=design.label, context=context,
                   expected=expected)
    print(report.text())
    if trace.vcd:
        print(f"waveform: {trace.vcd}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
