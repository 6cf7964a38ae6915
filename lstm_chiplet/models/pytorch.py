"""PyTorch autoencoder weights: a ``state_dict`` as ``.npz`` or as a ``.pt`` checkpoint.

A state dict saved as ``.npz`` keeps its own key names: per ``nn.LSTM`` module
``<prefix>.weight_ih_l<k>`` (4H, D), ``<prefix>.weight_hh_l<k>`` (4H, H),
``<prefix>.bias_ih_l<k>`` and ``<prefix>.bias_hh_l<k>`` (4H) (biases optional, summed
on import), the layers taken in key order (``l0``, ``l1``, ... within a module), and
one final ``nn.Linear``: ``<prefix>.weight`` (F, H) and ``<prefix>.bias`` (F).  A
``.pt`` / ``.pth`` file is read with ``torch.load(weights_only=True)`` when torch is
installed (a bare state dict or one under ``state_dict`` / ``model_state_dict``).

The split between encoder and decoder cannot be seen in the weights; it defaults to
half of the LSTM layers (the symmetric autoencoder) and can be given.  The file
carries no scaler: ``LoadedModel.scaler`` is ``None`` and the caller fits one on its
data.  :func:`pytorch_state_dict` and :func:`save_pytorch_npz` write the layout back.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from golden.autoencoder import Autoencoder, AutoencoderConfig
from golden.formats import DEFAULT_FORMATS
from golden.lstm_float import LSTMWeights, ShapeError

from .npz import ModelFileError, check_numeric
from .project import LoadedModel

TORCH_LSTM_KEY = re.compile(
    r"^(?P<prefix>.*?)\.?(?P<tensor>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)"
    r"_l(?P<layer>\d+)(?P<reverse>_reverse)?$")
TORCH_SUFFIXES = (".pt", ".pth")


def _torch_layout(path, keys: Sequence[str]):
    """Group state-dict keys: ([(module prefix, layer index, {tensor: key})], linear keys)."""
    groups: Dict[tuple, Dict[str, str]] = {}
    order: List[tuple] = []
    other = []
    for key in keys:
        m = TORCH_LSTM_KEY.match(key)
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


def torch_from_arrays(path, arrays: dict, encoder_layers, timesteps) -> LoadedModel:
    """The model of a state dict (a dict of numpy arrays under their state-dict keys)."""
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


def read_torch(path: Path) -> dict:
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


def is_torch_zip(path: Path) -> bool:
    """Whether ``path`` is a zip written by ``torch.save`` (whatever its suffix)."""
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("data.pkl") for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


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
