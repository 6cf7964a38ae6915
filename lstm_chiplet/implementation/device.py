"""The FPGA as the implementation flow counts it: the iCE40 UP5K and its memory shapes.

Owns :class:`Device` (logic cells, DSP, EBR, SPRAM, I/O), :data:`UP5K`, the block RAM
shapes with the block counts a memory needs (:func:`ebr_blocks`, :func:`spram_blocks`),
the clock the design must reach (:data:`TARGET_MHZ`) and what exceeds the device
(:func:`shortfalls`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

#: The clock the whole-window design must reach on the UP5K.
TARGET_MHZ = 24.0


@dataclass(frozen=True)
class Device:
    """What an FPGA offers, as the flow counts it.

    Attributes
    ----------
    name, package : str
    nextpnr_args : tuple of str
        Device selection for nextpnr-ice40.
    logic_cells : int
        ICESTORM_LC (a 4-input LUT, a flip-flop and carry logic each).
    dsp : int
        SB_MAC16 blocks (16 x 16 multiplier with a 32-bit accumulator).
    ebr : int
        SB_RAM40_4K blocks, 4 kbit each (256 x 16 ... 2048 x 2).
    spram : int
        SB_SPRAM256KA blocks, 16K x 16, one address port each.
    io : int
        User I/O pins of the package.
    """

    name: str
    package: str
    nextpnr_args: tuple
    logic_cells: int
    dsp: int
    ebr: int
    spram: int
    io: int

    def to_dict(self) -> dict:
        return asdict(self)


UP5K = Device("iCE40UP5K", "sg48", ("--up5k", "--package", "sg48"), logic_cells=5280, dsp=8,
              ebr=30, spram=4, io=39)
#: EBR shapes (depth, width) of one SB_RAM40_4K.
EBR_SHAPES = ((256, 16), (512, 8), (1024, 4), (2048, 2))
SPRAM_SHAPE = (16384, 16)


def ebr_blocks(size: int, width: int) -> int:
    """Fewest SB_RAM40_4K blocks holding ``size`` words of ``width`` bits."""
    return min(math.ceil(size / d) * math.ceil(width / w) for d, w in EBR_SHAPES)


def spram_blocks(size: int, width: int) -> int:
    d, w = SPRAM_SHAPE
    return math.ceil(size / d) * math.ceil(width / w)


def shortfalls(used: dict, device: Device) -> list:
    """Resources over the device's count: ``[{"resource", "used", "available", "excess"}]``."""
    limits = {"logic_cells": device.logic_cells, "dsp": device.dsp, "ebr": device.ebr,
              "spram": device.spram, "io": device.io}
    out = []
    for name, limit in limits.items():
        u = used.get(name)
        if u is not None and u > limit:
            out.append({"resource": name, "used": int(u), "available": limit, "excess": int(u - limit),
                        "percent_of_device": round(100.0 * u / limit, 1)})
    return out
