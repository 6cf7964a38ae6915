"""The UP5K flow for one design: host bridge, yosys, nextpnr, icepack, and the report.

Owns :func:`implement`, which joins the parts: it wraps a design with the stream
ports in the host bridge (:mod:`.sources`), synthesizes it with the DSP budget and
the memory plan (:mod:`.yosys`), places and routes it when it can fit
(:mod:`.nextpnr`), and writes ``report.json`` and ``report.md`` (:mod:`.reports`).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from cosim.tools import require, tool_version

from .device import TARGET_MHZ, UP5K, Device, shortfalls
from .nextpnr import DEFAULT_SEED, NEXTPNR_RESOURCES, place_and_route
from .reports import describe_shortfall, describe_timing, ebr_breakdown, implementation_markdown, refusal_summary
from .sources import BRIDGE_PINS, DEFAULT_OUT, STREAM_PORTS, DesignSource, convert_bridge, top_verilog
from .yosys import bridge_cells, synthesize_ice40


def implement(src: DesignSource, out=DEFAULT_OUT, *, device: Device = UP5K, target_mhz: float = TARGET_MHZ,
              seed: int = DEFAULT_SEED, bridge: str = "auto", place: bool = True, more_seeds=()) -> dict:
    """The UP5K flow for one design; writes ``<out>/<module>/report.json`` and ``report.md``.

    Parameters
    ----------
    src : DesignSource
    bridge : {"auto", "yes", "no"}
        Wrap the design in the host bridge: ``auto`` does when it has the stream ports.
    place : bool
        Run nextpnr (and icepack) when synthesis shows the design can fit.
    seed, more_seeds : int, sequence of int
        nextpnr seeds: ``seed`` makes the report's placement and bitstream; each of
        ``more_seeds`` places and routes the same netlist again (``yosys/seed-<n>/``),
        and ``report["seeds"]`` lists every seed's maximum clock and critical path.
    """
    if bridge not in ("auto", "yes", "no"):
        raise ValueError(f"bridge must be auto, yes or no, got {bridge!r}")
    for tool in ("yosys",) + (("nextpnr-ice40", "icepack") if place else ()):
        require(tool)
    workdir = Path(out) / src.module
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    t0 = time.monotonic()
    use_bridge = (bridge == "yes") or (bridge == "auto" and src.has_streams)
    report = {"design": src.module, "kind": src.manifest.get("kind", "lstm_engine" if src.has_streams else "design"),
              "parameters": src.manifest.get("parameters"), "cycles": src.manifest.get("cycles"),
              "manifest": src.manifest_path.name if src.manifest_path else None,
              "device": device.to_dict(), "target_mhz": target_mhz, "seed": seed,
              "tools": {t: tool_version(t) for t in ("yosys",) + (("nextpnr-ice40",) if place else ())}}
    files = list(src.verilog)
    if use_bridge:
        if not src.has_streams:
            missing = [n for n in STREAM_PORTS if n not in src.port_bits]
            raise ValueError(f"{src.module}: cannot wrap in the host bridge, ports {missing} missing")
        from hdl.host_bridge import BridgeGeometry, bridge_module_name

        geo = BridgeGeometry.from_ports(src.ports)
        bridge_file = convert_bridge(geo, workdir / "rtl")
        files.append(bridge_file)
        top = f"{src.module}_up5k"
        top_file = workdir / "rtl" / f"{top}.v"
        top_file.write_text(top_verilog(src, bridge_module_name(geo), top))
        files.append(top_file)
        pins = BRIDGE_PINS
        report["host_interface"] = {"kind": "byte-wide host bridge (hdl.host_bridge)", "pins": pins,
                                    "module": bridge_module_name(geo), **asdict(geo),
                                    "step_rx_bytes": geo.step_rx_bytes, "step_tx_bytes": geo.step_tx_bytes,
                                    "write_rx_bytes": geo.write_rx_bytes,
                                    "alone": bridge_cells(bridge_file, bridge_module_name(geo), workdir / "yosys")}
    else:
        top, pins = src.module, src.pins
        report["host_interface"] = {"kind": "the design's own ports", "pins": pins}
    report["top"] = top
    problems = shortfalls({"io": pins}, device)
    syn = synthesize_ice40(files, top, workdir / "yosys", device)
    report["synthesis"] = syn
    res = syn["resources"]
    hard = shortfalls({"dsp": res["dsp"], "ebr": res["ebr"], "spram": res["spram"],
                       "logic_cells": res["logic_cells_min"]}, device)
    problems += hard
    pnr = None
    if place and not problems:
        pnr = place_and_route(workdir / "yosys", device, target_mhz, seed)
        used = {NEXTPNR_RESOURCES[k]: v["used"] for k, v in pnr["utilisation"].items() if k in NEXTPNR_RESOURCES}
        problems += [s for s in shortfalls(used, device) if s["resource"] != "io"]
        if more_seeds:
            report["seeds"] = [_seed_entry(seed, pnr)] + [
                _seed_entry(n, _place_again(workdir / "yosys", device, target_mhz, n))
                for n in more_seeds if n != seed]
    report["place_and_route"] = pnr
    report["fits"] = not problems and (pnr is None or pnr["routed"])
    report["shortfalls"] = problems
    verdict = []
    if problems:
        verdict.append("does NOT fit the " + device.name + ": " + "; ".join(describe_shortfall(s) for s in problems))
        if any(x["resource"] == "ebr" for x in problems):
            verdict.append(ebr_breakdown(syn["memories"]))
        refused = syn["memory_plan"]["refused_spram"]
        if refused:
            verdict.append(refusal_summary(refused, syn["memories"]))
    if pnr is not None:
        if pnr["routed"] and pnr["fmax_mhz"] is not None:
            verdict.append("placed and routed; " + describe_timing(pnr["fmax_mhz"], target_mhz))
            report["timing_met"] = pnr["fmax_mhz"] >= target_mhz
        if report.get("seeds"):
            verdict.append(seeds_summary(report["seeds"], target_mhz))
        elif not pnr["routed"]:
            verdict.append("nextpnr failed: " + "; ".join(pnr["errors"][:3]))
    elif not place:
        verdict.append("placement not run (--no-place)")
    elif problems:
        verdict.append("placement not attempted: the synthesized netlist already exceeds the device")
    report["verdict"] = verdict
    report["seconds"] = round(time.monotonic() - t0, 1)
    (workdir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (workdir / "report.md").write_text(implementation_markdown(report) + "\n")
    return report


def _place_again(netlist_dir: Path, device: Device, target_mhz: float, seed: int) -> dict:
    """nextpnr at another seed on the same netlist, in ``<netlist_dir>/seed-<seed>/``."""
    folder = netlist_dir / f"seed-{seed}"
    folder.mkdir(exist_ok=True)
    shutil.copyfile(netlist_dir / "netlist.json", folder / "netlist.json")
    return place_and_route(folder, device, target_mhz, seed)


def _seed_entry(seed: int, pnr: dict) -> dict:
    cp = pnr.get("critical_path") or {}
    return {"seed": seed, "routed": pnr["routed"], "fmax_mhz": pnr.get("fmax_mhz"),
            "critical_path": {k: cp.get(k) for k in ("from", "to", "logic_ns", "routing_ns")} if cp else None,
            "seconds": pnr.get("seconds")}


def seeds_summary(seeds: list, target_mhz: float) -> str:
    """One line: every seed's maximum clock and how many meet the target."""
    clocks = [x["fmax_mhz"] for x in seeds if x["routed"] and x["fmax_mhz"] is not None]
    each = ", ".join(f"{x['seed']}: {x['fmax_mhz']:.2f}" if x["fmax_mhz"] is not None else f"{x['seed']}: not routed"
                     for x in seeds)
    if not clocks:
        return f"seeds {each}"
    met = sum(c >= target_mhz for c in clocks)
    return (f"seeds ({each} MHz): {min(clocks):.2f} to {max(clocks):.2f} MHz, "
            f"{met} of {len(seeds)} meet {target_mhz:g} MHz")
