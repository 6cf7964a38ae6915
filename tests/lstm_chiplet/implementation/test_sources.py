"""Design sources: manifest errors that name the file and the key, and the top behind the host bridge."""

import json

import pytest

from lstm_chiplet.implementation.sources import STREAM_PORTS, DesignSource, top_verilog


def test_manifest_errors_name_the_file_and_the_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        DesignSource.from_manifest(tmp_path / "none.json")
    bad = tmp_path / "bad.manifest.json"
    bad.write_text(json.dumps({"module": "m", "ports": []}))
    with pytest.raises(ValueError, match="missing key 'files'"):
        DesignSource.from_manifest(bad)
    bad.write_text(json.dumps({"module": "m", "ports": [], "files": {"verilog": "m.v"}}))
    with pytest.raises(FileNotFoundError, match="m.v not found"):
        DesignSource.from_manifest(bad)
    (tmp_path / "m.v").write_text("module m; endmodule\n")
    bad.write_text(json.dumps({"module": "m", "ports": [{"name": "clk"}], "files": {"verilog": "m.v"}}))
    with pytest.raises(ValueError, match="port 0 lacks"):
        DesignSource.from_manifest(bad)


def test_top_wires_every_stream_port_through_the_bridge():
    src = DesignSource("eng", [], [{"name": n, "direction": "x", "bits": b} for n, b in
                                         zip(STREAM_PORTS, (1, 1, 96, 1, 1, 1, 1024, 1, 1, 1, 1, 15, 16))],
                             {})
    text = top_verilog(src, "host_bridge_x", "eng_up5k")
    assert "wire [95:0] in_tdata;" in text and "wire [1023:0] out_tdata;" in text
    assert "wire [14:0] wr_addr;" in text and "wire in_tvalid;" in text
    for name in STREAM_PORTS[2:]:
        assert text.count(f".{name}({name})") == 2
