"""Conversion of either engine to Verilog and VHDL, with a manifest and a memory image.

One converter serves both designs; a :class:`Design` says what differs between them
(the configuration class, the top-level block, the design-specific manifest fields and
the memory image).  :func:`convert_design` writes into ``outdir``:

``<module>.v``, ``tb_<module>.v``
    the design as one Verilog module, and MyHDL's co-simulation test bench
    (``$from_myhdl``/``$to_myhdl``); the module's header comment (:mod:`hdl.header`)
    gives its formats, its FSM state codes, the configuration it was built from and
    every block with its instances and docstring;
``<module>.vhd``, ``pck_myhdl_*.vhd``
    the same design in VHDL (analyse the package first);
``<module>.manifest.json``
    kind, parameters, formats, ports with the widths of the converted signals, memory
    map, memory bits, cycles and their formula.

:func:`write_memory_image` adds ``<module>.image.hex`` and ``<module>.image.json``:
the words that load the weights through the write port, in write order, as
``@address word`` lines (hexadecimal, readable by Verilog's ``$readmemh``; the map may
have holes between regions) and as ``[address, word]`` pairs.

``<module>`` carries the parameters, e.g. ``lstm_engine_d6_h64_p4_v2q14_w4q12_z5q11_a2q14``
or ``lstm_autoencoder_f6_e64x32_d32x64_t24_p4_v2q14_w4q12_z5q11_a2q14``.  Each
conversion runs in a fresh Python process: MyHDL makes internal names unique across a
whole process and remembers ``initial_values`` between calls, so converting in-process
would make the output depend on what ran before.  The command lines are
``lstm-chiplet convert`` and ``lstm-chiplet convert-autoencoder``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .autoencoder_config import AutoencoderEngineConfig
from .config import EngineConfig

REPO = Path(__file__).resolve().parent.parent
HDL_CHOICES = {"verilog": ("Verilog",), "vhdl": ("VHDL",), "both": ("Verilog", "VHDL")}
#: Converted signals carry initial values (Verilog ``reg x = 0``; VHDL defaults), so
#: simulators start from zeros instead of X; the controller is reset regardless.
INITIAL_VALUES = True
#: Seconds one conversion may take (the whole-window design at P = 16 takes minutes).
CONVERT_TIMEOUT = 3600


# -------------------------------------------------------------- design kinds
def _engine_fields(cfg: EngineConfig) -> dict:
    from golden.memory_map import memory_map

    return {
        "parameters": {"input_size": cfg.input_size, "hidden_size": cfg.hidden_size,
                       "lanes": cfg.lanes, "multipliers": cfg.multipliers},
        "stream": {"element_bits": cfg.vec_bits, "in_elements": cfg.input_size,
                   "out_elements": cfg.hidden_size},
        "widths": {"bank_address": cfg.bank_addr_bits},
        "memory_map": memory_map(cfg.input_size, cfg.hidden_size, cfg.lanes),
        "cycles": {"cycles_per_step": cfg.cycles_per_step, "ideal": cfg.ideal_cycles,
                   "target": cfg.target_cycles, "meets_target": cfg.meets_target,
                   "mac_utilisation": round(cfg.mac_utilisation, 4),
                   "formula": "(H/P)*(D+H) + P + %d" % cfg.step_overhead,
                   "measured_from": "input handshake edge to first edge sampling out_tvalid high"},
    }


def _autoencoder_fields(cfg: AutoencoderEngineConfig) -> dict:
    from golden.autoencoder_memory_map import memory_map

    m = cfg.model
    return {
        "parameters": {"features": m.features, "encoder_sizes": list(m.encoder_sizes),
                       "decoder_sizes": list(m.decoder_sizes), "timesteps": m.timesteps,
                       "lanes": cfg.lanes, "multipliers": cfg.multipliers,
                       "parameter_count": m.parameter_count},
        "stream": {"element_bits": cfg.vec_bits, "in_elements": m.features,
                   "out_elements": m.features, "beats_per_window": m.timesteps,
                   "in_cycles_per_beat": m.features},
        "widths": {"bank_address": cfg.bank_addr_bits},
        "memory_map": memory_map(m, cfg.lanes),
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
    }


def _engine_image(cfg: EngineConfig, weights) -> list:
    """The memory image of one layer (golden.lstm_fixed.FixedLSTMWeights)."""
    from golden.lstm_float import ShapeError
    from golden.memory_map import layer_image

    if (weights.input_size, weights.hidden_size) != (cfg.input_size, cfg.hidden_size):
        raise ShapeError(f"memory image: weights are D={weights.input_size}, H={weights.hidden_size} "
                         f"but the engine is D={cfg.input_size}, H={cfg.hidden_size}")
    if weights.fmts.weight != cfg.fmts.weight:
        raise ShapeError("memory image: the weights' format differs from the engine's weight format")
    return layer_image(weights, cfg.lanes)


def _autoencoder_image(cfg: AutoencoderEngineConfig, fixed_model) -> list:
    """The memory image of a whole autoencoder (golden.autoencoder.FixedAutoencoder)."""
    from golden.autoencoder_memory_map import autoencoder_image
    from golden.lstm_float import ShapeError

    if fixed_model.cfg != cfg.model:
        raise ShapeError(f"memory image: the model is {fixed_model.cfg.describe()} but the engine is "
                         f"{cfg.model.describe()}")
    if fixed_model.formats != cfg.formats:
        raise ShapeError("memory image: the model's formats differ from the engine's")
    return autoencoder_image(fixed_model, cfg.lanes)


def _lstm_engine():
    from .lstm_engine import lstm_engine

    return lstm_engine


def _autoencoder_engine():
    from .autoencoder_engine import autoencoder_engine

    return autoencoder_engine


@dataclass(frozen=True)
class Design:
    """What the converter needs to know about one kind of top-level design.

    Attributes
    ----------
    kind : str
        The manifest's ``kind``.
    config : type
        Its configuration class (``to_dict``/``from_dict``, ``module_name``).
    top : callable
        Returns the top-level ``@block`` (imported only where it is converted).
    fields : callable
        ``fields(cfg) -> dict``: the manifest entries only this kind has.
    image : callable
        ``image(cfg, weights) -> [(address, word)]``: the words that load ``weights``.
    map_source : str
        The golden module whose memory map the image follows.
    """

    kind: str
    config: type
    top: Callable
    fields: Callable
    image: Callable
    map_source: str


DESIGNS = (
    Design("lstm_engine", EngineConfig, _lstm_engine, _engine_fields, _engine_image,
           "golden.memory_map"),
    Design("autoencoder", AutoencoderEngineConfig, _autoencoder_engine, _autoencoder_fields,
           _autoencoder_image, "golden.autoencoder_memory_map"),
)


def design_of(cfg) -> Design:
    """The :class:`Design` of a configuration object (refuses anything else)."""
    for design in DESIGNS:
        if isinstance(cfg, design.config):
            return design
    names = ", ".join(d.config.__name__ for d in DESIGNS)
    raise TypeError(f"conversion: cfg must be one of {names}, got {type(cfg).__name__}")


def _design_named(kind: str) -> Design:
    return next(d for d in DESIGNS if d.kind == kind)


# ---------------------------------------------------------------------- API
def convert_design(cfg, outdir, hdl=("Verilog",)) -> dict:
    """Convert ``cfg``'s design into ``outdir``; returns the paths written.

    Parameters
    ----------
    cfg : EngineConfig or AutoencoderEngineConfig
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
    design = design_of(cfg)
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    languages = []
    for lang in hdl:
        norm = {"verilog": "Verilog", "vhdl": "VHDL"}.get(str(lang).lower())
        if norm is None:
            raise ValueError(f"conversion: hdl must name 'Verilog' or 'VHDL', got {lang!r}")
        if norm not in languages:
            languages.append(norm)
    paths = {}
    for lang in languages:
        _convert_in_subprocess(design, cfg, outdir, lang)
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
    manifest.write_text(json.dumps(build_manifest(cfg, paths), indent=2) + "\n")
    paths["manifest"] = manifest
    return paths


def build_manifest(cfg, files: dict | None = None) -> dict:
    """Everything a host, a bench or the implementation flow needs to know about a design."""
    import myhdl

    from .ports import port_list

    design = design_of(cfg)
    fields = design.fields(cfg)
    bits = cfg.memory_bits
    stream = dict(fields.pop("stream"),
                  packing="element k in bits [(k+1)*W-1 : k*W], two's complement")
    widths = {"accumulator": cfg.acc_bits, "product": cfg.product_bits,
              "wr_addr": cfg.addr_bits, **fields.pop("widths")}
    return {
        "module": cfg.module_name,
        "kind": design.kind,
        "generator": f"myhdl {myhdl.__version__} (hdl.convert)",
        "parameters": fields.pop("parameters"),
        "formats": cfg.fmts.to_dict(),
        "ports": port_list(cfg),
        "stream": stream,
        "widths": widths,
        "memory_map": fields.pop("memory_map"),
        "memory_bits": dict(bits, total=sum(bits.values())),
        **fields,
        "files": {k: Path(v).name for k, v in (files or {}).items()},
    }


def write_memory_image(cfg, weights, outdir) -> dict:
    """Write ``<module>.image.hex`` and ``<module>.image.json``; returns their paths.

    ``weights``: a layer's :class:`golden.lstm_fixed.FixedLSTMWeights` for the
    single-layer engine, a :class:`golden.autoencoder.FixedAutoencoder` for the
    whole-window engine.
    """
    design = design_of(cfg)
    image = design.image(cfg, weights)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    digits = (cfg.weight_bits + 3) // 4
    adigits = (cfg.addr_bits + 3) // 4
    hex_path = outdir / f"{cfg.module_name}.image.hex"
    lines = [f"// {cfg.module_name}: {len(image)} words of {cfg.weight_bits} bits, "
             f"'@address word' per line in write order ({design.map_source})"]
    lines += [f"@{a:0{adigits}x} {w:0{digits}x}" for a, w in image]
    hex_path.write_text("\n".join(lines) + "\n")
    json_path = outdir / f"{cfg.module_name}.image.json"
    json_path.write_text(json.dumps({"module": cfg.module_name, "words": len(image),
                                     "word_bits": cfg.weight_bits,
                                     "image": [[a, w] for a, w in image]}) + "\n")
    return {"image_hex": hex_path, "image_json": json_path}


def add_image_to_manifest(paths: dict, image_paths: dict, source: dict) -> None:
    """Record a memory image written beside a converted design in its manifest."""
    paths.update(image_paths)
    manifest = json.loads(paths["manifest"].read_text())
    manifest["files"].update({k: Path(v).name for k, v in image_paths.items()})
    manifest["image_source"] = source
    paths["manifest"].write_text(json.dumps(manifest, indent=2) + "\n")


# ---------------------------------------------------------- the conversion run
def _convert_in_subprocess(design: Design, cfg, outdir: Path, lang: str) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # MyHDL orders sensitivity lists through sets of names: fix the string hash so
    # the same configuration always gives the same text.  Converting inside outdir
    # keeps the folder's absolute path out of the files' headers.
    env["PYTHONHASHSEED"] = "0"
    code = "import sys; from hdl.convert import _worker; _worker(sys.argv[1:])"
    proc = subprocess.run([sys.executable, "-c", code, design.kind, json.dumps(cfg.to_dict()), ".",
                           lang], cwd=str(outdir), env=env, capture_output=True, text=True,
                          timeout=CONVERT_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"{lang} conversion of {cfg.module_name} failed:\n{proc.stderr[-6000:]}")


def _worker(argv) -> None:
    """In a fresh process: convert one configuration to one HDL (see convert_design)."""
    import warnings

    from .header import block_docs, comment, design_header, fsm_states
    from .ports import top_ports

    design = _design_named(argv[0])
    cfg = design.config.from_dict(json.loads(argv[1]))
    outdir, lang = argv[2], argv[3]
    # Signals named *unused* deliberately sink bits nothing reads (see dual_port_ram).
    warnings.filterwarnings("ignore", message=r".*driven but not read: .*unused")
    inst = design.top()(**top_ports(cfg), cfg=cfg)
    header = design_header(cfg, fsm_states(inst)) + "\n" + block_docs(inst)
    inst.convert(hdl=lang, name=cfg.module_name, path=outdir, initial_values=INITIAL_VALUES,
                 header=comment(header, "//" if lang == "Verilog" else "--"))
