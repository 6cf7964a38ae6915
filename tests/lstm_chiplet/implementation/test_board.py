"""``synth --board icebreaker``: PLL settings, the generated top and pins, refusals; the full run is slow."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from golden.autoencoder import AutoencoderConfig, realistic_weights
from lstm_chiplet import cli
from lstm_chiplet.board.clocking import board_clock, pll_settings
from lstm_chiplet.board.top import icebreaker_verilog, pcf_text
from lstm_chiplet.implementation.board import BoardRefused, board_build, fit_before_synthesis
from lstm_chiplet.models.project import save_model


def icepll(mhz: float) -> dict:
    out = subprocess.run(["icepll", "-i", "12", "-o", f"{mhz:g}"], capture_output=True, text=True,
                         timeout=30).stdout
    field = {k: int(re.search(k + r":\s+(\d+)", out).group(1)) for k in ("DIVR", "DIVF", "DIVQ", "FILTER_RANGE")}
    field["achieved"] = float(re.search(r"F_PLLOUT:\s+([\d.]+) MHz \(achieved\)", out).group(1))
    return field


@pytest.mark.skipif(shutil.which("icepll") is None, reason="icepll (fpga-icestorm) not installed")
@pytest.mark.parametrize("mhz", [16, 20, 24, 28, 33, 36, 48, 75, 100, 133, 200])
def test_pll_settings_equal_icepll(mhz):
    p, want = pll_settings(mhz * 1e6), icepll(mhz)
    assert (p.divr, p.divf, p.divq, p.filter_range) == (want["DIVR"], want["DIVF"], want["DIVQ"],
                                                        want["FILTER_RANGE"])
    assert p.output_hz / 1e6 == pytest.approx(want["achieved"], abs=6e-4)   # icepll prints 3 decimals


def test_pll_output_obeys_the_ice40_limits():
    for mhz in (16, 24, 36, 50, 100):
        p = pll_settings(mhz * 1e6)
        assert 10e6 <= p.f_pfd <= 133e6 and 533e6 <= p.f_vco <= 1066e6
        assert p.output_hz == 12e6 * (p.divf + 1) / ((p.divr + 1) * 2 ** p.divq)


def test_clock_refusals_name_the_clock_and_the_baud_rate():
    assert board_clock(36e6, 3_000_000)[1].divisor == 12
    with pytest.raises(ValueError, match=r"28 MHz \(the PLL makes 28\.1250 MHz\).*cannot make 3000000 baud"):
        board_clock(28e6, 3_000_000)
    with pytest.raises(ValueError, match="outside its output range"):
        pll_settings(400e6)


def test_top_instantiates_the_pll_with_icepll_settings_and_the_pins_are_the_icebreakers():
    board, pll = board_build(clock_mhz=24)
    text = icebreaker_verilog(board, pll)
    assert "SB_PLL40_PAD" in text and ".PACKAGEPIN(CLK)" in text
    # icepll -i 12 -o 24: DIVR 0, DIVF 63, DIVQ 5, FILTER_RANGE 1 (written out from its output)
    assert ".DIVR(4'd0), .DIVF(7'd63), .DIVQ(3'd5)" in text and ".FILTER_RANGE(3'd1)" in text
    assert f"{board.core_module} core (" in text and ".rst_in(~locked)" in text
    assert pcf_text().splitlines()[1:] == ["set_io -nowarn CLK 35", "set_io -nowarn RX 6", "set_io -nowarn TX 9",
                                           "set_io -nowarn LEDR_N 11", "set_io -nowarn LEDG_N 37"]
    assert board.divisor == 8 and fit_before_synthesis(board) == []


def test_board_build_refuses_a_clock_that_cannot_make_the_baud_rate():
    with pytest.raises(BoardRefused, match="cannot make 3000000 baud"):
        board_build(clock_mhz=28)


def test_synth_board_refuses_a_model_that_cannot_fit_before_any_tool_runs(tmp_path, capsys):
    big = realistic_weights(AutoencoderConfig(features=6, encoder_sizes=(128, 64), decoder_sizes=(64, 128),
                                              timesteps=24), seed=3)
    model = tmp_path / "big.npz"
    save_model(model, big)
    out = tmp_path / "synth"
    rc = cli.main(["synth", "--board", "icebreaker", "--model", str(model), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "does not fit the iCE40 UP5K: memory: the design holds" in err
    m = re.search(r"hold ([\d,]+) \(([\d,]+) bits too many", err)
    assert m and int(m.group(1).replace(",", "")) == 30 * 4096 + 4 * 16384 * 16
    assert not out.exists() or not any(out.iterdir())


def test_synth_board_refuses_a_clock_on_the_command_line(tmp_path, capsys):
    rc = cli.main(["synth", "--board", "icebreaker", "--clock-mhz", "28", "--out", str(tmp_path / "s")])
    assert rc == 2 and "cannot make 3000000 baud" in capsys.readouterr().err


@pytest.mark.slow
def test_synth_board_builds_a_bitstream_that_meets_the_clock(build_dir):
    out = build_dir / "synth_board"
    rc = cli.main(["synth", "--board", "icebreaker", "--out", str(out)])
    board, _ = board_build()
    report = json.loads((out / board.top_module / "report.json").read_text())
    assert rc == 0 and report["fits"] and report["timing_met"]
    assert (out / board.top_module / report["bitstream"]).stat().st_size > 100_000
    assert report["place_and_route"]["utilisation"]["ICESTORM_PLL"]["used"] == 1
    assert report["board_layer"]["resources"]["ebr"] == 0


def test_link_figures_per_window_of_the_reference_design():
    from lstm_chiplet.board.figures import report_text

    board, _ = board_build()
    c = board.link()
    # 24 steps x (1 header + 6 features x 16 bits / 8) bytes each way, 10 bits a byte at 3 Mbaud
    assert c["bytes_in_per_window"] == 312 and c["bytes_out_per_window"] == 312
    assert c["line_seconds_in"] == pytest.approx(312 * 10 / 3e6)
    assert c["line_cycles_out"] == 312 * 10 * 8
    text = report_text(board, c, None)
    assert "line time in  1.040 ms = 24,960 cycles" in text
