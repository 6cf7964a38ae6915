"""The iCE40 PLL from the board's oscillator to the design clock, and the clock the UART sees.

The iCE40 sysCLOCK PLL in its SIMPLE feedback mode makes
``F_OUT = F_IN * (DIVF + 1) / ((DIVR + 1) * 2**DIVQ)`` under these limits (the iCE40
sPLL documentation; icestorm's ``icepll`` searches the same space):

* DIVR 0..15, DIVF 0..127, DIVQ 1..6;
* phase detector input ``F_PFD = F_IN / (DIVR + 1)`` in 10 .. 133 MHz;
* oscillator ``F_VCO = F_PFD * (DIVF + 1)`` in 533 .. 1066 MHz;
* output 16 .. 275 MHz;
* FILTER_RANGE from F_PFD: below 17, 26, 44, 66, 101 MHz -> 1 .. 5, above -> 6.

:func:`pll_settings` picks the settings whose output is nearest the request (the first
found in DIVR, DIVF, DIVQ order on a tie, as icepll does); :func:`board_clock` then
checks that the achieved clock makes the baud rate (:class:`hdl.uart.UartTiming`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: The iCEBreaker's oscillator.
ICEBREAKER_OSC_HZ = 12_000_000
PFD_RANGE = (10e6, 133e6)
VCO_RANGE = (533e6, 1066e6)
OUT_RANGE = (16e6, 275e6)
DIVR_MAX, DIVF_MAX, DIVQ_RANGE = 15, 127, (1, 6)
#: (upper F_PFD bound, FILTER_RANGE), in order.
FILTER_STEPS = ((17e6, 1), (26e6, 2), (44e6, 3), (66e6, 4), (101e6, 5))
FILTER_TOP = 6


def filter_range(f_pfd: float) -> int:
    for bound, value in FILTER_STEPS:
        if f_pfd < bound:
            return value
    return FILTER_TOP


@dataclass(frozen=True)
class PllSettings:
    """One SIMPLE-feedback configuration of the PLL (``None`` values: no PLL, the
    oscillator is the design clock)."""

    input_hz: float
    output_hz: float
    divr: int | None
    divf: int | None
    divq: int | None
    filter_range: int | None

    @property
    def used(self) -> bool:
        return self.divr is not None

    @property
    def f_pfd(self) -> float | None:
        return None if not self.used else self.input_hz / (self.divr + 1)

    @property
    def f_vco(self) -> float | None:
        return None if not self.used else self.f_pfd * (self.divf + 1)

    def to_dict(self) -> dict:
        return dict(asdict(self), f_pfd=self.f_pfd, f_vco=self.f_vco)


def pll_settings(output_hz: float, input_hz: float = ICEBREAKER_OSC_HZ) -> PllSettings:
    """The PLL settings nearest ``output_hz``; the oscillator itself when they are equal.

    Raises
    ------
    ValueError
        ``output_hz`` lies outside what the PLL can make.
    """
    if output_hz == input_hz:
        return PllSettings(input_hz, input_hz, None, None, None, None)
    lo, hi = OUT_RANGE
    if not lo <= output_hz <= hi:
        raise ValueError(f"PLL: {output_hz / 1e6:g} MHz is outside its output range "
                         f"{lo / 1e6:g} .. {hi / 1e6:g} MHz (or equal to the {input_hz / 1e6:g} MHz oscillator)")
    best = None
    for divr in range(DIVR_MAX + 1):
        pfd = input_hz / (divr + 1)
        if not PFD_RANGE[0] <= pfd <= PFD_RANGE[1]:
            continue
        for divf in range(DIVF_MAX + 1):
            vco = pfd * (divf + 1)
            if not VCO_RANGE[0] <= vco <= VCO_RANGE[1]:
                continue
            for divq in range(DIVQ_RANGE[0], DIVQ_RANGE[1] + 1):
                out = vco / (1 << divq)
                if best is None or abs(out - output_hz) < abs(best[0] - output_hz):
                    best = (out, divr, divf, divq, filter_range(pfd))
    if best is None:
        raise ValueError(f"PLL: no settings reach {output_hz / 1e6:g} MHz from {input_hz / 1e6:g} MHz")
    out, divr, divf, divq, fr = best
    return PllSettings(input_hz, out, divr, divf, divq, fr)


def board_clock(design_hz: float, baud: int, input_hz: float = ICEBREAKER_OSC_HZ):
    """``(PllSettings, UartTiming)`` for a requested design clock; the UART uses the
    clock the PLL achieves.

    Raises
    ------
    ValueError
        The PLL cannot make the clock, or the clock it makes cannot make ``baud``
        within :data:`hdl.uart.MAX_BAUD_ERROR` (the message says by how much).
    """
    from hdl.uart import UartTiming

    pll = pll_settings(design_hz, input_hz)
    try:
        timing = UartTiming(pll.output_hz, int(baud))
    except ValueError as exc:
        raise ValueError(f"design clock {design_hz / 1e6:g} MHz (the PLL makes {pll.output_hz / 1e6:.4f} MHz): "
                         f"{exc}") from None
    return pll, timing
