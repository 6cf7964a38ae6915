"""Write the model-file fixtures of the importer tests with the real frameworks.

Run ``tox -e fixtures`` (or ``python tools/make_model_fixtures.py [OUT]`` in an
environment with keras, torch, onnx and onnxruntime; ``KERAS_BACKEND`` defaults to
torch).  It writes into ``tests/fixtures/models/`` (or OUT):

``ae.keras``, ``ae.h5``
    a Keras 3 Sequential autoencoder, Input(24, 6) -> LSTM(8) -> LSTM(4) ->
    RepeatVector(24) -> LSTM(4) -> LSTM(8) -> TimeDistributed(Dense(6)), saved by
    ``model.save`` in the native and the legacy format;
``ae_nested.keras``, ``ae_nested.h5``
    the same weights as a Sequential of two nested models (encoder, decoder) whose
    encoder LSTMs carry training-only dropout and whose Dense is not wrapped;
``ae_functional.keras``
    the same autoencoder built with the Functional API;
``ae.pt``
    the same weights in a PyTorch ``nn.Module`` (one ``nn.LSTM`` per layer,
    ``encoder1`` .. ``decoder2``, ``output``: ``nn.Linear``), its ``state_dict()`` saved
    with ``torch.save``;
``ae_stacked.pt``
    the same weights with each side as one ``nn.LSTM(num_layers=2)``;
``ae.onnx``
    that module exported by ``torch.onnx.export`` (TorchScript exporter, dynamic batch);
``ae_reference.npz``
    ``windows`` (8, 24, 6) float32 inputs and every framework's own output on them:
    ``keras`` (Keras ``predict`` of ae.keras), ``keras_h5`` (of ae.h5 reloaded),
    ``keras_nested``, ``keras_functional``,
    ``torch`` (the module) and ``onnxruntime`` (ae.onnx run by onnxruntime), plus the
    versions that made them.

The weights are seeded random values in the ranges of a trained model
(:func:`golden.autoencoder.realistic_weights`, seed 11), rounded to float32 once, so
all files hold exactly the same numbers.  Inputs are seeded too; the frameworks'
float32 arithmetic is what the tests' tolerances allow for.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from golden.autoencoder import AutoencoderConfig, realistic_weights, synthetic_windows  # noqa: E402

CFG = AutoencoderConfig(6, (8, 4), (4, 8), 24)
SEED = 11
WINDOWS = 8


def float32_weights():
    """Keras-ordered arrays (get_weights order), float32."""
    return [a.astype(np.float32) for a in realistic_weights(CFG, seed=SEED).get_weights()]


def keras_models(weights):
    import keras  # noqa: PLC0415 - only the generator needs it
    from keras import layers  # noqa: PLC0415

    t, f = CFG.timesteps, CFG.features
    seq = keras.Sequential([keras.Input((t, f)),
                            layers.LSTM(8, return_sequences=True, name="enc1"),
                            layers.LSTM(4, name="enc2"),
                            layers.RepeatVector(t, name="repeat"),
                            layers.LSTM(4, return_sequences=True, name="dec1"),
                            layers.LSTM(8, return_sequences=True, name="dec2"),
                            layers.TimeDistributed(layers.Dense(f), name="recon")], name="ae")
    seq.set_weights(weights)
    encoder = keras.Sequential([keras.Input((t, f)),
                                layers.LSTM(8, return_sequences=True, dropout=0.2, name="enc1"),
                                layers.LSTM(4, recurrent_dropout=0.1, name="enc2")], name="encoder")
    decoder = keras.Sequential([keras.Input((4,)), layers.RepeatVector(t, name="repeat"),
                                layers.LSTM(4, return_sequences=True, name="dec1"),
                                layers.LSTM(8, return_sequences=True, name="dec2"),
                                layers.Dense(f, name="recon")], name="decoder")
    nested = keras.Sequential([keras.Input((t, f)), encoder, decoder], name="ae_nested")
    nested.set_weights(weights)
    x = keras.Input((t, f), name="windows")
    h = layers.LSTM(8, return_sequences=True, name="enc1")(x)
    h = layers.LSTM(4, name="enc2")(h)
    h = layers.RepeatVector(t, name="repeat")(h)
    h = layers.LSTM(4, return_sequences=True, name="dec1")(h)
    h = layers.LSTM(8, return_sequences=True, name="dec2")(h)
    functional = keras.Model(x, layers.TimeDistributed(layers.Dense(f), name="recon")(h),
                             name="ae_functional")
    functional.set_weights(weights)
    return keras, seq, nested, functional


def torch_modules(weights):
    import torch  # noqa: PLC0415
    from torch import nn  # noqa: PLC0415

    class Autoencoder(nn.Module):
        def __init__(self):
            super().__init__()
            f, (e1, e2), (d1, d2) = CFG.features, CFG.encoder_sizes, CFG.decoder_sizes
            self.encoder1 = nn.LSTM(f, e1, batch_first=True)
            self.encoder2 = nn.LSTM(e1, e2, batch_first=True)
            self.decoder1 = nn.LSTM(e2, d1, batch_first=True)
            self.decoder2 = nn.LSTM(d1, d2, batch_first=True)
            self.output = nn.Linear(d2, f)

        def forward(self, x):
            h, _ = self.encoder2(self.encoder1(x)[0])
            z = h[:, -1, :].unsqueeze(1).repeat(1, CFG.timesteps, 1)
            h, _ = self.decoder2(self.decoder1(z)[0])
            return self.output(h)

    m = Autoencoder().eval()
    sd = {}
    for n, name in enumerate(("encoder1", "encoder2", "decoder1", "decoder2")):
        k, r, b = weights[3 * n:3 * n + 3]
        sd[f"{name}.weight_ih_l0"] = torch.from_numpy(k.T.copy())
        sd[f"{name}.weight_hh_l0"] = torch.from_numpy(r.T.copy())
        sd[f"{name}.bias_ih_l0"] = torch.from_numpy(b.copy())
        sd[f"{name}.bias_hh_l0"] = torch.zeros_like(torch.from_numpy(b))
    sd["output.weight"] = torch.from_numpy(weights[-2].T.copy())
    sd["output.bias"] = torch.from_numpy(weights[-1].copy())
    m.load_state_dict(sd)
    stacked = {}
    for side, names in (("encoder", ("encoder1", "encoder2")), ("decoder", ("decoder1", "decoder2"))):
        for k, name in enumerate(names):
            for t in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                stacked[f"{side}.lstm.{t}_l{k}"] = sd[f"{name}.{t}_l0"]
    stacked["head.weight"] = sd["output.weight"]
    stacked["head.bias"] = sd["output.bias"]
    return torch, m, stacked


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    weights = float32_weights()
    windows = synthetic_windows(WINDOWS, CFG, seed=SEED).astype(np.float32)
    keras, seq, nested, functional = keras_models(weights)
    seq.save(out / "ae.keras")
    seq.save(out / "ae.h5")
    nested.save(out / "ae_nested.keras")
    nested.save(out / "ae_nested.h5")
    functional.save(out / "ae_functional.keras")
    ref = {"windows": windows, "keras": np.asarray(seq.predict(windows, verbose=0)),
           "keras_nested": np.asarray(nested.predict(windows, verbose=0)),
           "keras_functional": np.asarray(functional.predict(windows, verbose=0)),
           "keras_h5": np.asarray(keras.models.load_model(out / "ae.h5", compile=False)
                                  .predict(windows, verbose=0))}
    torch, module, stacked = torch_modules(weights)
    torch.save(module.state_dict(), out / "ae.pt")
    torch.save(stacked, out / "ae_stacked.pt")
    with torch.no_grad():
        ref["torch"] = module(torch.from_numpy(windows)).numpy()
    torch.onnx.export(module, (torch.from_numpy(windows),), str(out / "ae.onnx"), dynamo=False,
                      input_names=["windows"], output_names=["reconstruction"],
                      dynamic_axes={"windows": {0: "batch"}, "reconstruction": {0: "batch"}})
    import onnxruntime  # noqa: PLC0415

    sess = onnxruntime.InferenceSession(str(out / "ae.onnx"), providers=["CPUExecutionProvider"])
    ref["onnxruntime"] = sess.run(None, {"windows": windows})[0]
    ref["versions"] = np.array(f"keras {keras.__version__} ({keras.backend.backend()}), "
                               f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}")
    np.savez(out / "ae_reference.npz", **ref)
    for p in sorted(out.iterdir()):
        print(f"{p.name}: {p.stat().st_size:,} bytes")
    spread = max(float(np.max(np.abs(ref[k] - ref["keras"]))) for k in ("keras_h5", "torch", "onnxruntime"))
    print(f"frameworks agree to {spread:.2e} (max |difference| from Keras)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "tests" / "fixtures" / "models"))
