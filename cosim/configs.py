"""Engine configurations the regression co-simulates (sizes and formats within limits).

Each configuration is converted and compiled once (cached), so the list is short and
chosen to visit the corners: one lane and one lane per row, D < H and D > H, the
reference input size, both rounding modes, narrow (12-bit), wide (18-bit) and
unequal formats.  :data:`REGRESS_CONFIGS` adds the reference topology's layer sizes
for the long Verilator runs.
"""

from __future__ import annotations

from golden.formats import DEFAULT_FORMATS, LSTMFormats, QFormat

#: 12-bit datapath: x, h Q2.10; weights Q4.8; z, c Q5.9; activations Q2.10.
NARROW_FORMATS = LSTMFormats(QFormat(12, 10, name="vec"), QFormat(12, 8, name="weight"),
                             QFormat(14, 9, name="preact"), QFormat(12, 10, name="act"))
#: Unequal widths: x, h s18 Q3.15; weights Q3.13; z, c s17 Q6.11; activations Q2.14.
WIDE_FORMATS = LSTMFormats(QFormat(18, 15, name="vec"), QFormat(16, 13, name="weight"),
                           QFormat(17, 11, name="preact"), QFormat(16, 14, name="act"))
#: The defaults with hardware truncation (floor) at every requantization.
FLOOR_FORMATS = DEFAULT_FORMATS.with_rounding("floor")


def ci_configs() -> list:
    """The configurations every CI run co-simulates through Icarus."""
    from hdl.config import EngineConfig

    return [EngineConfig(2, 4, 2), EngineConfig(3, 2, 1, FLOOR_FORMATS),
            EngineConfig(1, 3, 3, NARROW_FORMATS), EngineConfig(4, 4, 4, WIDE_FORMATS),
            EngineConfig(6, 8, 4)]


def regress_configs() -> list:
    """Larger configurations for the long Verilator runs (``tox -e regress``)."""
    from hdl.config import EngineConfig

    return [EngineConfig(6, 16, 4), EngineConfig(5, 6, 2, NARROW_FORMATS),
            EngineConfig(6, 32, 8), EngineConfig(6, 64, 4), EngineConfig(64, 32, 4)]


def bench_config():
    """The design the speed figures are measured on: the reference encoder's first layer."""
    from hdl.config import EngineConfig

    return EngineConfig(6, 64, 4)
