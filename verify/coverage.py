"""Line and toggle coverage of the whole-window design under the fixed regression subset.

Command line::

    python -m verify.coverage [--out build/verify]

The converted design is built with Verilator's ``--coverage-line --coverage-toggle``
under the co-simulation's own C++ harness (:mod:`cosim.verilator`, unchanged but for
writing ``coverage.dat`` at the end of a run), and every run of
:func:`verify.regression.whole_window_subset` is simulated; the unmutated traces are
held to golden as they go (:func:`verify.regression.baseline`).  The runs' data are
merged with ``verilator_coverage --write`` and annotated with ``--annotate``.

MyHDL converts the design into one flat Verilog module, so "per module" means per
MyHDL block here: every ``always`` block of the converted file is labelled
``<instance path>_<generator>`` (e.g. ``rows_cell_to_c_seq_saturate``), and the
generator's name is a function of one file of ``hdl/``; a signal's toggle points are
given to the instance whose prefix its name carries (the engine's own when none).
Outputs, under ``build/verify/``:

* ``coverage.json``: totals, per block file and per instance (lines and toggle bits
  covered / total), every uncovered line with its RTL line, label and MyHDL source line
  (the generator's ``def``), every signal with an untoggled bit;
* ``coverage.md``: the same as tables;
* ``coverage/annotated/``: ``verilator_coverage``'s annotated source.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from .regression import run_executable, whole_window_subset
from .units import REPO, verify_root

#: A ROM's case item (``12: name <= 3456;``): table contents, counted apart from logic lines.
TABLE_ENTRY = re.compile(r"^\d+: \w+ <= -?\d+;$")


def coverage_executable(design) -> Path:
    """The cosim harness around ``design``, built with line and toggle coverage (cached)."""
    from cosim.compile import cached_build
    from cosim.tools import require, run_tool, tool_version
    from cosim.verilator import harness_cpp

    require("verilator")
    harness = harness_cpp(design)
    for anchor, add in (('#include "verilated.h"\n', '#include "verilated_cov.h"\n'),
                        ("    top->final();\n", '    ctx->coveragep()->write("coverage.dat");\n')):
        if harness.count(anchor) != 1:
            raise RuntimeError(f"coverage: the cosim harness changed shape (no single {anchor.strip()!r})")
        harness = harness.replace(anchor, anchor + add if anchor.startswith("#") else add + anchor)

    def compile_in(folder: Path):
        run_tool(["verilator", "--cc", "--exe", "--build", "-j", "2", "-fno-table",
                  "--coverage-line", "--coverage-toggle",
                  "--default-language", "1364-2005", "--top-module", design.module,
                  "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "0", "--x-initial", "0",
                  "-CFLAGS", "-O1", "-Mdir", "obj", "-o", "sim", "dut.v", "harness.cpp"],
                 cwd=folder, timeout=1800, what=f"verilator --coverage ({design.label})")

    folder = cached_build("verify-coverage", design, {"harness.cpp": harness}, compile_in,
                          tool_version("verilator"))
    return folder / "obj" / "sim"


# ------------------------------------------------------------ coverage data
def read_points(path: Path) -> list:
    """Coverage points of a ``coverage.dat``: dicts of its keys plus ``count``."""
    points = []
    for line in Path(path).read_text(errors="replace").splitlines():
        m = re.match(r"C '(.*)' (\d+)$", line)
        if not m:
            continue
        fields = dict(kv.split("\x02", 1) for kv in m.group(1).split("\x01") if "\x02" in kv)
        fields["count"] = int(m.group(2))
        points.append(fields)
    return points


def generator_sources() -> dict:
    """generator name -> [(hdl file, def line)] for every nested function of ``hdl/``."""
    out = defaultdict(list)
    for f in sorted((REPO / "hdl").glob("*.py")):
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for inner in node.body:
                    for sub in ast.walk(inner):
                        if isinstance(sub, ast.FunctionDef) and sub.decorator_list:
                            out[sub.name].append((f"hdl/{f.name}", sub.lineno))
    return out


def block_labels(text: str) -> list:
    """(line, label) of every labelled block of the converted file, in order."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(1))
            for m in re.finditer(r"^(?:always|initial)\b[^\n]*begin: (\w+)", text, re.M)]


def split_label(label: str, gens: dict) -> tuple:
    """(instance path, generator, [(file, line)]) of a block label."""
    parts = label.split("_")
    for k in range(len(parts)):
        gen = "_".join(parts[k:])
        if gen in gens:
            return "_".join(parts[:k]) or "(top)", gen, gens[gen]
    return label, "", []


def _file_of(instance: str, sources: dict, default: str) -> str:
    """The hdl file of an instance: the file most of its generators come from."""
    files = sources.get(instance)
    return max(files, key=files.get) if files else default


def summarize(points: list, verilog: Path) -> dict:
    """Per block file and per instance: lines and toggle bits covered, and what was not."""
    text = Path(verilog).read_text()
    src = text.splitlines()
    labels = block_labels(text)
    gens = generator_sources()
    label_lines = [ln for ln, _ in labels]
    inst_files = defaultdict(lambda: defaultdict(int))
    label_info = {}
    for ln, lab in labels:
        inst, gen, where = split_label(lab, gens)
        # a generator name defined in several files: the one whose block the instance is
        f = where[0][0] if where else "hdl/autoencoder_engine.py"
        label_info[lab] = (inst, gen, where)
        inst_files[inst][f] += 1
    top_file = "hdl/autoencoder_engine.py"
    instances = sorted(inst_files, key=len, reverse=True)

    def owner_of_line(line: int):
        import bisect

        i = bisect.bisect_right(label_lines, line) - 1
        return labels[i][1] if i >= 0 else None

    def instance_of_signal(name: str) -> str:
        for inst in instances:
            if inst != "(top)" and (name == inst or name.startswith(inst + "_")):
                return inst
        return "(top)"

    keys = ("line_total", "line_hit", "table_total", "table_hit", "toggle_total", "toggle_hit")
    groups = defaultdict(lambda: dict.fromkeys(keys, 0))
    by_instance = defaultdict(lambda: dict.fromkeys(keys, 0))
    uncovered_lines = []
    untoggled = defaultdict(list)
    for p in points:
        page = p.get("page", "")
        line = int(p.get("l", 0) or 0)
        if page.startswith("v_line"):
            lab = owner_of_line(line)
            inst, gen, where = label_info.get(lab, ("(top)", "", []))
            f = where[0][0] if len(where) == 1 else _file_of(inst, inst_files, top_file)
            hit = p["count"] > 0
            code = src[line - 1].strip() if 0 < line <= len(src) else ""
            kind = "table" if TABLE_ENTRY.match(code) else "line"
            for g in (groups[f], by_instance[inst]):
                g[f"{kind}_total"] += 1
                g[f"{kind}_hit"] += hit
            if not hit and kind == "line":
                myhdl = [f"{w[0]}:{w[1]}" for w in where if w[0] == f] or [f"{w[0]}:{w[1]}" for w in where]
                uncovered_lines.append({"rtl_line": line, "code": code,
                                        "block": lab or "", "instance": inst, "generator": gen,
                                        "myhdl": myhdl, "kind": p.get("o", "")})
        elif page.startswith("v_toggle"):
            sig = p.get("o", "")
            name = re.sub(r"(\[\d+\])+$", "", sig)
            inst = instance_of_signal(name)
            f = _file_of(inst, inst_files, top_file)
            hit = p["count"] > 0
            for g in (groups[f], by_instance[inst]):
                g["toggle_total"] += 1
                g["toggle_hit"] += hit
            if not hit:
                untoggled[name].append(sig[len(name):] or "[0]")
    tot = {k: sum(g[k] for g in groups.values()) for k in keys}

    def pct(h, t):
        return round(100.0 * h / t, 2) if t else None

    def with_percent(v):
        return dict(v, line_percent=pct(v["line_hit"], v["line_total"]),
                    table_percent=pct(v["table_hit"], v["table_total"]),
                    toggle_percent=pct(v["toggle_hit"], v["toggle_total"]))

    def finish(d):
        return {k: with_percent(v) for k, v in sorted(d.items())}

    return {"total": with_percent(tot),
            "per_block_file": finish(groups), "per_instance": finish(by_instance),
            "uncovered_lines": sorted(uncovered_lines, key=lambda u: u["rtl_line"]),
            "untoggled_signals": {k: v for k, v in sorted(untoggled.items())}}


def markdown(summary: dict) -> str:
    t = summary["total"]
    out = [f"# RTL coverage: {summary['module']}", "",
           f"Regression subset: {len(summary['runs'])} runs ({', '.join(summary['runs'])}), "
           f"{summary['cycles']:,} cycles; `{summary['command']}`.", "",
           f"**Total: logic lines {t['line_hit']}/{t['line_total']} ({t['line_percent']} %), "
           f"toggle bits {t['toggle_hit']}/{t['toggle_total']} ({t['toggle_percent']} %); "
           f"ROM case entries {t['table_hit']}/{t['table_total']} ({t['table_percent']} %).**", "",
           "ROM case entries (`k: name <= value;`, the activation tables and the pass tables) "
           "are table contents, not logic: a window reads a few of the 512 samples. Every "
           "activation table entry is read by the exhaustive unit check (`python -m "
           "verify.exhaustive`), every pass-table entry by any run with all passes.", "",
           "## Per MyHDL block (source file)", ""]
    header = ["| {} | logic lines | line % | toggle bits | toggle % | ROM entries |", "|---|---|---|---|---|---|"]

    def rows(d, what):
        lines = [header[0].format(what), header[1]]
        for k, v in d.items():
            rom = f"{v['table_hit']}/{v['table_total']}" if v["table_total"] else ""
            lines.append(f"| `{k}` | {v['line_hit']}/{v['line_total']} | {v['line_percent']} | "
                         f"{v['toggle_hit']}/{v['toggle_total']} | {v['toggle_percent']} | {rom} |")
        return lines

    out += rows(summary["per_block_file"], "block")
    out += ["", "## Per instance", ""] + rows(summary["per_instance"], "instance")
    out += ["", "## Uncovered lines", "", "| RTL line | code | block | MyHDL source |", "|---|---|---|---|"]
    for u in summary["uncovered_lines"]:
        code = u["code"].replace("|", "\\|")[:70]
        out.append(f"| {u['rtl_line']} | `{code}` | `{u['block']}` | {', '.join(u['myhdl'])} |")
    out += ["", "## Signals with untoggled bits", ""]
    for name, bits in summary["untoggled_signals"].items():
        shown = ", ".join(bits[:12]) + (" ..." if len(bits) > 12 else "")
        out.append(f"- `{name}`: {len(bits)} bit(s) ({shown})")
    return "\n".join(out) + "\n"


def run_coverage(out: Path | None = None, progress=None) -> dict:
    from cosim.tools import require, run_tool

    require("verilator")
    subset = whole_window_subset()
    design = subset.design
    exe = coverage_executable(design)
    out = Path(out) if out else verify_root()
    work = out / "coverage"
    if work.is_dir():
        shutil.rmtree(work)
    (work / "runs").mkdir(parents=True)
    start = time.monotonic()
    dats, cycles = [], 0
    for k, run in enumerate(subset.runs):
        folder = work / "runs" / f"run{k}"
        folder.mkdir()


        trace = run_executable(exe, run.stimulus, cwd=folder)
        if trace is None:
            raise RuntimeError(f"coverage: run {run.name!r} failed")
        run.check(trace)
        cycles += trace.end_cycle
        dats.append(folder / "coverage.dat")
        if progress:
            progress(f"coverage run {k + 1}/{len(subset.runs)}: {run.name} ({trace.end_cycle:,} cycles)")
    merged = work / "merged.dat"
    run_tool(["verilator_coverage", "--write", str(merged), *map(str, dats)], cwd=work, timeout=600,
             what="verilator_coverage --write")
    subprocess.run(["verilator_coverage", "--annotate", str(work / "annotated"), "--annotate-min", "1",
                    str(merged)], cwd=str(Path(design.verilog).parent), capture_output=True, text=True,
                   timeout=600)
    summary = summarize(read_points(merged), design.verilog)
    summary.update(module=design.module, runs=[r.name for r in subset.runs], cycles=cycles,
                   seconds=round(time.monotonic() - start, 1), command="python -m verify.coverage")
    tmp = out / "coverage.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    tmp.replace(out / "coverage.json")
    (out / "coverage.md").write_text(markdown(summary))
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m verify.coverage", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="output folder (default build/verify)")
    args = ap.parse_args(argv)
    s = run_coverage(args.out, lambda m: print(m, file=sys.stderr, flush=True))
    t = s["total"]
    print(f"{s['module']}: logic lines {t['line_percent']} % ({t['line_hit']}/{t['line_total']}), toggle "
          f"bits {t['toggle_percent']} % ({t['toggle_hit']}/{t['toggle_total']}), ROM entries "
          f"{t['table_percent']} % ({t['table_hit']}/{t['table_total']}) -> "
          f"{(args.out or verify_root()) / 'coverage.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
