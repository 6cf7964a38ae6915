"""torch.save checkpoints read without torch: never unpickled, the same arrays as torch.load,
and anything beyond tensors, numbers, strings and dicts sends the user to torch."""

import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lstm_chiplet.models.npz import ModelFileError
from lstm_chiplet.models.store import load_any_model
from lstm_chiplet.models.torch_zip import NeedsTorch, read_torch_zip

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "models"
FRAMEWORK_TOLERANCE = 1e-6          # the module ran in float32, the import in float64


@pytest.fixture
def no_torch(monkeypatch):
    """``import torch`` fails, as on a machine without it."""
    monkeypatch.setitem(sys.modules, "torch", None)


@pytest.mark.parametrize("name", ["ae.pt", "ae_stacked.pt"])
def test_fixtures_load_without_torch_and_equal_the_module(no_torch, name):
    m = load_any_model(FIXTURES / name)
    with np.load(FIXTURES / "ae_reference.npz") as z:
        err = np.max(np.abs(m.model.reconstruct_float(z["windows"].astype(np.float64)) - z["torch"]))
    assert err < FRAMEWORK_TOLERANCE


@pytest.mark.parametrize("name", ["ae.pt", "ae_stacked.pt"])
def test_same_arrays_as_torch_load(name):
    torch = pytest.importorskip("torch")
    ours = read_torch_zip(FIXTURES / name)
    theirs = torch.load(FIXTURES / name, weights_only=True)
    assert list(ours) == list(theirs)
    for k, v in theirs.items():
        assert ours[k].dtype == v.numpy().dtype
        np.testing.assert_array_equal(ours[k], v.numpy())


def test_views_parameters_dtypes_and_wrappers(tmp_path):
    torch = pytest.importorskip("torch")
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    obj = {"state_dict": {"t": base.T, "slice": base[1:3, 2:], "p": torch.nn.Parameter(base[0]),
                          "i": torch.arange(5), "h": base.half(), "empty": torch.zeros(0, 3)},
           "epoch": 7, "note": "x", "lr": 0.5, "flags": [True, None]}
    torch.save(obj, tmp_path / "c.pt")
    ours = read_torch_zip(tmp_path / "c.pt")
    assert ours["epoch"] == 7 and ours["note"] == "x" and ours["lr"] == 0.5 and ours["flags"] == [True, None]
    for k, v in obj["state_dict"].items():
        want = v.detach().numpy()
        assert ours["state_dict"][k].dtype == want.dtype and ours["state_dict"][k].shape == want.shape, k
        np.testing.assert_array_equal(ours["state_dict"][k], want)


def test_bfloat16_needs_torch(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.zeros(3, dtype=torch.bfloat16)}, tmp_path / "b.pt")
    with pytest.raises(NeedsTorch, match=r"storage type torch\.BFloat16Storage"):
        read_torch_zip(tmp_path / "b.pt")


def test_a_pickle_that_calls_anything_else_is_never_run(tmp_path, no_torch):
    marker = tmp_path / "ran"
    # os.system("touch <marker>"): GLOBAL, the argument, TUPLE1, REDUCE
    cmd = f"touch {marker}".encode()
    payload = b"\x80\x02cos\nsystem\nX" + len(cmd).to_bytes(4, "little") + cmd + b"\x85R."
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("evil/data.pkl", payload)
    with pytest.raises(NeedsTorch, match=r"calls os\.system"):
        read_torch_zip(path)
    with pytest.raises(ModelFileError, match=r"evil\.pt: is a PyTorch checkpoint that needs torch to "
                                             r"read \(the checkpoint calls os\.system\)"):
        load_any_model(path)
    assert not marker.exists()


def test_a_storage_too_short_for_its_tensor_is_named(tmp_path):
    src = FIXTURES / "ae.pt"
    out = tmp_path / "short.pt"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for n in zin.namelist():
            data = zin.read(n)
            zout.writestr(n, data[:16] if n.endswith("data/0") else data)
    with pytest.raises(ModelFileError, match=r"storage 'ae/data/0' holds 4 values, the pickle says 192"):
        read_torch_zip(out)
