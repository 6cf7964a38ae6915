"""The memory map and the image that packs a layer into it."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from golden.formats import DEFAULT_FORMATS, FormatError
from golden.lstm_fixed import FixedLSTMWeights
from golden.lstm_float import ShapeError
from golden.memory_map import bias_address, layer_image, memory_map, weight_address


def _weights(rng, d, h, fmts=DEFAULT_FORMATS):
    lo, hi = fmts.weight.int_min, fmts.weight.int_max + 1
    return FixedLSTMWeights.from_ints(rng.integers(lo, hi, (d, 4 * h)), rng.integers(lo, hi, (h, 4 * h)),
                                      rng.integers(lo, hi, 4 * h), fmts)


@given(d=st.integers(1, 9), h=st.integers(1, 12), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_image_places_every_weight_by_the_formula(d, h, data, seed):
    p = data.draw(st.sampled_from([k for k in range(1, h + 1) if h % k == 0]))
    w = _weights(np.random.default_rng(seed), d, h)
    image = dict(layer_image(w, p))
    mm = memory_map(d, h, p)
    assert sorted(image) == list(range(mm["words"]))
    mask = (1 << 16) - 1
    hb = h // p
    for g in range(4):
        for j in range(h):
            lane, rb = j % p, j // p
            for k in range(d + h):
                # the address formula of golden.memory_map's docstring, written out independently
                addr = ((g * p + lane) * hb + rb) * (d + h) + k
                want = w.kernel[k, g * h + j] if k < d else w.recurrent[k - d, g * h + j]
                assert image[addr] == int(want) & mask
            assert image[4 * h * (d + h) + g * h + j] == int(w.bias[g * h + j]) & mask


def test_regions_tile_the_address_space():
    mm = memory_map(6, 64, 4)
    spans = sorted((r["base"], r["base"] + r["words"]) for r in mm["regions"])
    assert spans[0][0] == 0 and spans[-1][1] == mm["words"] == 4 * 64 * 70 + 4 * 64
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert mm["bank_depth"] == 16 * 70


def test_address_helpers_agree_with_the_image():
    rng = np.random.default_rng(3)
    w = _weights(rng, 3, 6)
    image = dict(layer_image(w, 3))
    assert image[int(weight_address(2, 5, 4, 3, 6, 3))] == int(w.recurrent[1, 2 * 6 + 5]) & 0xFFFF
    assert image[int(bias_address(3, 1, 3, 6))] == int(w.bias[3 * 6 + 1]) & 0xFFFF


def test_negative_words_are_twos_complement():
    w = FixedLSTMWeights.from_ints(np.full((1, 4), -1), np.full((1, 4), -32768), np.full(4, 5))
    image = dict(layer_image(w, 1))
    assert image[0] == 0xFFFF and image[1] == 0x8000 and image[8] == 5


def test_bad_lanes_and_peepholes_refused():
    w = _weights(np.random.default_rng(0), 2, 4)
    with pytest.raises(FormatError, match="lanes"):
        layer_image(w, 3)
    with pytest.raises(FormatError, match="hidden_size"):
        memory_map(2, 0, 1)
    peep = FixedLSTMWeights(w.kernel, w.recurrent, w.bias, w.fmts, np.zeros((3, 4), np.int64))
    with pytest.raises(ShapeError, match="peephole"):
        layer_image(peep, 2)
