"""The whole-window engine: config, memory map, MyHDL simulation against golden, conversion.

The MyHDL model of hdl.autoencoder_engine is driven by the co-simulation's host model
(cosim.host: weights through the write port, windows as beats, an out_tready
pattern) and held to golden.autoencoder.FixedAutoencoder.forward_int: every
reconstructed vector equal as integers, tlast on the last step of every window, and,
when the host never waits, windows exactly cycles_per_window apart.
"""

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cosim import checks
from cosim.autoencoder import autoencoder_device
from cosim.runner import simulate as run_simulation
from cosim.stream import Stimulus
from cosim.tools import need_tools
from cosim.verilog import pack_words, unpack_words
from golden.autoencoder import AutoencoderConfig, FixedAutoencoder
from golden.autoencoder_memory_map import (AutoencoderLayout, autoencoder_image, bank_contents,
                                           memory_map)
from golden.formats import DEFAULT_FORMATS as FM, FormatError
from golden.lstm_fixed import FixedLSTMWeights
from hdl.autoencoder_config import AutoencoderEngineConfig

REFERENCE = AutoencoderConfig()                     # 6 -> 64 -> 32 | x24 | 32 -> 64 -> 6
TINY = AutoencoderConfig(2, (3, 2), (2, 3), 3)


# --------------------------------------------------------------------- helpers
def random_model(rng, cfg: AutoencoderConfig, scale: int = 4096) -> FixedAutoencoder:
    """Integer weights in [-scale, scale] of the weight format, every tensor."""
    lo, hi = max(FM.weight.int_min, -scale), min(FM.weight.int_max, scale)
    layers = [FixedLSTMWeights.from_ints(rng.integers(lo, hi + 1, (d, 4 * h)),
                                         rng.integers(lo, hi + 1, (h, 4 * h)),
                                         rng.integers(lo, hi + 1, 4 * h), FM)
              for d, h in cfg.layer_shapes]
    hl = cfg.hidden_sizes[-1]
    return FixedAutoencoder(cfg, layers, rng.integers(lo, hi + 1, (hl, cfg.features)),
                            rng.integers(lo, hi + 1, cfg.features), FM)


def random_windows(rng, cfg: AutoencoderConfig, n: int) -> np.ndarray:
    return rng.integers(FM.vec.int_min, FM.vec.int_max + 1, (n, cfg.timesteps, cfg.features))


def simulate(cfg: AutoencoderEngineConfig, image, beats, *, ready=(True,), gaps=None,
             resets=None, extra_cycles=0):
    """MyHDL simulation of the engine under the host model; returns the trace."""
    n = len(beats)
    waits, lens = [-1] * n, [0] * n
    for beat, (wait, length) in (resets or {}).items():
        waits[beat], lens[beat] = wait, length
    gaps = list(gaps) if gaps is not None else [0] * n
    stall = max(1, len(ready) - sum(bool(r) for r in ready) + 1)
    windows = n // cfg.timesteps + 2
    max_cycles = len(image) + 100 + windows * (cfg.cycles_per_window + 50) * stall + sum(gaps) + extra_cycles
    stim = Stimulus(tuple(image), tuple(beats), tuple(gaps), tuple(bool(r) for r in ready),
                    tuple(waits), tuple(lens), max_cycles=max_cycles)
    return run_simulation(autoencoder_device(cfg), stim, "myhdl")


def window_beats(x_int, lasts=None):
    n, t, f = x_int.shape
    beats = []
    for w in range(n):
        for s in range(t):
            last = (s == t - 1) if lasts is None else lasts[w * t + s]
            beats.append((pack_words(x_int[w, s], FM.vec.word_bits), last))
    return beats


def outputs(trace, cfg):
    return [(list(unpack_words(o.data, cfg.features, FM.vec.word_bits)), o.last) for o in trace.outputs]


def expected(fixed, x_int):
    rec = fixed.forward_int(x_int)["reconstruction"]
    t = fixed.cfg.timesteps
    return [([int(v) for v in rec[w, s]], s == t - 1) for w in range(rec.shape[0]) for s in range(t)]


def first_beat_spacing(trace, t, windows):
    acc = dict(trace.accepts)
    starts = [acc[w * t] for w in range(windows)]
    return [b - a for a, b in zip(starts, starts[1:])]


# ---------------------------------------------------------------------- config
def test_reference_cycles_follow_the_documented_formula():
    """Worked by hand from the docstring's formula: every reference layer has D+H-P >= LAT,
    so no gaps; the dense pass has ceil(6/4) = 2 row-blocks of 64 columns at P = 1."""
    cfg = AutoencoderEngineConfig(REFERENCE, 1)
    # LAT = 1 (row leaves) + 3 (bias read, biased-sum register, requantize) + 5 (pipelined
    # activation: |z|, table read, product, sum, requantize) + 2 (shared sigmoid unit,
    # P = 1 only) + 10 (cell state 3: products, sum register, requantize; tanh 5,
    # product, requantize) + 1 (buffer read)
    assert cfg.shared_activations and cfg.h_latency == 22          # P = 1: one sigmoid unit
    assert AutoencoderEngineConfig(REFERENCE, 2).h_latency == 20
    lstm = 64 * (6 + 64) + 32 * (64 + 32) + 32 * (32 + 32) + 64 * (32 + 64)     # (H/P)(D+H), P=1
    dense_wait = 5 + ((6 - 1) % 4) // 4      # row leaves, bias read, sum register, requantize, taken
    assert cfg.cycles_per_window == 24 * 6 + 24 * lstm + 24 * 2 * 64 + 23 * dense_wait == 381_187
    assert cfg.ideal_cycles == 24 * (4 * lstm + 64 * 6) // 4
    assert cfg.macs_per_window == 24 * (4 * lstm + 64 * 6)
    p8 = AutoencoderEngineConfig(REFERENCE, 8)
    lstm8 = 8 * 70 + 4 * 96 + 4 * 64 + 8 * 96
    assert p8.cycles_per_window == 24 * 6 + 24 * lstm8 + 24 * 64 + 23 * (5 + 5 // 4)
    for p in (1, 2, 4, 8):
        c = AutoencoderEngineConfig(REFERENCE, p)
        table = c.cycle_table()
        assert sum(r["cycles"] for r in table) + c.load_cycles == c.cycles_per_window
        assert all(r["pass_gap"] == 0 and (r["step_gap"] == 0 or r["name"] == "dense") for r in table)
        assert c.mac_utilisation == pytest.approx(c.macs_per_window / (4 * p * c.cycles_per_window))


def test_gaps_cover_short_rows():
    """A row-block shorter than the row pipeline waits: G = LAT - (D + H - P)."""
    cfg = AutoencoderEngineConfig(TINY, 1)
    assert cfg.shared_activations and cfg.h_latency == 22
    assert [cfg.step_gap(n) for n in range(4)] == [22 - 4, 22 - 4, 22 - 3, 22 - 4]
    # the first decoder layer reads the latent at once: H_enc_last - P = 1 cycle of margin
    assert cfg.pass_gap(2) == 22 - 1
    assert cfg.pass_gap(0) == 0
    # rows two cycles apart (D + H = 2) keep one activation unit per gate
    assert not AutoencoderEngineConfig(AutoencoderConfig(1, (1,), (1,), 2), 1).shared_activations


@pytest.mark.parametrize("kwargs, words", [
    ({"lanes": 3}, r"lanes \(3\) must divide"),
    ({"lanes": 0}, "lanes must be at least 1"),
    ({"lanes": True}, "lanes must be an integer"),
    ({"lanes": 1, "fmts": "Q2.14"}, "fmts must be"),
], ids=["lanes-not-dividing", "zero-lanes", "bool-lanes", "bad-formats"])
def test_bad_configuration_is_refused_naming_the_parameter(kwargs, words):
    with pytest.raises(FormatError, match=words):
        AutoencoderEngineConfig(REFERENCE, **kwargs)


def test_module_name_and_widths_follow_the_configuration():
    cfg = AutoencoderEngineConfig(REFERENCE, 4)
    assert cfg.module_name.startswith("lstm_autoencoder_f6_e64x32_d32x64_t24_p4_v2q14_w4q12")
    assert cfg.in_bits == cfg.out_bits == 6 * FM.vec.word_bits
    # one buffer: a pass's input and output at its two ends, the widest neighbours 64 + 32
    assert cfg.sequence_words == 24 * (64 + 32)
    variant = AutoencoderEngineConfig(AutoencoderConfig(6, (32, 32), (32, 32), 24), 2)
    assert variant.model.parameter_count == 30_150
    assert variant.sequence_words == 24 * (32 + 32)
    assert AutoencoderEngineConfig.from_dict(cfg.to_dict()) == cfg


# ------------------------------------------------------------------ memory map
@pytest.mark.parametrize("cfg, p", [(TINY, 1), (AutoencoderConfig(5, (4, 2), (2, 4), 2), 2),
                                    (AutoencoderConfig(9, (4,), (4,), 2), 1)],
                         ids=["tiny-p1", "f5-p2", "f9-p1"])
def test_image_holds_every_weight_at_its_documented_address(cfg, p):
    """The address formulas of the module docstring, re-derived here, give every weight."""
    rng = np.random.default_rng(3)
    fixed = random_model(rng, cfg)
    image = dict(autoencoder_image(fixed, p))
    lay = AutoencoderLayout.for_config(cfg, p)
    rb, mask = lay.region_bits, (1 << FM.weight.word_bits) - 1
    wbase = bbase = 0
    seen = set()
    for w in fixed.layers:
        d, h = w.input_size, w.hidden_size
        for g in range(4):
            for j in range(h):
                lane, blk = j % p, j // p
                for k in range(d + h):
                    addr = ((g * p + lane) << rb) + wbase + blk * (d + h) + k
                    want = w.kernel[k, g * h + j] if k < d else w.recurrent[k - d, g * h + j]
                    assert image[addr] == int(want) & mask
                    seen.add(addr)
                addr = ((4 * p + g) << rb) + bbase + j
                assert image[addr] == int(w.bias[g * h + j]) & mask
                seen.add(addr)
        wbase += (h // p) * (d + h)
        bbase += h
    hl = cfg.hidden_sizes[-1]
    for f in range(cfg.features):
        g, lane, blk = f % 4, (f // 4) % p, f // (4 * p)
        for k in range(hl):
            addr = ((g * p + lane) << rb) + wbase + blk * hl + k
            assert image[addr] == int(fixed.dense_kernel[k, f]) & mask
            seen.add(addr)
        addr = ((4 * p + g) << rb) + bbase + blk * p + lane
        assert image[addr] == int(fixed.dense_bias[f]) & mask
        seen.add(addr)
    # everything else in the image is padding of the last dense row-block: zeros
    assert all(v == 0 for a, v in image.items() if a not in seen)
    assert len(image) == lay.used_words == memory_map(cfg, p)["used_words"]
    assert max(image) < 1 << lay.address_bits


def test_reference_banks_fit_one_spram_each_at_one_lane():
    """P = 1: a gate's weights of every layer (and its share of the dense layer) in one
    16K x 16 single-port RAM; biases in a small block of their own."""
    lay = AutoencoderLayout.for_config(REFERENCE, 1)
    assert lay.bank_words == 64 * 70 + 32 * 96 + 32 * 64 + 64 * 96 + 2 * 64 == 15_872 <= 16 * 1024
    assert lay.bias_words == 64 + 32 + 32 + 64 + 2


def test_image_refuses_a_model_of_another_topology_and_bad_lanes():
    fixed = random_model(np.random.default_rng(0), TINY)
    with pytest.raises(FormatError, match="lanes .2. must divide"):
        autoencoder_image(fixed, 2)
    banks, biases = bank_contents(fixed, 1)
    assert banks.shape == (4, 1, AutoencoderLayout.for_config(TINY, 1).bank_words)


# ---------------------------------------------------------- MyHDL simulation
@st.composite
def engine_cases(draw):
    p = draw(st.sampled_from([1, 2]))
    sizes = st.integers(1, 3).map(lambda k: k * p)
    enc = tuple(draw(st.lists(sizes, min_size=1, max_size=2)))
    dec = tuple(draw(st.lists(sizes, min_size=1, max_size=2)))
    cfg = AutoencoderConfig(draw(st.integers(1, 6)), enc, dec, draw(st.integers(1, 4)))
    windows = draw(st.integers(1, 2))
    scale = draw(st.sampled_from([256, 4096, 1 << 15]))     # mild, typical, saturating
    eager = draw(st.booleans())
    if eager:
        ready, gaps = [1], [0] * (windows * cfg.timesteps)
    else:
        ready = draw(st.one_of(st.lists(st.integers(0, 1), min_size=1, max_size=7).filter(any),
                               st.integers(10, 30).map(lambda n: [0] * n + [1])))
        gaps = draw(st.lists(st.integers(0, 4), min_size=windows * cfg.timesteps,
                             max_size=windows * cfg.timesteps))
    return cfg, p, windows, scale, eager, ready, gaps, draw(st.integers(0, 2**32 - 1))


@settings(max_examples=max(4, settings.default.max_examples // 3))
@given(case=engine_cases())
def test_engine_reconstructs_golden_windows(case):
    """Random topologies, weights and windows, with and without a slow host."""
    model_cfg, p, windows, scale, eager, ready, gaps, seed = case
    rng = np.random.default_rng(seed)
    fixed = random_model(rng, model_cfg, scale)
    cfg = AutoencoderEngineConfig.for_model(fixed, p)
    x = random_windows(rng, model_cfg, windows)
    trace = simulate(cfg, autoencoder_image(fixed, p), window_beats(x), ready=ready, gaps=gaps)
    assert trace.status == "ok" and trace.violations == []
    assert outputs(trace, cfg) == expected(fixed, x)
    if eager:
        spacing = first_beat_spacing(trace, model_cfg.timesteps, windows)
        assert spacing == [cfg.cycles_per_window] * (windows - 1)


@pytest.mark.parametrize("model_cfg, p", [(TINY, 1), (AutoencoderConfig(6, (4, 2), (2, 4), 3), 2),
                                          (AutoencoderConfig(9, (1,), (1,), 1), 1)],
                         ids=["tiny-p1", "f6-p2", "f9-h1-t1"])
def test_windows_stream_back_to_back_at_the_documented_period(model_cfg, p):
    """Four windows with an eager host: the first beats are exactly cycles_per_window apart,
    and each window's last output is taken latency_cycles after its first beat."""
    rng = np.random.default_rng(1)
    fixed = random_model(rng, model_cfg)
    cfg = AutoencoderEngineConfig.for_model(fixed, p)
    x = random_windows(rng, model_cfg, 4)
    trace = simulate(cfg, autoencoder_image(fixed, p), window_beats(x))
    assert outputs(trace, cfg) == expected(fixed, x)
    assert first_beat_spacing(trace, model_cfg.timesteps, 4) == [cfg.cycles_per_window] * 3
    t = model_cfg.timesteps
    acc = dict(trace.accepts)
    for w in range(4):
        assert trace.outputs[(w + 1) * t - 1].cycle - acc[w * t] == cfg.latency_cycles


def test_reset_drops_the_window_in_flight():
    """rst while loading and while computing: those windows are lost, the next are exact."""
    rng = np.random.default_rng(2)
    fixed = random_model(rng, TINY)
    cfg = AutoencoderEngineConfig.for_model(fixed, 1)
    x = random_windows(rng, TINY, 5)
    t = TINY.timesteps
    # x0 whole; x1 cut after two beats (loading; x0's last output has left by then);
    # x2 whole; x3 whole, then rst 60 cycles into its passes; x4 whole
    beats = window_beats(x[:1]) + window_beats(x[1:2])[:2] + window_beats(x[2:])
    resets = {t + 1: (cfg.dense_wait, 2), t + 2 + 2 * t - 1: (60, 1)}
    assert 60 < cfg.cycles_per_window - cfg.load_cycles
    trace = simulate(cfg, autoencoder_image(fixed, 1), beats, resets=resets)
    assert trace.status == "ok" and trace.violations == []
    assert len(trace.resets) == 2
    assert outputs(trace, cfg) == expected(fixed, x[[0, 2, 4]])


def test_early_tlast_drops_the_partial_window():
    """A beat with tlast before step T-1 ends the partial window; the next beat is step 0."""
    rng = np.random.default_rng(4)
    fixed = random_model(rng, TINY)
    cfg = AutoencoderEngineConfig.for_model(fixed, 1)
    x = random_windows(rng, TINY, 2)
    t = TINY.timesteps
    partial = x[0, :2]
    beats = [(pack_words(v, FM.vec.word_bits), k == 1) for k, v in enumerate(partial)] + window_beats(x[1:])
    # the host model expects an output per beat: a reset once the window is done ends the run
    end = {len(beats) - 1: (cfg.latency_cycles, 1)}
    trace = simulate(cfg, autoencoder_image(fixed, 1), beats, resets=end)
    assert trace.status == "ok"
    assert outputs(trace, cfg) == expected(fixed, x[1:])
    assert len(trace.outputs) == t


def test_writes_outside_the_banks_change_nothing():
    """Addresses in the holes of the map (past a region's words) are ignored."""
    rng = np.random.default_rng(6)
    fixed = random_model(rng, TINY)
    cfg = AutoencoderEngineConfig.for_model(fixed, 1)
    lay = cfg.layout
    image = autoencoder_image(fixed, 1)
    junk = [((r << lay.region_bits) + w, 0x7FFF) for r in range(lay.regions)
            for w in (lay.bank_words if r < 4 else lay.bias_words,)
            if w < (1 << lay.region_bits)]
    assert junk, "the tiny map has holes"
    x = random_windows(rng, TINY, 1)
    trace = simulate(cfg, image + junk, window_beats(x))
    assert outputs(trace, cfg) == expected(fixed, x)


def test_a_wrong_weight_is_seen():
    """The bench can fail: one flipped weight word changes the reconstruction."""
    rng = np.random.default_rng(8)
    fixed = random_model(rng, TINY)
    cfg = AutoencoderEngineConfig.for_model(fixed, 1)
    image = autoencoder_image(fixed, 1)
    addr, word = image[5]
    image[5] = (addr, word ^ 0x4000)
    x = random_windows(rng, TINY, 1)
    trace = simulate(cfg, image, window_beats(x))
    assert outputs(trace, cfg) != expected(fixed, x)


# ------------------------------------------------------------------ conversion
@pytest.fixture(scope="module")
def converted(build_dir):
    """(model config, lanes, hdl) -> (cfg, paths), each converted once per session."""
    from hdl.convert import convert_design

    cache = {}

    def get(model_cfg, p, hdl=("Verilog",)):
        key = (model_cfg, p, tuple(hdl))
        if key not in cache:
            cfg = AutoencoderEngineConfig(model_cfg, p)
            out = build_dir / "autoencoder" / f"{cfg.module_name}-{'-'.join(hdl).lower()}"
            cache[key] = (cfg, convert_design(cfg, out, hdl=hdl))
        return cache[key]

    return get


GATE_CASES = [pytest.param(TINY, 1, id="tiny-p1"),
              pytest.param(AutoencoderConfig(5, (4, 2), (2, 4), 2), 2, id="f5-p2"),
              pytest.param(REFERENCE, 4, id="reference-p4")]
SLOW_CASES = [pytest.param(REFERENCE, p, id=f"reference-p{p}", marks=pytest.mark.slow) for p in (1, 2, 8, 16)]
SLOW_CASES.append(pytest.param(AutoencoderConfig(6, (32, 32), (32, 32), 24), 2, id="all32-p2",
                               marks=pytest.mark.slow))


@pytest.mark.hdl
@pytest.mark.parametrize("model_cfg, p", GATE_CASES + SLOW_CASES)
def test_converted_verilog_is_lint_clean_and_compiles(model_cfg, p, converted, build_dir):
    need_tools("verilator")
    need_tools("iverilog")
    cfg, paths = converted(model_cfg, p)
    assert checks.lint_verilog(paths["verilog"], cfg.module_name) == []
    out = checks.compile_iverilog([paths["verilog"]], paths["verilog"].with_suffix(".vvp"),
                                  top=cfg.module_name)
    assert out.is_file()


@pytest.mark.hdl
def test_vhdl_analyses_and_yosys_finds_the_memories(converted):
    need_tools("ghdl")
    need_tools("yosys")
    cfg, paths = converted(TINY, 1, ("Verilog", "VHDL"))
    checks.analyse_ghdl(paths["vhdl"], paths["vhdl_package"], cfg.module_name,
                        paths["vhdl"].parent / "ghdl")
    report = checks.synth_yosys(paths["verilog"], cfg.module_name, paths["verilog"].parent / "yosys")
    assert report.latches == {}
    lay = cfg.layout
    sizes = sorted(m["size"] for m in report.memories if m.get("wr_ports") == 1)
    # two table ROMs (samples, slopes) per activation unit: P = 1 shares them, 3 units not 5
    roms = [m for m in report.memories if m.get("wr_ports") == 0]
    assert cfg.activation_units == 3 and len(roms) == 2 * 3
    want = sorted([lay.bank_words] * 4 + [lay.bias_words] * 4 + [cfg.hidden_max, cfg.sequence_words])
    assert sizes == want


@pytest.mark.hdl
def test_manifest_describes_the_design(converted):
    cfg, paths = converted(TINY, 1)
    m = json.loads(paths["manifest"].read_text())
    assert m["module"] == cfg.module_name and m["kind"] == "autoencoder"
    ports = {p["name"]: (p["direction"], p["bits"]) for p in m["ports"]}
    assert ports["in_tdata"] == ("in", 2 * 16) and ports["out_tdata"] == ("out", 2 * 16)
    assert ports["wr_addr"] == ("in", cfg.addr_bits) and ports["wr_data"] == ("in", 16)
    assert m["cycles"]["cycles_per_window"] == cfg.cycles_per_window
    image = autoencoder_image(random_model(np.random.default_rng(0), TINY), 1)
    assert m["memory_map"]["used_words"] == len(image)
    assert [r["name"] for r in m["passes"]] == ["encoder LSTM 1", "encoder LSTM 2", "decoder LSTM 1",
                                               "decoder LSTM 2", "dense"]
    assert f"module {cfg.module_name} (" in paths["verilog"].read_text()


@pytest.mark.hdl
def test_weight_bank_maps_to_one_ice40_spram(build_dir):
    """The single-port bank of a reference lane at P = 1 becomes one SB_SPRAM256KA."""
    need_tools("yosys")
    import subprocess

    from myhdl import Signal, intbv

    from hdl.single_port_ram import single_port_ram

    lay = AutoencoderLayout.for_config(REFERENCE, 1)
    out = build_dir / "autoencoder" / "spram"
    out.mkdir(parents=True, exist_ok=True)
    ports = (Signal(bool(0)), Signal(bool(0)), Signal(intbv(0)[lay.address_bits:]),
             Signal(intbv(0)[16:]), Signal(intbv(0)[lay.region_bits:]),
             Signal(intbv(0, min=-2 ** 15, max=2 ** 15)))
    inst = single_port_ram(*ports, region=2, region_bits=lay.region_bits, depth=lay.bank_words)
    inst.convert(hdl="Verilog", name="bank_under_test", path=str(out), initial_values=False)
    proc = subprocess.run(["yosys", "-q", "-p", "read_verilog bank_under_test.v; "
                           "synth_ice40 -spram -top bank_under_test; tee -o stat.txt stat"],
                          cwd=out, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    stat = (out / "stat.txt").read_text()
    assert re.search(r"SB_SPRAM256KA\s+1\b", stat), stat
    assert "SB_RAM40_4K" not in stat


def test_cli_converts_the_shipped_model_with_its_image(tmp_path):
    from lstm_chiplet.cli import main as cli_main

    assert cli_main(["convert-autoencoder", "--model", "lstm_chiplet/data/default_model.npz",
                     "--lanes", "4", "--hdl", "verilog", "--out", str(tmp_path)]) == 0
    from lstm_chiplet.models.project import load_model
    fixed = load_model("lstm_chiplet/data/default_model.npz").fixed()
    cfg = AutoencoderEngineConfig.for_model(fixed, 4)        # the file's per-layer formats
    assert cfg.module_name != AutoencoderEngineConfig(REFERENCE, 4).module_name
    m = json.loads((tmp_path / f"{cfg.module_name}.manifest.json").read_text())
    image = json.loads((tmp_path / m["files"]["image_json"]).read_text())
    assert image["words"] == len(image["image"]) == cfg.layout.used_words
    lines = (tmp_path / m["files"]["image_hex"]).read_text().splitlines()
    assert len(lines) == image["words"] + 1


def test_cli_refuses_lanes_that_do_not_divide(capsys, tmp_path):
    from lstm_chiplet.cli import main as cli_main

    assert cli_main(["convert-autoencoder", "--lanes", "3", "--out", str(tmp_path)]) == 1
    assert "lanes (3) must divide" in capsys.readouterr().err
