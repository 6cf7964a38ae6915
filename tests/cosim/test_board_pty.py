"""End to end through a pseudo-terminal: the real driver and ``detect --backend board`` on the
simulated board top (Verilator, the serial pins driven and decoded bit by bit).

The simulated board is the board core (board layer + whole-window engine) at the
shipped model's design with one lane; it must reconstruct every window exactly as the
fixed-point golden model does.  Also: a port that does not exist, and a port where
nobody answers (a bounded timeout, nothing written).
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from hdl.autoencoder_config import AutoencoderEngineConfig
from hdl.board_config import BoardConfig
from lstm_chiplet import cli
from lstm_chiplet.board.driver import BoardDriver, BoardError, BoardTimeout
from lstm_chiplet.detect import load_model

LANES = 1
#: Seconds an answer of the simulated board may take (it runs a few times slower than the chip).
SIM_TIMEOUT = 60.0
WINDOWS = 3


@pytest.fixture(scope="module")
def shipped():
    lm = load_model(None)
    return lm, lm.fixed()


@pytest.fixture(scope="module")
def board(shipped):
    return BoardConfig(AutoencoderEngineConfig.for_model(shipped[1], LANES), 24e6)


@pytest.fixture(scope="module")
def sim(verilator, board):
    from cosim.board import BoardSimulation

    with BoardSimulation(board, wall_seconds=300) as s:
        yield s


@pytest.fixture(scope="module")
def windows(shipped):
    cfg = shipped[1].cfg
    rng = np.random.default_rng(5)
    return rng.uniform(0.0, 1.0, (WINDOWS, cfg.timesteps, cfg.features))


def test_driver_reconstructs_windows_bit_exact(sim, shipped, board, windows):
    from golden.autoencoder_memory_map import autoencoder_image

    fixed = shipped[1]
    with BoardDriver(sim.port, timeout=SIM_TIMEOUT) as drv:
        payload = drv.identify()
        assert BoardDriver.lanes_of(payload) == LANES
        drv.attach(board.engine, payload)
        drv.load_weights(autoencoder_image(fixed, LANES))
        got = drv.reconstruct(fixed.quantize_windows(windows[:2]))
    want = fixed.reconstruct_int(windows[:2])
    assert got.dtype == np.int64 and got.shape == want.shape
    assert np.array_equal(got, want)


def test_driver_refuses_a_board_holding_another_design(sim, shipped):
    other = AutoencoderEngineConfig.for_model(shipped[1], 2)
    with BoardDriver(sim.port, timeout=SIM_TIMEOUT) as drv:
        with pytest.raises(BoardError, match=r"holds another design \(version 1, F=6, T=24, P=1.*needs.*P=2"):
            drv.attach(other)


def test_detect_on_the_board_equals_fixed(sim, tmp_path, windows, capsys):
    src = tmp_path / "windows.npz"
    np.savez(src, sequences=windows)
    out = tmp_path / "run"
    rc = cli.main(["detect", "--quiet", "--backend", "board", "--port", sim.port, "--board-timeout",
                   str(SIM_TIMEOUT), "--windows", str(src), "--out", str(out)])
    stdout, err = capsys.readouterr()
    assert rc == 0, err
    assert "fixed and board: bit for bit equal on every window" in stdout
    rep = json.loads((out / "report.json").read_text())
    assert rep["bit_exact"]["equal"] is True and rep["bit_exact"]["windows"] == WINDOWS
    assert rep["backend"] == "board"
    assert rep["chip"]["engine"]["lanes"] == LANES          # the board's lanes, not --lanes' default


def test_a_port_that_does_not_exist(tmp_path, capsys):
    missing = tmp_path / "ttyUSB9"
    with pytest.raises(BoardError, match=f"board port {missing} does not exist"):
        BoardDriver(str(missing))
    out = tmp_path / "run"
    rc = cli.main(["detect", "--quiet", "--backend", "board", "--port", str(missing), "--days", "3",
                   "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and str(missing) in err and "Traceback" not in err
    assert not out.exists()


def test_a_port_where_nobody_answers_times_out(tmp_path, capsys):
    master, slave = os.openpty()
    try:
        port = os.ttyname(slave)
        t0 = time.monotonic()
        with BoardDriver(port, timeout=0.5) as drv:
            with pytest.raises(BoardTimeout, match=f"board on {port}: no answer within 0.5 s while awaiting "
                                                   "the IDENT frame"):
                drv.identify()
        assert time.monotonic() - t0 < 5.0
        out = tmp_path / "run"
        rc = cli.main(["detect", "--quiet", "--backend", "board", "--port", port, "--board-timeout", "0.5",
                       "--days", "3", "--out", str(out)])
        err = capsys.readouterr().err
        assert rc == 1 and port in err and "no answer" in err
        assert not out.exists() and list(tmp_path.iterdir()) == []
    finally:
        os.close(slave)
        os.close(master)
