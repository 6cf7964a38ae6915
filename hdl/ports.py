"""The top-level ports both engines share, built once from a configuration.

Both engines have the same interface: an input stream of vectors, an output stream of
vectors (AXI4-Stream-style, :mod:`hdl.stream`) and a memory-mapped write port for the
weights.  :data:`PORTS` gives their names and directions in header order;
:func:`top_ports` makes the signals, sized from the configuration (``in_bits``,
``out_bits``, ``addr_bits``, ``weight_bits``, all derived from the golden formats).
Everything else that needs a port width (the manifest, the co-simulation, the host
bridge, the implementation flow) reads it from these signals.
"""

from __future__ import annotations

from myhdl import ResetSignal, Signal, intbv

from .stream import Stream

#: Top-level port names in header order, with directions.
PORTS = (("clk", "in"), ("rst", "in"), ("in_tdata", "in"), ("in_tvalid", "in"),
         ("in_tready", "out"), ("in_tlast", "in"), ("out_tdata", "out"), ("out_tvalid", "out"),
         ("out_tready", "in"), ("out_tlast", "out"), ("wr_en", "in"), ("wr_addr", "in"),
         ("wr_data", "in"))


def top_ports(cfg) -> dict:
    """Fresh signals for every port of an engine, keyed by port name, in header order.

    ``cfg`` is an :class:`hdl.config.EngineConfig` or an
    :class:`hdl.autoencoder_config.AutoencoderEngineConfig`.  ``clk`` starts at 0 and
    ``rst`` is a synchronous active-high ``ResetSignal``, so the dict can be splatted into
    the engine (``lstm_engine(**top_ports(cfg), cfg=cfg)``) or a Cosimulation.
    """
    ports = {"clk": Signal(bool(0)), "rst": ResetSignal(0, active=1, isasync=False)}
    ports.update(Stream(cfg.in_bits).ports("in"))
    ports.update(Stream(cfg.out_bits).ports("out"))
    ports.update({"wr_en": Signal(bool(0)), "wr_addr": Signal(intbv(0)[cfg.addr_bits:]),
                  "wr_data": Signal(intbv(0)[cfg.weight_bits:])})
    if tuple(ports) != tuple(name for name, _ in PORTS):
        raise AssertionError("top_ports: the signals do not follow PORTS")
    return ports


def port_list(cfg) -> list:
    """``[{name, direction, bits}]`` in header order, the widths read from the signals."""
    ports = top_ports(cfg)
    return [{"name": name, "direction": direction, "bits": len(ports[name])}
            for name, direction in PORTS]
