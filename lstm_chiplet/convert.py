"""``lstm-chiplet convert`` and ``convert-autoencoder``: an engine to Verilog and VHDL.

``convert`` takes one LSTM layer engine (D, H, lanes, formats) and optionally a weights
file to image; ``convert-autoencoder`` takes the whole-window engine of a topology, or of
a model file (its topology, formats and memory image).  Both write through
:func:`hdl.convert.convert_design` (the files it writes are described there)::

    lstm-chiplet convert --input-size 6 --hidden-size 64 --lanes 4 \\
        [--formats FORMATS.json] [--weights LAYER.npz [--layer N]] [--hdl both] --out build/hdl
    lstm-chiplet convert-autoencoder [--model MODEL.npz | --features 6 --encoder 64,32
        --decoder 32,64 --timesteps 24] --lanes 4 [--formats FORMATS.json] [--hdl both]
        --out build/hdl
"""

from __future__ import annotations

import json
from pathlib import Path

from hdl.convert import HDL_CHOICES, REPO, add_image_to_manifest, convert_design, write_memory_image

DEFAULT_OUT = REPO / "build" / "hdl"


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


def load_layer_weights(path, cfg, layer: int = 0):
    """One LSTM layer's weights from an ``.npz``, checked against the engine ``cfg``.

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


def _sizes(text: str, what: str) -> tuple:
    try:
        out = tuple(int(s) for s in str(text).split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--{what}: expected comma-separated layer sizes like 64,32, got {text!r}") from None
    if not out:
        raise ValueError(f"--{what}: needs at least one layer size")
    return out


def _common_arguments(parser) -> None:
    parser.add_argument("--hdl", choices=sorted(HDL_CHOICES), default="both",
                        help="languages to write (default both)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default build/hdl)")


def _print_paths(paths: dict) -> None:
    for key, p in paths.items():
        print(f"  {key:13s} {p}")


class LayerCommand:
    """``lstm-chiplet convert``: one LSTM layer engine."""

    @staticmethod
    def add_arguments(parser) -> None:
        parser.add_argument("--input-size", type=int, required=True, help="D, inputs per step")
        parser.add_argument("--hidden-size", type=int, required=True, help="H, hidden units")
        parser.add_argument("--lanes", type=int, required=True,
                            help="P, multiply-accumulate lanes per gate unit (divides H)")
        parser.add_argument("--formats", default=None,
                            help="number formats: JSON file or text (LSTMFormats.to_dict()); "
                                 "default: golden defaults")
        parser.add_argument("--weights", default=None,
                            help=".npz with the layer's kernel/recurrent/bias (or Keras arr_0..): "
                                 "write a memory image")
        parser.add_argument("--layer", type=int, default=0,
                            help="LSTM layer of a Keras arr_N .npz to image (default 0)")
        _common_arguments(parser)

    @staticmethod
    def run(args) -> int:
        from hdl.config import EngineConfig

        fmts = parse_formats(args.formats)
        cfg = EngineConfig(args.input_size, args.hidden_size, args.lanes, fmts)
        weights = load_layer_weights(args.weights, cfg, args.layer) if args.weights else None
        paths = convert_design(cfg, args.out, HDL_CHOICES[args.hdl])
        if weights is not None:
            add_image_to_manifest(paths, write_memory_image(cfg, weights, args.out),
                                  {"file": Path(args.weights).name, "layer": args.layer})
        print(f"{cfg.module_name}: {cfg.describe()}")
        print(f"  cycles per step {cfg.cycles_per_step} (ideal {cfg.ideal_cycles}, target "
              f"<= {cfg.target_cycles:.1f}: {'met' if cfg.meets_target else 'NOT met'})")
        _print_paths(paths)
        return 0


class AutoencoderCommand:
    """``lstm-chiplet convert-autoencoder``: the whole-window engine."""

    @staticmethod
    def add_arguments(parser) -> None:
        parser.add_argument("--model", default=None,
                            help="model file (project, Keras or PyTorch): take its topology and "
                                 "formats and write its memory image")
        parser.add_argument("--features", type=int, default=6, help="F, features per step (default 6)")
        parser.add_argument("--encoder", default="64,32", help="encoder hidden sizes (default 64,32)")
        parser.add_argument("--decoder", default="32,64", help="decoder hidden sizes (default 32,64)")
        parser.add_argument("--timesteps", type=int, default=24, help="T, steps per window (default 24)")
        parser.add_argument("--lanes", type=int, default=4,
                            help="P, lanes per gate unit (divides every hidden size; default 4)")
        parser.add_argument("--formats", default=None,
                            help="number formats: JSON file or text (LSTMFormats.to_dict()); default: "
                                 "golden defaults, or the model's")
        _common_arguments(parser)

    @staticmethod
    def run(args) -> int:
        from golden.autoencoder import AutoencoderConfig
        from hdl.autoencoder_config import AutoencoderEngineConfig

        fixed = None
        if args.model:
            from lstm_chiplet.models.store import load_any_model

            lm = load_any_model(args.model)
            fixed = lm.model.quantize(parse_formats(args.formats) if args.formats else lm.formats)
            fmts = fixed.formats    # per-layer formats too (one word width per role)
            model_cfg = lm.model.cfg
        else:
            fmts = parse_formats(args.formats)
            model_cfg = AutoencoderConfig(args.features, _sizes(args.encoder, "encoder"),
                                          _sizes(args.decoder, "decoder"), args.timesteps)
        cfg = AutoencoderEngineConfig(model_cfg, args.lanes, fmts)
        paths = convert_design(cfg, args.out, HDL_CHOICES[args.hdl])
        if fixed is not None:
            add_image_to_manifest(paths, write_memory_image(cfg, fixed, args.out),
                                  {"file": Path(args.model).name})
        print(f"{cfg.module_name}: {cfg.describe()}")
        _print_paths(paths)
        return 0
