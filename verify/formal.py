"""Formal equivalence with yosys: each converted unit against its reference from golden.

Command line::

    python -m verify.formal [--only NAME ...] [--out build/verify/formal.json]

For every proof the converted unit (:func:`verify.units.unit_verilog`) and its reference
(:mod:`verify.reference`) are read into one yosys design with a *miter* module: both
driven by the same inputs, ``trigger`` high when any compared output differs (and, for
a unit with a per-pass shift, an ``assume`` that ``extra`` stays within the passes'
range).  Then ``sat -verify -prove trigger 0``:

* feed-forward units (requantize, activation unit, the cell state c'): ``-seq L+1
  -prove-skip L`` for a unit of latency ``L``, with **no initial state** (``init``
  attributes removed, every register free at step 1).  After ``L`` cycles a pipeline
  without feedback holds only values computed from its inputs, so step ``L+1`` over
  all initial states and all inputs is every cycle of every run: the proof is complete,
  not bounded;
* the MAC lane (its accumulator feeds back): ``-seq N -set-init-zero`` from the
  power-on state (MyHDL's initial values are zeros), every input sequence of
  :data:`MAC_STEPS` cycles: rows of every length up to ``N - 2`` terms, and first/last
  flags in any pattern; bounded by ``N``.

A proof fails with the counterexample yosys prints (the inputs at every step).
:func:`prove` takes ``patch`` (a planted bug in the converted unit, for the tests).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import reference
from .units import (CellStateCase, MacLaneCase, activation_cases, requantize_cases, unit_verilog,
                    verify_root)

#: Cycles of the MAC lane's bounded proof from power-on.
MAC_STEPS = 10
#: Seconds one SAT call may take before the proof counts as failed (timeout).
SAT_TIMEOUT = 600


@dataclass(frozen=True)
class Proof:
    """One equivalence: a unit case, its reference, what is compared and for how long."""

    name: str
    case: object
    outputs: tuple
    latency: int
    from_reset: bool = False
    steps: int = 0

    @property
    def seq(self) -> int:
        return self.steps if self.from_reset else self.latency + 1

    def bound(self) -> str:
        if self.from_reset:
            return (f"bounded: every input sequence of {self.steps} cycles from the power-on "
                    f"state (-seq {self.steps} -set-init-zero)")
        return (f"complete: any initial state, step {self.latency + 1} after {self.latency} "
                f"cycles of any inputs (-seq {self.latency + 1} -prove-skip {self.latency})")


def proofs() -> tuple:
    """Every proof: requantize and activation cases, the cell state c', the MAC lane."""
    from golden.formats import DEFAULT_FORMATS

    out = [Proof(f"requantize_{c.name}", c, ("y",), c.latency) for c in requantize_cases()]
    out += [Proof(f"activation_{c.name}", c, ("y",), c.latency) for c in activation_cases()]
    for name, pipelined in (("cell_state", False), ("cell_state_pipelined", True)):
        case = CellStateCase(name, DEFAULT_FORMATS, pipelined)
        out.append(Proof(name, case, ("c_new",), case.latency))
    out.append(Proof("mac_lane", MacLaneCase("lane", DEFAULT_FORMATS, 70), ("drain_out",), 2,
                     from_reset=True, steps=MAC_STEPS))
    return tuple(out)


def reference_text(case, module: str) -> str:
    if case.kind == "requantize":
        return reference.requantize_reference(case, module)
    if case.kind == "activation":
        return reference.activation_reference(case, module)
    if case.kind == "cell_update":
        return reference.cell_state_reference(case, module)
    return reference.mac_lane_reference(case, module)


def miter_text(proof: Proof, dut_ports, ref_ports, ref_module: str, dut_module: str) -> str:
    """The miter: both modules on the same inputs, ``trigger`` = a compared output differs."""
    ins = [p for p in dut_ports if p.direction == "input"]
    compared = [p for p in dut_ports if p.name in proof.outputs]
    ref_ports = [p.name for p in ref_ports]
    lines = [f"module miter ({', '.join(p.name for p in ins)}, trigger);"]
    for p in ins:
        lines.append(f"input {p.decl_range}{p.name};")
    lines.append("output trigger;")
    for p in dut_ports:
        if p.direction == "output":
            lines.append(f"wire {p.decl_range}dut_{p.name};")
            if p.name in proof.outputs:
                lines.append(f"wire {p.decl_range}ref_{p.name};")
    conn = ", ".join(f".{p.name}({p.name if p.direction == 'input' else 'dut_' + p.name})" for p in dut_ports)
    lines.append(f"{dut_module} dut ({conn});")
    rconn = ", ".join(f".{n}({n if n in {p.name for p in ins} else 'ref_' + n})" for n in ref_ports)
    lines.append(f"{ref_module} gold ({rconn});")
    lines.append("assign trigger = " + " || ".join(f"(dut_{p.name} != ref_{p.name})" for p in compared) + ";")
    span = getattr(proof.case, "extra_span", 0)
    if span:
        lines.append(f"always @* assume (extra <= {span});")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def script_text(proof: Proof) -> str:
    sat = ["sat", "-verify", "-prove", "trigger", "0", "-seq", str(proof.seq), "-show-inputs",
           "-timeout", str(SAT_TIMEOUT)]
    if proof.from_reset:
        sat.append("-set-init-zero")
    else:
        sat += ["-prove-skip", str(proof.latency)]
    if getattr(proof.case, "extra_span", 0):
        sat.append("-set-assumes")
    return "\n".join([
        "read_verilog -formal dut.v",
        "read_verilog -formal ref.v",
        "read_verilog -formal miter.v",
        # no initial state: every register is free at step 1 (unless -set-init-zero); the
        # init values go before any pass could use them
        "" if proof.from_reset else "setattr -unset init w:*",
        "prep -top miter",
        "flatten",
        "memory_map",            # the ROMs (case tables) as logic: sat takes no memory cells
        "opt -fast",
        " ".join(sat),
    ]) + "\n"


class ProofFailed(AssertionError):
    """The converted unit differs from its reference (the log has the counterexample)."""


def prove(proof: Proof, patch=None) -> dict:
    """Run one proof; returns a result dict (``proven`` True/False, seconds, bound, log)."""
    from cosim.tools import require

    require("yosys")
    verilog, module = unit_verilog(proof.case)
    dut = Path(verilog).read_text()
    if patch is not None:
        patched = patch(dut)
        if patched == dut:
            raise ValueError("prove: the patch leaves the unit unchanged")
        dut = patched
    from cosim.verilog import parse_ports

    ports = parse_ports(dut, module)
    ref_module = f"ref_{module}"
    ref = reference_text(proof.case, ref_module)
    files = {"dut.v": dut, "ref.v": ref,
             "miter.v": miter_text(proof, ports, parse_ports(ref, ref_module), ref_module, module),
             "script.ys": script_text(proof)}
    key = hashlib.sha1("".join(files[k] for k in sorted(files)).encode()).hexdigest()[:12]
    folder = verify_root() / "formal" / f"{proof.name}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    start = time.monotonic()
    proc = subprocess.run(["yosys", "-l", "yosys.log", "-s", "script.ys"], cwd=folder,
                          capture_output=True, text=True, timeout=SAT_TIMEOUT + 300)
    seconds = time.monotonic() - start
    log = (folder / "yosys.log").read_text(errors="replace") if (folder / "yosys.log").is_file() else proc.stdout
    proven = proc.returncode == 0 and "SUCCESS!" in log
    failed = "SAT proof finished - model found: FAIL!" in log
    if not proven and not failed:
        raise RuntimeError(f"yosys did not finish the proof {proof.name} (exit {proc.returncode}):\n"
                           + (proc.stdout + proc.stderr)[-3000:])
    counterexample = ""
    if not proven:
        m = re.search(r"(Time\s+Signal.*?)(?:\n\n|\Z)", log, re.S)
        counterexample = m.group(1)[:3000] if m else log[-3000:]
    return {"proof": proof.name, "unit": proof.case.kind, "module": module, "proven": proven,
            "bound": proof.bound(), "seconds": round(seconds, 2), "folder": str(folder),
            "compared": list(proof.outputs), "counterexample": counterexample}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m verify.formal", description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, help="proof names (default: all)")
    ap.add_argument("--out", type=Path, default=None, help="JSON results (default build/verify/formal.json)")
    args = ap.parse_args(argv)
    results = []
    for p in proofs():
        if args.only and p.name not in args.only:
            continue
        r = prove(p)
        results.append(r)
        print(f"{p.name}: {'proven' if r['proven'] else 'FAILED'} in {r['seconds']:.1f} s ({r['bound']})",
              file=sys.stderr, flush=True)
    out = args.out or verify_root() / "formal.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(out)
    bad = [r["proof"] for r in results if not r["proven"]]
    print(f"{len(results) - len(bad)} of {len(results)} proofs hold -> {out}" + (f"; failed: {bad}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
