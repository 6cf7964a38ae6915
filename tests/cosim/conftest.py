"""Fixtures of the co-simulation tests: tool checks and the kit's own test design.

A missing simulator FAILS the test with the install command; only
``LSTM_CHIPLET_ALLOW_MISSING_TOOLS=1`` turns that into a skip (CI never sets it).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from cosim.compile import design_from_verilog
from cosim.paths import build_root, private_dir, publish_dir
from cosim.stream import StreamShape
from cosim.tools import need_tools

HERE = Path(__file__).resolve().parent
TOY_FILE = HERE / "toy_design.py"


@pytest.fixture(scope="session")
def icarus():
    need_tools("iverilog", "vvp", "iverilog-vpi")
    from cosim.vpi import build_myhdl_vpi
    return build_myhdl_vpi()


@pytest.fixture(scope="session")
def verilator():
    need_tools("verilator", "g++", "make")


def _load_toy():
    spec = importlib.util.spec_from_file_location("cosim_toy_design", TOY_FILE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_toy = _load_toy()

TOY_N, TOY_BITS, TOY_LATENCY = 3, 8, 3


def convert_toy(n=TOY_N, word_bits=TOY_BITS, latency=TOY_LATENCY):
    """Convert the toy design (own process, cached by source text) -> Design."""
    import hashlib

    name = _toy.toy_name(n, word_bits, latency)
    key = hashlib.sha1(TOY_FILE.read_bytes()).hexdigest()[:10]
    final = build_root() / "toy" / f"{name}-{key}"
    if not (final / f"{name}.v").is_file():
        tmp = private_dir(final.parent, name)
        subprocess.run([sys.executable, str(TOY_FILE), str(tmp), str(n), str(word_bits), str(latency)],
                       check=True, capture_output=True, text=True)
        publish_dir(tmp, final)
    shape = StreamShape(n, word_bits, n, word_bits, max(1, (n - 1).bit_length()), word_bits)
    return design_from_verilog(final / f"{name}.v", name, shape, _toy.toy_cycles_per_step(latency), "toy")


@pytest.fixture(scope="session")
def toy_design():
    return convert_toy()


@pytest.fixture(scope="session")
def toy_device(toy_design):
    """The toy design in both forms (its MyHDL block, its converted Verilog)."""
    from cosim.host import Device

    def block(cfg, **ports):
        n, word_bits, latency = cfg
        return _toy.stream_accumulator(**ports, n=n, word_bits=word_bits, latency=latency)

    return Device("toy", (TOY_N, TOY_BITS, TOY_LATENCY), block, lambda cfg: _toy.toy_ports(*cfg[:2]),
                  lambda cfg: toy_design, toy_design.shape)


@pytest.fixture(scope="session")
def toy():
    """The toy design's module (reference model, names)."""
    return _toy


@pytest.fixture(scope="session")
def designs(icarus):
    """``designs(cfg)``: the converted engine for an EngineConfig (converted once, cached)."""
    from cosim.compile import engine_design

    cache = {}

    def get(cfg):
        if cfg.module_name not in cache:
            cache[cfg.module_name] = engine_design(cfg)
        return cache[cfg.module_name]

    return get
