"""Reading yosys' output for the quality gates and the implementation flow.

Held to snippets in the shape of yosys 0.23's ``stat -json`` and ``dump`` output
(folders removed); the expected values are read off the snippets.  The gates
themselves run the real tools in ``tests/hdl/test_hdl_gates.py``.
"""

import pytest

from cosim.checks import _memories, cells_from_stat_json, parse_dump_cells

STAT_JSON = """yosys banner line
{
   "creator": "Yosys 0.23",
   "modules": {
      "\\\\top_up5k": {"num_cells": 7,
         "num_cells_by_type": {"SB_LUT4": 3, "SB_DFFE": 2, "SB_DFFSR": 1, "SB_MAC16": 1}}
   },
   "design": {"num_cells": 7, "num_cells_by_type": {"SB_LUT4": 3}}
}
"""

DUMP = """\
  attribute \\src "/some/folder/engine.v:248.1-248.50"
  cell $mem_v2 \\bank_mem
    parameter \\ABITS 11
    parameter \\INIT 32768'00000000000000000000000000000000
    parameter \\MEMID "\\\\bank_mem"
    parameter \\RD_PORTS 1
    parameter \\SIZE 2048
    parameter \\WIDTH 16
    parameter \\WR_PORTS 1
    connect \\RD_ADDR \\sp_addr
  end

  cell $mem_v2 $auto$proc_rom.cc:150:do_switch$26187
    parameter \\ABITS 9
    parameter \\RD_PORTS 1
    parameter \\SIZE 512
    parameter \\WIDTH 19
    parameter \\WR_PORTS 0
  end
"""


def test_stat_json_of_the_named_module_else_the_design():
    assert cells_from_stat_json(STAT_JSON, "top_up5k") == {"SB_LUT4": 3, "SB_DFFE": 2, "SB_DFFSR": 1,
                                                           "SB_MAC16": 1}
    assert cells_from_stat_json(STAT_JSON) == {"SB_LUT4": 3}
    assert cells_from_stat_json(STAT_JSON, "other") == {"SB_LUT4": 3}
    with pytest.raises(ValueError, match="no JSON"):
        cells_from_stat_json("ERROR: nothing")


def test_dump_cells_carry_parameters_connections_and_attributes():
    bank, rom = parse_dump_cells(DUMP)
    assert (bank["type"], bank["name"]) == ("$mem_v2", "bank_mem")
    assert bank["parameters"]["SIZE"] == 2048 and bank["parameters"]["MEMID"] == "\\bank_mem"
    assert bank["parameters"]["INIT"] == 0           # short constants read as integers
    assert bank["connections"] == {"RD_ADDR": "\\sp_addr"}
    assert bank["attributes"] == {"src": "/some/folder/engine.v:248.1-248.50"}
    assert rom["name"].startswith("$auto$") and rom["attributes"] == {}


def test_the_gates_memory_list():
    assert [(m["size"], m["width"], m["rd_ports"], m["wr_ports"], m["abits"]) for m in _memories(DUMP)] == [
        (2048, 16, 1, 1, 11), (512, 19, 1, 0, 9)]
