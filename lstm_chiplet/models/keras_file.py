"""Keras model files as they are saved: Keras 3 ``.keras`` and the legacy ``.h5``.

Nothing in the file is executed and TensorFlow is never needed: a ``.keras`` file is a
zip holding ``config.json`` (the model's layer list) and ``model.weights.h5``; a legacy
``.h5`` (Keras 2, or Keras 3's ``model.save("m.h5")``) holds the same layer list as JSON
in its ``model_config`` attribute and the weights under ``model_weights/<layer>`` in the
order of each group's ``weight_names`` attribute.  Both are read with :mod:`zipfile`,
:mod:`json` and h5py only.

The topology comes from the config, never from defaults: ``Input(T, F)``, one or more
``LSTM`` layers (the encoder; every one but the last with ``return_sequences=True``, the
last one's final h is the latent vector), ``RepeatVector(T)``, one or more ``LSTM``
layers with ``return_sequences=True`` (the decoder), then ``Dense(F)`` or
``TimeDistributed(Dense(F))`` with a linear activation.  Sequential and linear
Functional models are read, and models nested in them (an encoder model followed by a
decoder model) are flattened.

Accepted because they do not change what inference computes: ``dropout`` /
``recurrent_dropout`` of an LSTM and ``Dropout`` layers (Keras applies them only in
training; a note records them), initialisers, regularisers, constraints,
``unit_forget_bias``, ``implementation``, ``use_cudnn``, ``seed``, ``trainable``;
``use_bias=False`` (a zero bias).

Refused, naming the layer, the option and its value: an ``activation`` other than
``tanh``, a ``recurrent_activation`` other than ``sigmoid``, ``stateful``,
``go_backwards``, ``unroll``, ``return_state``, ``time_major``, a non-float32/float64
dtype policy, ``Masking``, ``GRU``, ``SimpleRNN``, ``Bidirectional``, a Dense activation
other than linear, a LoRA-adapted Dense, any layer or option the reader does not know,
and a topology that is not the autoencoder above.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import numpy as np

from golden.lstm_float import LSTMWeights, ShapeError

from .imported import Refusals, imported_model
from .npz import ModelFileError, check_numeric
from .project import LoadedModel

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
#: Members of a .keras zip above this size are refused unread (a config is kilobytes).
MAX_CONFIG_BYTES = 16 << 20
MAX_WEIGHTS_BYTES = 2 << 30

#: LSTM options whose value is checked (option -> the value the engines run).
LSTM_REQUIRED = {"activation": "tanh", "recurrent_activation": "sigmoid", "stateful": False,
                 "go_backwards": False, "unroll": False, "return_state": False,
                 "time_major": False}
#: Options that only matter in training or only choose a kernel implementation.
TRAINING_ONLY = {"kernel_initializer", "recurrent_initializer", "bias_initializer",
                 "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                 "activity_regularizer", "kernel_constraint", "recurrent_constraint",
                 "bias_constraint", "unit_forget_bias", "implementation", "use_cudnn", "seed",
                 "trainable", "name", "zero_output_for_mask"}
LSTM_READ = {"units", "use_bias", "return_sequences", "dropout", "recurrent_dropout", "dtype"}
DENSE_READ = {"units", "activation", "use_bias", "dtype", "lora_rank", "lora_alpha",
              "quantization_config"}
FLOAT_POLICIES = ("float32", "float64")
NAMED_REFUSALS = {
    "GRU": "a GRU layer; the engines run LSTM layers only",
    "SimpleRNN": "a SimpleRNN layer; the engines run LSTM layers only",
    "Bidirectional": "a Bidirectional wrapper; the engines run forward LSTM layers only",
    "Masking": "a Masking layer; the engines run every step of every window",
    "ConvLSTM1D": "a convolutional LSTM; the engines run dense LSTM layers only",
    "ConvLSTM2D": "a convolutional LSTM; the engines run dense LSTM layers only",
}
PASS_THROUGH = ("Dropout",)            # identity at inference
MODEL_CLASSES = ("Sequential", "Functional", "Model")


@dataclass
class KerasLayer:
    """One layer of the flattened model: class, name, config and its weight arrays."""

    kind: str
    name: str
    config: dict
    arrays: List[np.ndarray] = field(default_factory=list)
    where: List[str] = field(default_factory=list)


# ------------------------------------------------------------------ reading the file
def _h5py(path):
    try:
        import h5py  # noqa: PLC0415 - a dependency, imported where it is used
    except ImportError:
        raise ModelFileError(f"{path}: reading Keras files needs h5py (pip install h5py)") from None
    return h5py


def _json(path, text, what) -> dict:
    try:
        out = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: {what} is not valid JSON ({exc})") from None
    if not isinstance(out, dict):
        raise ModelFileError(f"{path}: {what} is a JSON {type(out).__name__}, expected an object")
    return out


def read_keras_zip(path: Path):
    """(config dict, opened h5py.File of model.weights.h5) of a ``.keras`` file."""
    h5py = _h5py(path)
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelFileError(f"{path}: not a .keras file (not a zip: {exc})") from None
    with z:
        infos = {i.filename: i for i in z.infolist()}
        for member, limit in (("config.json", MAX_CONFIG_BYTES), ("model.weights.h5", MAX_WEIGHTS_BYTES)):
            if member not in infos:
                raise ModelFileError(f"{path}: the .keras zip has no {member} (it holds: "
                                     f"{', '.join(sorted(infos)) or 'nothing'})")
            if infos[member].file_size > limit:
                raise ModelFileError(f"{path}: member {member} is {infos[member].file_size} bytes, "
                                     f"more than the {limit} this reader accepts")
        config = _json(path, z.read("config.json"), "member config.json")
        weights = z.read("model.weights.h5")
    try:
        return config, h5py.File(io.BytesIO(weights), "r")
    except OSError as exc:
        raise ModelFileError(f"{path}: member model.weights.h5 is not an HDF5 file ({exc})") from None


def read_legacy_h5(path: Path):
    """(config dict, opened h5py.File) of a legacy ``.h5`` model."""
    h5py = _h5py(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ModelFileError(f"{path}: not an HDF5 file ({exc})") from None
    raw = f.attrs.get("model_config")
    if raw is None:
        f.close()
        raise ModelFileError(f"{path}: has no 'model_config' attribute: a weights-only file "
                             "(save_weights) carries no topology; save the whole model "
                             "(model.save) as .keras or .h5")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return _json(path, str(raw), "attribute 'model_config'"), f


def _sorted_vars(group) -> list:
    keys = sorted(group.keys(), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
    return [(group[k], f"{group.name}/{k}") for k in keys]


def _keras3_weights(path, group, entry) -> tuple:
    """Arrays and their h5 paths of one Keras 3 layer (``layers/<name>/...`` in model.weights.h5)."""
    kind = entry.get("class_name")
    sub = {"LSTM": "cell/vars", "TimeDistributed": "layer/vars"}.get(kind, "vars")
    if sub not in group:
        return [], []
    found = _sorted_vars(group[sub])
    return [np.asarray(d[()]) for d, _ in found], [p for _, p in found]


def _legacy_weights(path, f, layer_name) -> tuple:
    """Arrays of one top-level layer of a legacy .h5, in its ``weight_names`` order."""
    root = f["model_weights"] if "model_weights" in f else f
    if layer_name not in root:
        return [], []
    g = root[layer_name]
    names = [n.decode("utf-8") if isinstance(n, bytes) else str(n)
             for n in np.atleast_1d(g.attrs.get("weight_names", []))]
    arrays, where = [], []
    for n in names:
        if n not in g:
            raise ModelFileError(f"{path}: layer {layer_name!r} lists weight {n!r} but the file has "
                                 "no such dataset")
        arrays.append(np.asarray(g[n][()]))
        where.append(f"model_weights/{layer_name}/{n}")
    return arrays, where


# ------------------------------------------------------------------ the layer list
def _layer_entries(path, config: dict, what: str) -> list:
    cls = config.get("class_name")
    body = config.get("config", {})
    if cls not in MODEL_CLASSES or not isinstance(body, dict) or "layers" not in body:
        raise ModelFileError(f"{path}: {what} is a {cls!r}, expected a Sequential or Functional "
                             "model with a layer list")
    entries = body["layers"]
    if cls != "Sequential":
        _check_linear_chain(path, entries, what)
    return entries


def _inbound_names(node) -> list:
    """Names of the layers a Functional node reads (Keras 2 lists or Keras 3 keras_history)."""
    out = []
    if isinstance(node, dict):
        if "keras_history" in node.get("config", {}):
            out.append(node["config"]["keras_history"][0])
        else:
            for v in node.values():
                out += _inbound_names(v)
    elif isinstance(node, list):
        if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):
            out.append(node[0])
        else:
            for v in node:
                out += _inbound_names(v)
    return out


def _check_linear_chain(path, entries, what) -> None:
    prev = None
    for e in entries:
        name = e.get("name") or e.get("config", {}).get("name")
        ins = _inbound_names(e.get("inbound_nodes", []))
        if prev is not None and ins != [prev]:
            raise ModelFileError(f"{path}: {what}: layer {name!r} reads {ins or 'nothing'}, not the "
                                 f"layer before it ({prev!r}); only a chain of layers is an autoencoder")
        prev = name


def snake_case(name: str) -> str:
    """Keras 3's group name for a class in model.weights.h5 (``TimeDistributed`` ->
    ``time_distributed``, ``LSTM`` -> ``lstm``)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def flatten_layers(path, config: dict, weights_of, what: str = "the model") -> tuple:
    """The model's layers in order (nested models flattened), and its declared input shape.

    ``weights_of(entry, trail, name)`` returns (arrays, where) of a layer.  ``trail``
    holds ``(name, group)`` of every enclosing model and of the layer itself: its name
    in the config and its group in a Keras 3 model.weights.h5, which is named after
    the class, not the layer (``lstm``, ``lstm_1``, ... counted per class within each
    model).
    """
    layers, input_shape = [], None

    def walk(cfg, trail, what):
        nonlocal input_shape
        used: dict = {}
        for e in _layer_entries(path, cfg, what):
            cls = e.get("class_name")
            body = e.get("config", {}) or {}
            name = body.get("name") or e.get("name") or cls
            snake = snake_case(str(cls))
            group = snake if snake not in used else f"{snake}_{used[snake]}"
            used[snake] = used.get(snake, 0) + 1
            here = trail + [(name, group)]
            if cls in MODEL_CLASSES:
                walk(e, here, f"model {name!r}")
                continue
            if cls == "InputLayer":
                shape = body.get("batch_shape") or body.get("batch_input_shape")
                if input_shape is None and shape is not None:
                    input_shape = list(shape)
                continue
            if input_shape is None:
                shape = body.get("batch_input_shape") or (e.get("build_config") or {}).get("input_shape")
                if shape is not None:
                    input_shape = list(shape)
            arrays, where = weights_of(e, here)
            layers.append(KerasLayer(cls, name, body, arrays, where))

    walk(config, [], what)
    return layers, input_shape


# ------------------------------------------------------------------ checking options
def _activation_name(value):
    if isinstance(value, dict):      # a serialised function: {"class_name": "function", "config": "tanh"}
        inner = value.get("config")
        return inner if isinstance(inner, str) else value.get("class_name")
    return value


def _policy(body) -> Optional[str]:
    d = body.get("dtype")
    if isinstance(d, dict):
        d = (d.get("config") or {}).get("name")
    return d


def _check_options(r: Refusals, layer: KerasLayer, read: set, required: dict) -> None:
    label = f"{layer.kind} layer {layer.name!r}"
    for key, value in layer.config.items():
        if key in TRAINING_ONLY:
            continue
        if key in required:
            got = _activation_name(value) if "activation" in key else value
            if got != required[key] and got is not None:
                r.refuse(f"{label}: {key}={got!r} (the engines run {key}={required[key]!r})")
        elif key not in read:
            r.refuse(f"{label}: option {key}={value!r} is unknown to this reader")
    policy = _policy(layer.config)
    if policy is not None and policy not in FLOAT_POLICIES:
        r.refuse(f"{label}: dtype={policy!r} (computes in reduced precision; the float reference "
                 "is float64)")


def _check_lstm(r: Refusals, layer: KerasLayer) -> None:
    _check_options(r, layer, LSTM_READ, LSTM_REQUIRED)
    for key in ("dropout", "recurrent_dropout"):
        v = layer.config.get(key, 0.0) or 0.0
        if v:
            r.note(f"LSTM layer {layer.name!r}: {key}={v} is applied only in training; "
                   "inference (and this import) ignores it")


def _check_dense(r: Refusals, layer: KerasLayer) -> None:
    _check_options(r, layer, DENSE_READ, {"activation": "linear"})
    if layer.config.get("lora_rank"):
        r.refuse(f"Dense layer {layer.name!r}: lora_rank={layer.config['lora_rank']!r} (a LoRA-"
                 "adapted layer; merge the adapter before saving)")
    if layer.config.get("quantization_config"):
        r.refuse(f"Dense layer {layer.name!r}: quantization_config={layer.config['quantization_config']!r}")


# ------------------------------------------------------------------ the autoencoder
def _lstm_weights(path, layer: KerasLayer) -> LSTMWeights:
    n = len(layer.arrays)
    expect = 3 if layer.config.get("use_bias", True) else 2
    if n != expect:
        raise ShapeError(f"{path}: LSTM layer {layer.name!r} has {n} weight arrays "
                         f"({', '.join(layer.where) or 'none'}); expected {expect} "
                         "(kernel, recurrent kernel" + (", bias)" if expect == 3 else ")"))
    a = [check_numeric(path, w, x) for w, x in zip(layer.where, layer.arrays)]
    units = int(layer.config.get("units", a[1].shape[0]))
    if a[1].shape != (units, 4 * units) or a[0].ndim != 2 or a[0].shape[1] != 4 * units:
        raise ShapeError(f"{path}: LSTM layer {layer.name!r} (units={units}): kernel {a[0].shape} "
                         f"and recurrent kernel {a[1].shape}; expected (D, {4 * units}) and "
                         f"({units}, {4 * units})")
    bias = a[2] if expect == 3 else np.zeros(4 * units)
    if bias.shape != (4 * units,):
        raise ShapeError(f"{path}: array {layer.where[2]!r} (bias of {layer.name!r}): expected shape "
                         f"({4 * units},), got {bias.shape}")
    return LSTMWeights.from_keras(a[0], a[1], bias)


def autoencoder_from_layers(path, layers: List[KerasLayer], input_shape, source: str) -> LoadedModel:
    """Check the flattened layer list against the autoencoder pattern and build the model."""
    r = Refusals(path)
    seq = []
    for layer in layers:
        if layer.kind in PASS_THROUGH:
            r.note(f"{layer.kind} layer {layer.name!r} is applied only in training; inference ignores it")
            continue
        if layer.kind == "TimeDistributed":
            inner = layer.config.get("layer", {})
            if inner.get("class_name") != "Dense":
                r.refuse(f"TimeDistributed layer {layer.name!r} wraps a {inner.get('class_name')!r}; "
                         "only TimeDistributed(Dense) is supported")
                continue
            layer = KerasLayer("Dense", layer.name, inner.get("config", {}), layer.arrays, layer.where)
        if layer.kind in NAMED_REFUSALS:
            r.refuse(f"{layer.kind} layer {layer.name!r}: {NAMED_REFUSALS[layer.kind]}")
        elif layer.kind == "LSTM":
            _check_lstm(r, layer)
        elif layer.kind == "Dense":
            _check_dense(r, layer)
        elif layer.kind != "RepeatVector":
            r.refuse(f"{layer.kind} layer {layer.name!r}: unknown to this reader (an autoencoder is "
                     "LSTM layers, RepeatVector, LSTM layers, Dense)")
        seq.append(layer)
    kinds = [x.kind for x in seq]
    r.read.append("layers: " + ", ".join(f"{x.kind}({x.name})" for x in seq))
    r.check()
    if kinds.count("RepeatVector") != 1:
        raise ModelFileError(f"{path}: {kinds.count('RepeatVector')} RepeatVector layers; an "
                             "autoencoder repeats its latent vector once (layers: "
                             f"{', '.join(kinds)})")
    rep = kinds.index("RepeatVector")
    enc, dec, tail = seq[:rep], seq[rep + 1:-1], seq[-1:]
    if (not enc or not dec or any(x.kind != "LSTM" for x in enc + dec)
            or not tail or tail[0].kind != "Dense"):
        raise ModelFileError(f"{path}: layers {', '.join(kinds)}; the autoencoder pattern is "
                             "LSTM+ RepeatVector LSTM+ Dense (or TimeDistributed(Dense))")
    for k, x in enumerate(enc):
        want = k < len(enc) - 1
        if bool(x.config.get("return_sequences", False)) != want:
            r.refuse(f"LSTM layer {x.name!r}: return_sequences={not want} (encoder layer {k + 1} of "
                     f"{len(enc)}: {'every encoder layer but the last returns sequences' if want else 'the last encoder layer gives the latent vector, its final h'})")
    for x in dec:
        if not x.config.get("return_sequences", False):
            r.refuse(f"LSTM layer {x.name!r}: return_sequences=False (a decoder layer returns its "
                     "whole sequence to the Dense layer)")
    r.check()
    t_repeat = int(seq[rep].config.get("n", 0))
    t_in = input_shape[1] if input_shape and len(input_shape) == 3 else None
    if t_in is not None and int(t_in) != t_repeat:
        raise ModelFileError(f"{path}: RepeatVector {seq[rep].name!r} has n={t_repeat} but the input "
                             f"has {t_in} steps; the decoder must rebuild as many steps as it read")
    lstm = [_lstm_weights(path, x) for x in enc + dec]
    dense = tail[0]
    expect = 2 if dense.config.get("use_bias", True) else 1
    if len(dense.arrays) != expect:
        raise ShapeError(f"{path}: Dense layer {dense.name!r} has {len(dense.arrays)} weight arrays; "
                         f"expected {expect}")
    dk = check_numeric(path, dense.where[0], dense.arrays[0])
    f = lstm[0].input_size
    db = (check_numeric(path, dense.where[1], dense.arrays[1]) if expect == 2 else np.zeros(f))
    if input_shape and len(input_shape) == 3 and input_shape[2] is not None and int(input_shape[2]) != f:
        raise ShapeError(f"{path}: the input has {input_shape[2]} features but the first LSTM's "
                         f"kernel ({enc[0].where[0]}) takes {f}")
    names = {}
    for n, x in enumerate(enc + dec):
        for role, w in zip(("kernel", "recurrent", "bias"), x.where):
            names[(n, role)] = w
    names[("dense", "kernel")] = dense.where[0]
    if expect == 2:
        names[("dense", "bias")] = dense.where[1]
    r.read.append(f"latent vector: final h of LSTM layer {enc[-1].name!r}, repeated {t_repeat} times")
    return imported_model(path, "keras", lstm, dk, db, len(enc), t_repeat, names,
                          {"imported_from": source}, r.notes)


def load_keras_file(path) -> LoadedModel:
    """Read a ``.keras`` (zip) or legacy ``.h5`` Keras model (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    if zipfile.is_zipfile(path):
        config, f = read_keras_zip(path)
        source = "keras .keras file"

        def weights_of(entry, trail):
            where = "/".join(f"layers/{group}" for _, group in trail)
            return _keras3_weights(path, f[where], entry) if where in f else ([], [])
    else:
        config, f = read_legacy_h5(path)
        source = "keras legacy .h5 file"
        consumed = {}

        def weights_of(entry, trail):
            # a nested model's weights are one list under its top-level group, in layer order
            top = trail[0][0]
            if top not in consumed:
                consumed[top] = list(zip(*_legacy_weights(path, f, top))) or []
            kind = entry.get("class_name")
            body = entry.get("config", {}) or {}
            if kind == "TimeDistributed":
                body = (body.get("layer") or {}).get("config", {})
                kind = "Dense"
            count = {"LSTM": 3, "Dense": 2}.get(kind, 0)
            if count and not body.get("use_bias", True):
                count -= 1
            take, consumed[top] = consumed[top][:count], consumed[top][count:]
            return [a for a, _ in take], [w for _, w in take]
    with f:
        layers, input_shape = flatten_layers(path, config, weights_of)
        return autoencoder_from_layers(path, layers, input_shape, source)


def is_keras_file(path: Path) -> bool:
    """A ``.keras`` zip (config.json + model.weights.h5) or an HDF5 file with ``model_config``."""
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                return {"config.json", "model.weights.h5"} <= set(z.namelist())
        except (zipfile.BadZipFile, OSError):
            return False
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == b"\x89HDF\r\n\x1a\n"
    except OSError:
        return False
