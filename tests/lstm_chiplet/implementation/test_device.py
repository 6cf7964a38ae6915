"""Device data: block counts of a memory in EBR and SPRAM, and what exceeds the device."""

from lstm_chiplet.implementation.device import UP5K, ebr_blocks, shortfalls, spram_blocks


def test_ebr_and_spram_block_counts():
    # 256x16 is the EBR shape for 16-bit words: 2048 words -> 8 blocks
    assert ebr_blocks(2048, 16) == 8
    # 512x19: 512x8 blocks need 3 (19 bits = 8+8+3), 256x16 would need 2x2 = 4
    assert ebr_blocks(512, 19) == 3
    assert ebr_blocks(64, 16) == 1
    assert spram_blocks(15_904, 16) == 1 and spram_blocks(16_385, 16) == 2
    assert spram_blocks(100, 32) == 2


def test_shortfalls_list_only_what_exceeds_the_device():
    used = {"logic_cells": 5000, "dsp": 10, "ebr": 30, "io": 40}       # no SPRAM figure: not judged
    assert shortfalls(used, UP5K) == [
        {"resource": "dsp", "used": 10, "available": 8, "excess": 2, "percent_of_device": 125.0},
        {"resource": "io", "used": 40, "available": 39, "excess": 1, "percent_of_device": 102.6}]
