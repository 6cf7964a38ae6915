"""Print how far each committed model fixture's float import is from its framework's own
output, and how far the four formats' window scores are from each other.

Run ``python tools/model_import_errors.py`` (the project installed; onnxruntime optional:
with it the ONNX fixture is also run live).  The figures in docs/models.md come from it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lstm_chiplet.models.store import load_any_model  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "models"
#: fixture -> the reference output it is compared with (ae_reference.npz)
PAIRS = {"ae.keras": "keras", "ae.h5": "keras_h5", "ae_nested.keras": "keras_nested",
         "ae_nested.h5": "keras_nested", "ae_functional.keras": "keras_functional",
         "ae.pt": "torch", "ae_stacked.pt": "torch", "ae.onnx": "onnxruntime"}


def main() -> int:
    with np.load(FIXTURES / "ae_reference.npz") as z:
        ref = {k: z[k] for k in z.files}
    x = ref["windows"].astype(np.float64)
    print(f"reference outputs: {ref['versions']}")
    print(f"{'file':22} {'compared with':18} max |float import - framework|")
    scores = {}
    for name, key in PAIRS.items():
        m = load_any_model(FIXTURES / name)
        y = m.model.reconstruct_float(x)
        scores[name] = m.model.scores_float(x)
        print(f"{name:22} {key:18} {np.max(np.abs(y - ref[key])):.3e}")
    try:
        import onnxruntime  # noqa: PLC0415
    except ImportError:
        print("onnxruntime not installed: no live run")
    else:
        sess = onnxruntime.InferenceSession(str(FIXTURES / "ae.onnx"), providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        xr = rng.uniform(0.0, 1.0, (64, 24, 6)).astype(np.float32)
        live = sess.run(None, {sess.get_inputs()[0].name: xr})[0]
        ours = load_any_model(FIXTURES / "ae.onnx").model.reconstruct_float(xr.astype(np.float64))
        print(f"{'ae.onnx (64 random)':22} {'onnxruntime ' + onnxruntime.__version__:18} "
              f"{np.max(np.abs(ours - live)):.3e}")
    base = scores["ae.keras"]
    spread = max(float(np.max(np.abs(s - base))) for s in scores.values())
    print(f"window scores, every file against ae.keras: max |difference| {spread:.3e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
