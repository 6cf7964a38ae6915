"""Performance model of the LSTM chiplet: host link, compute, memory and budgets.

The user's notes (``seeds/``) estimate what a chiplet running ``LSTMCell.step()`` must
achieve.  This module computes that analysis from a configuration, reproduces the
seeds' figures from the seeds' own assumptions, and puts the corrected figures beside
them.  Every function returns a plain dict (JSON-ready); ``lstm-chiplet perf`` prints a
markdown table and writes ``perf.json`` and ``perf.md``.

The model
---------
Host link (default: the seeds' PCIe Gen4 x4 assumption, 5 GB/s sustained and 500 ns
per transaction)::

    link time = bytes / bandwidth + transactions * latency

Per step with only the weights on chip (the seeds' scheme), x, h_prev and c_prev go
in and h and c come back: ``(D + 2H)`` words in, ``2H`` out.  With the whole window on
chip (weights resident, layers sequenced on chip, h and c never leave), a window moves
``T*D`` words in and ``T*F`` words out (or one score word), in one transaction by default.

Compute, one layer step with the four gate units each holding ``P`` multiply-accumulate
lanes: ``ceil(H*(D+H)/P)`` cycles (each gate has H rows of D+H products; the bias is the
accumulator's initial value); the dense output layer, run on the same 4P lanes,
``ceil(H*F/(4P))`` cycles per step.  Activation and cell update are taken as pipelined
behind the products; a measured cycle count, when given, replaces the model.

Weight memory: ``4H(D+H+1)`` parameters per LSTM layer, ``H*F+F`` for the dense layer,
times the weight word.  Activation memory (the seeds' formula for batch N):
``N*(D+6H)*bytes`` per layer.  Throughput: ``batch / latency`` where latency is the
time to move and compute one batch of windows.

What the seeds got wrong (``DESIGN.md``): ~178 cycles per step "with one MAC" is the
count for one MAC per row (4H MACs); with one MAC per gate a step takes H(D+H) cycles.
A 32->32 layer has 4*32*(32+32+1) = 8,320 parameters (32.5 KiB at 32-bit), not ~20.5 KB,
so the ~84 KB total is about 118 KiB at 32-bit for the all-32 variant, and the
reference topology (64,134 parameters) needs about 125 KiB at 16-bit.  The 2 s software
time came from a run with wrongly transposed weights; the corrected pure-Python run
takes about 0.94 ms per step.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Tuple

from golden.formats import DEFAULT_FORMATS

#: The seeds' word: 32-bit floats.
SEEDS_BITS = 32
#: The seeds' clock for their compute estimate.
SEEDS_CLOCK_HZ = 200e6
#: Step calls in the seeds' pessimistic count (476 training windows x 96).
SEEDS_STEPS = 45_696
#: The layer of the seeds' per-step analysis: input size M, hidden size N.
SEEDS_LAYER = (6, 32)
#: The seeds' software time for all step calls (later found to be wrong).
SEEDS_BUDGET_S = 2.0
#: Pure-Python step time measured after the weight fix (DESIGN.md: 25 s for 273 windows).
SOFTWARE_S_PER_STEP = 0.94e-3
#: What the seeds wrote, quoted for the side-by-side table.
SEEDS_SAID = {
    "bytes_per_step": "536 bytes",
    "link_ns_per_step": "~607 ns",
    "link_ms_total": "~27.74 ms",
    "compute_budget_us_per_step": "~43.17 us",
    "cycles_per_step": "~178 cycles (one MAC)",
    "compute_ns_per_step": "~890 ns at 200 MHz",
    "weights_per_32x32_layer": "~20.5 KB",
    "weights_total": "~82-84 KB",
}

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class LinkModel:
    """A host link: sustained bandwidth and a fixed cost per transaction.

    Parameters
    ----------
    bytes_per_s : float
        Sustained bandwidth (default 5 GB/s, the seeds' PCIe Gen4 x4 figure).
    transaction_s : float
        Latency per transaction (default 500 ns).
    name : str
    """

    bytes_per_s: float = 5e9
    transaction_s: float = 500e-9
    name: str = "PCIe Gen4 x4 (seeds' assumption)"

    def __post_init__(self):
        if not self.bytes_per_s > 0:
            raise ValueError(f"link: bandwidth must be positive, got {self.bytes_per_s!r}")
        if not self.transaction_s >= 0:
            raise ValueError(f"link: transaction latency must be >= 0, got {self.transaction_s!r}")

    def time_s(self, nbytes: float, transactions: int = 1) -> float:
        """Seconds to move ``nbytes`` in ``transactions`` transactions."""
        return nbytes / self.bytes_per_s + transactions * self.transaction_s

    def to_dict(self) -> dict:
        return {"name": self.name, "bytes_per_s": self.bytes_per_s,
                "transaction_ns": self.transaction_s * 1e9}


@dataclass(frozen=True)
class Topology:
    """LSTM autoencoder shape: encoder and decoder hidden sizes, dense output.

    The decoder's first layer reads the latent vector (the last encoder layer's h,
    repeated ``steps`` times); the dense layer maps the last decoder h to ``outputs``.
    """

    features: int
    encoder: Tuple[int, ...]
    decoder: Tuple[int, ...]
    outputs: Optional[int] = None
    steps: int = 24

    def __post_init__(self):
        sizes = (self.features, self.steps, *self.encoder, *self.decoder)
        if not self.encoder or not self.decoder or any(int(v) != v or v < 1 for v in sizes):
            raise ValueError(f"topology: sizes must be positive integers with at least one "
                             f"encoder and one decoder layer, got {self}")
        if self.outputs is None:
            object.__setattr__(self, "outputs", self.features)

    def lstm_layers(self):
        """(input size D, hidden size H) of every LSTM layer, encoder then decoder."""
        layers, d = [], self.features
        for h in self.encoder:
            layers.append((d, h))
            d = h
        for h in self.decoder:      # the first decoder layer reads the latent (d = encoder[-1])
            layers.append((d, h))
            d = h
        return layers

    @property
    def dense(self):
        return (self.decoder[-1], self.outputs)

    def describe(self) -> str:
        lstm = " -> ".join(f"LSTM({h})" for h in self.encoder)
        dec = " -> ".join(f"LSTM({h})" for h in self.decoder)
        return (f"{self.features} features x {self.steps} steps: {lstm} -> repeat -> {dec} "
                f"-> Dense({self.outputs})")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["encoder"], d["decoder"] = list(self.encoder), list(self.decoder)
        return d


#: The user's trained model (64,134 parameters).
REFERENCE = Topology(6, (64, 32), (32, 64))
#: The seeds' variant with every hidden size 32 (30,150 parameters).
SEEDS_VARIANT = Topology(6, (32, 32), (32, 32))


# ------------------------------------------------------------ memory
def lstm_parameters(d: int, h: int) -> int:
    """4H(D+H+1): kernel, recurrent kernel and bias of one LSTM layer."""
    return 4 * h * (d + h + 1)


def weight_memory(top: Topology, bits: int) -> dict:
    """Weight memory per layer and in total at ``bits`` per parameter."""
    layers = []
    for n, (d, h) in enumerate(top.lstm_layers(), 1):
        p = lstm_parameters(d, h)
        layers.append({"layer": f"lstm{n}", "input": d, "hidden": h, "parameters": p,
                       "bytes": p * bits // 8})
    h, f = top.dense
    layers.append({"layer": "dense", "input": h, "hidden": f, "parameters": h * f + f,
                   "bytes": (h * f + f) * bits // 8})
    total = sum(x["parameters"] for x in layers)
    return {"bits": bits, "layers": layers, "parameters": total, "bytes": total * bits // 8,
            "kib": total * bits / 8 / 1024}


def activation_memory(d: int, h: int, bits: int, batch: int = 1) -> dict:
    """The seeds' activation footprint N*(D+6H)*bytes, with its terms.

    The seeds list input N*D, recurrent input N*H, cell state N*H, gates 4*N*H and
    output N*H, which add up to N*(D+7H); their total N*(D+6H) holds when the new h
    overwrites h_prev (no longer needed once the gates are computed).
    """
    b = bits // 8
    terms = {"input": batch * d * b, "recurrent_input": batch * h * b, "cell_state": batch * h * b,
             "gates": 4 * batch * h * b, "output": batch * h * b}
    return {"batch": batch, "bits": bits, "terms_bytes": terms,
            "seeds_formula_bytes": batch * (d + 6 * h) * b,
            "terms_sum_bytes": sum(terms.values())}


# ----------------------------------------------------------- compute
def cycles_per_step(d: int, h: int, macs_per_gate: int = 1) -> int:
    """ceil(H(D+H)/P): one layer step on four gate units with P MAC lanes each."""
    return -(-h * (d + h) // macs_per_gate)


def seeds_cycles_per_step(d: int, h: int) -> int:
    """The seeds' table: 4 Wx of D cycles, 4 Uh of H, 4 adds, 4 activations of 4, 6 updates.

    Each matrix-vector product counted as D (or H) cycles: true only with one MAC per
    row of the matrix (H MACs per product), not with one MAC.
    """
    return 4 * d + 4 * h + 4 + 4 * 4 + 6


def dense_cycles_per_step(h: int, f: int, macs_per_gate: int = 1) -> int:
    """ceil(H*F/(4P)): the dense layer on the four gate units' 4P lanes."""
    return -(-h * f // (4 * macs_per_gate))


def macs_per_window(top: Topology) -> int:
    """Multiply-accumulates of one window: every LSTM step and the dense layer."""
    per_step = sum(4 * h * (d + h) for d, h in top.lstm_layers()) + top.dense[0] * top.dense[1]
    return top.steps * per_step


def window_cycles(top: Topology, macs_per_gate: int = 1) -> dict:
    """Model cycles per window, per layer and in total."""
    layers = [{"layer": f"lstm{n}", "cycles_per_step": cycles_per_step(d, h, macs_per_gate)}
              for n, (d, h) in enumerate(top.lstm_layers(), 1)]
    layers.append({"layer": "dense",
                   "cycles_per_step": dense_cycles_per_step(*top.dense, macs_per_gate)})
    per_step = sum(x["cycles_per_step"] for x in layers)
    return {"macs_per_gate": macs_per_gate, "mac_units": 4 * macs_per_gate, "layers": layers,
            "cycles_per_window": top.steps * per_step}


# -------------------------------------------------------------- link
def step_link_bytes(d: int, h: int, bits: int) -> dict:
    """The seeds' per-step transfer with weights on chip: x, h, c in; h, c out."""
    b = bits // 8
    return {"in": (d + 2 * h) * b, "out": 2 * h * b, "total": (d + 4 * h) * b}


def window_link_bytes(top: Topology, bits: int, score_only: bool = False) -> dict:
    """Whole window on chip: T input vectors in, T reconstructed vectors (or a score) out."""
    b = bits // 8
    out = b if score_only else top.steps * top.outputs * b
    return {"in": top.steps * top.features * b, "out": out, "total": top.steps * top.features * b + out}


def per_step_budget_s(total_s: float, steps: int, link_s_per_step: float) -> float:
    """Compute time allowed per step so that ``steps`` steps and their transfers fit ``total_s``."""
    return (total_s - steps * link_s_per_step) / steps


def throughput(batch: int, latency_s: float) -> float:
    """The seeds' formula: items per second = batch / latency."""
    return batch / latency_s


# ---------------------------------------------------------- estimates
def seeds_estimate(link: LinkModel = LinkModel(), d: int = SEEDS_LAYER[0], h: int = SEEDS_LAYER[1],
                   bits: int = SEEDS_BITS, steps: int = SEEDS_STEPS,
                   budget_s: float = SEEDS_BUDGET_S, clock_hz: float = SEEDS_CLOCK_HZ) -> dict:
    """The seeds' figures, recomputed from the seeds' assumptions."""
    nbytes = step_link_bytes(d, h, bits)
    link_s = link.time_s(nbytes["total"])
    cycles = seeds_cycles_per_step(d, h)
    return {
        "assumptions": {"input_size": d, "hidden_size": h, "bits": bits, "steps": steps,
                        "budget_s": budget_s, "clock_hz": clock_hz, "link": link.to_dict(),
                        "transactions_per_step": 1},
        "bytes_per_step": nbytes,
        "link_ns_per_step": link_s * 1e9,
        "link_ms_total": steps * link_s * 1e3,
        "compute_budget_us_per_step": per_step_budget_s(budget_s, steps, link_s) * 1e6,
        "seeds_cycles_per_step": cycles,
        "seeds_compute_ns_per_step": cycles / clock_hz * 1e9,
    }


def corrected_estimate(top: Topology = REFERENCE, *, link: LinkModel = LinkModel(),
                       vec_bits: int = DEFAULT_FORMATS.vec.word_bits,
                       weight_bits: int = DEFAULT_FORMATS.weight.word_bits,
                       clock_hz: float = SEEDS_CLOCK_HZ, macs_per_gate: int = 1,
                       windows: int = SEEDS_STEPS // 96, batch: int = 1,
                       transactions_per_window: int = 1, score_only: bool = False,
                       software_s_per_step: float = SOFTWARE_S_PER_STEP,
                       measured_cycles_per_window: Optional[int] = None) -> dict:
    """The corrected analysis for ``top``, with the seeds' wrong figures fixed.

    Parameters
    ----------
    top : Topology
    link : LinkModel
    vec_bits, weight_bits : int
        Words on the link / in weight memory (default: the golden formats' words).
    clock_hz : float
    macs_per_gate : int
        MAC lanes per gate unit (P).
    windows : int
        Windows in the workload (default 476, the seeds' 45,696 steps of 96).
    batch : int
        Windows per transfer for the throughput figure.
    transactions_per_window : int
    score_only : bool
        The chip returns the window's score instead of the reconstruction.
    software_s_per_step : float
        Pure-Python time per step (the baseline; DESIGN.md: 0.94 ms).
    measured_cycles_per_window : int, optional
        From the RTL; replaces the model's cycles.
    """
    for name, v in (("clock_hz", clock_hz), ("macs_per_gate", macs_per_gate), ("windows", windows),
                    ("batch", batch), ("vec_bits", vec_bits), ("weight_bits", weight_bits)):
        if not v > 0:
            raise ValueError(f"perf: {name} must be positive, got {v!r}")
    if measured_cycles_per_window is not None and not measured_cycles_per_window > 0:
        raise ValueError(f"perf: measured cycles per window must be positive, "
                         f"got {measured_cycles_per_window!r}")
    layers = top.lstm_layers()
    steps_per_window = top.steps * len(layers)
    steps = windows * steps_per_window
    cyc = window_cycles(top, macs_per_gate)
    cycles = measured_cycles_per_window or cyc["cycles_per_window"]
    compute_s = cycles / clock_hz
    macs = macs_per_window(top)
    wbytes = window_link_bytes(top, vec_bits, score_only)
    win_link_s = link.time_s(wbytes["total"], transactions_per_window)

    # the seeds' scheme (h and c over the link every step) for the same configuration
    per_step = [step_link_bytes(d, h, vec_bits) for d, h in layers]
    step_bytes_window = top.steps * sum(x["total"] for x in per_step)
    step_link_s_window = top.steps * sum(link.time_s(x["total"]) for x in per_step)

    latency_batch = link.time_s(batch * wbytes["total"], transactions_per_window) + batch * compute_s
    software_s = steps * software_s_per_step
    chip_s = windows * (win_link_s + compute_s)
    sd, sh = SEEDS_LAYER
    return {
        "configuration": {"topology": top.to_dict(), "description": top.describe(),
                          "vec_bits": vec_bits, "weight_bits": weight_bits, "clock_hz": clock_hz,
                          "macs_per_gate": macs_per_gate, "windows": windows, "batch": batch,
                          "transactions_per_window": transactions_per_window,
                          "score_only": score_only, "software_s_per_step": software_s_per_step,
                          "link": link.to_dict()},
        "steps": {"per_window": steps_per_window, "total": steps},
        "cycles": {
            "seeds_layer": {"input": sd, "hidden": sh,
                            "seeds_count": seeds_cycles_per_step(sd, sh),
                            "seeds_count_macs": sh,
                            "one_mac_per_gate": cycles_per_step(sd, sh, 1),
                            "one_mac_per_gate_ns": cycles_per_step(sd, sh, 1) / clock_hz * 1e9},
            "model": cyc,
            "measured_per_window": measured_cycles_per_window,
            "per_window": cycles,
            "macs_per_window": macs,
            "mac_utilisation": macs / (cycles * 4 * macs_per_gate),
        },
        "compute": {"us_per_window": compute_s * 1e6, "ns_per_step": compute_s / steps_per_window * 1e9},
        "weights": weight_memory(top, weight_bits),
        "weights_reference": {
            "seeds_variant_32bit": weight_memory(SEEDS_VARIANT, SEEDS_BITS),
            "reference_16bit": weight_memory(REFERENCE, 16),
            "layer_32x32_parameters": lstm_parameters(32, 32),
        },
        "link_per_step_scheme": {
            "bytes_per_step": per_step,
            "bytes_per_window": step_bytes_window,
            "us_per_window": step_link_s_window * 1e6,
        },
        "link_whole_window": {
            "bytes": wbytes,
            "ns_per_window": win_link_s * 1e9,
            "bytes_per_step_equivalent": wbytes["total"] / steps_per_window,
        },
        "activation_memory": [dict(layer=f"lstm{n}", **activation_memory(d, h, vec_bits, batch))
                              for n, (d, h) in enumerate(layers, 1)],
        "budget": {
            "software_s": software_s,
            "chip_s": chip_s,
            "speedup": software_s / chip_s,
            "compute_budget_us_per_step": per_step_budget_s(
                software_s, steps, windows * win_link_s / steps) * 1e6,
        },
        "throughput": {"batch": batch, "latency_us": latency_batch * 1e6,
                       "windows_per_s": throughput(batch, latency_batch),
                       "steps_per_s": throughput(batch, latency_batch) * steps_per_window},
    }


def performance_report(top: Topology = REFERENCE, link: LinkModel = LinkModel(), **kw) -> dict:
    """Both analyses: ``seeds`` (always the seeds' own assumptions) and ``corrected``
    (``top`` with ``link`` and the keyword arguments of :func:`corrected_estimate`)."""
    return {"seeds": seeds_estimate(), "corrected": corrected_estimate(top, link=link, **kw)}


# ------------------------------------------------------------ table
def _si(x: float, unit: str) -> str:
    return f"{x:,.2f} {unit}" if abs(x) < 1e6 else f"{x:,.4g} {unit}"


def markdown_table(report: dict) -> str:
    """Side-by-side table: what the seeds said, their figures recomputed, corrected ones."""
    s, c = report["seeds"], report["corrected"]
    cfg = c["configuration"]
    wv, wr = c["weights_reference"]["seeds_variant_32bit"], c["weights_reference"]["reference_16bit"]
    sl = c["cycles"]["seeds_layer"]
    mhz = cfg["clock_hz"] / 1e6
    rows = [
        ("bytes per step over the link (weights on chip)", SEEDS_SAID["bytes_per_step"],
         f"{s['bytes_per_step']['total']} ({s['bytes_per_step']['in']} in + {s['bytes_per_step']['out']} out)",
         f"{c['link_whole_window']['bytes']['total']} bytes per window with the whole window on chip "
         f"({c['link_whole_window']['bytes']['in']} in + {c['link_whole_window']['bytes']['out']} out, "
         f"{c['link_whole_window']['bytes_per_step_equivalent']:g} per step); "
         f"{c['link_per_step_scheme']['bytes_per_window']:,} per window if h and c crossed the link"),
        ("link time per step", SEEDS_SAID["link_ns_per_step"], f"{s['link_ns_per_step']:.1f} ns",
         f"{c['link_whole_window']['ns_per_window']:.1f} ns per window "
         f"({cfg['transactions_per_window']} transaction)"),
        ("link time, all steps", SEEDS_SAID["link_ms_total"],
         f"{s['link_ms_total']:.2f} ms for {s['assumptions']['steps']:,} steps",
         f"{cfg['windows'] * c['link_whole_window']['ns_per_window'] / 1e6:.3f} ms for "
         f"{cfg['windows']} windows ({c['steps']['total']:,} steps)"),
        ("compute budget per step", SEEDS_SAID["compute_budget_us_per_step"],
         f"{s['compute_budget_us_per_step']:.2f} us (2 s budget)",
         f"{c['budget']['compute_budget_us_per_step']:.1f} us (software {cfg['software_s_per_step'] * 1e3:g} ms "
         f"per step, {c['budget']['software_s']:.1f} s in all)"),
        (f"cycles per step, layer {sl['input']}->{sl['hidden']}", SEEDS_SAID["cycles_per_step"],
         f"{s['seeds_cycles_per_step']} (true only with one MAC per row: {sl['seeds_count_macs']} MACs)",
         f"{sl['one_mac_per_gate']:,} = H(D+H) with one MAC per gate "
         f"({sl['one_mac_per_gate_ns']:,.0f} ns at {mhz:g} MHz)"),
        ("compute per step", SEEDS_SAID["compute_ns_per_step"],
         f"{s['seeds_compute_ns_per_step']:.0f} ns at {s['assumptions']['clock_hz'] / 1e6:g} MHz",
         f"{c['compute']['ns_per_step']:,.1f} ns per step of this configuration at {mhz:g} MHz, "
         f"P={cfg['macs_per_gate']} "
         f"({c['cycles']['per_window']:,} cycles per window"
         + (", measured" if c["cycles"]["measured_per_window"] else ", model")
         + f", {100 * c['cycles']['mac_utilisation']:.1f}% of MACs busy)"),
        ("weights of a 32->32 layer", SEEDS_SAID["weights_per_32x32_layer"], "-",
         f"{c['weights_reference']['layer_32x32_parameters']:,} parameters = "
         f"{c['weights_reference']['layer_32x32_parameters'] * 4 / 1024:.1f} KiB at 32-bit"),
        ("weights in total", SEEDS_SAID["weights_total"], "-",
         f"{wv['parameters']:,} parameters = {wv['kib']:.2f} KiB (all-32 variant, 32-bit); "
         f"{wr['parameters']:,} = {wr['kib']:.2f} KiB (reference, 16-bit)"),
        ("weights, this configuration", "-", "-",
         f"{c['weights']['parameters']:,} parameters, {c['weights']['bytes']:,} bytes = "
         f"{c['weights']['kib']:.2f} KiB at {c['weights']['bits']}-bit ("
         + ", ".join(f"{x['layer']} {x['bytes']:,}" for x in c["weights"]["layers"]) + ")"),
        ("activation memory N(D+6H) per layer", "-", "-",
         ", ".join(f"{a['layer']} {a['seeds_formula_bytes']:,} B" for a in c["activation_memory"])
         + f" (N={cfg['batch']}, {cfg['vec_bits']}-bit; the listed terms sum to N(D+7H))"),
        ("throughput = batch / latency", "-", "-",
         f"{c['throughput']['windows_per_s']:,.0f} windows/s "
         f"(batch {cfg['batch']}, latency {c['throughput']['latency_us']:,.2f} us)"),
        ("speed-up over pure Python", "-", "-",
         f"{c['budget']['speedup']:,.0f}x ({c['budget']['software_s']:.1f} s -> "
         f"{c['budget']['chip_s'] * 1e3:.2f} ms)"),
    ]
    out = [f"Performance model: {cfg['description']}; link {cfg['link']['name']}, "
           f"{cfg['link']['bytes_per_s'] / 1e9:g} GB/s, {cfg['link']['transaction_ns']:g} ns per transaction",
           "",
           "| figure | the seeds said | seeds' assumptions, recomputed | corrected / this configuration |",
           "| --- | --- | --- | --- |"]
    out += [f"| {a} | {b} | {c_} | {d} |" for a, b, c_, d in rows]
    return "\n".join(out)


# -------------------------------------------------------------- CLI
def _sizes(text: str) -> Tuple[int, ...]:
    try:
        v = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if not v or min(v) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes, got {text!r}")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features", type=int, default=REFERENCE.features, help="input features D (default 6)")
    p.add_argument("--encoder", type=_sizes, default=REFERENCE.encoder, help="encoder sizes (default 64,32)")
    p.add_argument("--decoder", type=_sizes, default=REFERENCE.decoder, help="decoder sizes (default 32,64)")
    p.add_argument("--steps", type=int, default=REFERENCE.steps, help="steps per window T (default 24)")
    p.add_argument("--windows", type=int, default=SEEDS_STEPS // 96,
                   help="windows in the workload (default 476, the seeds' 45,696 steps)")
    p.add_argument("--clock-mhz", type=float, default=SEEDS_CLOCK_HZ / 1e6, help="default 200")
    p.add_argument("--macs-per-gate", type=int, default=1, help="MAC lanes per gate unit P (default 1)")
    p.add_argument("--cycles-per-window", type=int, help="measured cycles per window (replaces the model)")
    p.add_argument("--link-gbps", type=float, default=5.0, help="sustained GB/s (default 5)")
    p.add_argument("--link-latency-ns", type=float, default=500.0, help="per transaction (default 500)")
    p.add_argument("--transactions-per-window", type=int, default=1)
    p.add_argument("--batch", type=int, default=1, help="windows per transfer for the throughput")
    p.add_argument("--score-only", action="store_true", help="the chip returns only the window score")
    p.add_argument("--software-ms-per-step", type=float, default=SOFTWARE_S_PER_STEP * 1e3,
                   help="pure-Python baseline (default 0.94)")
    p.add_argument("--out", type=Path, default=REPO / "build" / "perf",
                   help="folder for perf.json and perf.md (default build/perf)")


def run(args) -> int:
    top = Topology(args.features, tuple(args.encoder), tuple(args.decoder), steps=args.steps)
    link = LinkModel(args.link_gbps * 1e9, args.link_latency_ns * 1e-9)
    report = performance_report(
        top, link, clock_hz=args.clock_mhz * 1e6, macs_per_gate=args.macs_per_gate,
        windows=args.windows, batch=args.batch, transactions_per_window=args.transactions_per_window,
        score_only=args.score_only, software_s_per_step=args.software_ms_per_step * 1e-3,
        measured_cycles_per_window=args.cycles_per_window)
    table = markdown_table(report)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "perf.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "perf.md").write_text(table + "\n")
    print(f"\nwritten: {out / 'perf.json'}, {out / 'perf.md'}")
    return 0
