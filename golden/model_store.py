"""The project's model file, and import of Keras and PyTorch autoencoder weights.

Project model (``.npz``, every member a plain numeric or unicode array, read with
``allow_pickle=False``)::

    schema              "lstm-chiplet-autoencoder/1"
    config              JSON of AutoencoderConfig.to_dict()   (features, encoder_sizes,
                                                               decoder_sizes, timesteps)
    formats             JSON of LSTMFormats.to_dict()         (the fixed-point formats)
    provenance          JSON: how the model was made (data, seeds, training figures)
    data_format         "lcd" or "marine" (optional: the loader the scaler was fitted with)
    layer<n>_kernel     (D, 4H)   Keras layout, gate order i, f, g, o; n = 0 .. L-1,
    layer<n>_recurrent  (H, 4H)   encoder layers first, then decoder layers
    layer<n>_bias       (4H,)
    dense_kernel        (H_last, F)
    dense_bias          (F,)
    scaler_min, scaler_max, scaler_features   (optional: the min-max scaler,
                                               golden.data.MinMaxScaler.to_arrays)

Weights may be stored as float32 (the shipped default model is, to stay small) or
float64; loading converts to float64 exactly, so the float reference and the
fixed-point quantization both start from the stored values.

:func:`load_any_model` detects the layout of a file:

``project``
    the layout above (``schema`` array);
``keras``
    ``np.savez(path, *model.get_weights())``: only ``arr_0`` .. ``arr_{3L+1}``, per LSTM
    layer kernel (D, 4H), recurrent kernel (H, 4H), bias (4H), then Dense kernel
    (H, F) and bias (F) (:meth:`golden.autoencoder.Autoencoder.from_weights`);
``pytorch``
    a PyTorch ``state_dict`` saved as ``.npz`` under its own key names: per ``nn.LSTM``
    module ``<prefix>.weight_ih_l<k>`` (4H, D), ``<prefix>.weight_hh_l<k>`` (4H, H),
    ``<prefix>.bias_ih_l<k>`` and ``<prefix>.bias_hh_l<k>`` (4H) (biases optional,
    summed on import), the layers taken in key order (``l0``, ``l1``, ... within a
    module), and one final ``nn.Linear``: ``<prefix>.weight`` (F, H) and
    ``<prefix>.bias`` (F).  A ``.pt`` / ``.pth`` file is read with
    ``torch.load(weights_only=True)`` when torch is installed (a bare state dict or one
    under ``state_dict`` / ``model_state_dict``).

The split between encoder and decoder cannot be seen in Keras or PyTorch weights;
it defaults to half of the LSTM layers (the symmetric autoencoder) and can be given.
Keras and PyTorch files carry no scaler: ``LoadedModel.scaler`` is then ``None`` and
the caller fits one on its data.

Every problem raises :class:`~golden.model_io.ModelFileError` or
:class:`~golden.lstm_float.ShapeError` (both ``ValueError``) whose message starts with
the file and names the array.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from .autoencoder import REFERENCE_TIMESTEPS, Autoencoder, AutoencoderConfig, FixedAutoencoder
from .data import DATA_FORMATS, MinMaxScaler
from .formats import DEFAULT_FORMATS, FormatError, LSTMFormats
from .lstm_float import LSTMWeights, ShapeError
from .model_io import ModelFileError, check_numeric, lstm_weights_from_arrays, read_npz

SCHEMA = "lstm-chiplet-autoencoder/1"
#: The schema of golden.model_io layer files (LSTM layers only, no autoencoder).
LAYERS_SCHEMA = "lstm-chiplet-layers/1"
KINDS = ("project", "keras", "pytorch")
STORAGE_DTYPES = {"float64": np.float64, "float32": np.float32}

_KERAS_KEY = re.compile(r"^arr_(\d+)$")
_TORCH_LSTM_KEY = re.compile(
    r"^(?P<prefix>.*?)\.?(?P<tensor>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)"
    r"_l(?P<layer>\d+)(?P<reverse>_reverse)?$")
_TORCH_SUFFIXES = (".pt", ".pth")


@dataclass
class LoadedModel:
    """A model read by :func:`load_model` or :func:`load_any_model`.

    Attributes
    ----------
    model : Autoencoder
        The float model (float64, exactly the stored values).
    kind : str
        ``project``, ``keras`` or ``pytorch``.
    path : str
    fmts : LSTMFormats
        Formats stored with a project model, else the project defaults.
    scaler : MinMaxScaler or None
        The scaler saved with a project model (Keras / PyTorch files have none).
    data_format : str or None
        ``lcd`` / ``marine`` when the project model records it.
    provenance : dict
        How the model was made (project models), or what was imported.
    names : dict
        Which array of the file holds each tensor (``weight name -> array name``).
    """

    model: Autoencoder
    kind: str
    path: str
    fmts: LSTMFormats = DEFAULT_FORMATS
    scaler: Optional[MinMaxScaler] = None
    data_format: Optional[str] = None
    provenance: dict = field(default_factory=dict)
    names: Dict[str, str] = field(default_factory=dict)

    @property
    def cfg(self) -> AutoencoderConfig:
        return self.model.cfg

    @property
    def features(self) -> Optional[tuple]:
        """Feature names of the scaler, when the file has one."""
        return self.scaler.features if self.scaler is not None else None

    def check_features(self, data_features: Sequence[str], what: str = "the data") -> None:
        """Raise if the model cannot take ``data_features`` (count, and names if known).

        The message names the model file, the array that fixes the count (the first
        kernel and the dense layer) and both feature lists.
        """
        data_features = list(data_features)
        f = self.cfg.features
        if len(data_features) != f:
            k0 = self.names.get("encoder LSTM 1 kernel", "first kernel")
            dk = self.names.get("dense kernel", "dense kernel")
            raise ShapeError(
                f"{self.path}: the model takes {f} features per step (array {k0!r} takes {f} "
                f"inputs, array {dk!r} gives {f} outputs) but {what} has {len(data_features)}: "
                f"{', '.join(data_features)}")
        if self.scaler is not None and list(self.scaler.features) != data_features:
            raise ShapeError(
                f"{self.path}: the model's scaler was fitted on features "
                f"{', '.join(self.scaler.features)} but {what} has {', '.join(data_features)}")

    def fixed(self, fmts: Optional[LSTMFormats] = None) -> FixedAutoencoder:
        """The fixed-point model; a tensor outside the weight format raises, naming the file."""
        fmts = fmts or self.fmts
        try:
            return FixedAutoencoder.from_float(self.model, fmts)
        except FormatError as exc:
            raise FormatError(f"{self.path}: {exc}") from None

    def describe(self) -> str:
        parts = [f"{self.path}: {self.kind} model, {self.cfg.describe()}"]
        if self.scaler is not None:
            parts.append(f"scaler on {', '.join(self.scaler.features)}")
        else:
            parts.append("no scaler (fit one on the data)")
        return "; ".join(parts)


# --------------------------------------------------------------------------
# The project format
# --------------------------------------------------------------------------

def _json_array(obj) -> np.ndarray:
    return np.array(json.dumps(obj, sort_keys=True))


def model_arrays(model: Autoencoder, scaler: Optional[MinMaxScaler] = None,
                 fmts: LSTMFormats = DEFAULT_FORMATS, provenance: Optional[dict] = None,
                 data_format: Optional[str] = None, storage: str = "float64") -> dict:
    """The arrays of a project model file (what :func:`save_model` writes)."""
    if storage not in STORAGE_DTYPES:
        raise ValueError(f"model storage must be one of {', '.join(STORAGE_DTYPES)}, got {storage!r}")
    if scaler is not None and len(scaler.features) != model.cfg.features:
        raise ShapeError(f"model: the scaler has {len(scaler.features)} features, the model takes "
                         f"{model.cfg.features}")
    if data_format is not None and data_format not in DATA_FORMATS:
        raise ValueError(f"model: data_format must be one of {DATA_FORMATS}, got {data_format!r}")
    dt = STORAGE_DTYPES[storage]
    out = {"schema": np.array(SCHEMA), "config": _json_array(model.cfg.to_dict()),
           "formats": _json_array(fmts.to_dict()),
           "provenance": _json_array(dict(provenance or {}, storage=storage))}
    if data_format is not None:
        out["data_format"] = np.array(data_format)
    for n, w in enumerate(model.layers):
        if w.peephole is not None:
            raise ShapeError(f"model: {model.cfg.layer_name(n)} has peephole weights; the "
                             "autoencoder model file holds plain LSTM layers")
        out[f"layer{n}_kernel"] = w.kernel.astype(dt)
        out[f"layer{n}_recurrent"] = w.recurrent.astype(dt)
        out[f"layer{n}_bias"] = w.bias.astype(dt)
    out["dense_kernel"] = model.dense_kernel.astype(dt)
    out["dense_bias"] = model.dense_bias.astype(dt)
    if scaler is not None:
        out.update(scaler.to_arrays())
    return out


def save_model(path, model: Autoencoder, scaler: Optional[MinMaxScaler] = None,
               fmts: LSTMFormats = DEFAULT_FORMATS, provenance: Optional[dict] = None,
               data_format: Optional[str] = None, storage: str = "float64") -> Path:
    """Write a project model file to ``path`` exactly (no suffix added), atomically.

    Parameters
    ----------
    path : str or Path
    model : Autoencoder
    scaler : MinMaxScaler, optional
    fmts : LSTMFormats
        The fixed-point formats the model is meant for.
    provenance : dict, optional
        JSON-serialisable description of how the model was made.
    data_format : {"lcd", "marine"}, optional
    storage : {"float64", "float32"}
        Precision of the stored weights (float32 halves the file; what is stored is
        what every later use starts from).
    """
    path = Path(path)
    arrays = model_arrays(model, scaler, fmts, provenance, data_format, storage)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _json_member(path, arrays: dict, name: str, required: bool = True):
    if name not in arrays:
        if required:
            raise ModelFileError(f"{path}: array {name!r} not found (a project model file holds "
                                 "schema, config, formats, provenance, layer arrays, dense_kernel, "
                                 "dense_bias)")
        return None
    a = arrays[name]
    if a.shape != () or a.dtype.kind != "U":
        raise ModelFileError(f"{path}: array {name!r} must be a 0-d unicode array holding JSON, "
                             f"got dtype {a.dtype} shape {a.shape}")
    try:
        return json.loads(str(a))
    except ValueError as exc:
        raise ModelFileError(f"{path}: array {name!r} is not valid JSON ({exc})") from None


def _project_from_arrays(path, arrays: dict) -> LoadedModel:
    cfg_d = _json_member(path, arrays, "config")
    try:
        cfg = AutoencoderConfig.from_dict(cfg_d)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: array 'config' is not a valid autoencoder config ({exc!r})") from None
    try:
        fmts = LSTMFormats.from_dict(_json_member(path, arrays, "formats"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: array 'formats' is not a valid formats description ({exc})") from None
    provenance = _json_member(path, arrays, "provenance", required=False) or {}
    data_format = None
    if "data_format" in arrays:
        data_format = str(arrays["data_format"])
        if data_format not in DATA_FORMATS:
            raise ModelFileError(f"{path}: array 'data_format' is {data_format!r}, expected one of "
                                 f"{DATA_FORMATS}")
    layers, names = [], {}
    for n, (d, h) in enumerate(cfg.layer_shapes):
        keys = {role: f"layer{n}_{role}" for role in ("kernel", "recurrent", "bias")}
        w = lstm_weights_from_arrays(path, arrays, keys)
        if (w.input_size, w.hidden_size) != (d, h):
            raise ShapeError(f"{path}: arrays {keys['kernel']!r}/{keys['recurrent']!r} hold a layer "
                             f"{w.input_size} -> {w.hidden_size}, but the config's "
                             f"{cfg.layer_name(n)} is {d} -> {h}")
        layers.append(w)
        layer = cfg.layer_name(n)
        names.update({f"{layer} kernel": keys["kernel"], f"{layer} recurrent kernel": keys["recurrent"],
                      f"{layer} bias": keys["bias"]})
    extra_layers = sorted(k for k in arrays if re.match(rf"^layer(\d+)_", k)
                          and int(re.match(r"^layer(\d+)_", k).group(1)) >= cfg.num_layers)
    if extra_layers:
        raise ModelFileError(f"{path}: array(s) {', '.join(extra_layers)} do not belong to the "
                             f"{cfg.num_layers} LSTM layers of the config")
    dense = {}
    for name, shape in (("dense_kernel", (cfg.hidden_sizes[-1], cfg.features)),
                        ("dense_bias", (cfg.features,))):
        if name not in arrays:
            raise ModelFileError(f"{path}: array {name!r} not found")
        a = check_numeric(path, name, arrays[name])
        if a.shape != shape:
            raise ShapeError(f"{path}: array {name!r}: expected shape {shape}, got {a.shape}")
        dense[name] = a
    names.update({"dense kernel": "dense_kernel", "dense bias": "dense_bias"})
    scaler = None
    if any(k.startswith("scaler_") for k in arrays):
        try:
            scaler = MinMaxScaler.from_arrays(arrays, what=str(path))
        except ValueError as exc:
            raise ModelFileError(f"{path}: scaler arrays: {exc}") from None
        if len(scaler.features) != cfg.features:
            raise ShapeError(f"{path}: array 'scaler_features' lists {len(scaler.features)} "
                             f"features, the model takes {cfg.features}")
    model = Autoencoder(cfg, layers, dense["dense_kernel"], dense["dense_bias"])
    return LoadedModel(model, "project", str(path), fmts, scaler, data_format, provenance, names)


def load_model(path) -> LoadedModel:
    """Read a project model file written by :func:`save_model` (every array validated)."""
    arrays = read_npz(path)
    schema = arrays.get("schema")
    if schema is None or schema.shape != () or str(schema) != SCHEMA:
        found = "no 'schema' array" if schema is None else f"schema {str(schema)!r}"
        raise ModelFileError(f"{path}: {found}, expected {SCHEMA!r}: not a project model file "
                             "(load_any_model also reads Keras and PyTorch weights)")
    return _project_from_arrays(path, arrays)


# --------------------------------------------------------------------------
# Keras and PyTorch
# --------------------------------------------------------------------------

def _keras_from_arrays(path, arrays: dict, encoder_layers, timesteps) -> LoadedModel:
    idx = sorted(int(_KERAS_KEY.match(k).group(1)) for k in arrays)
    missing = sorted(set(range(idx[-1] + 1)) - set(idx))
    if missing:
        raise ModelFileError(f"{path}: Keras get_weights() arrays must be arr_0 .. arr_{idx[-1]} "
                             f"without gaps; arr_{missing[0]} is missing")
    ordered = [check_numeric(path, f"arr_{k}", arrays[f"arr_{k}"]) for k in range(len(idx))]
    try:
        model = Autoencoder.from_weights(ordered, None, encoder_layers, timesteps)
    except ValueError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    names = {n: f"arr_{k}" for k, n in enumerate(model.cfg.weight_names())}
    return LoadedModel(model, "keras", str(path), DEFAULT_FORMATS, None, None,
                       {"imported_from": "keras get_weights() .npz"}, names)


def _torch_layout(path, keys: Sequence[str]):
    """Group state-dict keys: ([(module prefix, layer index, {tensor: key})], linear keys)."""
    groups: Dict[tuple, Dict[str, str]] = {}
    order: List[tuple] = []
    other = []
    for key in keys:
        m = _TORCH_LSTM_KEY.match(key)
        if not m:
            other.append(key)
            continue
        if m.group("reverse"):
            raise ModelFileError(f"{path}: array {key!r} belongs to a bidirectional nn.LSTM; the "
                                 "autoencoder imports unidirectional layers only")
        if m.group("tensor") == "weight_hr":
            raise ModelFileError(f"{path}: array {key!r} is an LSTM projection (proj_size > 0), "
                                 "which the autoencoder does not have")
        gid = (m.group("prefix"), int(m.group("layer")))
        if gid not in groups:
            groups[gid] = {}
            order.append(gid)
        groups[gid][m.group("tensor")] = key
    # layers in key order of their module, l0, l1, ... within one module
    modules: List[str] = []
    for prefix, _ in order:
        if prefix not in modules:
            modules.append(prefix)
    layers = []
    for prefix in modules:
        ks = sorted(k for p, k in order if p == prefix)
        if ks != list(range(len(ks))):
            raise ModelFileError(f"{path}: nn.LSTM module {prefix or '(top level)'!r} has layers "
                                 f"{ks}; expected l0 .. l{len(ks) - 1}")
        layers += [(prefix, k, groups[(prefix, k)]) for k in ks]
    return layers, other


def _torch_from_arrays(path, arrays: dict, encoder_layers, timesteps) -> LoadedModel:
    keys = list(arrays)
    lstm_groups, other = _torch_layout(path, keys)
    if not lstm_groups:
        raise ModelFileError(f"{path}: no nn.LSTM weights ('<prefix>.weight_ih_l0', ...) found")
    weights_keys = [k for k in other if k.endswith(".weight") or k == "weight"]
    if len(weights_keys) != 1:
        listed = ", ".join(weights_keys) or "none"
        raise ModelFileError(f"{path}: expected exactly one nn.Linear output layer "
                             f"('<prefix>.weight' and '<prefix>.bias'), found weight arrays: {listed}")
    wkey = weights_keys[0]
    bkey = wkey[:-len("weight")] + "bias"
    unknown = [k for k in other if k not in (wkey, bkey)]
    if unknown:
        raise ModelFileError(f"{path}: array(s) {', '.join(repr(k) for k in unknown)} are neither "
                             "nn.LSTM weights nor the output nn.Linear; unknown layout")
    layers, names = [], {}
    lstm_keys = []
    for n, (prefix, k, tensors) in enumerate(lstm_groups):
        for need in ("weight_ih", "weight_hh"):
            if need not in tensors:
                raise ModelFileError(f"{path}: nn.LSTM layer {prefix + '.' if prefix else ''}*_l{k} "
                                     f"has no {need}_l{k} array")
        t = {name: check_numeric(path, key, arrays[key]) for name, key in tensors.items()}
        wih, whh = t["weight_ih"], t["weight_hh"]
        if whh.ndim != 2 or whh.shape[0] != 4 * whh.shape[1] or whh.shape[1] == 0:
            raise ShapeError(f"{path}: array {tensors['weight_hh']!r}: expected shape (4H, H), "
                             f"got {whh.shape}")
        h = whh.shape[1]
        if wih.ndim != 2 or wih.shape[0] != 4 * h:
            raise ShapeError(f"{path}: array {tensors['weight_ih']!r}: expected shape (4H, D) = "
                             f"({4 * h}, D) to match {tensors['weight_hh']!r} {whh.shape}, got {wih.shape}")
        for b in ("bias_ih", "bias_hh"):
            if b in t and t[b].shape != (4 * h,):
                raise ShapeError(f"{path}: array {tensors[b]!r}: expected shape ({4 * h},), "
                                 f"got {t[b].shape}")
        w = LSTMWeights.from_pytorch(wih, whh, t.get("bias_ih"), t.get("bias_hh"))
        if layers and w.input_size != layers[-1].hidden_size:
            raise ShapeError(f"{path}: array {tensors['weight_ih']!r} takes {w.input_size} inputs but "
                             f"the layer before it ({lstm_keys[-1]!r}) gives {layers[-1].hidden_size}")
        layers.append(w)
        lstm_keys.append(tensors["weight_hh"])
        names_here = tensors
        lstm_names = (names_here["weight_ih"], names_here["weight_hh"],
                      "+".join(names_here[b] for b in ("bias_ih", "bias_hh") if b in names_here) or "(none)")
        names[n] = lstm_names
    dk = check_numeric(path, wkey, arrays[wkey])
    f = layers[0].input_size
    hl = layers[-1].hidden_size
    if dk.shape != (f, hl):
        raise ShapeError(f"{path}: array {wkey!r} (output nn.Linear weight): expected shape (F, H) = "
                         f"({f}, {hl}) (F from {lstm_groups[0][2]['weight_ih']!r}, H from the last "
                         f"LSTM layer), got {dk.shape}")
    if bkey in arrays:
        db = check_numeric(path, bkey, arrays[bkey])
        if db.shape != (f,):
            raise ShapeError(f"{path}: array {bkey!r} (output nn.Linear bias): expected shape ({f},), "
                             f"got {db.shape}")
    else:
        db = np.zeros(f)
    nl = len(layers)
    ne = nl // 2 if encoder_layers is None else int(encoder_layers)
    if not 1 <= ne < nl:
        raise ShapeError(f"{path}: encoder_layers must be in 1..{nl - 1} for {nl} LSTM layers, "
                         f"got {encoder_layers!r}")
    cfg = AutoencoderConfig(f, tuple(w.hidden_size for w in layers[:ne]),
                            tuple(w.hidden_size for w in layers[ne:]), timesteps)
    model = Autoencoder(cfg, layers, dk.T.copy(), db)
    weight_names = {}
    for n in range(nl):
        layer = cfg.layer_name(n)
        weight_names.update({f"{layer} kernel": names[n][0], f"{layer} recurrent kernel": names[n][1],
                             f"{layer} bias": names[n][2]})
    weight_names.update({"dense kernel": wkey, "dense bias": bkey if bkey in arrays else "(none)"})
    return LoadedModel(model, "pytorch", str(path), DEFAULT_FORMATS, None, None,
                       {"imported_from": "pytorch state dict"}, weight_names)


def _read_torch(path: Path) -> dict:
    """A PyTorch checkpoint as a dict of numpy arrays (needs torch)."""
    try:
        import torch  # noqa: PLC0415 - optional, heavy
    except ImportError:
        raise ModelFileError(f"{path}: is a PyTorch checkpoint; reading it needs torch, which is not "
                             "installed. Install torch, or export the state dict to .npz: "
                             "np.savez(out, **{k: v.cpu().numpy() for k, v in "
                             "model.state_dict().items()})") from None
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds (UnpicklingError, RuntimeError, ...)
        raise ModelFileError(f"{path}: torch.load(weights_only=True) refused the file ({exc})") from None
    for key in ("state_dict", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise ModelFileError(f"{path}: holds a {type(obj).__name__}, expected a state dict (a dict "
                             "of tensors from model.state_dict())")
    out = {}
    for k, v in obj.items():
        if not hasattr(v, "detach"):
            raise ModelFileError(f"{path}: entry {k!r} is a {type(v).__name__}, not a tensor")
        out[str(k)] = v.detach().cpu().numpy()
    return out


def _is_torch_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("data.pkl") for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def detect_kind(path, arrays: dict) -> str:
    """``project``, ``keras`` or ``pytorch`` from an .npz's array names."""
    keys = list(arrays)
    if "schema" in arrays:
        schema = str(arrays["schema"]) if arrays["schema"].shape == () else None
        if schema == SCHEMA:
            return "project"
        if schema == LAYERS_SCHEMA:
            raise ModelFileError(f"{path}: is a layer file ({LAYERS_SCHEMA}, golden.model_io) holding "
                                 "LSTM layers only, not an autoencoder model")
        raise ModelFileError(f"{path}: array 'schema' is {schema!r}, expected {SCHEMA!r}")
    if keys and all(_KERAS_KEY.match(k) for k in keys):
        return "keras"
    if any(_TORCH_LSTM_KEY.match(k) for k in keys):
        return "pytorch"
    shown = ", ".join(keys[:12]) + (", ..." if len(keys) > 12 else "")
    raise ModelFileError(
        f"{path}: unknown model layout (arrays: {shown or 'none'}); expected a project model "
        f"(schema {SCHEMA!r}), a Keras get_weights() .npz (arr_0, arr_1, ...) or a PyTorch state "
        "dict (<prefix>.weight_ih_l0, ..., <prefix>.weight, <prefix>.bias)")


def load_any_model(path, features: Optional[Sequence[str]] = None,
                   encoder_layers: Optional[int] = None,
                   timesteps: int = REFERENCE_TIMESTEPS) -> LoadedModel:
    """Read a project, Keras or PyTorch model, detecting which (see the module docstring).

    Parameters
    ----------
    path : str or Path
    features : sequence of str, optional
        The data's feature columns: when given, the model must take that many
        (and, with a scaler, exactly those) or :class:`ShapeError` names the file.
    encoder_layers : int, optional
        Encoder/decoder split of Keras and PyTorch weights (default: half the layers).
    timesteps : int
        T for Keras and PyTorch weights (project files store it).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    if path.suffix.lower() in _TORCH_SUFFIXES or _is_torch_zip(path):
        loaded = _torch_from_arrays(path, _read_torch(path), encoder_layers, timesteps)
    else:
        arrays = read_npz(path)
        kind = detect_kind(path, arrays)
        if kind == "project":
            loaded = _project_from_arrays(path, arrays)
        elif kind == "keras":
            loaded = _keras_from_arrays(path, arrays, encoder_layers, timesteps)
        else:
            loaded = _torch_from_arrays(path, arrays, encoder_layers, timesteps)
    if features is not None:
        loaded.check_features(features)
    return loaded


# --------------------------------------------------------------------------
# Export (for users moving weights between tools, and for the tests)
# --------------------------------------------------------------------------

def save_keras_npz(path, model: Autoencoder) -> Path:
    """Write ``np.savez(path, *model.get_weights())`` (arr_0 .. arr_{3L+1})."""
    path = Path(path)
    with open(path, "wb") as fh:
        np.savez(fh, *model.get_weights())
    return path


def pytorch_state_dict(model: Autoencoder, encoder_prefix: str = "encoder",
                       decoder_prefix: str = "decoder", output_prefix: str = "output") -> dict:
    """The model as a PyTorch-style state dict of numpy arrays.

    One single-layer ``nn.LSTM`` module per layer, named ``<encoder_prefix><k>`` and
    ``<decoder_prefix><k>`` (k from 1), then ``<output_prefix>.weight`` (F, H) and
    ``.bias``.  The whole bias goes to ``bias_ih``; ``bias_hh`` is zero.
    """
    out = {}
    ne = len(model.cfg.encoder_sizes)
    for n, w in enumerate(model.layers):
        prefix = f"{encoder_prefix}{n + 1}" if n < ne else f"{decoder_prefix}{n - ne + 1}"
        for name, a in w.to_pytorch().items():
            out[f"{prefix}.{name}_l0"] = a
    out[f"{output_prefix}.weight"] = model.dense_kernel.T.copy()
    out[f"{output_prefix}.bias"] = model.dense_bias.copy()
    return out


def save_pytorch_npz(path, model: Autoencoder, **prefixes) -> Path:
    """Write :func:`pytorch_state_dict` as an .npz (keys are the state-dict names)."""
    path = Path(path)
    with open(path, "wb") as fh:
        np.savez(fh, **pytorch_state_dict(model, **prefixes))
    return path
