"""``lstm-chiplet inspect MODEL``: what a model file holds and what the engines would need.

Reads the file with :func:`lstm_chiplet.models.store.load_any_model` (any format it
reads) and prints the kind and where it came from, the topology, each layer's sizes,
parameters and the file's tensor names, the number formats, and for the whole-window
engine at ``--lanes P`` its memory bits and cycles per window
(:class:`hdl.autoencoder_config.AutoencoderEngineConfig`, the same object convert,
synth and detect use), then the import notes.  A file the engines cannot run prints
what was read and every refused item, and exits 1.  ``--json`` prints the same as JSON.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from golden.formats import FormatError

from .imported import RefusedModel

#: The whole-window engine's lanes when ``--lanes`` is not given (detect's default too).
DEFAULT_LANES = 4


def add_arguments(p) -> None:
    p.add_argument("model", type=Path, metavar="MODEL",
                   help="model file: .keras, .h5, .onnx, .pt/.pth, or .npz (project, Keras "
                        "get_weights(), PyTorch state dict)")
    p.add_argument("--lanes", type=int, default=DEFAULT_LANES,
                   help=f"P, lanes per gate unit of the engine to size (default {DEFAULT_LANES})")
    p.add_argument("--timesteps", type=int, default=None,
                   help="T of weights-only files (PyTorch, Keras .npz), which do not hold it "
                        "(default 24)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _lane_choices(sizes) -> list:
    g = 0
    for s in sizes:
        g = math.gcd(g, int(s))
    return [p for p in range(1, g + 1) if g % p == 0]


def engine_summary(lm, lanes: int) -> dict:
    """Memory bits and cycles of the whole-window engine for ``lm`` at ``lanes``, or why not."""
    from hdl.autoencoder_config import AutoencoderEngineConfig  # noqa: PLC0415 - heavy, only here

    fmts = lm.model_formats.global_formats
    if fmts is None:
        return {"lanes": lanes, "error": "the model has per-layer formats; the whole-window engine "
                                         "takes one set for every layer"}
    try:
        cfg = AutoencoderEngineConfig(lm.cfg, int(lanes), fmts)
    except FormatError as exc:
        return {"lanes": lanes, "error": str(exc),
                "lanes_possible": _lane_choices(lm.cfg.hidden_sizes)}
    bits = dict(cfg.memory_bits)
    out = {"lanes": lanes, "multipliers": cfg.multipliers, "memory_bits": bits,
           "memory_bits_total": sum(bits.values()), "cycles_per_window": cfg.cycles_per_window,
           "ideal_cycles_per_window": cfg.ideal_cycles, "mac_utilisation": cfg.mac_utilisation,
           "module": cfg.module_name}
    if any(w.peephole is not None for w in lm.model.layers):
        out["note"] = ("peephole connections: the float and fixed references run them, the "
                       "RTL engines do not")
    return out


def summary(lm, lanes: int) -> dict:
    """Everything ``inspect`` prints, as a dict."""
    cfg = lm.cfg
    layers = []
    for n, ((d, h), w) in enumerate(zip(cfg.layer_shapes, lm.model.layers)):
        name = cfg.layer_name(n)
        layers.append({"name": name, "input": d, "hidden": h,
                       "parameters": int(w.kernel.size + w.recurrent.size + w.bias.size
                                         + (0 if w.peephole is None else w.peephole.size)),
                       "peepholes": w.peephole is not None,
                       "tensors": {r: lm.names.get(f"{name} {r}", "?")
                                   for r in ("kernel", "recurrent kernel", "bias")}})
    layers.append({"name": "dense", "input": cfg.hidden_sizes[-1], "hidden": cfg.features,
                   "parameters": int(lm.model.dense_kernel.size + lm.model.dense_bias.size),
                   "tensors": {r: lm.names.get(f"dense {r}", "?") for r in ("kernel", "bias")}})
    mf = lm.model_formats
    return {"file": lm.path, "kind": lm.kind,
            "imported_from": lm.provenance.get("imported_from", lm.kind),
            "topology": cfg.describe(), "config": cfg.to_dict(),
            "latent": {"layer": cfg.layer_name(len(cfg.encoder_sizes) - 1), "size": cfg.latent_size,
                       "repeated": cfg.timesteps},
            "parameters": lm.model.parameter_count, "layers": layers,
            "formats": mf.describe([cfg.layer_name(n) for n in range(cfg.num_layers)]),
            "scaler": list(lm.scaler.features) if lm.scaler is not None else None,
            "engine": engine_summary(lm, lanes),
            "notes": list(lm.provenance.get("import_notes", [])), "refused": []}


def text(s: dict) -> str:
    lines = [f"file:       {s['file']}", f"kind:       {s['kind']} ({s['imported_from']})",
             f"topology:   {s['topology']}",
             f"latent:     final h of {s['latent']['layer']} ({s['latent']['size']} values), "
             f"repeated {s['latent']['repeated']} times",
             f"parameters: {s['parameters']:,}", "layers:"]
    for x in s["layers"]:
        peep = ", peepholes" if x.get("peepholes") else ""
        where = ", ".join(f"{r} <- {v}" for r, v in x["tensors"].items())
        lines.append(f"  {x['name']}: {x['input']} -> {x['hidden']}, {x['parameters']:,} "
                     f"parameters{peep}; {where}")
    lines.append("formats:")
    lines += [f"  {line}" for line in s["formats"].splitlines()]
    lines.append(f"scaler:     {', '.join(s['scaler']) if s['scaler'] else 'none (fit one on the data)'}")
    e = s["engine"]
    if "error" in e:
        lines.append(f"engine at P={e['lanes']}: cannot be built: {e['error']}")
        if e.get("lanes_possible"):
            lines.append(f"  lanes that divide every hidden size: {e['lanes_possible']}")
    else:
        lines.append(f"engine at P={e['lanes']} ({e['multipliers']} multipliers, {e['module']}):")
        lines.append(f"  memory: {e['memory_bits_total']:,} bits = "
                     + ", ".join(f"{k} {v:,}" for k, v in e["memory_bits"].items()))
        lines.append(f"  cycles per window: {e['cycles_per_window']:,} (ideal "
                     f"{e['ideal_cycles_per_window']:,}; {100 * e['mac_utilisation']:.1f}% of the "
                     "multipliers busy)")
        if e.get("note"):
            lines.append(f"  note: {e['note']}")
    for n in s["notes"]:
        lines.append(f"note:       {n}")
    lines.append("refused:    nothing")
    return "\n".join(lines)


def run(args) -> int:
    from .store import load_any_model  # noqa: PLC0415

    kw = {} if args.timesteps is None else {"timesteps": args.timesteps}
    try:
        lm = load_any_model(args.model, **kw)
    except RefusedModel as exc:
        if args.json:
            print(json.dumps({"file": exc.path, "read": exc.read, "refused": exc.items}, indent=2))
        else:
            print(f"file:       {exc.path}")
            for line in exc.read:
                print(f"read:       {line}")
            print("refused:")
            for item in exc.items:
                print(f"  - {item}")
        return 1
    s = summary(lm, args.lanes)
    print(json.dumps(s, indent=2) if args.json else text(s))
    return 0
