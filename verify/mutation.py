"""A mutation campaign with yosys ``mutate``, the way mcy runs one, on Verilator.

Command line::

    python -m verify.mutation [--design engine|whole-window|both] [--count N] [--seed S]
        [--jobs J] [--no-equivalence]

1. **Mutants.** yosys reads the converted design (``proc``; ``wreduce`` and
   ``opt_clean`` remove the bits nothing reads) and picks ``N`` mutations
   with ``mutate -list N -seed S`` (spread evenly over the design's sources: yosys
   balances the choice over source lines and cells, as mcy uses it); all ``N`` are then
   built into one netlist, each behind its own value of a control input
   (``mutate -ctrl mutsel W i``; 0 is the design as converted), written with
   ``write_verilog``.  A wrapper with the design's own name and ports reads
   ``+mutsel=<i>`` at start-up, so one Verilator build of the co-simulation's own
   harness (:mod:`cosim.verilator`) runs every mutant.
2. **Reference.** Mutant 0 runs the fixed subset (:mod:`verify.regression`) and every
   trace is held to golden: the rewritten netlist is the converted design.
3. **Kill.** Each mutant runs the subset's stimuli in order (parallel over ``--jobs``
   processes, default the machine's cores); it is *killed* at the first trace that
   differs from mutant 0's -- output values, tlast, cycles of any handshake, the AXI
   stream rule, or a hang -- and *survives* otherwise.
4. **Equivalence.** For each survivor, the mutated cell's *unit* is cut out of the
   design (:func:`unit_cone`: the cell and what it reaches through combinational
   logic and at most S registers, S = 0, 1, 2 in turn; ``submod``), and a miter of
   the unit and its mutated copy is proven with ``sat`` (:func:`unit_equivalent`):
   its outputs are equal in every cycle for every input sequence.  Everything the
   mutation can reach leaves the unit through those outputs, so a mutant proven so is
   *equivalent* (no test can kill it) and leaves the score; the rest stay survivors.
   (Equivalence checks of the whole design, ``equiv_make`` .. ``equiv_induct``, did
   not finish within minutes per mutant.)

Kill rate = killed / (killed + survived).  Results are cached per design text, mutant
list and subset (``build/verify/mutation/<module>-<key>/``); ``results.json`` lists
every mutant with its mutation, its RTL source lines and its class, ``report.md`` the
survivors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .regression import baseline, engine_subset, run_executable, whole_window_subset
from .units import verify_root

#: Mutants per design by default (the whole-window design, the single-layer engine).
DEFAULT_COUNTS = {"whole-window": 200, "engine": 100}


def _yosys(script: str, folder: Path, timeout: float, name: str) -> subprocess.CompletedProcess:
    (folder / f"{name}.ys").write_text(script)
    return subprocess.run(["nice", "-n", "5", "yosys", "-q", "-l", f"{name}.log", "-s", f"{name}.ys"],
                          cwd=folder, capture_output=True, text=True, timeout=timeout)


def _load(module: str) -> str:
    """Read the design; ``wreduce`` and ``opt_clean`` drop the bits nothing reads, so that
    no mutation lands on a bit that cannot matter (a trivially equivalent mutant)."""
    return f"read_verilog dut.v\nhierarchy -top {module}\nproc\nopt_clean\nwreduce\nopt_clean\n"


def mutant_list(folder: Path, module: str, count: int, seed: int) -> list:
    """``count`` of the ``mutate`` commands yosys chooses, evenly spaced in its list.

    Mutations of memory initialisers (``$meminit`` cells: the power-on contents, which
    the write port overwrites before use) are left out: yosys cannot write them back
    as Verilog with a non-constant address.  They are recognised by cell type (yosys
    lists them in ``meminit_cells.txt``), not by name: the ones yosys' own memory
    passes emit are named after the pass.  yosys lists half as many again, and
    ``count`` are taken at even steps from what remains.
    """
    out = folder / "mutations.txt"
    inits = folder / "meminit_cells.txt"
    if not out.is_file() or not inits.is_file():
        proc = _yosys(_load(module) + f"mutate -list {count + count // 2} -seed {seed} -o mutations.txt\n"
                      "tee -q -o meminit_cells.txt select -list t:$meminit t:$meminit_v2\n",
                      folder, 600, "list")
        if proc.returncode != 0 or not out.is_file() or not inits.is_file():
            raise RuntimeError(f"yosys mutate -list failed:\n{proc.stderr[-3000:]}")
    init_cells = {line.strip().split("/", 1)[-1] for line in inits.read_text().splitlines() if line.strip()}
    listed = [line.strip() for line in out.read_text().splitlines() if line.strip().startswith("mutate ")]
    usable = [c for c in listed if describe(c)["cell"] not in init_cells]
    if len(usable) < count:
        raise RuntimeError(f"yosys listed {len(usable)} usable mutations, {count} wanted")
    return [usable[(k * len(usable)) // count] for k in range(count)]


def _args(command: str) -> str:
    return command[len("mutate "):]


def describe(command: str) -> dict:
    """Mode, cell, port and bit of a mutation, and the RTL lines (``dut.v:<line>``) it names."""
    toks = command.split()
    opts = {}
    for k, tok in enumerate(toks):
        if tok.startswith("-") and k + 1 < len(toks) and tok != "-src":
            opts[tok[1:]] = toks[k + 1]
    lines = sorted({int(m) for m in re.findall(r"dut\.v:(\d+)\.", command)})
    return {"mode": opts.get("mode"), "cell": opts.get("cell"), "port": opts.get("port"),
            "bit": opts.get("portbit"), "wire": opts.get("wire"), "ctrlbit": opts.get("ctrlbit"),
            "rtl_lines": lines}


def mutated_verilog(folder: Path, design, commands: list) -> Path:
    """One Verilog file: every mutant behind ``mutsel`` and the wrapper that reads ``+mutsel``."""
    path = folder / "mutants.v"
    if path.is_file():
        return path
    width = max(1, len(commands).bit_length())
    core = f"{design.module}_mutants"
    script = _load(design.module)
    script += "".join(f"mutate -ctrl mutsel {width} {i} {_args(c)}\n" for i, c in enumerate(commands, 1))
    script += f"rename {design.module} {core}\nwrite_verilog -noattr core.v\n"
    proc = _yosys(script, folder, 1800, "build")
    if proc.returncode != 0:
        raise RuntimeError(f"yosys could not build the mutants:\n{proc.stderr[-3000:]}")
    ports = design.ports
    lines = [f"// {len(commands)} yosys mutants of {design.module} behind mutsel (+mutsel=<i>, 0: none)",
             f"module {design.module} ({', '.join(p.name for p in ports)});"]
    for p in ports:
        lines.append(f"{p.direction} {p.decl_range}{p.name};")
    lines += [f"reg [{width - 1}:0] mutsel = 0;",
              "initial begin",
              '    if (!$value$plusargs("mutsel=%d", mutsel)) mutsel = 0;',
              "end",
              f"{core} core ({', '.join(f'.{p.name}({p.name})' for p in ports)}, .mutsel(mutsel));",
              "endmodule"]
    tmp = path.with_suffix(".v.tmp")
    tmp.write_text((folder / "core.v").read_text() + "\n" + "\n".join(lines) + "\n")
    tmp.replace(path)
    return path


def _differs(trace, ref) -> str | None:
    """How a mutant's trace differs from the reference's (None: identical)."""
    if trace is None:
        return "crashed or hung"
    if trace.core() == ref.core():
        return None
    if trace.status != ref.status:
        return f"run status {trace.status}"
    if [(o.data, o.last) for o in trace.outputs] != [(o.data, o.last) for o in ref.outputs]:
        return "output values"
    if trace.violations != ref.violations:
        return "AXI4-Stream rule"
    return "cycles"


#: The units a survivor's equivalence is tried on, smallest first (see :func:`unit_cone`):
#: (registers forward, registers backward; None: no backward context).
UNIT_SHAPES = ((0, None), (0, 0), (1, 0), (2, 0), (0, 5), (0, 3), (4, 0))
#: Seconds of yosys per unit proof; DEEP_TIMEOUT for a unit through several registers
#: (an activation unit's tables and multiplier: 390 s for one on the loaded machine).
UNIT_TIMEOUT = 30
DEEP_TIMEOUT = 900
_REGISTER_TYPES = ("$dff", "$adff", "$sdff", "$dffe", "$adffe", "$sdffe", "$sdffce", "$aldff", "$aldffe")


_NETLIST_LOCK = threading.Lock()


def _netlist(folder: Path, module: str) -> dict:
    """The design as loaded for mutation (:func:`_load`), as yosys' JSON netlist (written
    once per campaign folder; the survivors' checks share it)."""
    path = folder / "design.json"
    with _NETLIST_LOCK:
        if not path.is_file():
            proc = _yosys(_load(module) + "write_json design.json.tmp\n", folder, 600, "json")
            if proc.returncode != 0:
                raise RuntimeError(f"yosys write_json failed:\n{proc.stderr[-3000:]}")
            (folder / "design.json.tmp").replace(path)
        return json.loads(path.read_text())["modules"][module]


def _written_memories(netlist: dict) -> set:
    """MEMIDs of the memories with a write port (the rest are ROMs: a ``case`` table)."""
    return {c["parameters"].get("MEMID") for c in netlist["cells"].values() if c["type"].startswith("$memwr")}


def _unit_selection(netlist: dict, cells: list) -> list:
    """The unit's cells as ``memory_collect`` names them: a ROM's read port becomes its
    memory (one ``$mem_v2`` cell named after the memory)."""
    out = []
    for c in cells:
        cell = netlist["cells"][c]
        out.append(cell["parameters"]["MEMID"] if cell["type"].startswith("$memrd") else c)
    return sorted(set(out))


def unit_cone(netlist: dict, cell: str, stages: int, back: int | None = None):
    """The unit a mutation of ``cell`` is checked on: ``cell`` and everything its outputs
    reach through combinational cells, ROMs and at most ``stages`` registers (``cell`` itself
    counts when it is one); with ``back``, also everything that drives those cells
    through combinational cells, ROMs and at most ``back`` registers (the context: a
    shifted operand's zero bits, the range an activation's table keeps).  Returns (cells,
    feed_forward): everything the unit's cells drive outside it is an output of the
    unit (a later register's data input, a memory port, a port of the design), so a
    mutation inside can reach the rest of the design only through those outputs.
    ``feed_forward`` is False when the unit holds a loop (a register whose value comes
    back to it)."""
    cells = netlist["cells"]
    readers, driver = {}, {}
    for name, c in cells.items():
        for port, bits in c["connections"].items():
            for b in bits:
                if not isinstance(b, int):
                    continue
                if c["port_directions"].get(port) == "input":
                    readers.setdefault(b, []).append(name)
                else:
                    driver[b] = name

    def ports(name, direction):
        c = cells[name]
        return [b for port, bits in c["connections"].items()
                if c["port_directions"].get(port) == direction for b in bits if isinstance(b, int)]

    def outputs(name):
        return ports(name, "output")

    def is_register(name):
        return cells[name]["type"] in _REGISTER_TYPES

    def holds(reg):
        """Whether the register's output comes back to it through combinational cells."""
        seen, todo = set(), [reg]
        while todo:
            for b in outputs(todo.pop()):
                for r in readers.get(b, ()):
                    if r == reg:
                        return True
                    if r not in seen and not is_register(r) and not cells[r]["type"].startswith("$mem"):
                        seen.add(r)
                        todo.append(r)
        return False

    written = _written_memories(netlist)

    def is_rom(name):
        c = cells[name]
        return c["type"].startswith("$memrd") and c["parameters"].get("MEMID") not in written

    stage = {cell: int(is_register(cell))}
    todo = [cell]
    while todo:
        name = todo.pop()
        for b in outputs(name):
            for r in readers.get(b, ()):
                t = cells[r]["type"]
                if t.startswith("$mem") and not is_rom(r):
                    continue                        # a memory port: an output of the unit
                st = stage[name] + int(is_register(r))
                if st > stages:
                    continue                        # a later register's input: an output of the unit
                if r not in stage or stage[r] < st:
                    stage[r] = st
                    todo.append(r)
    if back is not None:
        depth = {n: 0 for n in stage}
        todo = list(stage)
        while todo:
            name = todo.pop()
            for b in ports(name, "input"):
                dr = driver.get(b)
                if dr is None or dr in stage:
                    continue                        # a port or the unit itself
                if cells[dr]["type"].startswith("$mem") and not is_rom(dr):
                    continue                        # a memory the design writes: a free input
                dp = depth[name] + int(is_register(dr))
                if dp > back or (is_register(dr) and holds(dr)):
                    continue                        # beyond the context, or a register that holds
                if dr not in depth or depth[dr] > dp:
                    depth[dr] = dp
                    todo.append(dr)
        for n in depth:
            stage.setdefault(n, 0)
    unit = set(stage)
    # a loop inside the unit: some cell reaches itself through cells of the unit
    succ = {n: {r for b in outputs(n) for r in readers.get(b, ()) if r in unit} for n in unit}
    colour = dict.fromkeys(unit, 0)

    def cyclic(n):
        colour[n] = 1
        for r in succ[n]:
            if colour[r] == 1 or (colour[r] == 0 and cyclic(r)):
                return True
        colour[n] = 2
        return False

    loop = any(colour[n] == 0 and cyclic(n) for n in sorted(unit))
    return sorted(unit), not loop


def unit_equivalent(folder: Path, module: str, command: str, index: int, stages: int,
                    timeout: float = UNIT_TIMEOUT, back: int | None = None) -> tuple:
    """(proven, note): the mutation leaves its unit's outputs unchanged, in every cycle.

    The unit is :func:`unit_cone` of the mutated cell (``stages`` forward, ``back``
    backward), cut out of the design with ``splitnets; submod`` (its inputs become free
    inputs; only bits read outside become outputs).  A miter of the unit and its
    mutated copy (``miter -equiv -flatten``) is proven twice with ``sat -verify -prove
    trigger 0``, S = stages + back: ``-seq S+1`` from the power-on state (the ``init``
    values MyHDL converts; a register without one is free), the first S+1 cycles; then,
    with every ``init`` attribute removed, ``-seq S+1 -prove-skip S`` from **any**
    state of both copies (a unit without a loop holds nothing older than S cycles of
    its inputs, so cycle S+1 from any state stands for every later cycle).  Both hold:
    for every input sequence the unit's outputs equal the original's in every cycle,
    and since a mutation inside reaches the rest only through them, the design is
    equivalent.
    """
    d = describe(command)
    netlist = _netlist(folder, module)
    cells, feed_forward = unit_cone(netlist, d["cell"], stages, back)
    if not feed_forward:
        return False, f"unit of {len(cells)} cells holds a loop: not proven"
    args = _args(command).replace(f"-module {module}", "-module gate", 1)
    sel = " ".join(f"{module}/{c}" for c in _unit_selection(netlist, cells))
    skip = stages + (back or 0)
    n = skip + 1
    script = (_load(module) + f"memory_collect\nsplitnets\nsubmod -name gold {sel}\nhierarchy -top gold\ncopy gold gate\n"
              f"mutate {args}\nmemory_map\nopt_clean\n"
              "miter -equiv -flatten -make_outputs gold gate miter\nhierarchy -top miter\n"
              f"sat -verify -prove trigger 0 -seq {n} miter\n"
              f"setattr -unset init miter/w:*\n"
              f"sat -verify -prove trigger 0 -seq {n} -prove-skip {skip} miter\n")
    # outcomes are kept per unit script: a proof or a counterexample stands, a timeout
    # is tried again only with a longer timeout
    memo = folder / "units" / f"{hashlib.sha1(script.encode()).hexdigest()[:16]}.json"
    if memo.is_file():
        kept = json.loads(memo.read_text())
        if kept["final"] or kept["timeout"] >= timeout:
            return kept["proven"], kept["note"]
    memo.parent.mkdir(exist_ok=True)
    name = f"unit{index}-{stages}-{'n' if back is None else back}"
    final = True
    try:
        proc = _yosys(script, folder, timeout, name)
        log = (folder / f"{name}.log").read_text(errors="replace")
        if proc.returncode == 0:
            ctx = "" if back is None else f", context {back} back"
            proven, note = True, f"proven on its unit ({len(cells)} cells, {stages} register stages{ctx}): sat, every cycle"
        else:
            why = "counterexample" if "FAIL" in log or "failed" in log else (proc.stderr or log)[-200:].strip()
            proven, note = False, f"unit of {len(cells)} cells: {why}"
    except subprocess.TimeoutExpired:
        proven, note, final = False, f"unit of {len(cells)} cells: not proven within {timeout:g} s", False
    memo.write_text(json.dumps({"proven": proven, "note": note, "final": final, "timeout": timeout}) + "\n")
    return proven, note


def equivalent(folder: Path, module: str, command: str, index: int, timeout: float = UNIT_TIMEOUT) -> tuple:
    """(proven, note): :func:`unit_equivalent` on the units of :data:`UNIT_SHAPES` in
    turn; the first proof counts, else the last unit's note."""
    netlist = _netlist(folder, module)
    cell = describe(command)["cell"]
    note, tried, looped = "not tried", set(), None
    for stages, back in UNIT_SHAPES:
        if looped is not None and stages >= looped:
            continue                    # a larger forward cone holds the same loop
        cells, feed_forward = unit_cone(netlist, cell, stages, back)
        if not feed_forward and back is None:
            looped = stages
        if tuple(cells) in tried:
            continue                    # the same unit as a smaller shape
        tried.add(tuple(cells))
        # a unit through several registers holds the activation tables: give it longer
        t = max(timeout, DEEP_TIMEOUT) if back or stages > 2 else timeout
        proven, note = unit_equivalent(folder, module, command, index, stages, t, back)
        if proven:
            return True, note
    return False, note


def campaign(which: str, count: int | None = None, seed: int = 1, jobs: int | None = None,
             check_equivalence: bool = True, progress=None, equiv_timeout: float = UNIT_TIMEOUT) -> dict:
    """Run (or read from the cache) the campaign on one design; returns the results."""
    from cosim.tools import require
    from cosim.verilator import build

    require("yosys")
    require("verilator")
    subset = engine_subset() if which == "engine" else whole_window_subset()
    design = subset.design
    count = count or DEFAULT_COUNTS[which]
    h = hashlib.sha1(design.text.encode())
    for run in subset.runs:
        h.update(run.stimulus.to_text().encode())
    h.update(f"{count} {seed} {_load(design.module)}".encode())
    folder = verify_root() / "mutation" / f"{design.module}-{h.hexdigest()[:12]}"
    folder.mkdir(parents=True, exist_ok=True)
    results_path = folder / "results.json"
    say = progress or (lambda m: None)
    cached = json.loads(results_path.read_text()) if results_path.is_file() else {}
    if cached.get("complete"):
        if cached.get("equivalence_checked") or not check_equivalence:
            return cached
        return _finish(cached, folder, design, check_equivalence, jobs, say, equiv_timeout)
    (folder / "dut.v").write_text(design.text)
    start = time.monotonic()
    commands = mutant_list(folder, design.module, count, seed)
    say(f"{which}: {len(commands)} mutants listed by yosys")
    path = mutated_verilog(folder, design, commands)
    say(f"{which}: building all mutants into one Verilator model ...")
    exe = build(design.with_verilog(path, f"{count} mutants"))
    build_seconds = time.monotonic() - start
    refs = baseline(subset, exe, ["+mutsel=0"])
    say(f"{which}: mutant 0 (no mutation) passes the subset against golden")

    def kill(i: int) -> dict:
        d = describe(commands[i - 1])
        for run, ref in zip(subset.runs, refs):
            how = _differs(run_executable(exe, run.stimulus, [f"+mutsel={i}"], timeout=120), ref)
            if how:
                return dict(d, id=i, command=commands[i - 1], status="killed", killed_by=run.name, how=how)
        return dict(d, id=i, command=commands[i - 1], status="survived", killed_by=None, how=None)

    jobs = jobs or os.cpu_count() or 1
    results = []
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for k, r in enumerate(pool.map(kill, range(1, len(commands) + 1)), 1):
            results.append(r)
            if k % 20 == 0 or k == len(commands):
                say(f"{which}: {k}/{len(commands)} mutants run, "
                    f"{sum(x['status'] == 'killed' for x in results)} killed")
    run_seconds = time.monotonic() - t0
    out = {"design": which, "module": design.module, "mutants": len(results), "seed": seed,
           "subset": [r.name for r in subset.runs], "jobs": jobs,
           "build_seconds": round(build_seconds, 1), "run_seconds": round(run_seconds, 1),
           "equivalence_checked": False, "complete": True, "folder": str(folder), "results": results}
    return _finish(out, folder, design, check_equivalence, jobs, say, equiv_timeout)


def _finish(out: dict, folder: Path, design, check_equivalence: bool, jobs, say, equiv_timeout) -> dict:
    """Equivalence of the survivors (when asked), the counts, results.json and report.md."""
    results = out["results"]
    if check_equivalence:
        survivors = [r for r in results if r["status"] == "survived"]
        t0 = time.monotonic()

        def check(r):
            return r, equivalent(folder, design.module, r["command"], r["id"], equiv_timeout)

        with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
            for r, (proven, note) in pool.map(check, survivors):
                r["equivalence"] = note
                if proven:
                    r["status"] = "equivalent"
                say(f"{out['design']}: survivor {r['id']} ({r['mode']} {r['cell']}): {note}")
        out["equivalence_checked"] = True
        out["equivalence_seconds"] = round(time.monotonic() - t0, 1)
        out["equivalence_timeout"] = equiv_timeout
    killed = sum(r["status"] == "killed" for r in results)
    survived = sum(r["status"] == "survived" for r in results)
    out.update(killed=killed, survived=survived,
               equivalent=sum(r["status"] == "equivalent" for r in results),
               kill_rate=round(100.0 * killed / max(1, killed + survived), 2))
    path = folder / "results.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    tmp.replace(path)
    (folder / "report.md").write_text(report(out, design.text))
    return out


def report(out: dict, text: str) -> str:
    src = text.splitlines()
    lines = [f"# Mutation campaign: {out['module']}", "",
             f"{out['mutants']} yosys mutants (seed {out['seed']}): {out['killed']} killed, "
             f"{out['survived']} survived, {out['equivalent']} equivalent; kill rate "
             f"{out['kill_rate']} % of the non-equivalent.", "",
             "| id | class | mode | cell | port[bit] | RTL line | code | note |", "|---|---|---|---|---|---|---|---|"]
    for r in out["results"]:
        if r["status"] == "killed":
            continue
        ln = r["rtl_lines"][0] if r["rtl_lines"] else None
        code = src[ln - 1].strip().replace("|", "\\|")[:60] if ln and ln <= len(src) else ""
        lines.append(f"| {r['id']} | {r['status']} | {r['mode']} | `{r['cell']}` | {r['port']}[{r['bit']}] | "
                     f"{', '.join(map(str, r['rtl_lines']))} | `{code}` | {r.get('equivalence', '')} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m verify.mutation", description=__doc__.splitlines()[0])
    ap.add_argument("--design", choices=("engine", "whole-window", "both"), default="both")
    ap.add_argument("--count", type=int, default=None, help="mutants per design (default 100 / 200)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--no-equivalence", action="store_true", help="skip the equivalence check of survivors")
    ap.add_argument("--equivalence-timeout", type=float, default=UNIT_TIMEOUT,
                    help=f"seconds of yosys per unit proof (default {UNIT_TIMEOUT})")
    ap.add_argument("--require", type=float, default=None, metavar="PERCENT",
                    help="exit 1 when a design's kill rate (over the non-equivalent mutants) is "
                    "below PERCENT")
    args = ap.parse_args(argv)
    which = ("engine", "whole-window") if args.design == "both" else (args.design,)
    summary = []
    for w in which:
        out = campaign(w, args.count, args.seed, args.jobs, not args.no_equivalence,
                       lambda m: print(m, file=sys.stderr, flush=True), args.equivalence_timeout)
        summary.append(out)
        print(f"{w}: {out['mutants']} mutants, {out['killed']} killed, {out['survived']} survived, "
              f"{out['equivalent']} equivalent: kill rate {out['kill_rate']} % "
              f"(build {out['build_seconds']} s, runs {out['run_seconds']} s) -> {out['folder']}/report.md")
    path = verify_root() / "mutation.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps([{k: v for k, v in s.items() if k != "results"} for s in summary], indent=2) + "\n")
    tmp.replace(path)
    if args.require is not None:
        low = [s for s in summary if s["kill_rate"] < args.require]
        for s in low:
            print(f"{s['design']}: kill rate {s['kill_rate']} % is below the required "
                  f"{args.require:g} %", file=sys.stderr)
        if low:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
