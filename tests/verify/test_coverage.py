"""RTL coverage of the whole-window design: the report's bookkeeping, then the real run.

The bookkeeping test feeds :func:`verify.coverage.summarize` a hand-written converted
file and coverage points with known counts; the real run (slow: the coverage build of
the whole-window design takes minutes; ``tox -e coverage``) holds the figures to the
targets: at least 95 % of the logic lines and 90 % of the toggle bits.
"""

import pytest

from verify.coverage import TABLE_ENTRY, split_label, summarize

VERILOG = """module m (clk, y);
input clk;
output [1:0] y;
reg [1:0] y = 0;
always @(posedge clk) begin: rows_cell_to_c_seq_saturate
    if (fits) begin
        y <= 1;
    end
    else begin
        y <= 2;
    end
end
always @(posedge clk) begin: rows_sigmoid_i_seq_table
    case (k)
        0: rows_sigmoid_i_sample <= 131072;
        1: rows_sigmoid_i_sample <= 133120;
    endcase
end
endmodule
"""


def _point(line, count, page="v_line/m", o="block"):
    return {"l": str(line), "page": page, "o": o, "count": count}


def test_summary_counts_lines_toggles_and_tables(tmp_path):
    v = tmp_path / "m.v"
    v.write_text(VERILOG)
    points = [_point(7, 3), _point(10, 0, o="else"), _point(15, 5), _point(16, 0),
              _point(4, 1, page="v_toggle/m", o="rows_cell_to_c_q[0]"),
              _point(4, 0, page="v_toggle/m", o="rows_cell_to_c_q[1]")]
    s = summarize(points, v)
    assert s["total"]["line_total"] == 2 and s["total"]["line_hit"] == 1
    assert s["total"]["table_total"] == 2 and s["total"]["table_hit"] == 1
    assert s["total"]["toggle_total"] == 2 and s["total"]["toggle_hit"] == 1
    (u,) = s["uncovered_lines"]
    assert u["rtl_line"] == 10 and u["block"] == "rows_cell_to_c_seq_saturate"
    assert (u["instance"], u["generator"]) == ("rows_cell_to_c", "seq_saturate")
    assert any(m.startswith("hdl/requantize.py:") for m in u["myhdl"])
    assert s["per_block_file"]["hdl/requantize.py"]["line_percent"] == 50.0
    assert s["untoggled_signals"] == {"rows_cell_to_c_q": ["[1]"]}


def test_labels_and_table_entries():
    inst, gen, where = split_label("gate_f_lane0_seq_multiply", {"seq_multiply": [("hdl/mac_lane.py", 40)]})
    assert (inst, gen) == ("gate_f_lane0", "seq_multiply")
    assert TABLE_ENTRY.match("12: rows_sigmoid_i_sample <= 131072;")
    assert not TABLE_ENTRY.match("y <= 1;")


@pytest.mark.slow
@pytest.mark.cosim
def test_whole_window_coverage_meets_the_targets(tmp_path):
    from cosim.tools import need_tools
    from verify.coverage import run_coverage

    need_tools("verilator", "g++", "make")
    s = run_coverage(tmp_path)
    assert s["total"]["line_percent"] >= 95.0, s["uncovered_lines"][:10]
    assert s["total"]["toggle_percent"] >= 90.0
    assert (tmp_path / "coverage.json").is_file() and (tmp_path / "coverage.md").is_file()
