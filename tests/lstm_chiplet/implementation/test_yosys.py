"""yosys in the flow: multipliers and memories from dumps, mapped resources, the DSP budget, the memory plan.

* Parsers are held to snippets captured from yosys 0.23 runs of the engine (folders
  removed); the expected numbers are read off the snippets.
* The DSP budget and the memory plan are checked on hand-made cells whose right
  answer is worked out in the test.
"""

import pytest

from lstm_chiplet.implementation.device import UP5K, Device
from lstm_chiplet.implementation.yosys import (INITIAL_CONTENTS, SEPARATE_ADDRESSES, Memory, Multiplier,
                                               drop_zero_init, dsp_budget, memories_from_dump,
                                               multipliers_from_dump, plan_memories, resources_from_cells)

MEMORY_DUMP = """\
  attribute \\src "/some/folder/top.v:33.48-46.2|/some/folder/engine.v:248.1-248.50"
  cell $mem_v2 \\core.gate_unit0_weight_memory0_mem
    parameter \\ABITS 11
    parameter \\INIT 32768'00000000000000000000000000000000
    parameter \\MEMID "\\\\core.gate_unit0_weight_memory0_mem"
    parameter \\RD_INIT_VALUE 16'0000000000000000
    parameter \\RD_PORTS 1
    parameter \\SIZE 2048
    parameter \\WIDTH 16
    parameter \\WR_PORTS 1
    connect \\RD_ADDR \\core.gate_unit0_weight_memory0_sp_addr
    connect \\RD_CLK \\clk
    connect \\WR_ADDR $flatten\\core.$0$memwr$\\gate_unit0_weight_memory0_mem$engine.v:352$8427_ADDR[10:0]$8441
  end

  cell $mem_v2 \\memcell_3
    parameter \\ABITS 9
    parameter \\INIT 9728'1000000000000000000100000000000000000010
    parameter \\MEMID "$flatten\\\\core.$auto$proc_rom.cc:150:do_switch$26187"
    parameter \\RD_PORTS 1
    parameter \\SIZE 512
    parameter \\WIDTH 19
    parameter \\WR_PORTS 0
    connect \\RD_ADDR \\core.activation_unit0_u [14:6]
  end
"""


MUX_IL = """\
  cell $mux $flatten\\core.$procmux$27037
    parameter \\WIDTH 11
    connect \\A 11'xxxxxxxxxxx
    connect \\B \\core.gate_unit0_weight_memory0_sp_addr
    connect \\S \\core.gate_unit0_weight_memory0_hit
    connect \\Y $flatten\\core.$0$memwr$\\gate_unit0_weight_memory0_mem$engine.v:352$8427_ADDR[10:0]$8441
  end
"""


MUL_DUMP = """\
  attribute \\src "/some/folder/engine.v:2865.31-2865.80"
  cell $mul \\mulcell_0
    parameter \\A_SIGNED 0
    parameter \\A_WIDTH 12
    parameter \\B_SIGNED 0
    parameter \\B_WIDTH 6
    parameter \\Y_WIDTH 18
    connect \\A \\core.activation_unit0_slope
  end

  attribute \\src "/some/folder/engine.v:363.12-363.50"
  cell $mul \\mulcell_2
    parameter \\A_SIGNED 1
    parameter \\A_WIDTH 16
    parameter \\B_SIGNED 1
    parameter \\B_WIDTH 16
    parameter \\Y_WIDTH 32
    connect \\A \\core.gate_unit0_weight_memory0_rd_data
  end
"""


def test_resources_from_mapped_cells():
    res = resources_from_cells({"SB_LUT4": 3, "SB_DFFE": 2, "SB_DFFSR": 1, "SB_MAC16": 1, "SB_RAM40_4K": 2})
    assert (res["lut4"], res["flip_flops"], res["dsp"], res["ebr"], res["spram"]) == (3, 3, 1, 2, 0)
    assert (res["logic_cells_min"], res["logic_cells_max"]) == (3, 6)


def test_multipliers_and_memories_from_dumps():
    muls = multipliers_from_dump(MUL_DUMP)
    assert [(m.name, m.a_bits, m.b_bits, m.y_bits, m.source) for m in muls] == [
        ("mulcell_0", 12, 6, 18, "engine.v:2865"), ("mulcell_2", 16, 16, 32, "engine.v:363")]
    mems = memories_from_dump(MEMORY_DUMP, MUX_IL)
    bank, rom = mems
    assert (bank.name, bank.memid, bank.size, bank.width, bank.rom) == (
        "core.gate_unit0_weight_memory0_mem", "core.gate_unit0_weight_memory0_mem", 2048, 16, False)
    assert bank.same_address and not bank.init_nonzero and bank.source == "engine.v:248"
    assert rom.rom and rom.init_nonzero and rom.label.startswith("ROM")
    # without the enable multiplexer the write address is another net
    assert not memories_from_dump(MEMORY_DUMP)[0].same_address


def test_dsp_budget_gives_the_blocks_to_the_widest_products():
    muls = [Multiplier(f"act{k}", 12, 6, 18) for k in range(5)]
    muls += [Multiplier(f"mac{k}", 16, 16, 32) for k in range(8)]
    muls += [Multiplier("wide", 20, 16, 36), Multiplier("tiny", 4, 4, 8)]
    on, soft = dsp_budget(muls, 8)
    # "wide" (20x16 = 320) takes 2 blocks, then six 16x16 fill the remaining 6
    assert [m.name for m in on] == ["wide"] + [f"mac{k}" for k in range(6)]
    assert sum(m.dsp_blocks for m in on) == 8
    assert {m.name for m in soft} == {"mac6", "mac7", "tiny"} | {f"act{k}" for k in range(5)}
    assert Multiplier("tiny", 4, 4, 8).dsp_blocks == 0      # below mul2dsp's minimum width
    on, soft = dsp_budget(muls[:5], 8)
    assert len(on) == 5 and soft == []


def _mem(name, size, width, rom=False, same=True, init=False):
    return Memory(name, name, size, width, 1, 0 if rom else 1, same, init)


def test_memory_plan_moves_the_largest_rams_to_spram_only_when_ebr_overflows():
    fits = [_mem("bank", 2048, 16), _mem("rom", 512, 19, rom=True)]
    plan = plan_memories(fits, UP5K)
    assert plan["spram_candidates"] == [] and plan["ebr_estimate"] == 8 + 3
    banks = [_mem(f"bank{k}", 4480, 16) for k in range(5)]          # 18 EBR each
    mems = banks + [_mem("rom", 512, 19, rom=True), _mem("init", 8192, 16, init=True)]
    plan = plan_memories(mems, UP5K)
    # EBR need 5*18 + 3 + 32 = 125 > 30; the largest ("init", 32 blocks) has initial
    # contents, so the four SPRAMs take four 4480-word banks
    assert plan["spram_candidates"] == ["bank0", "bank1", "bank2", "bank3"]
    assert plan["ebr_estimate"] == 125 - 4 * 18
    assert plan["refused"] == {"init": INITIAL_CONTENTS}
    assert "rom" not in plan["refused"]                       # ROMs never were candidates
    excluded = {"bank0": SEPARATE_ADDRESSES}
    plan = plan_memories(mems, UP5K, excluded)
    assert plan["spram_candidates"] == ["bank1", "bank2", "bank3", "bank4"]
    assert plan["refused"]["bank0"] == SEPARATE_ADDRESSES


def test_memory_plan_puts_tiny_memories_in_flip_flops_when_still_over():
    small = Device("t", "p", (), 5280, 8, ebr=3, spram=0, io=39)
    mems = [_mem("big", 512, 16), _mem("c", 16, 16), _mem("h", 8, 16), _mem("mid", 64, 16)]
    plan = plan_memories(mems, small)
    # EBR need 2 + 1 + 1 + 1 = 5 > 3; the smallest two (128 and 256 bits) go to flip-flops;
    # the 1024-bit one is above LOGIC_MAX_BITS and stays
    assert plan["logic"] == ["h", "c"] and plan["ebr_estimate"] == 3


def test_drop_zero_init_touches_only_the_named_memories():
    text = MEMORY_DUMP.replace("32768'00000000000000000000000000000000", "32'0" + "0" * 31)
    out = drop_zero_init(text, ["core.gate_unit0_weight_memory0_mem"])
    assert "parameter \\INIT 32'" + "x" * 32 in out
    assert "parameter \\RD_INIT_VALUE 16'" + "x" * 16 in out
    assert "9728'1000000000000000000100000000000000000010" in out     # the ROM keeps its table
    with pytest.raises(ValueError, match="not all zero"):
        drop_zero_init(MEMORY_DUMP, ["memcell_3"])
