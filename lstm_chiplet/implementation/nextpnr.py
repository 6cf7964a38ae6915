"""nextpnr-ice40 in the flow: placement and routing, and what its log and report say.

Owns :func:`place_and_route` (nextpnr-ice40 with a clock constraint and a fixed seed,
then icepack) and the readers of its output: utilisation, maximum clock and errors
from the log (:func:`parse_nextpnr_log`) or the ``--report`` JSON
(:func:`parse_nextpnr_report`), and the critical path with the RTL lines along it
(:func:`critical_path`).
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

from cosim.tools import log_tail, run_tool

from .device import Device

#: nextpnr's seed: fixed, so a rerun of the same netlist gives the same placement.
DEFAULT_SEED = 1


_UTIL = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+(\d+)%\s*$")
_FMAX = re.compile(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz \((PASS|FAIL) at ([\d.]+) MHz\)")
_ERROR = re.compile(r"^ERROR: (.*)$")
#: nextpnr's resource names -> the report's.
NEXTPNR_RESOURCES = {"ICESTORM_LC": "logic_cells", "ICESTORM_RAM": "ebr", "ICESTORM_DSP": "dsp",
                     "ICESTORM_SPRAM": "spram", "SB_IO": "io", "SB_GB": "global_buffers"}


_PATH_HEAD = re.compile(r"Critical path report for clock '([^']+)'")
_PATH_STEP = re.compile(r"^Info:\s+[\d.]+\s+[\d.]+\s+(Source|Setup)\s+(\S+)")
_PATH_SPLIT = re.compile(r"^Info:\s+([\d.]+) ns logic, ([\d.]+) ns routing")
_DEFINED = re.compile(r"^Info:\s+(\S+\.v):(\d+)\.")


def critical_path(text: str) -> dict | None:
    """The last clock-domain critical path of a nextpnr log: ends, delay split, RTL lines.

    ``rtl_lines`` are the ``file.v:line`` locations nextpnr lists along the path,
    without folders, skipping yosys' own library files, in path order.
    """
    found = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _PATH_HEAD.search(line)
        if not m:
            continue
        cur = {"clock": m.group(1), "from": None, "to": None, "logic_ns": None, "routing_ns": None,
               "rtl_lines": []}
        for nxt in lines[i + 1:]:
            st = _PATH_STEP.match(nxt)
            if st:
                if st.group(1) == "Source" and cur["from"] is None:
                    cur["from"] = st.group(2)
                if st.group(1) == "Setup":
                    cur["to"] = st.group(2)
                continue
            d = _DEFINED.match(nxt)
            if d and "/share/yosys/" not in d.group(1):
                loc = f"{Path(d.group(1)).name}:{d.group(2)}"
                if loc not in cur["rtl_lines"]:
                    cur["rtl_lines"].append(loc)
                continue
            sp = _PATH_SPLIT.match(nxt)
            if sp:
                cur["logic_ns"], cur["routing_ns"] = float(sp.group(1)), float(sp.group(2))
                break
        found = cur
    return found


def parse_nextpnr_log(text: str) -> dict:
    """Utilisation, maximum clock and errors from nextpnr-ice40's log.

    Returns ``{"utilisation": {name: {"used", "available"}}, "fmax_mhz", "target_mhz",
    "clock", "timing": "PASS"/"FAIL"/None, "errors": [...]}``; the last utilisation
    block and the last maximum-frequency line win (nextpnr prints them after packing
    and after routing).
    """
    util, fmax, errors = {}, None, []
    block = None
    for line in text.splitlines():
        if "Device utilisation" in line:
            block = {}
            util = block
            continue
        m = _UTIL.match(line)
        if m and block is not None:
            block[m.group(1)] = {"used": int(m.group(2)), "available": int(m.group(3))}
            continue
        m = _FMAX.search(line)
        if m:
            fmax = {"clock": m.group(1), "fmax_mhz": float(m.group(2)), "timing": m.group(3),
                    "target_mhz": float(m.group(4))}
        m = _ERROR.match(line.strip())
        if m:
            errors.append(m.group(1).strip())
    out = {"utilisation": util, "errors": errors, "fmax_mhz": None, "target_mhz": None,
           "clock": None, "timing": None, "critical_path": critical_path(text)}
    if fmax:
        out.update(fmax)
    return out


def parse_nextpnr_report(data: dict) -> dict:
    """The same figures from nextpnr's ``--report`` JSON (``utilization``, ``fmax``)."""
    util = {k: {"used": int(v["used"]), "available": int(v["available"])}
            for k, v in data.get("utilization", {}).items()}
    fmax = data.get("fmax", {})
    out = {"utilisation": util, "fmax_mhz": None, "target_mhz": None, "clock": None, "timing": None,
           "errors": []}
    if fmax:
        clock, f = min(fmax.items(), key=lambda kv: kv[1].get("achieved", math.inf))
        out.update(clock=clock, fmax_mhz=float(f["achieved"]), target_mhz=float(f["constraint"]),
                   timing="PASS" if f["achieved"] >= f["constraint"] else "FAIL")
    return out


def place_and_route(workdir: Path, device: Device, target_mhz: float, seed: int, pcf: Path | None = None) -> dict:
    """nextpnr-ice40 on ``workdir/netlist.json``; icepack when it routed.  Returns findings.

    ``pcf`` places the top's ports on package pins (a board); without it nextpnr
    chooses the pins.
    """
    t0 = time.monotonic()
    args = ["nextpnr-ice40", *device.nextpnr_args, "--json", "netlist.json", "--asc", "design.asc",
            "--freq", f"{target_mhz:g}", "--seed", str(seed), "--report", "pnr_report.json",
            "--timing-allow-fail"]
    if pcf is not None:
        args += ["--pcf", str(Path(pcf).resolve())]
    proc = run_tool(args, workdir, log=workdir / "nextpnr.log", timeout=7200, check=False, nice=True)
    text = (workdir / "nextpnr.log").read_text(errors="replace")
    found = parse_nextpnr_log(text)
    report = workdir / "pnr_report.json"
    if proc.returncode == 0 and report.is_file():
        from_report = parse_nextpnr_report(json.loads(report.read_text()))
        found.update({k: v for k, v in from_report.items() if v not in (None, {}, [])})
    found["routed"] = proc.returncode == 0 and (workdir / "design.asc").is_file()
    found["exit_status"] = proc.returncode
    found["seconds"] = round(time.monotonic() - t0, 1)
    if found["routed"]:
        pack = run_tool(["icepack", "design.asc", "design.bin"], workdir, log=workdir / "icepack.log",
                        timeout=3600, check=False, nice=True)
        found["bitstream"] = str(workdir / "design.bin") if pack.returncode == 0 else None
        if pack.returncode != 0:
            found["errors"].append(f"icepack failed: {log_tail(workdir / 'icepack.log', 5)}")
    elif not found["errors"]:
        found["errors"].append(f"nextpnr-ice40 exited with {proc.returncode}: {log_tail(workdir / 'nextpnr.log', 8)}")
    return found
