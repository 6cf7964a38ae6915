"""The host's driver: what it puts on the device's input ports, cycle by cycle.

:class:`StreamDriver` plays a :class:`cosim.stream.Stimulus`: the power-on reset,
one weight word per cycle through the write port, then the input beats with their idle
gaps, the out_tready back-pressure pattern, resets scheduled after chosen beats, and
the end of the run (``tail_cycles`` after the last expected output, or ``max_cycles``).
It decides right after each rising edge, from what :class:`cosim.monitor.StreamMonitor`
saw at that edge (was a beat accepted, an output taken), the :class:`Drive` for the
next cycle.  The module docstring of :mod:`cosim.stream` draws the timing.

The driver writes the ``rst`` and ``end`` records of the trace; the monitor writes the
rest.  The C++ and Verilog transcriptions keep the same variables under the same names.
"""

from __future__ import annotations

from dataclasses import dataclass

from .stream import Stimulus, Trace


@dataclass
class Drive:
    """Values the host drives during one cycle (unsigned integers)."""

    rst: int = 1
    in_tvalid: int = 0
    in_tdata: int = 0
    in_tlast: int = 0
    out_tready: int = 0
    wr_en: int = 0
    wr_addr: int = 0
    wr_data: int = 0

    def copy(self) -> "Drive":
        return Drive(**vars(self))


#: The ports the driver drives, in the order it assigns them.
DRIVEN_PORTS = tuple(Drive.__dataclass_fields__)


class StreamDriver:
    """The host's stimulus player (see the module docstring).

    Attributes
    ----------
    drive : Drive
        What is on the ports during the current cycle.
    beat : int
        Index of the next input beat to offer (all accepted before it).
    """

    def __init__(self, stim: Stimulus, trace: Trace):
        self.stim = stim
        self.trace = trace
        self.rst_left = stim.reset_cycles - 1     # the first reset cycle is the initial drive
        self.wr_idx = 0
        self.beat = 0
        self.gap_left = stim.gaps[0] if stim.beats else 0
        self.offering = False
        self.reset_wait = -1
        self.reset_len = 0
        self.outs_since_reset = 0
        self.tail_left = -1
        self.drive = Drive(rst=1)

    def initial(self) -> Drive:
        """The drive before the first rising edge (reset)."""
        return self.drive.copy()

    def advance(self, c: int, accepted: bool, taken: bool) -> Drive | None:
        """Edge ``c`` accepted a beat / took an output: return the Drive for cycle c+1,
        or None when the run is over (the trace's end record is then written)."""
        d, st, tr = self.drive, self.stim, self.trace
        if not d.rst:
            if d.wr_en:
                self.wr_idx += 1
            if accepted:
                if st.reset_wait[self.beat] >= 0:
                    self.reset_wait = st.reset_wait[self.beat]
                    self.reset_len = st.reset_len[self.beat]
                self.beat += 1
                self.offering = False
                if self.beat < len(st.beats):
                    self.gap_left = st.gaps[self.beat]
            if taken:
                self.outs_since_reset += 1

        if c + 1 >= st.max_cycles:
            tr.end_cycle, tr.status = c, "timeout"
            return None
        if self.tail_left < 0 and self.beat == len(st.beats) and self.reset_wait < 0 \
                and self.rst_left == 0 and not d.rst and self.outs_since_reset >= st.expect_final:
            self.tail_left = st.tail_cycles
        if self.tail_left == 0:
            tr.end_cycle, tr.status = c, "ok"
            return None
        if self.tail_left > 0:
            self.tail_left -= 1

        nd = Drive(rst=0, out_tready=int(st.ready[(c + 1) % len(st.ready)]))
        if self.reset_wait == 0:
            self.reset_wait = -1
            self.rst_left = self.reset_len
            tr.resets.append(c + 1)
            self.outs_since_reset = 0
        elif self.reset_wait > 0:
            self.reset_wait -= 1
        if self.rst_left > 0:
            self.rst_left -= 1
            nd = Drive(rst=1)
            self.offering = False
        elif self.wr_idx < len(st.image):
            nd.wr_en = 1
            nd.wr_addr, nd.wr_data = st.image[self.wr_idx]
        elif self.beat < len(st.beats) and self.reset_wait < 0:
            if not self.offering:
                if self.gap_left > 0:
                    self.gap_left -= 1
                else:
                    self.offering = True
            if self.offering:
                nd.in_tvalid = 1
                nd.in_tdata, last = st.beats[self.beat]
                nd.in_tlast = int(bool(last))
        self.drive = nd
        return nd.copy()
