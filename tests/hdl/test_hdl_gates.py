"""Quality gates on the converted engine: Verilator lint, Icarus, yosys, GHDL.

Every gate runs the real tool on the output of ``hdl.convert.convert_design``.  A
missing tool fails the test with its install command, unless
LSTM_CHIPLET_ALLOW_MISSING_TOOLS=1 turns that into a skip.  CI converts a small
engine and the four reference layer shapes at 4 lanes; the slow set (tox -e regress)
adds lane counts 1, 2, 8 and 16 and yosys on every reference shape.
"""

import pytest

from cosim import checks
from cosim.tools import need_tools
from hdl.config import EngineConfig
from hdl.convert import convert_design

pytestmark = pytest.mark.hdl

REFERENCE_SHAPES = [(6, 64), (64, 32), (32, 32), (32, 64)]
SMALL = (3, 4, 2)
CI_CONFIGS = [SMALL] + [(d, h, 4) for d, h in REFERENCE_SHAPES]
SLOW_CONFIGS = [(d, h, p) for d, h in REFERENCE_SHAPES for p in (1, 2, 8, 16)]


def _ids(c):
    return "d{}_h{}_p{}".format(*c)


ALL = ([pytest.param(c, id=_ids(c)) for c in CI_CONFIGS]
       + [pytest.param(c, id=_ids(c), marks=pytest.mark.slow) for c in SLOW_CONFIGS])


@pytest.fixture(scope="session")
def converted(build_dir):
    """cfg tuple -> (EngineConfig, paths), each configuration converted once per session."""
    cache = {}

    def get(shape):
        if shape not in cache:
            cfg = EngineConfig(*shape)
            out = build_dir / "hdl" / cfg.module_name
            cache[shape] = (cfg, convert_design(cfg, out, hdl=("Verilog", "VHDL")))
        return cache[shape]

    return get


@pytest.mark.parametrize("shape", ALL)
def test_verilator_lint_is_clean(shape, converted):
    need_tools("verilator")
    cfg, paths = converted(shape)
    assert checks.lint_verilog(paths["verilog"], cfg.module_name) == []


@pytest.mark.parametrize("shape", ALL)
def test_iverilog_compiles_engine_and_cosim_bench(shape, converted, build_dir):
    need_tools("iverilog")
    cfg, paths = converted(shape)
    out = checks.compile_iverilog([paths["verilog"], paths["testbench"]],
                                  paths["verilog"].with_suffix(".vvp"), top=f"tb_{cfg.module_name}")
    assert out.is_file() and out.stat().st_size > 0


@pytest.mark.parametrize("shape", ALL)
def test_ghdl_analyses_and_elaborates_vhdl(shape, converted):
    need_tools("ghdl")
    cfg, paths = converted(shape)
    checks.analyse_ghdl(paths["vhdl"], paths["vhdl_package"], cfg.module_name,
                        paths["vhdl"].parent / "ghdl")


def _assert_rams(cfg, report):
    ww = cfg.weight_bits
    banks = [m for m in report.memories
             if m.get("size") == cfg.bank_depth and m.get("width") == ww and m.get("wr_ports") == 1]
    biases = [m for m in report.memories
              if m.get("size") == cfg.hidden_size and m.get("width") == ww and m.get("wr_ports") == 1]
    assert len(banks) == 4 * cfg.lanes, report.memories
    assert len(biases) >= 4, report.memories          # four bias blocks (+ the c RAM)
    assert report.memory_bits >= (cfg.layout.weight_words + 4 * cfg.hidden_size) * ww
    assert report.latches == {}


@pytest.mark.parametrize("shape", [pytest.param(SMALL, id=_ids(SMALL))])
def test_yosys_full_synth_small_engine(shape, converted):
    """The whole generic synth script: no latch anywhere; RAMs inferred in its coarse part."""
    need_tools("yosys")
    cfg, paths = converted(shape)
    report = checks.synth_yosys(paths["verilog"], cfg.module_name,
                                paths["verilog"].parent / "yosys_full", full=True)
    _assert_rams(cfg, report)
    assert report.final_cells and not any("DLATCH" in k for k in report.final_cells)


@pytest.mark.parametrize("shape", [pytest.param((32, 32, 4), id="d32_h32_p4")]
                         + [pytest.param((d, h, p), id=_ids((d, h, p)), marks=pytest.mark.slow)
                            for d, h in REFERENCE_SHAPES for p in (1, 4, 16) if (d, h, p) != (32, 32, 4)])
def test_yosys_infers_weight_rams_reference_shapes(shape, converted):
    """Coarse part of generic synth (where memories are inferred): 4P weight RAMs, no latch."""
    need_tools("yosys")
    cfg, paths = converted(shape)
    report = checks.synth_yosys(paths["verilog"], cfg.module_name, paths["verilog"].parent / "yosys")
    _assert_rams(cfg, report)
    # the weights are not in flip-flops: far fewer FF bits than weight bits
    assert report.ff_bits < cfg.layout.weight_words * cfg.weight_bits // 4


def test_lint_gate_catches_a_truncation(converted, tmp_path):
    """The lint gate can fail: a narrowing assignment planted in the converted text."""
    need_tools("verilator")
    cfg, paths = converted(SMALL)
    text = paths["verilog"].read_text()
    planted = text.replace("endmodule", "wire [3:0] planted_narrow;\nassign planted_narrow = wr_addr;\n"
                           "endmodule")
    bad = tmp_path / paths["verilog"].name
    bad.write_text(planted)
    found = checks.lint_verilog(bad, cfg.module_name)
    assert any("WIDTH" in line for line in found)


@pytest.mark.parametrize("fmts_name", ["narrow", "wide", "floor"])
def test_other_formats_lint_clean_and_analyse(fmts_name, build_dir):
    """Non-default formats change every width; the gates must still pass."""
    need_tools("verilator")
    need_tools("ghdl")
    from golden.formats import DEFAULT_FORMATS, LSTMFormats, QFormat
    fm = {"narrow": LSTMFormats(QFormat(12, 9), QFormat(10, 7), QFormat(14, 9, rounding="floor"),
                                QFormat(12, 10)),
          "wide": LSTMFormats(QFormat(24, 20), QFormat(18, 14), QFormat(20, 14), QFormat(20, 18)),
          "floor": DEFAULT_FORMATS.with_rounding("floor")}[fmts_name]
    cfg = EngineConfig(3, 4, 2, fm)
    paths = convert_design(cfg, build_dir / "hdl" / cfg.module_name, hdl=("Verilog", "VHDL"))
    assert checks.lint_verilog(paths["verilog"], cfg.module_name) == []
    checks.analyse_ghdl(paths["vhdl"], paths["vhdl_package"], cfg.module_name,
                        paths["vhdl"].parent / "ghdl")
