"""The project's model file, and the model every reader returns.

Project model (``.npz``, every member a plain numeric or unicode array, read with
``allow_pickle=False``)::

    schema              "lstm-chiplet-autoencoder/1"
    config              JSON of AutoencoderConfig.to_dict()   (features, encoder_sizes,
                                                               decoder_sizes, timesteps)
    formats             JSON of ModelFormats.to_dict()        (the fixed-point formats of
                                                               every layer and the dense
                                                               layer; files written before
                                                               per-layer formats hold one
                                                               LSTMFormats.to_dict(), which
                                                               applies to every layer)
    provenance          JSON: how the model was made (data, seeds, training figures)
    data_format         "lcd" or "marine" (optional: the loader the scaler was fitted with)
    layer<n>_kernel     (D, 4H)   Keras layout, gate order i, f, g, o; n = 0 .. L-1,
    layer<n>_recurrent  (H, 4H)   encoder layers first, then decoder layers
    layer<n>_bias       (4H,)
    dense_kernel        (H_last, F)
    dense_bias          (F,)
    scaler_min, scaler_max, scaler_features   (optional: the min-max scaler,
                                               lstm_chiplet.workload.noaa.MinMaxScaler.to_arrays)
    scaler_units        (F,) unicode, optional: the unit each scaler feature was fitted in
                        ("degF", "inHg", ...; "" unknown).  Files without it load with
                        every unit unknown.  A scaler feature with zero span
                        (scaler_min == scaler_max) is refused when the file is read.

Weights may be stored as float32 (the shipped default model is, to stay small) or
float64; loading converts to float64 exactly, so the float reference and the
fixed-point quantization both start from the stored values.

:class:`LoadedModel` is what :func:`load_model` returns and what the Keras and
PyTorch readers (:mod:`lstm_chiplet.models.keras`, :mod:`lstm_chiplet.models.pytorch`)
return too; :func:`lstm_chiplet.models.store.load_any_model` picks the reader.

Every problem raises :class:`~lstm_chiplet.models.npz.ModelFileError` or
:class:`~golden.lstm_float.ShapeError` (both ``ValueError``) whose message starts with
the file and names the array.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np

from golden.autoencoder import Autoencoder, AutoencoderConfig, FixedAutoencoder
from golden.formats import DEFAULT_FORMATS, FormatError, ModelFormats
from golden.lstm_float import ShapeError

from lstm_chiplet.workload.noaa import DATA_FORMATS, MinMaxScaler
from .npz import ModelFileError, check_numeric, lstm_weights_from_arrays, read_npz

SCHEMA = "lstm-chiplet-autoencoder/1"
STORAGE_DTYPES = {"float64": np.float64, "float32": np.float32}


@dataclass
class LoadedModel:
    """A model read by :func:`load_model` or :func:`lstm_chiplet.models.store.load_any_model`.

    Attributes
    ----------
    model : Autoencoder
        The float model (float64, exactly the stored values).
    kind : str
        ``project``, ``keras`` or ``pytorch``.
    path : str
    formats : ModelFormats or LSTMFormats
        Formats stored with a project model (per layer), else the project defaults
        (one set for every layer); :attr:`model_formats` gives them per layer.
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
    formats: object = DEFAULT_FORMATS
    scaler: Optional[MinMaxScaler] = None
    data_format: Optional[str] = None
    provenance: dict = field(default_factory=dict)
    names: Dict[str, str] = field(default_factory=dict)

    @property
    def cfg(self) -> AutoencoderConfig:
        return self.model.cfg

    @property
    def model_formats(self) -> ModelFormats:
        """The formats of every layer and the dense layer."""
        return ModelFormats.uniform(self.formats, self.cfg.num_layers)

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

    def fixed(self, fmts=None) -> FixedAutoencoder:
        """The fixed-point model in ``fmts`` (default: the file's formats); a tensor
        outside its weight format raises, naming the file."""
        fmts = fmts or self.formats
        try:
            return FixedAutoencoder.from_float(self.model, fmts)
        except FormatError as exc:
            raise FormatError(f"{self.path}: {exc}") from None

    def describe(self) -> str:
        parts = [f"{self.path}: {self.kind} model, {self.cfg.describe()}"]
        if self.scaler is not None:
            parts.append("scaler on " + ", ".join(
                f + (f" ({u})" if u else "") for f, u in zip(self.scaler.features, self.scaler.units)))
        else:
            parts.append("no scaler (fit one on the data)")
        return "; ".join(parts)



def _json_array(obj) -> np.ndarray:
    return np.array(json.dumps(obj, sort_keys=True))


def model_arrays(model: Autoencoder, scaler: Optional[MinMaxScaler] = None,
                 fmts=DEFAULT_FORMATS, provenance: Optional[dict] = None,
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
           "formats": _json_array(ModelFormats.uniform(fmts, model.cfg.num_layers).to_dict()),
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
               fmts=DEFAULT_FORMATS, provenance: Optional[dict] = None,
               data_format: Optional[str] = None, storage: str = "float64") -> Path:
    """Write a project model file to ``path`` exactly (no suffix added), atomically.

    Parameters
    ----------
    path : str or Path
    model : Autoencoder
    scaler : MinMaxScaler, optional
    fmts : LSTMFormats or ModelFormats
        The fixed-point formats the model is meant for (one set, or per layer).
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


def project_from_arrays(path, arrays: dict) -> LoadedModel:
    cfg_d = _json_member(path, arrays, "config")
    try:
        cfg = AutoencoderConfig.from_dict(cfg_d)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: array 'config' is not a valid autoencoder config ({exc!r})") from None
    try:
        fmts = ModelFormats.from_dict(_json_member(path, arrays, "formats"), cfg.num_layers)
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
    extra_layers = sorted(k for k in arrays if re.match(r"^layer(\d+)_", k)
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
            msg = str(exc)
            raise ModelFileError(msg if msg.startswith(f"{path}: ")
                                 else f"{path}: scaler arrays: {msg}") from None
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
    return project_from_arrays(path, arrays)
