"""What the flow says: one design's report, the summary of a run, and the verdict texts.

Owns the markdown of a design's report (:func:`implementation_markdown`) and of the
run's summary (:func:`summary_markdown`, :func:`short_verdict`), the reading of an
earlier summary (:func:`load_summary`), and the sentences of a verdict: by how much a
resource is short (:func:`describe_shortfall`), the clock against the target
(:func:`describe_timing`), where the block RAM goes (:func:`ebr_breakdown`) and which
RAMs could not go to SPRAM (:func:`refusal_summary`).
"""

from __future__ import annotations

import json
from pathlib import Path

from .nextpnr import NEXTPNR_RESOURCES
from .utilisation import generic_markdown, utilisation_markdown, window_utilisation_markdown
from .yosys import SPRAM_HINT


def describe_shortfall(s: dict) -> str:
    names = {"logic_cells": "logic cells", "dsp": "DSP blocks (SB_MAC16)", "ebr": "EBR blocks (4 kbit)",
             "spram": "SPRAM blocks (16K x 16)", "io": "I/O pins"}
    return (f"{names.get(s['resource'], s['resource'])}: needs {s['used']}, the device has "
            f"{s['available']} ({s['excess']} too many, {s['percent_of_device']:.0f}% of the device)")


def describe_timing(fmax: float, target: float) -> str:
    if fmax >= target:
        return f"meets {target:g} MHz: maximum clock {fmax:.2f} MHz ({fmax - target:.2f} MHz to spare)"
    return (f"FAILS timing: maximum clock {fmax:.2f} MHz, target {target:g} MHz "
            f"({target - fmax:.2f} MHz short, {100 * (1 - fmax / target):.0f}% below; "
            f"period {1e3 / fmax:.1f} ns against {1e3 / target:.1f} ns)")


def ebr_breakdown(memories: list) -> str:
    """Where the block RAM goes: estimated EBR blocks of the ROMs and RAMs left for EBR."""
    parts = []
    for rom in (True, False):
        ms = [m for m in memories if m["rom"] == rom and m["placement"] == "auto"]
        if ms:
            sizes = {}
            for m in ms:
                sizes[(m["size"], m["width"])] = sizes.get((m["size"], m["width"]), 0) + 1
            biggest_first = sorted(sizes.items(), key=lambda kv: -kv[0][0] * kv[0][1])
            shapes = ", ".join(f"{n} x {d}x{w}" for (d, w), n in biggest_first)
            parts.append(f"{'ROMs' if rom else 'RAMs'} {sum(m['ebr_blocks'] for m in ms)} blocks ({shapes})")
    return "EBR estimate by memory kind: " + "; ".join(parts)


def refusal_summary(refused: dict, memories: list) -> str:
    """RAMs that could not move to SPRAM, grouped by reason, largest first."""
    by_name = {m["name"]: m for m in memories}
    groups = {}
    for name, why in refused.items():
        groups.setdefault(why, []).append(by_name.get(name, {"label": name, "size": 0, "width": 0}))
    parts = []
    for why, mems in groups.items():
        mems.sort(key=lambda m: -m["size"] * m["width"])
        shown = ", ".join(f"{m['label']} ({m['size']} x {m['width']})" for m in mems[:3])
        more = f" and {len(mems) - 3} more" if len(mems) > 3 else ""
        parts.append(f"{len(mems)} RAMs with {why}: {shown}{more}")
    return "RAMs kept out of SPRAM: " + "; ".join(parts) + f". {SPRAM_HINT}."


def implementation_markdown(r: dict) -> str:
    """One design's report as markdown."""
    dev = r["device"]
    res = r["synthesis"]["resources"]
    pnr = r.get("place_and_route") or {}
    util = {NEXTPNR_RESOURCES.get(k, k): v for k, v in (pnr.get("utilisation") or {}).items()}
    lines = [f"# {r['design']} on the {dev['name']} ({dev['package']})", ""]
    lines += [f"- {v}" for v in r["verdict"]]
    hi = r["host_interface"]
    alone = hi.get("alone")
    share = (f"; the bridge alone: LUT4 {alone['lut4']}, FF {alone['flip_flops']}" if alone else "")
    lines += ["", f"Top `{r['top']}`; host interface: {hi['kind']} ({hi['pins']} pins of {dev['io']}){share}.", "",
              "| resource | yosys | nextpnr | device |", "|---|---|---|---|"]

    def pn(name):
        u = util.get(name)
        return f"{u['used']}/{u['available']}" if u else "-"

    rows = [("logic cells", f"{res['logic_cells_min']}..{res['logic_cells_max']} (LUT4 {res['lut4']}, "
                            f"FF {res['flip_flops']}, carry {res['carry']})", pn("logic_cells"), dev["logic_cells"]),
            ("DSP (SB_MAC16)", res["dsp"], pn("dsp"), dev["dsp"]),
            ("EBR (SB_RAM40_4K)", res["ebr"], pn("ebr"), dev["ebr"]),
            ("SPRAM (SB_SPRAM256KA)", res["spram"], pn("spram"), dev["spram"]),
            ("I/O", r["host_interface"]["pins"], pn("io"), dev["io"])]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    if pnr.get("fmax_mhz") is not None:
        lines += ["", f"Maximum clock (nextpnr, seed {r['seed']}): **{pnr['fmax_mhz']:.2f} MHz** "
                  f"against {r['target_mhz']:g} MHz ({pnr['timing']})."]
    if r.get("seeds"):
        lines += ["", "| nextpnr seed | max clock | critical path (logic + routing) |", "|---|---|---|"]
        for x in r["seeds"]:
            clock = f"{x['fmax_mhz']:.2f} MHz" if x["fmax_mhz"] is not None else "not routed"
            c = x["critical_path"] or {}
            path = (f"`{c['from']}` -> `{c['to']}`, {c['logic_ns']} + {c['routing_ns']} ns" if c.get("from")
                    else "-")
            lines.append(f"| {x['seed']} | {clock} | {path} |")
    cp = pnr.get("critical_path")
    if cp and cp.get("from"):
        lines += ["", f"Critical path: `{cp['from']}` -> `{cp['to']}`, {cp['logic_ns']} ns logic + "
                  f"{cp['routing_ns']} ns routing; RTL along it: "
                  + ", ".join(f"`{x}`" for x in cp["rtl_lines"][:12])]
    m = r["synthesis"]["multipliers"]
    lines += ["", f"Multipliers: {m['total']}; on DSP blocks {len(m['on_dsp'])}, in logic {len(m['in_logic'])} "
              f"(widest products get the {m['dsp_blocks_available']} DSPs)."]
    mems = r["synthesis"]["memories"]
    if mems:
        lines += ["", "| memory | words x bits | EBR if block RAM | placement |", "|---|---|---|---|"]
        for x in sorted(mems, key=lambda x: -x["bits"]):
            where = {"spram": "SPRAM", "logic": "flip-flops"}.get(x["placement"], "yosys (EBR or logic)")
            note = f" ({x['note']})" if x["note"] else ""
            lines.append(f"| {x['label']} | {x['size']} x {x['width']} | {x['ebr_blocks']} | {where}{note} |")
    return "\n".join(lines)


def short_verdict(r: dict) -> str:
    """One line for a summary table: the shortfalls, or the timing against the target."""
    if r.get("shortfalls"):
        names = {"logic_cells": "LC", "dsp": "DSP", "ebr": "EBR", "spram": "SPRAM", "io": "I/O"}
        return "does not fit: " + ", ".join(f"{names.get(x['resource'], x['resource'])} {x['used']}/"
                                            f"{x['available']} (+{x['excess']})" for x in r["shortfalls"])
    pnr = r.get("place_and_route") or {}
    if pnr.get("fmax_mhz") is None:
        return "; ".join(r.get("verdict", [])[:1])
    f, t = pnr["fmax_mhz"], r["target_mhz"]
    return (f"meets {t:g} MHz" if f >= t else f"misses {t:g} MHz by {t - f:.2f} MHz ({100 * (1 - f / t):.0f}%)")


def summary_markdown(s: dict) -> str:
    lines = [f"# Implementation figures ({s['date']})", "",
             f"Device {s['device']['name']} ({s['device']['package']}): {s['device']['logic_cells']} logic "
             f"cells, {s['device']['dsp']} DSP, {s['device']['ebr']} EBR, {s['device']['spram']} SPRAM, "
             f"{s['device']['io']} I/O. Each entry carries the date it was measured.", ""]
    if s.get("implementations"):
        lines += ["## UP5K place and route", "",
                  "| design | date | fits | logic cells | DSP | EBR | SPRAM | max clock (target, seed) "
                  "| verdict (details in <design>/report.md) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in s["implementations"]:
            if "synthesis" not in r:        # not a report of this flow: name it only
                lines.append(f"| {r.get('design', '?')} | {r.get('date', '')} | - | - | - | - | - | - | - |")
                continue
            res = r["synthesis"]["resources"]
            pnr = r.get("place_and_route") or {}
            util = {NEXTPNR_RESOURCES.get(k, k): v["used"] for k, v in (pnr.get("utilisation") or {}).items()}
            lc = util.get("logic_cells", f"{res['logic_cells_min']}..{res['logic_cells_max']} (est.)")
            fmax = (f"{pnr['fmax_mhz']:.2f} MHz ({r['target_mhz']:g}, {r['seed']})" if pnr.get("fmax_mhz")
                    else "-")
            lines.append(f"| {r['design']} | {r.get('date', '')} | {'yes' if r['fits'] else 'NO'} | {lc} | "
                         f"{res['dsp']} | "
                         f"{res['ebr']} | {res['spram']} | {fmax} | {short_verdict(r)} |")
        lines.append("")
    if s.get("generic"):
        lines += ["## Generic yosys synth (technology-independent cells)", "", generic_markdown(s["generic"]), ""]
    if s.get("utilisation"):
        lines += ["## Multiplier utilisation: single-layer engine (hdl.lstm_engine)", "",
                  utilisation_markdown(s["utilisation"]), ""]
    if s.get("window_utilisation"):
        lines += ["## Multiplier utilisation: whole-window design (hdl.autoencoder_engine, the UP5K design)", "",
                  window_utilisation_markdown(s["window_utilisation"]), ""]
    return "\n".join(lines)


def load_summary(path: Path) -> dict:
    """The previous summary (each run replaces only the entries it measures), or an empty one."""
    empty = {"implementations": [], "generic": [], "utilisation": [], "window_utilisation": []}
    if not path.is_file():
        return empty
    try:
        old = json.loads(path.read_text())
    except json.JSONDecodeError:
        return empty
    return {**empty, **{k: old[k] for k in empty if isinstance(old.get(k), list)}}
