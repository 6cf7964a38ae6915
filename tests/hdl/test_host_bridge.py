"""The byte-wide host bridge: protocol, stream rules, and the engine behind it.

Three benches, in MyHDL simulation (the byte side driven and watched by the
co-simulation's host model, cosim.host):

* the bridge alone in front of a plain-Python stand-in for the engine (random
  in_tready, random compute delay, outputs a keyed function of each input), with
  hypothesis drawing the four port widths, the commands, rx gaps and tx back-pressure:
  every write, every beat and every frame must arrive exactly once, in order, equal;
* the bridge in front of a real small engine: bytes in, frames out, equal to
  golden.lstm_fixed as integers;
* conversion, Verilator lint and an Icarus compile of the generated Verilog.
"""

import numpy as np
import pytest
from hypothesis import given, strategies as st
from myhdl import block, instance

from cosim.host import run_host
from cosim.stream import Stimulus
from golden.formats import DEFAULT_FORMATS as FM
from golden.lstm_fixed import FixedLSTMWeights, lstm_layer_fixed
from golden.memory_map import layer_image
from hdl.config import EngineConfig
from hdl.host_bridge import (CMD_NOP, TX_HEADER, BridgeGeometry, bridge_module_name, bridge_ports,
                             host_bridge)
from hdl.stream import pack_words, unpack_words

KEY = 0x9E3779B97F4A7C15


def fake_output(x: int, bits: int) -> int:
    """What the stand-in engine answers for input vector ``x`` (a keyed mix, ``bits`` wide)."""
    return ((x + 1) * KEY ^ (x >> 3)) & ((1 << bits) - 1)


def host_side(p):
    """The bridge's byte ports under the host model's port names (no tlast, no write port)."""
    return {"clk": p["clk"], "rst": p["rst"], "in_tdata": p["rx_data"], "in_tvalid": p["rx_valid"],
            "in_tready": p["rx_ready"], "out_tdata": p["tx_data"], "out_tvalid": p["tx_valid"],
            "out_tready": p["tx_ready"]}


def run_bytes(build, rx_bytes, rx_gaps, tx_ready_pattern, tx_bytes, max_cycles, tail_cycles=8):
    """The host model sends ``rx_bytes`` (gap ``rx_gaps[k % len]`` before byte k) and takes
    tx bytes under ``tx_ready_pattern`` until ``tx_bytes`` came and ``tail_cycles`` more
    passed; ``build()`` returns ``(bench, bridge ports)``.  Returns the trace."""
    n = len(rx_bytes)
    gaps = tuple(rx_gaps[k % len(rx_gaps)] if rx_gaps else 0 for k in range(n))
    stim = Stimulus((), tuple((b, False) for b in rx_bytes), gaps, tuple(bool(r) for r in tx_ready_pattern),
                    tail_cycles=tail_cycles, max_cycles=max_cycles, expect_outputs=tx_bytes)

    def build_host_side():
        bench, p = build()
        return bench, host_side(p)

    trace = run_host(build_host_side, stim).trace
    assert trace.status == "ok", f"host: run ended with status {trace.status} at cycle {trace.end_cycle}"
    return trace


@block
def fake_engine_bench(p, in_ready_pattern, delays, seen):
    """One bridge and a stand-in engine behind it; fills ``seen`` (see the tests)."""
    dut = host_bridge(**p)
    clk = p["clk"]
    out_bits = len(p["out_tdata"])

    @instance
    def engine():
        cycle = 0
        pending = []          # [ready_at_cycle, value, last]
        held = None
        while True:
            p["in_tready"].next = in_ready_pattern[cycle % len(in_ready_pattern)]
            if pending and pending[0][0] <= cycle:
                p["out_tdata"].next = pending[0][1]
                p["out_tlast"].next = pending[0][2]
                p["out_tvalid"].next = 1
            else:
                p["out_tvalid"].next = 0
            yield clk.posedge
            cycle += 1
            if p["rst"]:
                continue
            if p["wr_en"]:
                seen["writes"].append((int(p["wr_addr"]), int(p["wr_data"])))
            if p["in_tvalid"]:
                now = (int(p["in_tdata"]), bool(p["in_tlast"]))
                if held is not None and now != held:
                    seen["violations"].append(f"cycle {cycle}: in_tdata changed while not taken")
                if p["in_tready"]:
                    seen["steps"].append(now)
                    d = delays[len(seen["steps"]) % len(delays)]
                    pending.append([cycle + d, fake_output(now[0], out_bits), now[1]])
                    held = None
                else:
                    held = now
            if p["out_tready"]:
                if not p["out_tvalid"]:
                    seen["violations"].append(f"cycle {cycle}: out_tready without out_tvalid")
                else:
                    seen["taken"] += 1
                    pending.pop(0)

    return dut, engine


@st.composite
def bridge_cases(draw):
    geo = BridgeGeometry(draw(st.integers(1, 40)), draw(st.integers(1, 40)),
                         draw(st.integers(1, 20)), draw(st.integers(1, 20)))
    commands = draw(st.lists(st.one_of(
        st.tuples(st.just("write"), st.integers(0, (1 << geo.addr_bits) - 1),
                  st.integers(0, (1 << geo.data_bits) - 1)),
        st.tuples(st.just("step"), st.integers(0, (1 << geo.in_bits) - 1), st.booleans()),
        st.tuples(st.just("nop"))), min_size=1, max_size=8))
    rx_gaps = draw(st.lists(st.integers(0, 3), min_size=1, max_size=5))
    tx_ready = draw(st.lists(st.integers(0, 1), min_size=1, max_size=6).filter(any))
    in_ready = draw(st.lists(st.integers(0, 1), min_size=1, max_size=6).filter(any))
    delays = draw(st.lists(st.integers(1, 12), min_size=1, max_size=4))
    return geo, commands, rx_gaps, tx_ready, in_ready, delays


@given(case=bridge_cases())
def test_bridge_carries_every_write_beat_and_frame(case):
    geo, commands, rx_gaps, tx_ready, in_ready, delays = case
    rx = []
    for c in commands:
        if c[0] == "write":
            rx += geo.encode_write(c[1], c[2])
        elif c[0] == "step":
            rx += geo.encode_step(c[1], c[2])
        else:
            rx += [CMD_NOP]
    seen = {"writes": [], "steps": [], "violations": [], "taken": 0}
    n_steps = sum(1 for c in commands if c[0] == "step")

    def build():
        p = bridge_ports(geo)
        return fake_engine_bench(p, in_ready, delays, seen), p

    trace = run_bytes(build, rx, rx_gaps, tx_ready, n_steps * geo.step_tx_bytes, tail_cycles=4,
                      max_cycles=50 + 10 * len(rx) + 40 * len(commands) * (geo.step_tx_bytes + 12))
    seen["frames_bytes"] = [o.data for o in trace.outputs]
    seen["violations"] += [f"cycle {c}: {what}" for c, what in trace.violations]
    want_writes = [(c[1], c[2]) for c in commands if c[0] == "write"]
    want_steps = [(c[1], c[2]) for c in commands if c[0] == "step"]
    assert seen["violations"] == []
    assert seen["writes"] == want_writes
    assert seen["steps"] == want_steps
    frames = geo.decode_frames(seen["frames_bytes"])
    assert frames == [(fake_output(x, geo.out_bits), last) for x, last in want_steps]
    assert seen["taken"] == len(want_steps)


# ------------------------------------------------------------- with the engine
@block
def engine_bench(cfg, p):
    """The bridge in front of a real engine, sharing its stream and write ports."""
    from hdl.lstm_engine import lstm_engine
    from hdl.ports import top_ports

    e = top_ports(cfg)
    for name in ("clk", "rst", "in_tdata", "in_tvalid", "in_tready", "in_tlast", "out_tdata",
                 "out_tvalid", "out_tready", "out_tlast", "wr_en", "wr_addr", "wr_data"):
        p[name] = e[name]
    return host_bridge(**p), lstm_engine(**e, cfg=cfg)


def test_bridge_in_front_of_the_engine_matches_golden():
    cfg = EngineConfig(2, 4, 2)
    rng = np.random.default_rng(11)
    w = FixedLSTMWeights.from_ints(rng.integers(-4096, 4097, (2, 16)), rng.integers(-4096, 4097, (4, 16)),
                                   rng.integers(-4096, 4097, 16), FM)
    geo = BridgeGeometry(cfg.in_bits, cfg.out_bits, cfg.addr_bits, cfg.weight_bits)
    lasts = [False, False, True, False, True]
    xs = rng.integers(FM.vec.int_min, FM.vec.int_max + 1, (len(lasts), 2)).tolist()
    rx = []
    for addr, word in layer_image(w, cfg.lanes):
        rx += geo.encode_write(int(addr), int(word))
    for x, last in zip(xs, lasts):
        rx += geo.encode_step(pack_words(x, cfg.vec_bits), last)

    def build():
        p = bridge_ports(geo)
        return engine_bench(cfg, p), p

    trace = run_bytes(build, rx, [0], [1, 1, 0], len(lasts) * geo.step_tx_bytes,
                      max_cycles=2 * len(rx) + len(lasts) * (cfg.cycles_per_step + 4 * geo.step_tx_bytes))
    got = [o.data for o in trace.outputs]
    frames = geo.decode_frames(got)
    want = []
    for seq in ([0, 1, 2], [3, 4]):
        hs, _ = lstm_layer_fixed(np.array([xs[t] for t in seq])[None], w)
        want += [[int(v) for v in row] for row in hs[0]]
    assert [unpack_words(v, cfg.hidden_size, cfg.vec_bits) for v, _ in frames] == want
    assert [last for _, last in frames] == lasts


# ------------------------------------------------------------------ host side
def test_geometry_counts_bytes_and_refuses_bad_values():
    geo = BridgeGeometry(96, 1024, 15, 16)
    assert (geo.in_bytes, geo.out_bytes, geo.addr_bytes, geo.data_bytes) == (12, 128, 2, 2)
    assert geo.encode_write(0x1234, 0xBEEF) == [1, 0x34, 0x12, 0xEF, 0xBE]
    assert geo.encode_step(1 << 95, True)[0] == 3 and geo.encode_step(1 << 95, True)[-1] == 0x80
    with pytest.raises(ValueError, match="address"):
        geo.encode_write(1 << 15, 0)
    with pytest.raises(ValueError, match="word"):
        geo.encode_write(0, -1)
    with pytest.raises(ValueError, match="in_bits"):
        BridgeGeometry(0, 8, 8, 8)
    with pytest.raises(ValueError, match="lacks"):
        BridgeGeometry.from_ports([{"name": "in_tdata", "bits": 8}])


def test_decode_frames_rejects_malformed_streams():
    geo = BridgeGeometry(8, 12, 4, 8)
    assert geo.decode_frames([TX_HEADER | 1, 0x21, 0x03]) == [(0x321, True)]
    with pytest.raises(ValueError, match="header"):
        geo.decode_frames([0x00, 1, 2])
    with pytest.raises(ValueError, match="cut short"):
        geo.decode_frames([TX_HEADER, 1])
    with pytest.raises(ValueError, match="padding"):
        geo.decode_frames([TX_HEADER, 0, 0x10])


# ----------------------------------------------------------------- conversion
@pytest.mark.hdl
@pytest.mark.filterwarnings("ignore:.*driven but not read")
def test_converted_bridge_is_lint_clean_and_compiles(tmp_path):
    from cosim import checks
    from cosim.tools import need_tools

    need_tools("verilator", "iverilog")
    for geo in (BridgeGeometry(96, 1024, 15, 16), BridgeGeometry(3, 12, 1, 9)):
        name = bridge_module_name(geo)
        host_bridge(**bridge_ports(geo)).convert(hdl="Verilog", path=str(tmp_path), name=name,
                                                 initial_values=True)
        verilog = tmp_path / f"{name}.v"
        assert checks.lint_verilog(verilog, name) == []
        checks.compile_iverilog([verilog], tmp_path / f"{name}.vvp", top=name)
