"""The host's monitor: what it records at every rising edge, and the stream rules it checks.

:class:`StreamMonitor` looks at the values sampled just before edge ``c`` (the host's
drive and the device's outputs) and writes into a :class:`cosim.stream.Trace`:

* ``in <beat> <c>``: input beat accepted (in_tvalid and in_tready high, rst low);
* ``out <c> <first> <last> <data>``: output beat taken (out_tvalid and out_tready
  high); ``first`` is the edge at which that beat was first seen valid, so
  ``first - accepted`` is the latency from an input handshake to its output;
* ``viol <c> <what>``: the AXI4-Stream rule broken while an output waited
  (``out_tvalid && !out_tready``): out_tvalid dropped, or out_tdata/out_tlast changed.

Nothing is recorded during reset, and a reset forgets a waiting output (a device may
drop it).  The C++ and Verilog transcriptions print the same records.
"""

from __future__ import annotations

from .stream import OutBeat, Trace

#: Violation texts; the transcriptions print the same words.
DROPPED = "out_tvalid dropped before out_tready"
CHANGED = "out_tdata/out_tlast changed while stalled"


class StreamMonitor:
    """Observer of both streams at each edge (see the module docstring)."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self.accepted = 0         # input beats accepted so far (the next beat's index)
        self.prev_valid = False
        self.prev_taken = False
        self.stall = None         # (data, last) of an output seen valid and not taken
        self.first = 0

    def sample(self, c: int, drive, in_tready: int, out_tvalid: int, out_tdata: int,
               out_tlast: int) -> tuple:
        """Edge ``c`` sampled ``drive`` (the host's :class:`cosim.driver.Drive`) and the
        device's outputs; returns ``(accepted, taken)``."""
        tr = self.trace
        if drive.rst:
            self.stall = None
            self.prev_valid = self.prev_taken = False
            return False, False
        accepted = bool(drive.in_tvalid and in_tready)
        if accepted:
            tr.accepts.append((self.accepted, c))
            self.accepted += 1
        if self.stall is not None:
            if not out_tvalid:
                tr.violations.append((c, DROPPED))
            elif (out_tdata, bool(out_tlast)) != self.stall:
                tr.violations.append((c, CHANGED))
        if out_tvalid and (not self.prev_valid or self.prev_taken):
            self.first = c
        taken = bool(out_tvalid and drive.out_tready)
        if taken:
            tr.outputs.append(OutBeat(c, self.first, bool(out_tlast), int(out_tdata)))
        self.stall = (int(out_tdata), bool(out_tlast)) if out_tvalid and not drive.out_tready else None
        self.prev_valid, self.prev_taken = bool(out_tvalid), taken
        return accepted, taken
