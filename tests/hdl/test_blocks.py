"""Every block in MyHDL simulation against golden, exact integer equality.

Hypothesis draws the inputs (and, where elaboration is cheap, the parameters); the
expected values come from golden (golden.formats, golden.activations,
golden.lstm_fixed) or, for the plumbing blocks, from a plain Python model.  The
blocks have no stream handshake, so the bench here is a per-cycle vector bench
(``run_pipeline``, at the end); the engines' stream bench is cosim.host's.
"""

import numpy as np
import pytest
from hypothesis import given, strategies as st
from myhdl import Signal, intbv

from golden.activations import SIGMOID, TANH, activate, activation_table
from golden.formats import DEFAULT_FORMATS, QFormat
from golden.formats import bits_for
from golden.lstm_fixed import (cell_update as golden_cell_update, gate_accumulators, gate_preact,
                                FixedLSTMWeights)
from golden.memory_map import GATE_UNITS, MemoryRegion, layer_image
from hdl.activation_unit import activation_unit
from hdl.cell_update import cell_update
from hdl.config import EngineConfig, activation_latency, cell_output_latency, cell_state_latency
from hdl.gate_unit import gate_unit
from hdl.mac_lane import mac_lane
from hdl.requantize import requantize
from hdl.dual_port_ram import dual_port_ram

FM = DEFAULT_FORMATS


def signed(bits):
    return Signal(intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1)))


def codes(fmt):
    return st.integers(fmt.int_min, fmt.int_max)


def edges(fmt):
    """Codes near the ends and the middle of a format, where bugs live."""
    return st.sampled_from([fmt.int_min, fmt.int_min + 1, -1, 0, 1, fmt.int_max - 1, fmt.int_max])


# ----------------------------------------------------------------- requantize
@given(xbits=st.integers(4, 44), word=st.integers(2, 16), data=st.data())
def test_requantize_matches_qformat(xbits, word, data):
    rounding = data.draw(st.sampled_from(["nearest_posinf", "floor"]))
    frac = data.draw(st.integers(-2, word + 2))
    from_frac = data.draw(st.integers(frac - 3, frac + xbits))
    fmt = QFormat(word, frac, True, rounding, "saturate", "y")
    lo, hi = -(1 << (xbits - 1)), (1 << (xbits - 1)) - 1
    xs = data.draw(st.lists(st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi, 0, -1])),
                            min_size=1, max_size=30))
    clk, x, y = Signal(bool(0)), signed(xbits), signed(word)
    got = run_pipeline(lambda: requantize(clk, x, y, from_frac=from_frac, fmt=fmt), clk,
                       {"x": x}, {"y": (y, 1)}, [{"x": v} for v in xs])
    want = fmt.requantize(np.array(xs, dtype=np.int64), from_frac)
    assert [r["y"] for r in got] == [int(v) for v in want]


# ---------------------------------------------------------------- activation
@given(kind=st.sampled_from([SIGMOID, TANH]), pipelined=st.booleans(), data=st.data())
def test_activation_unit_matches_golden(kind, pipelined, data):
    zs = data.draw(st.lists(st.one_of(codes(FM.preact), edges(FM.preact)), min_size=1, max_size=60))
    clk, z, y = Signal(bool(0)), signed(FM.preact.word_bits), signed(FM.act.word_bits)
    got = run_pipeline(lambda: activation_unit(clk, z, y, kind=kind, fmts=FM, pipelined=pipelined), clk,
                       {"z": z}, {"y": (y, activation_latency(pipelined))}, [{"z": v} for v in zs])
    assert [r["y"] for r in got] == [int(v) for v in activate(np.array(zs), kind, FM)]


@pytest.mark.parametrize("pipelined", [False, True], ids=["2-stage", "pipelined"])
def test_activation_unit_on_every_table_knot(pipelined):
    """Each interval's ends (k << shift and the code before it), both signs, both kinds."""
    t = activation_table(FM)
    knots = sorted({s * ((k << t.shift) + e) for k in range(len(t.entries)) for e in (-1, 0)
                    for s in (1, -1)} & set(range(FM.preact.int_min, FM.preact.int_max + 1)))
    for kind in (SIGMOID, TANH):
        clk, z, y = Signal(bool(0)), signed(FM.preact.word_bits), signed(FM.act.word_bits)
        got = run_pipeline(lambda: activation_unit(clk, z, y, kind=kind, fmts=FM, pipelined=pipelined), clk,
                           {"z": z}, {"y": (y, activation_latency(pipelined))}, [{"z": v} for v in knots])
        assert [r["y"] for r in got] == [int(v) for v in activate(np.array(knots), kind, FM)]


# --------------------------------------------------------------- cell update
@given(data=st.data(), rounding=st.sampled_from(["nearest_posinf", "floor"]), pipelined=st.booleans())
def test_cell_update_matches_golden(data, rounding, pipelined):
    fm = FM.with_rounding(rounding)
    n = data.draw(st.integers(1, 30))
    act = st.one_of(st.integers(-fm.act.one, fm.act.one), edges(fm.act))
    gates = {k: data.draw(st.lists(act, min_size=n, max_size=n)) for k in "ifgo"}
    c_prev = data.draw(st.lists(st.one_of(codes(fm.preact), edges(fm.preact)), min_size=n, max_size=n))
    clk = Signal(bool(0))
    sig = {k: signed(fm.act.word_bits) for k in "ifgo"}
    sig["c_prev"] = signed(fm.preact.word_bits)
    c_new, h_new = signed(fm.preact.word_bits), signed(fm.vec.word_bits)
    vectors = [{**{k: gates[k][t] for k in "ifgo"}, "c_prev": c_prev[t]} for t in range(n)]
    got = run_pipeline(lambda: cell_update(clk, sig["i"], sig["f"], sig["g"], sig["o"], sig["c_prev"],
                                           c_new, h_new, fmts=fm, pipelined=pipelined), clk, sig,
                       {"c": (c_new, cell_state_latency(pipelined)), "h": (h_new, cell_output_latency(pipelined))},
                       vectors)
    h, c = golden_cell_update(*(np.array(gates[k]) for k in "ifgo"), np.array(c_prev), fm)
    assert [r["c"] for r in got] == [int(v) for v in c]
    assert [r["h"] for r in got] == [int(v) for v in h]


# ------------------------------------------------------------------ mac lane
@given(data=st.data())
def test_mac_lane_chain_drains_row_sums(data):
    """Two lanes chained: each row's exact dot product leaves lane 0, lane 0's row first."""
    cols = data.draw(st.integers(2, 6))
    rows = data.draw(st.integers(1, 4))
    ws = [[data.draw(st.lists(st.one_of(codes(FM.weight), edges(FM.weight)), min_size=cols, max_size=cols))
           for _ in range(rows)] for _ in range(2)]
    vs = [data.draw(st.lists(st.one_of(codes(FM.vec), edges(FM.vec)), min_size=cols, max_size=cols))
          for _ in range(rows)]
    cfg = EngineConfig(cols - 1, 1, 1)
    ab = cfg.acc_bits
    clk, v, first, last = Signal(bool(0)), signed(FM.vec.word_bits), Signal(bool(0)), Signal(bool(0))
    w = [signed(FM.weight.word_bits) for _ in range(2)]
    drain = [signed(ab) for _ in range(2)]

    def make():
        return [mac_lane(clk, v, w[0], first, last, drain[1], drain[0], product_bits=cfg.product_bits),
                mac_lane(clk, v, w[1], first, last, None, drain[1], product_bits=cfg.product_bits)]

    vectors = [{"v": vs[r][k], "w0": ws[0][r][k], "w1": ws[1][r][k], "first": k == 0,
                "last": k == cols - 1} for r in range(rows) for k in range(cols)]
    vectors += [{"first": False, "last": False}]
    got = run_pipeline(make, clk, {"v": v, "w0": w[0], "w1": w[1], "first": first, "last": last},
                       {"d2": (drain[0], 2), "d3": (drain[0], 3)}, vectors)
    for r in range(rows):
        end = r * cols + cols - 1          # the vector carrying `last` of row r
        want = [sum(int(a) * int(b) for a, b in zip(ws[lane][r], vs[r])) for lane in range(2)]
        assert got[end]["d2"] == want[0]   # lane 0's sum, 2 cycles after `last`
        assert got[end]["d3"] == want[1]   # lane 1's sum, one drain step later


# ------------------------------------------------------------- weight memory
@given(data=st.data())
def test_dual_port_ram_decodes_its_slice(data):
    base = data.draw(st.integers(0, 20))
    depth = data.draw(st.integers(1, 12))
    abits = max(1, (base + depth + 4).bit_length())
    n = data.draw(st.integers(1, 40))
    ops = data.draw(st.lists(st.tuples(st.booleans(), st.integers(0, (1 << abits) - 1),
                                       st.integers(0, 0xFFFF), st.integers(0, depth - 1)),
                             min_size=n, max_size=n))
    clk, wr_en = Signal(bool(0)), Signal(bool(0))
    wr_addr, wr_data = Signal(intbv(0)[abits:]), Signal(intbv(0)[16:])
    rd_addr, rd_data = Signal(intbv(0, min=0, max=depth)), signed(16)
    got = run_pipeline(lambda: dual_port_ram(clk, wr_en, wr_addr, wr_data, rd_addr, rd_data,
                                             base=base, depth=depth), clk,
                       {"wr_en": wr_en, "wr_addr": wr_addr, "wr_data": wr_data, "rd_addr": rd_addr},
                       {"q": (rd_data, 1)},
                       [{"wr_en": e, "wr_addr": a, "wr_data": d, "rd_addr": r} for e, a, d, r in ops])
    model = [0] * depth
    for (e, a, d, r), out in zip(ops, got):
        want = model[r]                      # read-before-write in the same cycle
        assert out["q"] == (want - 0x10000 if want & 0x8000 else want)
        if e and base <= a < base + depth:
            model[a - base] = d


# ----------------------------------------------------------------- gate unit
class RegionLayout:
    """The single-layer map's banks moved to regions of 2^region_bits words (the
    whole-window engine's way of decoding), for the single-port gate unit."""

    def __init__(self, layer):
        self.layer = layer
        self.region_bits = bits_for(max(layer.bank_depth, layer.hidden_size))
        self.address_bits = self.region_bits + bits_for(GATE_UNITS * layer.lanes + GATE_UNITS)

    def _moved(self, region, index):
        return MemoryRegion(region.name, index << self.region_bits, region.words, region.gate,
                            region.lane)

    def weight_bank(self, g, lane):
        return self._moved(self.layer.weight_bank(g, lane), g * self.layer.lanes + lane)

    def bias_block(self, g):
        return self._moved(self.layer.bias_block(g), GATE_UNITS * self.layer.lanes + g)

    def image(self, layer_words):
        """The layer image's words at this layout's addresses."""
        out = []
        for old, new in zip(self.layer.regions,
                            [self.weight_bank(g, lane) for g in range(GATE_UNITS)
                             for lane in range(self.layer.lanes)]
                            + [self.bias_block(g) for g in range(GATE_UNITS)]):
            out += [(new.base + a - old.base, word) for a, word in layer_words
                    if old.base <= a < old.base + old.words]
        return out


# Both engines' variants: the single-layer engine's (dual-port banks, z only) and the
# whole-window engine's (single-port banks in regions, registered biased sum, z and y).
GATE_VARIANTS = {"layer": {}, "window": {"bank": "single_port", "registered_sum": True}}


@pytest.mark.parametrize("variant", sorted(GATE_VARIANTS))
@given(d=st.integers(1, 4), h=st.sampled_from([1, 2, 3, 4, 6]), gate=st.integers(0, 3),
       data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_gate_unit_matches_golden_preactivation(variant, d, h, gate, data, seed):
    p = data.draw(st.sampled_from([k for k in range(1, h + 1) if h % k == 0]))
    scale = data.draw(st.sampled_from([1, 64, 1 << 15]))   # small, typical, full-range weights
    rng = np.random.default_rng(seed)
    lo, hi = max(FM.weight.int_min, -scale), min(FM.weight.int_max, scale)
    w = FixedLSTMWeights.from_ints(rng.integers(lo, hi + 1, (d, 4 * h)), rng.integers(lo, hi + 1, (h, 4 * h)),
                                   rng.integers(lo, hi + 1, 4 * h), FM)
    vvec = rng.integers(FM.vec.int_min, FM.vec.int_max + 1, d + h)
    check_gate_unit(variant, d, h, p, gate, w, vvec, idle=p + 7)


@pytest.mark.parametrize("variant", sorted(GATE_VARIANTS))
def test_gate_unit_idles_after_a_row_with_extreme_operands(variant):
    """A long idle stretch after rows whose every product is the largest one.

    Every weight and every vector element sits at the most negative code.  Between
    rows the lanes go on adding the bus's product, so the gate unit's contract (and
    both engines) put v = 0 on idle cycles; with that, the idle sum stays in range,
    the simulation goes on, and the rows are exact.  (Holding v at its last value
    here runs the sum past the accumulator within a dozen cycles.)
    """
    d, h, p = 1, 2, 2
    w = FixedLSTMWeights.from_ints(np.full((d, 4 * h), FM.weight.int_min),
                                   np.full((h, 4 * h), FM.weight.int_min),
                                   np.full(4 * h, FM.weight.int_min), FM)
    vvec = np.full(d + h, FM.vec.int_min)
    check_gate_unit(variant, d, h, p, 1, w, vvec, idle=64)


def check_gate_unit(variant, d, h, p, gate, w, vvec, *, idle):
    """Stream every row-block of one gate through the gate unit, then ``idle`` cycles
    with v = 0, and compare z (and y) with golden."""
    cfg = EngineConfig(d, h, p)
    options = GATE_VARIANTS[variant]
    window = variant == "window"
    layout = RegionLayout(cfg.layout) if window else cfg.layout
    clk, wr_en = Signal(bool(0)), Signal(bool(0))
    wr_addr, wr_data = Signal(intbv(0)[layout.address_bits:]), Signal(intbv(0)[16:])
    rd_addr = Signal(intbv(0, min=0, max=cfg.bank_depth))
    bias_addr = Signal(intbv(0)[cfg.row_bits:])
    v, first, last = signed(16), Signal(bool(0)), Signal(bool(0))
    z = signed(FM.preact.word_bits)
    y = signed(FM.vec.word_bits) if window else None
    cols = d + h
    image = layer_image(w, p)
    if window:
        image = layout.image(image)
    vectors = [{"wr_en": 1, "wr_addr": a, "wr_data": word} for a, word in image]
    vectors += [{"wr_en": 0}]
    start = len(vectors)   # cycle of the first address issue
    for rb in range(h // p):
        for k in range(cols):
            vectors.append({"rd_addr": rb * cols + k})
    vectors += [{} for _ in range(idle)]
    # data-aligned controls (one cycle after the address) and the bias addresses
    for rb in range(h // p):
        for k in range(cols):
            c = start + rb * cols + k + 1
            vectors[c].update({"v": int(vvec[k]), "first": k == 0, "last": k == cols - 1})
            if k == cols - 1:
                for lane in range(p):
                    vectors[c + 1 + lane]["bias_addr"] = rb * p + lane
    for c, vec in enumerate(vectors):
        if c > start and "first" not in vec:   # idle: v = 0, as both engines drive it
            vec.update({"v": 0, "first": False, "last": False})
    outputs = {"z": (z, 1)}
    if window:
        outputs["y"] = (y, 1)
    got = run_pipeline(lambda: gate_unit(clk, wr_en, wr_addr, wr_data, rd_addr, bias_addr, v, first,
                                         last, z, y, gate=gate, datapath=cfg.datapath,
                                         layout=layout, **options), clk,
                       {"wr_en": wr_en, "wr_addr": wr_addr, "wr_data": wr_data, "rd_addr": rd_addr,
                        "bias_addr": bias_addr, "v": v, "first": first, "last": last},
                       outputs, vectors)
    rows = slice(gate * h, (gate + 1) * h)
    want = gate_preact(vvec[None, :d], vvec[None, d:], w)[0, rows]
    want_y = FM.vec.requantize(gate_accumulators(vvec[None, :d], vvec[None, d:], w), FM.acc_frac)[0, rows]
    extra = 1 if window else 0                      # the registered biased sum
    for rb in range(h // p):
        last_cycle = start + rb * cols + cols        # cycle A holding `last`
        for lane in range(p):
            # z holds row rb*P + lane during cycle A + 3 + lane (+1 with the sum register)
            row = got[last_cycle + 2 + extra + lane]
            assert row["z"] == int(want[rb * p + lane]), (rb, lane)
            if window:
                assert row["y"] == int(want_y[rb * p + lane]), (rb, lane)


# --------------------------------------------------------------------- bench
def run_pipeline(make_block, clk, inputs: dict, outputs: dict, vectors: list) -> list:
    """Drive a pipelined block with one input vector per cycle and collect its outputs.

    Parameters
    ----------
    make_block : callable
        Returns the block instance (built on the signals given here).
    clk : Signal(bool)
        The block's clock (started at 0 by the bench).
    inputs : dict name -> Signal
    outputs : dict name -> (Signal, latency)
        Each output is read ``latency`` (>= 1) rising edges after its input vector.
    vectors : list of dict name -> int
        ``vectors[n]`` is applied during cycle ``n``.

    Returns
    -------
    list of dict name -> int
        Output values belonging to each input vector.
    """
    from myhdl import Simulation, StopSimulation, delay

    if any(lat < 1 for _, lat in outputs.values()):
        raise ValueError("run_pipeline: every output latency must be at least 1")
    n = len(vectors)
    longest = max(lat for _, lat in outputs.values())
    results = [dict() for _ in range(n)]

    def clock():
        clk.next = 0
        while True:
            yield delay(5)
            clk.next = not clk

    def drive():
        for c in range(n + longest):
            if c < n:
                for name, value in vectors[c].items():
                    inputs[name].next = value
            yield clk.posedge
            yield delay(1)
            for name, (sig, lat) in outputs.items():
                idx = c + 1 - lat
                if 0 <= idx < n:
                    results[idx][name] = int(sig)
        raise StopSimulation()

    # The block under test is the top of its own hierarchy (MyHDL refuses a block
    # created through a helper inside another block), simulated with two generators.
    sim = Simulation(make_block(), clock(), drive())
    try:
        sim.run(quiet=1)
    finally:
        sim.quit()
    return results
