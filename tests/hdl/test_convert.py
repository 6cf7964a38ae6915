"""The converter: files, manifest, memory image, repeatability."""

import json
import subprocess

import numpy as np
import pytest

from cosim.tools import require
from golden.formats import DEFAULT_FORMATS as FM
from golden.lstm_fixed import FixedLSTMWeights
from golden.lstm_float import LSTMWeights
from golden.memory_map import layer_image
from hdl.config import EngineConfig
from hdl.convert import convert_design, write_memory_image

CFG = EngineConfig(3, 4, 2)


@pytest.fixture(scope="module")
def converted(build_dir):
    out = build_dir / "convert" / "first"
    return out, convert_design(CFG, out, hdl=("Verilog", "VHDL"))


def test_files_and_manifest(converted):
    out, paths = converted
    name = CFG.module_name
    assert paths["verilog"].name == f"{name}.v" and paths["testbench"].name == f"tb_{name}.v"
    assert paths["vhdl"].name == f"{name}.vhd" and paths["vhdl_package"].name.startswith("pck_myhdl_")
    text = paths["verilog"].read_text()
    assert f"module {name} (" in text
    assert "$from_myhdl" in paths["testbench"].read_text()
    m = json.loads(paths["manifest"].read_text())
    assert m["module"] == name and m["kind"] == "lstm_engine"
    assert m["parameters"] == {"input_size": 3, "hidden_size": 4, "lanes": 2, "multipliers": 8}
    ports = {p["name"]: (p["direction"], p["bits"]) for p in m["ports"]}
    assert ports["in_tdata"] == ("in", 3 * 16) and ports["out_tdata"] == ("out", 4 * 16)
    assert ports["wr_addr"] == ("in", 7) and ports["wr_data"] == ("in", 16)
    # every port of the manifest is declared in the Verilog with that width
    for pname, (direction, bits) in ports.items():
        decl = f"{'input' if direction == 'in' else 'output'} " + (f"[{bits - 1}:0] " if bits > 1 else "")
        assert f"{decl}{pname};" in text, pname
    assert m["memory_map"]["words"] == 4 * 4 * 7 + 16 == 2 ** 7
    assert m["cycles"]["cycles_per_step"] == CFG.cycles_per_step == 2 * 7 + 2 + CFG.step_overhead
    assert m["formats"] == FM.to_dict()
    assert m["memory_bits"]["weights"] == 4 * 4 * 7 * 16


def test_conversion_is_repeatable(converted, build_dir):
    out, paths = converted
    again = convert_design(CFG, build_dir / "convert" / "second", hdl=("Verilog", "VHDL"))

    def body(p):
        return [line for line in p.read_text().splitlines() if not line.lstrip("-/ ").startswith("Date:")]

    for key in ("verilog", "testbench", "vhdl"):
        assert body(paths[key]) == body(again[key]), key


def test_memory_image_loads_with_readmemh(tmp_path):
    """The hex image is what Verilog's $readmemh reads: every word at its address."""
    rng = np.random.default_rng(3)
    w = FixedLSTMWeights.from_float(LSTMWeights(rng.uniform(-1, 1, (3, 16)), rng.uniform(-1, 1, (4, 16)),
                                                rng.uniform(-1, 1, 16)), FM)
    paths = write_memory_image(CFG, w, tmp_path)
    image = layer_image(w, CFG.lanes)
    assert [tuple(x) for x in json.loads(paths["image_json"].read_text())["image"]] == image
    words = CFG.memory_words
    (tmp_path / "load.v").write_text(
        "module load;\n"
        f"  reg [{CFG.weight_bits - 1}:0] mem [0:{words - 1}];\n"
        "  integer a;\n"
        f"  initial begin $readmemh(\"{paths['image_hex'].name}\", mem);\n"
        f"    for (a = 0; a < {words}; a = a + 1) $display(\"%0d %h\", a, mem[a]);\n"
        "  end\nendmodule\n")
    iverilog, vvp = require("iverilog"), require("vvp")
    subprocess.run([iverilog, "-o", "load.vvp", "load.v"], cwd=tmp_path, check=True, timeout=120)
    out = subprocess.run([vvp, "-n", "load.vvp"], cwd=tmp_path, check=True, timeout=120,
                         capture_output=True, text=True).stdout
    loaded = dict(line.split() for line in out.splitlines() if line[:1].isdigit())
    assert {int(a): int(v, 16) for a, v in loaded.items()} == dict(image)
