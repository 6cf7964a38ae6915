"""Convert the whole-window autoencoder engine to Verilog and VHDL, with a manifest.

Command line (also ``lstm-chiplet convert-autoencoder``)::

    python -m hdl.convert_autoencoder [--model MODEL.npz | --features 6 --encoder 64,32
        --decoder 32,64 --timesteps 24] --lanes 4 [--formats FORMATS.json] [--hdl both]
        --out build/hdl

writes into ``--out``:

``<module>.v``, ``tb_<module>.v``
    the engine as one Verilog module, and MyHDL's co-simulation test bench;
``<module>.vhd``, ``pck_myhdl_*.vhd``
    the same engine in VHDL;
``<module>.manifest.json``
    ``kind: "autoencoder"``, parameters, formats, ports with widths, the memory map
    (:func:`golden.autoencoder_memory_map.memory_map`), memory bits, the pass table and
    the cycles per window with its formula;
``<module>.image.hex``, ``<module>.image.json`` (with ``--model``)
    the model's memory image: ``[address, word]`` pairs in write order (the hex file
    has one ``address word`` pair per line, the map has holes between regions).

``<module>`` carries the topology, T, P and the formats, e.g.
``lstm_autoencoder_f6_e64x32_d32x64_t24_p4_v2q14_w4q12_z5q11_a2q14``.  Each conversion
runs in a fresh Python process (MyHDL's names and ``initial_values`` are process-wide),
like :mod:`hdl.convert`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .autoencoder_config import AutoencoderEngineConfig
from .convert import HDL_CHOICES, INITIAL_VALUES, REPO, write_design


def convert_autoencoder(cfg: AutoencoderEngineConfig, outdir, hdl=("Verilog",)) -> dict:
    """Convert ``cfg``'s whole-window engine into ``outdir``; returns the paths written.

    Parameters
    ----------
    cfg : AutoencoderEngineConfig
    outdir : path-like
        Created if missing.
    hdl : sequence of str
        ``"Verilog"`` and/or ``"VHDL"``.

    Returns
    -------
    dict
        ``verilog``, ``testbench`` (Verilog), ``vhdl``, ``vhdl_package`` (VHDL) and
        ``manifest``: absolute :class:`pathlib.Path` objects.
    """
    if not isinstance(cfg, AutoencoderEngineConfig):
        raise TypeError(f"convert_autoencoder: cfg must be an AutoencoderEngineConfig, "
                        f"got {type(cfg).__name__}")
    return write_design(cfg, outdir, hdl, _convert_in_subprocess, build_manifest,
                        "convert_autoencoder")


def port_widths(cfg: AutoencoderEngineConfig) -> dict:
    return {"clk": 1, "rst": 1, "in_tdata": cfg.in_bits, "in_tvalid": 1, "in_tready": 1,
            "in_tlast": 1, "out_tdata": cfg.out_bits, "out_tvalid": 1, "out_tready": 1,
            "out_tlast": 1, "wr_en": 1, "wr_addr": cfg.addr_bits, "wr_data": cfg.weight_bits}


def build_manifest(cfg: AutoencoderEngineConfig, files: dict | None = None) -> dict:
    """Everything a host, a bench or the synthesis flow needs to know about the design."""
    import myhdl

    from golden.autoencoder_memory_map import memory_map

    from .lstm_engine import PORTS

    widths = port_widths(cfg)
    bits = cfg.memory_bits
    m = cfg.model
    return {
        "module": cfg.module_name,
        "kind": "autoencoder",
        "generator": f"myhdl {myhdl.__version__} (hdl.convert_autoencoder)",
        "parameters": {"features": m.features, "encoder_sizes": list(m.encoder_sizes),
                       "decoder_sizes": list(m.decoder_sizes), "timesteps": m.timesteps,
                       "lanes": cfg.lanes, "multipliers": cfg.multipliers,
                       "parameter_count": m.parameter_count},
        "formats": cfg.fmts.to_dict(),
        "ports": [{"name": n, "direction": d, "bits": widths[n]} for n, d in PORTS],
        "stream": {"element_bits": cfg.vec_bits, "in_elements": m.features,
                   "out_elements": m.features, "beats_per_window": m.timesteps,
                   "packing": "element k in bits [(k+1)*W-1 : k*W], two's complement",
                   "in_cycles_per_beat": m.features},
        "widths": {"accumulator": cfg.acc_bits, "product": cfg.product_bits,
                   "wr_addr": cfg.addr_bits, "bank_address": cfg.bank_addr_bits},
        "memory_map": memory_map(m, cfg.lanes),
        "memory_bits": dict(bits, total=sum(bits.values())),
        "memory_words": {"bank": cfg.layout.bank_words, "banks": 4 * cfg.lanes,
                         "bias_block": cfg.layout.bias_words,
                         "sequence_buffer": cfg.sequence_words, "c_state": cfg.hidden_max,
                         "activation_units": cfg.activation_units},
        "passes": cfg.cycle_table(),
        "cycles": {"cycles_per_window": cfg.cycles_per_window, "ideal": cfg.ideal_cycles,
                   "mac_utilisation": round(cfg.mac_utilisation, 4),
                   "load": cfg.load_cycles, "macs_per_window": cfg.macs_per_window,
                   "formula": ("T*F + sum_LSTM [G0 + T*(H/P)*(D+H) + (T-1)*G] "
                               "+ G0_dense + T*ceil(F/4P)*H_last + (T-1)*W"),
                   "h_latency": cfg.h_latency, "dense_wait": cfg.dense_wait,
                   "measured_from": "first input beat of a window to the first of the next, "
                                    "host always offering and always ready"},
        "files": {k: Path(v).name for k, v in (files or {}).items()},
    }


def _convert_in_subprocess(cfg: AutoencoderEngineConfig, outdir: Path, lang: str) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONHASHSEED"] = "0"     # repeatable sensitivity-list order (see hdl.convert)
    code = "import sys; from hdl.convert_autoencoder import _worker; _worker(sys.argv[1:])"
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(cfg.to_dict()), ".", lang],
                          cwd=str(outdir), env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{lang} conversion of {cfg.module_name} failed:\n{proc.stderr[-6000:]}")


def _worker(argv) -> None:
    """In a fresh process: convert one configuration to one HDL (see convert_autoencoder)."""
    import warnings

    cfg = AutoencoderEngineConfig.from_dict(json.loads(argv[0]))
    outdir, lang = argv[1], argv[2]
    from .autoencoder_engine import autoencoder_engine, autoencoder_ports
    from .header import block_docs, comment, design_header, fsm_states

    # Signals named *unused* deliberately sink bits nothing reads (see weight_memory).
    warnings.filterwarnings("ignore", message=r".*driven but not read: .*unused")
    inst = autoencoder_engine(**autoencoder_ports(cfg), cfg=cfg)
    header = design_header(cfg, fsm_states(inst)) + "\n" + block_docs(inst)
    inst.convert(hdl=lang, name=cfg.module_name, path=outdir, initial_values=INITIAL_VALUES,
                 header=comment(header, "//" if lang == "Verilog" else "--"))


# ----------------------------------------------------------------- images
def write_memory_image(cfg: AutoencoderEngineConfig, fixed_model, outdir) -> dict:
    """Write ``<module>.image.hex`` and ``<module>.image.json`` for a FixedAutoencoder."""
    from golden.autoencoder_memory_map import autoencoder_image
    from golden.lstm_float import ShapeError

    if fixed_model.cfg != cfg.model:
        raise ShapeError(f"memory image: the model is {fixed_model.cfg.describe()} but the engine is "
                         f"{cfg.model.describe()}")
    if fixed_model.fmts != cfg.fmts:
        raise ShapeError("memory image: the model's formats differ from the engine's")
    image = autoencoder_image(fixed_model, cfg.lanes)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    digits = (cfg.weight_bits + 3) // 4
    adigits = (cfg.addr_bits + 3) // 4
    hex_path = outdir / f"{cfg.module_name}.image.hex"
    lines = [f"// {cfg.module_name}: {len(image)} words of {cfg.weight_bits} bits, "
             "'address word' per line in write order (golden.autoencoder_memory_map)"]
    lines += [f"{a:0{adigits}x} {w:0{digits}x}" for a, w in image]
    hex_path.write_text("\n".join(lines) + "\n")
    json_path = outdir / f"{cfg.module_name}.image.json"
    json_path.write_text(json.dumps({"module": cfg.module_name, "words": len(image),
                                     "word_bits": cfg.weight_bits,
                                     "image": [[a, w] for a, w in image]}) + "\n")
    return {"image_hex": hex_path, "image_json": json_path}


# -------------------------------------------------------------------- CLI
def _sizes(text: str, what: str) -> tuple:
    try:
        out = tuple(int(s) for s in str(text).split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--{what}: expected comma-separated layer sizes like 64,32, got {text!r}") from None
    if not out:
        raise ValueError(f"--{what}: needs at least one layer size")
    return out


def add_arguments(parser) -> None:
    parser.add_argument("--model", default=None,
                        help="model file (project, Keras or PyTorch; golden.model_store): take its "
                             "topology and formats and write its memory image")
    parser.add_argument("--features", type=int, default=6, help="F, features per step (default 6)")
    parser.add_argument("--encoder", default="64,32", help="encoder hidden sizes (default 64,32)")
    parser.add_argument("--decoder", default="32,64", help="decoder hidden sizes (default 32,64)")
    parser.add_argument("--timesteps", type=int, default=24, help="T, steps per window (default 24)")
    parser.add_argument("--lanes", type=int, default=4,
                        help="P, lanes per gate unit (divides every hidden size; default 4)")
    parser.add_argument("--formats", default=None,
                        help="number formats: JSON file or text (LSTMFormats.to_dict()); default: golden "
                             "defaults, or the model's")
    parser.add_argument("--hdl", choices=sorted(HDL_CHOICES), default="both",
                        help="languages to write (default both)")
    parser.add_argument("--out", default=str(REPO / "build" / "hdl"),
                        help="output folder (default build/hdl)")


def run(args) -> int:
    from golden.autoencoder import AutoencoderConfig

    from .convert import parse_formats

    fixed = None
    if args.model:
        from golden.model_store import load_any_model

        lm = load_any_model(args.model)
        fmts = parse_formats(args.formats) if args.formats else lm.fmts
        fixed = lm.model.quantize(fmts)
        model_cfg = lm.model.cfg
    else:
        fmts = parse_formats(args.formats)
        model_cfg = AutoencoderConfig(args.features, _sizes(args.encoder, "encoder"),
                                      _sizes(args.decoder, "decoder"), args.timesteps)
    cfg = AutoencoderEngineConfig(model_cfg, args.lanes, fmts)
    paths = convert_autoencoder(cfg, args.out, HDL_CHOICES[args.hdl])
    if fixed is not None:
        extra = write_memory_image(cfg, fixed, args.out)
        paths.update(extra)
        manifest = json.loads(paths["manifest"].read_text())
        manifest["files"].update({k: v.name for k, v in extra.items()})
        manifest["image_source"] = {"file": Path(args.model).name}
        paths["manifest"].write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{cfg.module_name}: {cfg.describe()}")
    for key, path in paths.items():
        print(f"  {key:13s} {path}")
    return 0


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m hdl.convert_autoencoder",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"hdl.convert_autoencoder: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
