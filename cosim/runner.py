"""Run a design under a stimulus on any simulator and hold it to a reference.

:func:`simulate` picks the simulator: ``myhdl`` (the MyHDL block itself, for a
:class:`cosim.host.Device`), ``icarus`` (its converted Verilog through MyHDL's VPI:
the same Python host bench) or ``verilator`` (the C++ transcription of the host).
:func:`verify` runs, checks with the scoreboard
and, on a mismatch, saves the case (stimulus, expected beats, report) under
``build/cosim/failures/<name>/``, re-runs it on Icarus with a VCD beside it (a
Verilator failure is replayed on Icarus: same Verilog), and raises
:class:`cosim.scoreboard.MismatchError` whose message is the report.

A VCD of every Icarus run can be requested with ``LSTM_CHIPLET_VCD=1`` (files go to
``build/cosim/vcd/``) or per call with ``vcd=``.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from .compile import Design
from .host import Device, run_myhdl
from .paths import build_root
from .scoreboard import MismatchError, check, expected_segments, save_failure, _safe
from .stream import Stimulus, Trace

SIMULATORS = ("myhdl", "icarus", "verilator")
VCD_ENV = "LSTM_CHIPLET_VCD"
#: Failing runs longer than this are not replayed on Icarus for a VCD automatically.
VCD_CYCLE_LIMIT = 200_000
_counter = itertools.count()


def simulate(dut: Design | Device, stim: Stimulus, simulator: str = "icarus", vcd=None,
             name: str = "") -> Trace:
    """One run of ``dut`` under ``stim`` on ``simulator``.

    ``dut`` is a :class:`Device` (either form; converted when a Verilog simulator is
    asked for) or a converted :class:`Design` (Verilog simulators only).
    """
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {SIMULATORS}, got {simulator!r}")
    if simulator == "myhdl":
        if not isinstance(dut, Device):
            raise ValueError(f"{dut.label}: simulator 'myhdl' needs the MyHDL block (a cosim.host.Device), "
                             "not only its Verilog")
        return run_myhdl(dut, stim, vcd=vcd)
    design = dut.design() if isinstance(dut, Device) else dut
    if simulator == "icarus":
        from .icarus import run_icarus
        if vcd is None and os.environ.get(VCD_ENV) == "1":
            vcd = build_root() / "vcd" / f"{_safe(name or design.label)}-{os.getpid()}-{next(_counter)}.vcd"
        return run_icarus(design, stim, vcd=vcd)
    from .verilator import run_verilator
    return run_verilator(design, stim)


def verify(dut: Design | Device, stim: Stimulus, reference, *, simulator: str = "icarus",
           context: dict | None = None, name: str = "", max_lost_at_reset: int = 3,
           keep_vcd: bool = True) -> Trace:
    """Simulate and check; raise :class:`MismatchError` (case saved, VCD kept) on failure.

    A failing case is saved with the converted Verilog (a :class:`Device` is converted
    then), so :mod:`cosim.repro` can replay it, whichever simulator found it.
    """
    expected = expected_segments(stim, dut.shape, reference)
    trace = simulate(dut, stim, simulator, name=name)
    report = check(trace, stim, dut.shape, reference, label=dut.label,
                   max_lost_at_reset=max_lost_at_reset, context=context, expected=expected)
    if report.ok:
        return trace
    design = dut.design() if isinstance(dut, Device) else dut
    folder = save_failure(report, stim, design.shape, expected, design.verilog, design.module,
                          name or design.label)
    if keep_vcd and trace.end_cycle > VCD_CYCLE_LIMIT:
        report.problems.append(f"(no VCD: the run took {trace.end_cycle} cycles, more than the "
                               f"{VCD_CYCLE_LIMIT} replayed automatically; `python -m cosim.repro` writes one)")
        (Path(folder) / "report.txt").write_text(report.text() + "\n")
    elif keep_vcd:
        vcd = Path(folder) / "wave.vcd"
        try:
            from .icarus import run_icarus
            run_icarus(design, stim, vcd=vcd)
            report.vcd = str(vcd)
        except Exception as exc:  # the report matters more than the waveform
            report.problems.append(f"(could not write the VCD: {exc})")
        (Path(folder) / "report.txt").write_text(report.text() + "\n")
    raise MismatchError(report)
