"""Reading any model file: the project's, Keras, ONNX or PyTorch.

:func:`load_any_model` detects the format of a file from its suffix and contents:

``.keras`` (a zip of config.json and model.weights.h5), ``.h5`` / ``.hdf5``
    a saved Keras model (:mod:`lstm_chiplet.models.keras_file`);
``.onnx``
    an ONNX graph (:mod:`lstm_chiplet.models.onnx_file`);
``.pt`` / ``.pth`` (or any zip written by ``torch.save``)
    a PyTorch state dict (:mod:`lstm_chiplet.models.pytorch`);

and an ``.npz`` from the names of its arrays:

``project``
    a ``schema`` array naming the project model (:mod:`lstm_chiplet.models.project`);
``keras``
    only ``arr_0`` .. ``arr_{3L+1}`` (:mod:`lstm_chiplet.models.keras`);
``pytorch``
    ``nn.LSTM`` and ``nn.Linear`` state-dict keys, in an ``.npz`` or a ``.pt`` /
    ``.pth`` checkpoint (:mod:`lstm_chiplet.models.pytorch`).

Every problem raises :class:`~lstm_chiplet.models.npz.ModelFileError` or
:class:`~golden.lstm_float.ShapeError` (both ``ValueError``) whose message starts with
the file and names the array.
"""

from __future__ import annotations

import contextlib
import contextvars
from pathlib import Path
from typing import Optional, Sequence

from golden.autoencoder import REFERENCE_TIMESTEPS

from .keras import KERAS_KEY, keras_from_arrays
from .keras_file import KERAS_SUFFIXES, is_keras_file, load_keras_file
from .layer_file import SCHEMA as LAYERS_SCHEMA
from .npz import ModelFileError, read_npz
from .project import SCHEMA, LoadedModel, project_from_arrays
from .pytorch import (TORCH_LSTM_KEY, TORCH_SUFFIXES, is_torch_zip, parse_layer_order, read_torch,
                      torch_from_arrays)

KINDS = ("project", "keras", "onnx", "pytorch")
ONNX_SUFFIXES = (".onnx",)

#: The layer order of a PyTorch state dict the command line gave (``--layers``), used
#: when the caller passes none; see :func:`layer_order`.
_LAYER_ORDER: contextvars.ContextVar = contextvars.ContextVar("layer_order", default=None)


@contextlib.contextmanager
def layer_order(spec: Optional[str]):
    """Within the block, :func:`load_any_model` orders PyTorch LSTM modules by ``spec``
    (``--layers``, see :func:`lstm_chiplet.models.pytorch.parse_layer_order`) unless it is
    given its own.  This is how the command line reaches the loader of every command."""
    token = _LAYER_ORDER.set(parse_layer_order(spec) if spec else None)
    try:
        yield
    finally:
        _LAYER_ORDER.reset(token)


def detect_kind(path, arrays: dict) -> str:
    """``project``, ``keras`` or ``pytorch`` from an .npz's array names."""
    keys = list(arrays)
    if "schema" in arrays:
        schema = str(arrays["schema"]) if arrays["schema"].shape == () else None
        if schema == SCHEMA:
            return "project"
        if schema == LAYERS_SCHEMA:
            raise ModelFileError(f"{path}: is a layer file ({LAYERS_SCHEMA}, "
                                 "lstm_chiplet.models.layer_file) holding LSTM layers only, "
                                 "not an autoencoder model")
        raise ModelFileError(f"{path}: array 'schema' is {schema!r}, expected {SCHEMA!r}")
    if keys and all(KERAS_KEY.match(k) for k in keys):
        return "keras"
    if any(TORCH_LSTM_KEY.match(k) for k in keys):
        return "pytorch"
    shown = ", ".join(keys[:12]) + (", ..." if len(keys) > 12 else "")
    raise ModelFileError(
        f"{path}: unknown model layout (arrays: {shown or 'none'}); expected a project model "
        f"(schema {SCHEMA!r}), a Keras get_weights() .npz (arr_0, arr_1, ...) or a PyTorch state "
        "dict (<prefix>.weight_ih_l0, ..., <prefix>.weight, <prefix>.bias)")


def load_any_model(path, features: Optional[Sequence[str]] = None,
                   encoder_layers: Optional[int] = None,
                   timesteps: int = REFERENCE_TIMESTEPS, layers=None) -> LoadedModel:
    """Read a project, Keras, ONNX or PyTorch model, detecting which (module docstring).

    Parameters
    ----------
    path : str or Path
    features : sequence of str, optional
        The data's feature columns: when given, the model must take that many
        (and, with a scaler, exactly those) or :class:`ShapeError` names the file.
    encoder_layers : int, optional
        Encoder/decoder split of weights-only files: Keras ``get_weights()`` .npz and
        PyTorch state dicts whose module names do not say it (default: half the layers).
        Keras and ONNX model files hold their topology and ignore it.
    timesteps : int
        T of weights-only files (Keras .npz, PyTorch); the other formats hold it.
    layers : str or LayerOrder, optional
        Order and split of a PyTorch state dict's LSTM modules (``--layers``); default:
        what :func:`layer_order` set, else the module names.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if layers is None:
        layers = _LAYER_ORDER.get()
    elif isinstance(layers, str):
        layers = parse_layer_order(layers)
    if suffix in TORCH_SUFFIXES or is_torch_zip(path):
        loaded = torch_from_arrays(path, read_torch(path), encoder_layers, timesteps, layers)
    elif suffix in KERAS_SUFFIXES or (suffix != ".npz" and is_keras_file(path)):
        loaded = load_keras_file(path)
    elif suffix in ONNX_SUFFIXES:
        from .onnx_file import load_onnx_file  # noqa: PLC0415 - needs the optional onnx package
        loaded = load_onnx_file(path)
    else:
        arrays = read_npz(path)
        kind = detect_kind(path, arrays)
        if kind == "project":
            loaded = project_from_arrays(path, arrays)
        elif kind == "keras":
            loaded = keras_from_arrays(path, arrays, encoder_layers, timesteps)
        else:
            loaded = torch_from_arrays(path, arrays, encoder_layers, timesteps, layers)
    if features is not None:
        loaded.check_features(features)
    return loaded
