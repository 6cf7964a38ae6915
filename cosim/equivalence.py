"""Two converted whole-window designs of one configuration: same behaviour, and their sizes.

Command line::

    python -m cosim.equivalence --old DIR --new DIR [--windows 3]
        [--seed 0] [--no-synth] [--abc] [--tolerance 2.0]

``DIR`` is an output folder of ``lstm-chiplet convert-autoencoder`` (the ``.v`` and the
``.manifest.json`` of one design).  Both designs must have the same configuration (the
manifests' parameters and formats); their Verilog may differ in anything else.  The
check, on Verilator with one stimulus (a model's weights through the write port,
then several windows of random in-range inputs with idle gaps between the beats and a
host that stalls the output stream):

1. each design alone: the two traces are identical -- every input beat taken at the
   same edge, every output beat first shown and taken at the same edges with the same
   data and tlast, the same end -- and the reconstruction equals the fixed-point
   golden model (``FixedAutoencoder.forward_int``);
2. both designs in one lock-step harness (a *miter*: the old and the new module side by
   side on the same inputs): every output port (in_tready, out_tdata, out_tvalid,
   out_tlast) equal at every clock edge of the run, including those no handshake
   samples;
3. yosys' generic synthesis of each (memories kept as memory cells): the word-level
   cells after the coarse part and the bit-level cells after techmap, with the
   difference in percent; the check fails beyond ``--tolerance`` percent (with
   ``--abc`` also the abc-mapped count, reported only: see :func:`synth_cells`).

The weights are :func:`golden.autoencoder.realistic_weights` of the designs' topology
(``--seed``), or, through :func:`compare`'s ``fixed``, any quantized model of it.  Exit status 0 when equivalent (and within the tolerance), 1 if not.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .autoencoder import design_shape, reconstruction_from_trace, run_stimulus, window_stimulus
from .compile import design_from_verilog
from .paths import build_root, private_dir, publish_dir
from .tools import ToolFailed, run_tool

#: Percent by which the cell counts of the two designs may differ.
CELL_TOLERANCE = 2.0
#: The outputs of the engine's ports, compared by the miter at every edge.
OUTPUTS = ("in_tready", "out_tdata", "out_tvalid", "out_tlast")


class NotEquivalent(AssertionError):
    """The two designs behave differently (the message says where first)."""


@dataclass
class Side:
    """One converted design: its folder, configuration and Verilog."""

    folder: Path
    cfg: object
    design: object
    manifest: dict


@dataclass
class Report:
    """What :func:`compare` found."""

    module: str
    windows: int
    cycles: int
    beats_in: int
    beats_out: int
    golden_equal: bool
    cells: dict = field(default_factory=dict)     # "old"/"new" -> {"coarse": n, "gates": n, ...}
    #: The cell kinds held to the tolerance.
    CHECKED = ("coarse", "gates")

    def cell_difference(self, kind: str) -> float:
        """Percent change of ``kind`` cells from old to new."""
        old, new = self.cells["old"][kind], self.cells["new"][kind]
        return 100.0 * (new - old) / old

    def text(self) -> str:
        lines = [f"{self.module}: equivalent on {self.windows} windows, {self.cycles:,} cycles "
                 f"({self.beats_in} beats in, {self.beats_out} out): traces identical, miter "
                 f"equal at every edge, reconstruction {'=' if self.golden_equal else '!='} golden"]
        for kind in (self.cells.get("new") or {}):
            old, new = self.cells["old"][kind], self.cells["new"][kind]
            lines.append(f"  yosys {kind:6s} cells: old {old:,}  new {new:,}  "
                         f"({self.cell_difference(kind):+.2f} %)"
                         + ("" if kind in self.CHECKED else "  (reported only)"))
        return "\n".join(lines)


# ---------------------------------------------------------------- designs
def load_side(folder) -> Side:
    """The design converted into ``folder`` (its one autoencoder manifest and Verilog)."""
    from golden.autoencoder import AutoencoderConfig
    from golden.formats import LSTMFormats
    from hdl.autoencoder_config import AutoencoderEngineConfig

    folder = Path(folder).resolve()
    manifests = [p for p in sorted(folder.glob("*.manifest.json"))
                 if json.loads(p.read_text()).get("kind") == "autoencoder"]
    if len(manifests) != 1:
        raise ValueError(f"{folder}: expected one whole-window design (a *.manifest.json of kind "
                         f"autoencoder), found {len(manifests)}")
    m = json.loads(manifests[0].read_text())
    par = m["parameters"]
    model = AutoencoderConfig(int(par["features"]), tuple(par["encoder_sizes"]),
                              tuple(par["decoder_sizes"]), int(par["timesteps"]))
    cfg = AutoencoderEngineConfig(model, int(par["lanes"]), LSTMFormats.from_dict(m["formats"]))
    verilog = folder / f"{m['module']}.v"
    if cfg.module_name != m["module"]:
        raise ValueError(f"{folder}: the manifest's module {m['module']} does not carry its "
                         f"parameters ({cfg.module_name})")
    if not verilog.is_file():
        raise ValueError(f"{folder}: no {verilog.name} beside the manifest")
    design = design_from_verilog(verilog, m["module"], design_shape(cfg), None, f"{folder.name}", m, cfg)
    return Side(folder, cfg, design, m)


def miter_verilog(old_text: str, new_text: str, module: str, ports) -> str:
    """One Verilog file: ``module`` drives its outputs from the new design and stops the
    simulation at the first edge where an output of the old design differs."""
    def renamed(text, suffix):
        out, n = re.subn(rf"^module\s+{re.escape(module)}\b", f"module {module}{suffix}", text,
                         count=1, flags=re.M)
        if n != 1:
            raise ValueError(f"miter: no module {module} in the Verilog")
        return out

    names = [p.name for p in ports]
    decl = []
    for p in ports:
        rng = f"[{p.width - 1}:0] " if p.width > 1 else ""
        decl.append(f"{p.direction} {rng}{p.name};")
        if p.direction == "output":
            decl.append(f"wire {rng}old_{p.name};")
    outs = [p.name for p in ports if p.direction == "output"]
    if sorted(outs) != sorted(OUTPUTS):
        raise ValueError(f"miter: expected outputs {OUTPUTS}, the design has {outs}")
    conn_new = ", ".join(f".{n}({n})" for n in names)
    conn_old = ", ".join(f".{n}({'old_' + n if n in outs else n})" for n in names)
    differ = " || ".join(f"(old_{n} !== {n})" for n in outs)
    show = ", ".join(f"old_{n}, {n}" for n in outs)
    fmt = " ".join(f"{n} %h/%h" for n in outs)
    return "\n".join([
        renamed(old_text, "__old"), renamed(new_text, "__new"),
        "// Miter generated by cosim.equivalence: the new design drives the ports; the old",
        "// one runs beside it on the same inputs and must show the same outputs at every edge.",
        f"module {module} ({', '.join(names)});",
        *decl,
        f"{module}__new new_design ({conn_new});",
        f"{module}__old old_design ({conn_old});",
        "integer edge_count = 0;",
        "always @(posedge clk) begin",
        "    edge_count <= edge_count + 1;",
        f"    if ({differ}) begin",
        f'        $display("miter: outputs differ at clock edge %0d: {fmt} (old/new)", edge_count, {show});',
        "        $stop;",
        "    end",
        "end",
        "endmodule", ""])


def miter_design(old: Side, new: Side):
    """The miter of two sides, written under ``build/cosim/miters/`` (by content)."""
    import hashlib

    module = new.design.module
    text = miter_verilog(old.design.text, new.design.text, module, new.design.ports)
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    final = build_root() / "miters" / f"{module}-{digest}"
    if not final.is_dir():
        tmp = private_dir(final.parent, module)
        (tmp / f"{module}.v").write_text(text)
        publish_dir(tmp, final)
    return design_from_verilog(final / f"{module}.v", module, new.design.shape, None, "miter",
                               new.manifest, new.cfg)


# --------------------------------------------------------------- stimulus
def equivalence_stimulus(cfg, fixed, windows: int, seed: int):
    """The weights, then ``windows`` windows of random vec integers, with a slow host.

    Returns ``(stimulus, x)``: idle gaps of 0..5 cycles before the beats, and an
    out_tready pattern that is low for about 40 % of the cycles in runs of up to 12.
    """
    from golden.autoencoder_memory_map import autoencoder_image

    rng = np.random.default_rng(seed)
    vec = cfg.fmts.vec
    x = rng.integers(vec.int_min, vec.int_max + 1, (windows, cfg.timesteps, cfg.features))
    gaps = rng.integers(0, 6, windows * cfg.timesteps).tolist()
    ready = []
    while len(ready) < 97:
        ready += [True] * int(rng.integers(1, 18)) + [False] * int(rng.integers(1, 13))
    stim = window_stimulus(cfg, autoencoder_image(fixed, cfg.lanes), x, ready=ready, gaps=gaps)
    return stim, x


def weights_for(cfg, fixed=None, seed: int = 0):
    """A FixedAutoencoder for ``cfg``: ``fixed`` (checked against the designs), or realistic
    weights of the designs' topology."""
    from golden.autoencoder import realistic_weights

    if fixed is None:
        return realistic_weights(cfg.model, seed=seed).quantize(cfg.fmts)
    if fixed.cfg != cfg.model or fixed.fmts != cfg.fmts:
        raise ValueError(f"the model is {fixed.cfg.describe()}, the designs are {cfg.model.describe()} "
                         "(topology and formats must match)")
    return fixed


# ------------------------------------------------------------------ yosys
def synth_cells(verilog, top: str, workdir, *, abc: bool = False) -> dict:
    """Cell counts of yosys' generic synthesis, memories kept as memory cells.

    ``coarse``: word-level cells after ``synth -run :fine``; ``gates``: bit-level cells
    after ``techmap`` of those (no optimisation: the count is a function of the logic
    alone); with ``abc``, ``abc``: after ``opt; abc -fast; opt``, which is what a flow
    would keep but moves by a few percent with the mere order of the processes in the
    file (the same Verilog with its always blocks reversed: -4 % on a tiny design), so
    it is reported, not held to a tolerance.  Generic synthesis would turn every RAM
    into flip-flops; ``memory_map`` is not run.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    script = [f"read_verilog {Path(verilog).resolve()}",
              f"synth -top {top} -run :fine",
              "tee -q -o coarse.json stat -json",
              "techmap",
              "tee -q -o gates.json stat -json"]
    if abc:
        script += ["opt -fast -full", "abc -fast", "opt -fast", "tee -q -o abc.json stat -json"]
    (workdir / "cells.ys").write_text("\n".join(script) + "\n")
    run_tool(["yosys", "-q", "-l", "cells.log", "-s", "cells.ys"], cwd=workdir, timeout=7200,
             what=f"yosys ({top})")
    out = {}
    for kind in ("coarse", "gates", "abc")[:3 if abc else 2]:
        text = (workdir / f"{kind}.json").read_text()
        data = json.loads(text[text.find("{"):])
        mods = data["modules"]
        mod = mods.get("\\" + top) or mods.get(top) or next(iter(mods.values()))
        out[kind] = int(mod["num_cells"])
    return out


# ------------------------------------------------------------------ check
def first_difference(a, b) -> str:
    """Where two traces part (the first differing record)."""
    for what, x, y in (("input beat", a.accepts, b.accepts), ("output beat", a.outputs, b.outputs),
                       ("reset", a.resets, b.resets), ("violation", a.violations, b.violations)):
        for k, (p, q) in enumerate(zip(x, y)):
            if p != q:
                return f"{what} {k}: old {p}, new {q}"
        if len(x) != len(y):
            return f"{what}s: old has {len(x)}, new {len(y)}"
    return f"end: old {a.end_cycle} {a.status}, new {b.end_cycle} {b.status}"


def compare(old_dir, new_dir, *, windows: int = 3, seed: int = 0, fixed=None,
            synth: bool = True, abc: bool = False) -> Report:
    """Check that the designs in ``old_dir`` and ``new_dir`` behave identically.

    Raises
    ------
    NotEquivalent
        The traces differ, the miter saw different outputs, or the run went wrong.
    ValueError
        The folders do not hold two designs of one configuration.
    """
    old, new = load_side(old_dir), load_side(new_dir)
    if old.cfg != new.cfg:
        raise ValueError(f"the designs differ in configuration: {old.cfg.module_name} vs "
                         f"{new.cfg.module_name}")
    if [(p.name, p.direction, p.width) for p in old.design.ports] != \
            [(p.name, p.direction, p.width) for p in new.design.ports]:
        raise NotEquivalent("the designs' ports differ (names, directions or widths)")
    cfg = new.cfg
    fixed = weights_for(cfg, fixed, seed)
    stim, x = equivalence_stimulus(cfg, fixed, windows, seed)
    traces = {}
    for label, side in (("old", old), ("new", new)):
        trace = run_stimulus(side.design, stim, "verilator")
        if trace.status != "ok" or trace.violations:
            raise NotEquivalent(f"{label} design: run ended {trace.status!r} at cycle {trace.end_cycle}"
                                f"{'; ' + trace.violations[0][1] if trace.violations else ''}")
        traces[label] = trace
    if traces["old"].core() != traces["new"].core():
        raise NotEquivalent(f"{cfg.module_name}: the traces differ at the first "
                            f"{first_difference(traces['old'], traces['new'])}")
    try:
        miter = run_stimulus(miter_design(old, new), stim, "verilator")
    except ToolFailed as exc:
        raise NotEquivalent(f"{cfg.module_name}: the miter stopped: {exc}") from None
    if miter.core() != traces["new"].core():
        raise NotEquivalent(f"{cfg.module_name}: the miter's trace differs from the new design's")
    rec = reconstruction_from_trace(traces["new"], cfg, windows)
    golden_equal = bool(np.array_equal(rec, fixed.forward_int(x)["reconstruction"]))
    report = Report(cfg.module_name, windows, traces["new"].end_cycle, len(traces["new"].accepts),
                    len(traces["new"].outputs), golden_equal)
    if synth:
        work = build_root() / "equivalence" / cfg.module_name
        report.cells = {label: synth_cells(side.design.verilog, cfg.module_name, work / label, abc=abc)
                        for label, side in (("old", old), ("new", new))}
    return report


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m cosim.equivalence",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="folder of the old design (lstm-chiplet convert-autoencoder --out)")
    parser.add_argument("--new", required=True, help="folder of the new design")
    parser.add_argument("--windows", type=int, default=3, help="windows to stream (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the inputs, gaps and stalls")
    parser.add_argument("--no-synth", action="store_true", help="skip the yosys cell counts")
    parser.add_argument("--abc", action="store_true",
                        help="also count the cells after abc (reported, not checked)")
    parser.add_argument("--tolerance", type=float, default=CELL_TOLERANCE,
                        help=f"percent the cell counts may differ (default {CELL_TOLERANCE:g})")
    args = parser.parse_args(argv)
    try:
        report = compare(args.old, args.new, windows=args.windows, seed=args.seed,
                         synth=not args.no_synth, abc=args.abc)
    except (NotEquivalent, ValueError, OSError, ToolFailed) as exc:
        print(f"cosim.equivalence: {exc}", file=sys.stderr)
        return 1
    print(report.text())
    if not report.golden_equal:
        print("cosim.equivalence: both designs differ from the golden model", file=sys.stderr)
        return 1
    if report.cells:
        worst = max(abs(report.cell_difference(k)) for k in Report.CHECKED)
        if worst > args.tolerance:
            print(f"cosim.equivalence: cell counts differ by {worst:.2f} %, more than "
                  f"{args.tolerance:g} %", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
