"""The conversion script: files, manifest, memory image, repeatability, bad input."""

import json
import os

import numpy as np
import pytest

from cosim.tools import MissingToolError, require
from golden.formats import DEFAULT_FORMATS as FM, FormatError
from golden.lstm_fixed import FixedLSTMWeights
from golden.lstm_float import LSTMWeights, ShapeError
from golden.memory_map import layer_image
from hdl.config import EngineConfig
from hdl.convert import convert_engine, load_layer_weights, main as convert_main
from lstm_chiplet.cli import main as cli_main

CFG = EngineConfig(3, 4, 2)


@pytest.fixture(scope="module")
def converted(build_dir):
    out = build_dir / "convert" / "first"
    return out, convert_engine(CFG, out, hdl=("Verilog", "VHDL"))


def test_files_and_manifest(converted):
    out, paths = converted
    name = CFG.module_name
    assert paths["verilog"].name == f"{name}.v" and paths["testbench"].name == f"tb_{name}.v"
    assert paths["vhdl"].name == f"{name}.vhd" and paths["vhdl_package"].name.startswith("pck_myhdl_")
    text = paths["verilog"].read_text()
    assert f"module {name} (" in text
    assert "$from_myhdl" in paths["testbench"].read_text()
    m = json.loads(paths["manifest"].read_text())
    assert m["module"] == name
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
    again = convert_engine(CFG, build_dir / "convert" / "second", hdl=("Verilog", "VHDL"))

    def body(p):
        return [line for line in p.read_text().splitlines() if not line.lstrip("-/ ").startswith("Date:")]

    for key in ("verilog", "testbench", "vhdl"):
        assert body(paths[key]) == body(again[key]), key


def _keras_npz(path, d, h, rng, scale=0.5, extra_layers=0):
    arrays = {}
    for layer in range(1 + extra_layers):
        arrays[f"arr_{3 * layer}"] = rng.uniform(-scale, scale, (d, 4 * h))
        arrays[f"arr_{3 * layer + 1}"] = rng.uniform(-scale, scale, (h, 4 * h))
        arrays[f"arr_{3 * layer + 2}"] = rng.uniform(-scale, scale, 4 * h)
        d = h
    np.savez(path, **arrays)
    return arrays


def test_cli_writes_image_of_a_keras_layer(tmp_path):
    rng = np.random.default_rng(2)
    arrays = _keras_npz(tmp_path / "model.npz", 4, 4, rng, extra_layers=1)
    # layer 1 of the file is 4 -> 4 (its input is layer 0's h)
    code = cli_main(["convert", "--input-size", "4", "--hidden-size", "4", "--lanes", "2",
                     "--weights", str(tmp_path / "model.npz"), "--layer", "1", "--hdl", "verilog",
                     "--out", str(tmp_path / "out")])
    assert code == 0
    cfg = EngineConfig(4, 4, 2)
    image = json.loads((tmp_path / "out" / f"{cfg.module_name}.image.json").read_text())
    w = FixedLSTMWeights.from_float(LSTMWeights(arrays["arr_3"], arrays["arr_4"], arrays["arr_5"]), FM)
    assert [tuple(x) for x in image["image"]] == layer_image(w, 2)
    hex_words = [int(line, 16) for line in
                 (tmp_path / "out" / f"{cfg.module_name}.image.hex").read_text().splitlines()[1:]]
    assert hex_words == [word for _, word in layer_image(w, 2)]
    manifest = json.loads((tmp_path / "out" / f"{cfg.module_name}.manifest.json").read_text())
    assert manifest["files"]["image_hex"].endswith(".image.hex")
    assert not (tmp_path / "out" / f"{cfg.module_name}.vhd").exists()


def test_weights_with_wrong_shape_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    _keras_npz(tmp_path / "w.npz", 6, 8, rng)
    with pytest.raises(ShapeError) as info:
        load_layer_weights(tmp_path / "w.npz", EngineConfig(6, 4, 2))
    msg = str(info.value)
    assert "w.npz" in msg and "'arr_0'" in msg and "(6, 32)" in msg and "(6, 16)" in msg
    with pytest.raises(ShapeError, match="missing"):
        load_layer_weights(tmp_path / "w.npz", EngineConfig(6, 8, 2), layer=1)


def test_weights_outside_the_format_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    _keras_npz(tmp_path / "big.npz", 2, 2, rng, scale=100.0)
    with pytest.raises(FormatError, match="kernel"):
        load_layer_weights(tmp_path / "big.npz", EngineConfig(2, 2, 1))


def test_named_integer_arrays_are_taken_as_words(tmp_path):
    k = np.arange(2 * 8).reshape(2, 8) - 5
    np.savez(tmp_path / "ints.npz", kernel=k, recurrent=np.ones((2, 8), np.int64), bias=np.zeros(8, np.int64))
    w = load_layer_weights(tmp_path / "ints.npz", EngineConfig(2, 2, 2))
    assert (w.kernel == k).all()


def test_bad_configuration_exits_with_a_message(capsys, tmp_path):
    code = convert_main(["--input-size", "6", "--hidden-size", "64", "--lanes", "5", "--out", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert "lanes (5) must divide hidden_size (64)" in err
    assert not list(tmp_path.iterdir())


def test_formats_option_changes_the_module(tmp_path):
    floor = FM.with_rounding("floor")
    code = convert_main(["--input-size", "2", "--hidden-size", "2", "--lanes", "1", "--hdl", "verilog",
                         "--formats", json.dumps(floor.to_dict()), "--out", str(tmp_path)])
    assert code == 0
    assert (tmp_path / f"{EngineConfig(2, 2, 1, floor).module_name}.v").is_file()
    assert convert_main(["--input-size", "2", "--hidden-size", "2", "--lanes", "1",
                         "--formats", "not-a-file.json", "--out", str(tmp_path)]) == 1


def test_missing_tool_names_its_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError) as info:
        require("verilator")
    assert "apt-get install verilator" in str(info.value)
    with pytest.raises(MissingToolError, match="apt-get install iverilog"):
        require("iverilog-vpi")
    assert os.environ["PATH"] == str(tmp_path)
