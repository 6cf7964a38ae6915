"""The host model and the one MyHDL bench that drives either a MyHDL block or its Verilog.

:class:`HostModel` is the host of the stream protocol, edge by edge: the monitor
(:class:`cosim.monitor.StreamMonitor`) records what the edge sampled, then the driver
(:class:`cosim.driver.StreamDriver`) decides the next cycle's drive.  It is the model
the C++ harness (:mod:`cosim.verilator`) and the file-driven Verilog bench
(:mod:`cosim.icarus_file`) transcribe; the trace-equality tests hold them to it.

:func:`host_bench` wraps the model in MyHDL generators (a clock and the host) over a
dict of port signals, and :func:`run_host` simulates them beside a device: anything
MyHDL's ``Simulation`` takes, built on those signals.  The device is chosen by the
caller, the bench does not change:

* the MyHDL block itself (:func:`run_myhdl`, or ``simulator="myhdl"`` in
  :func:`cosim.runner.simulate` with a :class:`Device`): no conversion, the fastest
  way to simulate a small engine;
* a ``myhdl.Cosimulation`` of the converted Verilog in Icarus (:mod:`cosim.icarus`,
  ``simulator="icarus"``), with an X/Z monitor the VPI alone could not provide.

A :class:`Device` names both forms of one design (its block, its port constructor, its
configuration and the cached conversion), so a test can run the same stimulus through
the MyHDL model and the Verilog and compare the traces.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .driver import DRIVEN_PORTS, Drive, StreamDriver
from .monitor import StreamMonitor
from .stream import Stimulus, StreamShape, Trace

#: Ports the bench needs; the rest (``in_tlast``, ``out_tlast``, the write port) may be
#: absent from a device (a byte stream), they are then not driven and read as 0.
REQUIRED_PORTS = ("clk", "rst", "in_tdata", "in_tvalid", "in_tready", "out_tdata", "out_tvalid",
                  "out_tready")


class HostModel:
    """Monitor, then driver, at every rising edge (see the module docstring)."""

    def __init__(self, stim: Stimulus):
        self.stim = stim
        self.trace = Trace()
        self.monitor = StreamMonitor(self.trace)
        self.driver = StreamDriver(stim, self.trace)
        self.probes = {}

    def initial(self) -> Drive:
        return self.driver.initial()

    def edge(self, c: int, in_tready: int, out_tvalid: int, out_tdata: int, out_tlast: int):
        """Process rising edge ``c``; return the Drive for cycle c+1, or None when done."""
        accepted, taken = self.monitor.sample(c, self.driver.drive, in_tready, out_tvalid,
                                              out_tdata, out_tlast)
        return self.driver.advance(c, accepted, taken)


def host_bench(ports: dict, stim: Stimulus, half_period: int = 5, wall_timeout: float = 600.0,
               probes: tuple = ()):
    """MyHDL generators driving ``ports`` (port name -> Signal) with a :class:`HostModel`.

    Returns ``(instances, model)``; after the simulation ``model.trace`` holds the trace
    and ``model.probes`` the final values of the ``probes`` signals (read before MyHDL
    clears every signal at the end of a simulation).  The clock starts at 0 (a clock
    from X would never toggle).  ``wall_timeout`` stops a hung run with status
    ``wall-timeout``.
    """
    from myhdl import StopSimulation, delay, instance

    missing = [name for name in REQUIRED_PORTS if name not in ports]
    if stim.image and "wr_en" not in ports:
        missing.append("wr_en (the stimulus writes an image)")
    if missing:
        raise ValueError(f"host bench: no port {', '.join(missing)}")
    model = HostModel(stim)
    clk = ports["clk"]
    driven = [name for name in DRIVEN_PORTS if name in ports]

    def sampled(name: str) -> int:
        return int(ports[name].val) if name in ports else 0

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
            nd = model.edge(c, sampled("in_tready"), sampled("out_tvalid"), sampled("out_tdata"),
                            sampled("out_tlast"))
            if nd is None or ((c & 1023) == 0 and time.monotonic() - start > wall_timeout):
                if nd is not None:
                    model.trace.end_cycle, model.trace.status = c, "wall-timeout"
                model.probes = {p: int(ports[p].val) for p in probes}
                raise StopSimulation("host finished")
            apply(nd)
            c += 1

    return (clock, host), model


def run_host(build: Callable, stim: Stimulus, *, wall_timeout: float = 600.0, probes: tuple = (),
             vcd: Path | None = None) -> HostModel:
    """Simulate a device under the host model; returns the model (its ``trace``, ``probes``).

    ``build()`` returns ``(device, ports)``: the device (a MyHDL block instance or a
    ``Cosimulation``, or a list of them) and the port signals it was built on.  Every
    signal created by ``build`` is dropped from MyHDL's global signal list after the
    run, so long hypothesis runs do not drag earlier examples' signals along.  ``vcd``
    (a MyHDL block only) writes a waveform of the run there.
    """
    from myhdl import Simulation, _simulator, traceSignals

    mark = len(_simulator._signals)
    sim = None
    try:
        device, ports = build()
        bench, model = host_bench(ports, stim, wall_timeout=wall_timeout, probes=probes)
        if vcd is not None:
            vcd = Path(vcd).resolve()
            vcd.parent.mkdir(parents=True, exist_ok=True)
            traceSignals.directory, traceSignals.filename = str(vcd.parent), vcd.stem
            try:
                device.config_sim(trace=True)
            finally:
                traceSignals.directory = traceSignals.filename = None
        sim = Simulation(device, *bench)
        sim.run(quiet=1)
    finally:
        if sim is not None and not sim._finished:
            sim.quit()
        del _simulator._signals[mark:]
    return model


@dataclass(frozen=True)
class Device:
    """One design under test in both forms: its MyHDL block and its converted Verilog.

    Attributes
    ----------
    label : str
        What it is (``engine``, ``autoencoder``).
    config : object
        The elaboration parameter (an engine configuration), passed as ``cfg=``.
    block : callable
        The MyHDL block: ``block(**ports, cfg=config)``.
    make_ports : callable
        ``make_ports(config)`` -> fresh port signals keyed by port name.
    convert : callable
        ``convert(config)`` -> :class:`cosim.compile.Design` (converted once, cached).
    shape : StreamShape
        Element counts and bits of the streams and of the write port.
    """

    label: str
    config: object
    block: Callable
    make_ports: Callable
    convert: Callable
    shape: StreamShape

    def design(self):
        """The converted Verilog (cached by the converter)."""
        return self.convert(self.config)

    def instance(self):
        """``(block instance, ports)`` on fresh signals, for :func:`run_host`."""
        ports = self.make_ports(self.config)
        return self.block(**ports, cfg=self.config), ports


def run_myhdl(device: Device, stim: Stimulus, *, vcd: Path | None = None,
              wall_timeout: float = 600.0) -> Trace:
    """``stim`` through the MyHDL block of ``device`` (no conversion); returns the trace."""
    start = time.monotonic()
    trace = run_host(device.instance, stim, wall_timeout=wall_timeout, vcd=vcd).trace
    trace.simulator = "myhdl"
    trace.wall_seconds = time.monotonic() - start
    trace.vcd = str(vcd) if vcd is not None else None
    return trace
