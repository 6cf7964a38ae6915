"""Convert an LSTM engine configuration to Verilog and VHDL, with a manifest.

Command line (also ``lstm-chiplet convert``)::

    python -m hdl.convert --input-size 6 --hidden-size 64 --lanes 4 \\
        [--formats FORMATS.json] [--weights LAYER.npz [--layer N]] [--hdl both] --out build/hdl

writes into ``--out``:

``<module>.v``, ``tb_<module>.v``
    the engine as one Verilog module, and MyHDL's co-simulation test bench
    (``$from_myhdl``/``$to_myhdl``);
``<module>.vhd``, ``pck_myhdl_*.vhd``
    the same engine in VHDL (analyse the package first);
``<module>.manifest.json``
    parameters, formats, ports with widths, memory map, memory bits, expected
    cycles per step;
``<module>.image.hex``, ``<module>.image.json`` (with ``--weights``)
    the memory image of that layer: one word per address for ``$readmemh``, and
    ``[address, word]`` pairs, both in the order the write port takes them.

``<module>`` carries the parameters, e.g. ``lstm_engine_d6_h64_p4_v2q14_w4q12_z5q11_a2q14``.
Each conversion runs in a fresh Python process: MyHDL makes internal names unique
across a whole process and remembers ``initial_values`` between calls, so converting
in-process would make the output depend on what ran before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .config import EngineConfig

REPO = Path(__file__).resolve().parent.parent
HDL_CHOICES = {"verilog": ("Verilog",), "vhdl": ("VHDL",), "both": ("Verilog", "VHDL")}
#: Converted signals carry initial values (Verilog ``reg x = 0``; VHDL defaults), so
#: simulators start from zeros instead of X; the controller is reset regardless.
INITIAL_VALUES = True


# --------------------------------------------------------------------------- API
def convert_engine(cfg: EngineConfig, outdir, hdl=("Verilog",)) -> dict:
    """Convert ``cfg``'s engine into ``outdir``; returns the paths written.

    Parameters
    ----------
    cfg : EngineConfig
    outdir : path-like
        Created if missing.
    hdl : sequence of str
        ``"Verilog"`` and/or ``"VHDL"``.

    Returns
    -------
    dict
        ``verilog``, ``testbench`` (when Verilog), ``vhdl``, ``vhdl_package`` (when
        VHDL) and ``manifest``: absolute :class:`pathlib.Path` objects.
    """
    if not isinstance(cfg, EngineConfig):
        raise TypeError(f"convert_engine: cfg must be an EngineConfig, got {type(cfg).__name__}")
    return write_design(cfg, outdir, hdl, _convert_in_subprocess, build_manifest, "convert_engine")


def write_design(cfg, outdir, hdl, convert_one, manifest_of, what: str) -> dict:
    """Convert ``cfg`` into ``outdir`` in each language of ``hdl`` and write its manifest.

    ``convert_one(cfg, outdir, language)`` runs one conversion (in a fresh process);
    ``manifest_of(cfg, paths)`` describes the result.  Shared by every top-level design,
    so all of them name, check and describe their files alike.
    """
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    languages = []
    for lang in hdl:
        norm = {"verilog": "Verilog", "vhdl": "VHDL"}.get(str(lang).lower())
        if norm is None:
            raise ValueError(f"{what}: hdl must name 'Verilog' or 'VHDL', got {lang!r}")
        if norm not in languages:
            languages.append(norm)
    paths = {}
    for lang in languages:
        convert_one(cfg, outdir, lang)
        if lang == "Verilog":
            paths["verilog"] = outdir / f"{cfg.module_name}.v"
            paths["testbench"] = outdir / f"tb_{cfg.module_name}.v"
        else:
            paths["vhdl"] = outdir / f"{cfg.module_name}.vhd"
            packages = sorted(outdir.glob("pck_myhdl_*.vhd"))
            if not packages:
                raise RuntimeError(f"VHDL conversion wrote no pck_myhdl_*.vhd package into {outdir}")
            paths["vhdl_package"] = packages[-1]
    for key, p in paths.items():
        if not p.is_file():
            raise RuntimeError(f"conversion of {cfg.module_name} did not write {key} file {p}")
    manifest = outdir / f"{cfg.module_name}.manifest.json"
    manifest.write_text(json.dumps(manifest_of(cfg, paths), indent=2) + "\n")
    paths["manifest"] = manifest
    return paths


def build_manifest(cfg: EngineConfig, files: dict | None = None) -> dict:
    """Everything a host or a bench needs to know about one converted engine."""
    import myhdl

    from golden.memory_map import memory_map

    from .lstm_engine import PORTS

    widths = {"clk": 1, "rst": 1, "in_tdata": cfg.in_bits, "in_tvalid": 1, "in_tready": 1,
              "in_tlast": 1, "out_tdata": cfg.out_bits, "out_tvalid": 1, "out_tready": 1,
              "out_tlast": 1, "wr_en": 1, "wr_addr": cfg.addr_bits, "wr_data": cfg.weight_bits}
    bits = cfg.memory_bits
    return {
        "module": cfg.module_name,
        "generator": f"myhdl {myhdl.__version__} (hdl.convert)",
        "parameters": {"input_size": cfg.input_size, "hidden_size": cfg.hidden_size,
                       "lanes": cfg.lanes, "multipliers": cfg.multipliers},
        "formats": cfg.fmts.to_dict(),
        "ports": [{"name": n, "direction": d, "bits": widths[n]} for n, d in PORTS],
        "stream": {"element_bits": cfg.vec_bits, "in_elements": cfg.input_size,
                   "out_elements": cfg.hidden_size,
                   "packing": "element k in bits [(k+1)*W-1 : k*W], two's complement"},
        "widths": {"accumulator": cfg.acc_bits, "product": cfg.product_bits,
                   "wr_addr": cfg.addr_bits, "bank_address": cfg.bank_addr_bits},
        "memory_map": memory_map(cfg.input_size, cfg.hidden_size, cfg.lanes),
        "memory_bits": dict(bits, total=sum(bits.values())),
        "cycles": {"cycles_per_step": cfg.cycles_per_step, "ideal": cfg.ideal_cycles,
                   "target": cfg.target_cycles, "meets_target": cfg.meets_target,
                   "mac_utilisation": round(cfg.mac_utilisation, 4),
                   "formula": "(H/P)*(D+H) + P + %d" % cfg.step_overhead,
                   "measured_from": "input handshake edge to first edge sampling out_tvalid high"},
        "files": {k: Path(v).name for k, v in (files or {}).items()},
    }


def _convert_in_subprocess(cfg: EngineConfig, outdir: Path, lang: str) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # MyHDL orders sensitivity lists through sets of names: fix the string hash so
    # the same configuration always gives the same text.  Converting inside outdir
    # keeps the folder's absolute path out of the files' headers.
    env["PYTHONHASHSEED"] = "0"
    code = "import sys; from hdl.convert import _worker; _worker(sys.argv[1:])"
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(cfg.to_dict()), ".", lang],
                          cwd=str(outdir), env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{lang} conversion of {cfg.module_name} failed:\n{proc.stderr[-6000:]}")


def _worker(argv) -> None:
    """In a fresh process: convert one configuration to one HDL (see convert_engine)."""
    import warnings

    cfg = EngineConfig.from_dict(json.loads(argv[0]))
    outdir, lang = argv[1], argv[2]
    from .lstm_engine import engine_ports, lstm_engine

    # Signals named *unused* deliberately sink bits nothing reads (see weight_memory).
    warnings.filterwarnings("ignore", message=r".*driven but not read: .*unused")
    inst = lstm_engine(**engine_ports(cfg), cfg=cfg)
    inst.convert(hdl=lang, name=cfg.module_name, path=outdir, initial_values=INITIAL_VALUES)


# ---------------------------------------------------------------- weights files
def load_layer_weights(path, cfg: EngineConfig, layer: int = 0):
    """One LSTM layer's weights from an ``.npz``, checked against ``cfg``.

    Accepted keys: ``kernel``, ``recurrent``, ``bias`` (one layer), or Keras
    ``get_weights()`` order ``arr_0, arr_1, ...`` where LSTM layer ``n`` is
    ``arr_{3n}`` (kernel (D, 4H)), ``arr_{3n+1}`` (recurrent (H, 4H)), ``arr_{3n+2}``
    (bias (4H,)).  Float arrays are quantized to ``cfg.fmts.weight`` (a value outside
    the format raises); integer arrays are taken as weight-format integers.

    Returns
    -------
    golden.lstm_fixed.FixedLSTMWeights
    """
    import numpy as np

    from golden.formats import FormatError
    from golden.lstm_fixed import FixedLSTMWeights
    from golden.lstm_float import LSTMWeights, ShapeError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises several types for a corrupt file
        raise FormatError(f"weights file {path}: not a readable .npz ({exc})") from exc
    with data:
        keys = set(data.files)
        if {"kernel", "recurrent", "bias"} <= keys:
            names = ("kernel", "recurrent", "bias")
        else:
            names = tuple(f"arr_{3 * layer + i}" for i in range(3))
            missing = [n for n in names if n not in keys]
            if missing:
                raise ShapeError(f"weights file {path}: layer {layer} needs arrays {list(names)} "
                                 f"(or kernel/recurrent/bias); missing {missing}, found {sorted(keys)}")
        arrays = [np.asarray(data[n]) for n in names]
    d, h = cfg.input_size, cfg.hidden_size
    want = ((d, 4 * h), (h, 4 * h), (4 * h,))
    roles = ("kernel", "recurrent kernel", "bias")
    for name, role, a, shape in zip(names, roles, arrays, want):
        if a.shape != shape:
            raise ShapeError(f"weights file {path}: {role} {name!r} has shape {a.shape}, the "
                             f"engine (D={d}, H={h}) needs {shape}")
    label = f"{path.name} layer {layer}"
    if all(np.issubdtype(a.dtype, np.integer) for a in arrays):
        return FixedLSTMWeights.from_ints(*arrays, fmts=cfg.fmts, layer=label)
    if not all(np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
               for a in arrays):
        raise FormatError(f"weights file {path}: arrays must be numbers, got "
                          f"{[str(a.dtype) for a in arrays]}")
    return FixedLSTMWeights.from_float(LSTMWeights(*arrays), cfg.fmts, layer=label)


def write_memory_image(cfg: EngineConfig, weights, outdir) -> dict:
    """Write ``<module>.image.hex`` and ``<module>.image.json``; returns their paths."""
    from golden.memory_map import layer_image
    from golden.lstm_float import ShapeError

    if (weights.input_size, weights.hidden_size) != (cfg.input_size, cfg.hidden_size):
        raise ShapeError(f"memory image: weights are D={weights.input_size}, H={weights.hidden_size} "
                         f"but the engine is D={cfg.input_size}, H={cfg.hidden_size}")
    if weights.fmts.weight != cfg.fmts.weight:
        raise ShapeError("memory image: the weights' format differs from the engine's weight format")
    image = layer_image(weights, cfg.lanes)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    digits = (cfg.weight_bits + 3) // 4
    hex_path = outdir / f"{cfg.module_name}.image.hex"
    lines = [f"// {cfg.module_name}: {len(image)} words of {cfg.weight_bits} bits, "
             "one per address from 0 (golden.memory_map)"]
    lines += [f"{word:0{digits}x}" for _, word in image]
    hex_path.write_text("\n".join(lines) + "\n")
    json_path = outdir / f"{cfg.module_name}.image.json"
    json_path.write_text(json.dumps({"module": cfg.module_name, "words": len(image),
                                     "word_bits": cfg.weight_bits,
                                     "image": [[a, w] for a, w in image]}) + "\n")
    return {"image_hex": hex_path, "image_json": json_path}


# ------------------------------------------------------------------------- CLI
def parse_formats(text):
    """``--formats``: a JSON file or JSON text of ``LSTMFormats.to_dict()``; None: defaults."""
    from golden.formats import DEFAULT_FORMATS, FormatError, LSTMFormats

    if not text:
        return DEFAULT_FORMATS
    source = text
    p = Path(text)
    if not text.lstrip().startswith("{"):
        if not p.is_file():
            raise FormatError(f"--formats: {text} is neither JSON text nor an existing file")
        source = p.read_text()
    try:
        return LSTMFormats.from_dict(json.loads(source))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise FormatError(f"--formats: expected JSON of vec/weight/preact/act formats "
                          f"(LSTMFormats.to_dict()), got an error: {exc}") from exc


def add_arguments(parser) -> None:
    parser.add_argument("--input-size", type=int, required=True, help="D, inputs per step")
    parser.add_argument("--hidden-size", type=int, required=True, help="H, hidden units")
    parser.add_argument("--lanes", type=int, required=True,
                        help="P, multiply-accumulate lanes per gate unit (divides H)")
    parser.add_argument("--formats", default=None,
                        help="number formats: JSON file or text (LSTMFormats.to_dict()); default: golden defaults")
    parser.add_argument("--weights", default=None,
                        help=".npz with the layer's kernel/recurrent/bias (or Keras arr_0..): write a memory image")
    parser.add_argument("--layer", type=int, default=0,
                        help="LSTM layer of a Keras arr_N .npz to image (default 0)")
    parser.add_argument("--hdl", choices=sorted(HDL_CHOICES), default="both",
                        help="languages to write (default both)")
    parser.add_argument("--out", default=str(REPO / "build" / "hdl"), help="output folder (default build/hdl)")


def run(args) -> int:
    fmts = parse_formats(args.formats)
    cfg = EngineConfig(args.input_size, args.hidden_size, args.lanes, fmts)
    weights = load_layer_weights(args.weights, cfg, args.layer) if args.weights else None
    paths = convert_engine(cfg, args.out, HDL_CHOICES[args.hdl])
    if weights is not None:
        extra = write_memory_image(cfg, weights, args.out)
        paths.update(extra)
        manifest = json.loads(paths["manifest"].read_text())
        manifest["files"].update({k: v.name for k, v in extra.items()})
        manifest["image_source"] = {"file": Path(args.weights).name, "layer": args.layer}
        paths["manifest"].write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{cfg.module_name}: {cfg.describe()}")
    print(f"  cycles per step {cfg.cycles_per_step} (ideal {cfg.ideal_cycles}, target "
          f"<= {cfg.target_cycles:.1f}: {'met' if cfg.meets_target else 'NOT met'})")
    for key, p in paths.items():
        print(f"  {key:13s} {p}")
    return 0


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m hdl.convert", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"hdl.convert: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
