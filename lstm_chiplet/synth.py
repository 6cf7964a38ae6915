"""``lstm-chiplet synth``: the implementation flow for the iCE40 UP5K, and area and cycle figures.

Three parts, each writing JSON and markdown under ``build/synth`` (``--out``):

UP5K flow (:func:`implement`)
    Any converted design with a manifest (``hdl.convert`` writes one; the whole-window
    design will too) goes through yosys ``synth_ice40 -dsp -spram``, nextpnr-ice40
    (``--up5k --package sg48``, a clock constraint, a fixed seed) and icepack.  A design
    with the engine's stream ports is wrapped in :func:`hdl.host_bridge.host_bridge`
    (two byte streams: 22 pins instead of hundreds).  Two decisions yosys does not take
    by itself are made explicit, between checkpoints of its script:

    * DSP budget: the device has 8 SB_MAC16.  ``-dsp`` maps every multiplier; the
      flow gives the DSPs to the widest products (largest ``A_WIDTH * B_WIDTH``, the
      logic they save) and leaves the rest in logic, so a design with more products
      than DSPs still places;
    * memory placement: yosys prefers block RAM (EBR) whenever it is cheaper by its
      cost table, even past the device's 30 blocks.  When the estimated EBR need
      exceeds the device, the largest RAMs go to the four 16K x 16 SPRAMs
      (``ram_style = "huge"``), if yosys can map them there: SPRAM has one address
      port and holds its output during a write, so a RAM with separate read and write
      addresses cannot go there; the report names each refused memory and why.

    The report gives logic cells, DSPs, EBR and SPRAM used against what the device
    has, the maximum clock from nextpnr's timing analysis against ``--target-mhz``, and,
    when the design does not fit or misses the clock, by how much.

Generic cell counts (:func:`generic_cells`)
    yosys' technology-independent ``synth`` of the bare engine at several lane
    counts: gates, flip-flops, multipliers and memory bits (memories are counted,
    not expanded into flip-flops).

Multiplier utilisation (:func:`utilisation`)
    For every layer of the reference autoencoder and P in 1, 2, 4, 8, 16: the
    documented ``EngineConfig.cycles_per_step`` against the ideal ``ceil(H(D+H)/P)``,
    with the cycles measured in MyHDL simulation (:func:`cosim.cycles.measure`) when
    asked; the same for the whole-window design that goes on the UP5K
    (:func:`window_utilisation`, measured on Verilator); tables and a PNG plot.

A missing tool stops with the command that installs it.  Long tool runs are started
with ``nice -n 10`` (the machine is shared).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "build" / "synth"

#: tool -> (Debian/Ubuntu package, what it does here)
TOOLS = {
    "yosys": ("yosys", "synthesis (synth_ice40, generic synth)"),
    "nextpnr-ice40": ("nextpnr-ice40", "placement, routing and timing for iCE40"),
    "icepack": ("fpga-icestorm", "bitstream packing for iCE40"),
}
#: The clock the whole-window design must reach on the UP5K (issue 6).
TARGET_MHZ = 24.0
#: nextpnr's seed: fixed, so a rerun of the same netlist gives the same placement.
DEFAULT_SEED = 1
#: Single-layer engines reported by default: (D, H, P); the first, the smallest engine,
#: places its whole datapath (tables, gate units, cell update) on the device.
DEFAULT_ENGINES = ((2, 4, 1), (6, 64, 1), (6, 64, 2), (32, 32, 1), (32, 32, 2))
#: Lanes of the whole-window design in the default run: one SPRAM block per gate feeds
#: one multiplier (the UP5K's four SPRAMs hold the four gates' weights).
DEFAULT_AUTOENCODER_LANES = 1
#: Generic cell counts by default: shape (D, H) at these lane counts.
DEFAULT_GENERIC_SHAPE = (32, 32)
DEFAULT_GENERIC_LANES = (1, 2, 4, 8)
#: Lane counts of the utilisation table (issue 6, item 3).
UTILISATION_LANES = (1, 2, 4, 8, 16)
#: Ports a design needs for the host bridge to wrap it.
STREAM_PORTS = ("clk", "rst", "in_tdata", "in_tvalid", "in_tready", "in_tlast", "out_tdata",
                "out_tvalid", "out_tready", "out_tlast", "wr_en", "wr_addr", "wr_data")
#: The top's pins with the bridge: clk, rst, rx 8+2, tx 8+2.
BRIDGE_PINS = 22


class ToolMissing(RuntimeError):
    """An implementation tool is not installed; the message says how to install it."""


class FlowError(RuntimeError):
    """A tool failed in a way the flow cannot turn into a finding; carries the log tail."""


# ---------------------------------------------------------------------------- device
@dataclass(frozen=True)
class Device:
    """What an FPGA offers, as the flow counts it.

    Attributes
    ----------
    name, package : str
    nextpnr_args : tuple of str
        Device selection for nextpnr-ice40.
    logic_cells : int
        ICESTORM_LC (a 4-input LUT, a flip-flop and carry logic each).
    dsp : int
        SB_MAC16 blocks (16 x 16 multiplier with a 32-bit accumulator).
    ebr : int
        SB_RAM40_4K blocks, 4 kbit each (256 x 16 ... 2048 x 2).
    spram : int
        SB_SPRAM256KA blocks, 16K x 16, one address port each.
    io : int
        User I/O pins of the package.
    """

    name: str
    package: str
    nextpnr_args: tuple
    logic_cells: int
    dsp: int
    ebr: int
    spram: int
    io: int

    def to_dict(self) -> dict:
        return asdict(self)


UP5K = Device("iCE40UP5K", "sg48", ("--up5k", "--package", "sg48"), logic_cells=5280, dsp=8,
              ebr=30, spram=4, io=39)
#: EBR shapes (depth, width) of one SB_RAM40_4K.
EBR_SHAPES = ((256, 16), (512, 8), (1024, 4), (2048, 2))
SPRAM_SHAPE = (16384, 16)


def ebr_blocks(size: int, width: int) -> int:
    """Fewest SB_RAM40_4K blocks holding ``size`` words of ``width`` bits."""
    return min(math.ceil(size / d) * math.ceil(width / w) for d, w in EBR_SHAPES)


def spram_blocks(size: int, width: int) -> int:
    d, w = SPRAM_SHAPE
    return math.ceil(size / d) * math.ceil(width / w)


# ----------------------------------------------------------------------------- tools
def install_hint(tool: str) -> str:
    package = TOOLS.get(tool, (tool, ""))[0]
    return (f"install it with 'sudo apt-get install {package}' (Debian/Ubuntu), or run "
            "./run.sh test, which installs every tool the project needs")


def require(tool: str) -> str:
    """Absolute path of ``tool``; raises :class:`ToolMissing` naming the install command."""
    path = shutil.which(tool)
    if path is None:
        what = TOOLS.get(tool, ("", "an implementation tool"))[1]
        raise ToolMissing(f"{tool} not found on PATH ({what}); {install_hint(tool)}")
    return path


def tool_version(tool: str) -> str:
    exe = require(tool)
    flag = "-V" if tool == "yosys" else "--version"
    if tool == "icepack":
        return "icestorm (icepack has no version flag)"
    proc = subprocess.run([exe, flag], capture_output=True, text=True, timeout=60)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return lines[0].strip() if lines else ""


def _nice() -> list:
    return ["nice", "-n", "10"] if shutil.which("nice") else []


def run_tool(args, cwd, log: Path, timeout: float = 3600) -> subprocess.CompletedProcess:
    """Run a tool niced, output to ``log``; returns the process (never raises on exit status)."""
    exe = require(args[0])
    t0 = time.monotonic()
    proc = subprocess.run(_nice() + [exe, *map(str, args[1:])], cwd=str(cwd), capture_output=True,
                          text=True, timeout=timeout)
    log.write_text(f"# {' '.join(map(str, args))}\n# exit {proc.returncode}, "
                   f"{time.monotonic() - t0:.1f} s\n{proc.stdout}\n{proc.stderr}")
    return proc


# --------------------------------------------------------------------------- sources
@dataclass
class DesignSource:
    """A converted design: top module, Verilog files and ports (from its manifest).

    The manifest contract (``hdl.convert.build_manifest`` writes it; any other design
    generator can): ``module`` (top module name), ``files.verilog`` (file name beside
    the manifest; ``files.verilog_sources``, a list, for designs in several files),
    ``ports`` (``name``, ``direction``, ``bits``); optional ``kind`` (e.g.
    ``"autoencoder"``), ``parameters`` and ``cycles`` are carried into the report.
    """

    module: str
    verilog: list
    ports: list
    manifest: dict
    manifest_path: Path | None = None

    @property
    def port_bits(self) -> dict:
        return {p["name"]: int(p["bits"]) for p in self.ports}

    @property
    def pins(self) -> int:
        return sum(self.port_bits.values())

    @property
    def has_streams(self) -> bool:
        return all(n in self.port_bits for n in STREAM_PORTS)

    @classmethod
    def from_manifest(cls, path) -> "DesignSource":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"manifest {path} does not exist")
        try:
            m = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"manifest {path}: not JSON ({exc})") from exc
        for key in ("module", "files", "ports"):
            if key not in m:
                raise ValueError(f"manifest {path}: missing key {key!r} (needs module, files, ports)")
        files = m["files"]
        names = list(files.get("verilog_sources") or []) or ([files["verilog"]] if "verilog" in files else [])
        if not names:
            raise ValueError(f"manifest {path}: files.verilog (or files.verilog_sources) names no file")
        verilog = [(path.parent / n).resolve() for n in names]
        for v in verilog:
            if not v.is_file():
                raise FileNotFoundError(f"manifest {path}: Verilog file {v.name} not found beside it")
        for k, p in enumerate(m["ports"]):
            if not {"name", "direction", "bits"} <= set(p):
                raise ValueError(f"manifest {path}: port {k} lacks name, direction or bits: {p}")
        return cls(m["module"], verilog, list(m["ports"]), m, path.resolve())


def engine_source(cfg, outdir) -> DesignSource:
    """Convert a single-layer engine (:class:`hdl.config.EngineConfig`) and load its manifest."""
    from hdl.convert import convert_engine

    paths = convert_engine(cfg, Path(outdir))
    return DesignSource.from_manifest(paths["manifest"])


def autoencoder_source(lanes: int, outdir) -> DesignSource:
    """Convert the whole-window design (``hdl.convert_autoencoder``) for the reference model."""
    from golden.autoencoder import AutoencoderConfig
    from hdl.autoencoder_config import AutoencoderEngineConfig
    from hdl.convert_autoencoder import convert_autoencoder

    paths = convert_autoencoder(AutoencoderEngineConfig(AutoencoderConfig(), lanes), Path(outdir))
    return DesignSource.from_manifest(paths["manifest"])


# ----------------------------------------------------------------------- host bridge
def _bridge_worker(argv) -> None:
    """In a fresh process: convert the host bridge for the given widths (see convert_bridge)."""
    import warnings

    from hdl.host_bridge import BridgeGeometry, bridge_module_name, bridge_ports, host_bridge

    geo = BridgeGeometry(*(int(v) for v in argv[:4]))
    warnings.filterwarnings("ignore", message=r".*driven but not read: .*unused")
    host_bridge(**bridge_ports(geo)).convert(hdl="Verilog", path=argv[4], name=bridge_module_name(geo),
                                             initial_values=True)


def convert_bridge(geo, outdir: Path) -> Path:
    """The bridge for ``geo`` as Verilog in ``outdir`` (converted in a fresh process)."""
    from hdl.host_bridge import bridge_module_name

    outdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    code = "import sys; from lstm_chiplet.synth import _bridge_worker; _bridge_worker(sys.argv[1:])"
    args = [geo.in_bits, geo.out_bits, geo.addr_bits, geo.data_bits, outdir]
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=str(REPO), env=env,
                          capture_output=True, text=True, timeout=600)
    path = outdir / f"{bridge_module_name(geo)}.v"
    if proc.returncode != 0 or not path.is_file():
        raise FlowError(f"conversion of the host bridge failed:\n{proc.stderr[-4000:]}")
    return path


def top_verilog(src: DesignSource, bridge_module: str, top: str) -> str:
    """A top module: the host bridge's byte streams on pins, the design behind it."""
    bits = src.port_bits
    inner = ["in_tdata", "in_tvalid", "in_tready", "in_tlast", "out_tdata", "out_tvalid",
             "out_tready", "out_tlast", "wr_en", "wr_addr", "wr_data"]

    def rng(n):
        return f"[{bits[n] - 1}:0] " if bits[n] > 1 else ""

    lines = [f"// {top}: {src.module} behind the byte-wide host bridge (lstm_chiplet.synth).",
             f"module {top} (",
             "    input clk, input rst,",
             "    input [7:0] rx_data, input rx_valid, output rx_ready,",
             "    output [7:0] tx_data, output tx_valid, input tx_ready",
             ");"]
    lines += [f"wire {rng(n)}{n};" for n in inner]
    lines += [f"{bridge_module} bridge (",
              "    .clk(clk), .rst(rst), .rx_data(rx_data), .rx_valid(rx_valid), .rx_ready(rx_ready),",
              "    .tx_data(tx_data), .tx_valid(tx_valid), .tx_ready(tx_ready),",
              ",\n".join(f"    .{n}({n})" for n in inner),
              ");",
              f"{src.module} core (",
              "    .clk(clk), .rst(rst),",
              ",\n".join(f"    .{n}({n})" for n in inner),
              ");",
              "endmodule", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------- yosys dump parsing
_CELL = re.compile(r"^\s*cell (\S+) (\S+)\s*$")
_PARAM = re.compile(r"^\s*parameter \\(\w+) (.+?)\s*$")
_CONN = re.compile(r"^\s*connect \\(\w+) (.+?)\s*$")
_ATTR = re.compile(r"^\s*attribute \\(\w+) (.+?)\s*$")
_CONST = re.compile(r"^(-?\d+|\d+'[01xz]+)$")


def _value(text: str):
    text = text.strip()
    if text.startswith('"'):
        return text[1:-1].replace("\\\\", "\\")
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    m = re.fullmatch(r"(\d+)'([01xz]*)", text)
    if m:
        bits = m.group(2)
        if len(bits) > 64:
            return {"bits": int(m.group(1)), "defined": any(b in "01" for b in bits),
                    "nonzero": "1" in bits}
        return int(bits.replace("x", "0").replace("z", "0") or "0", 2)
    return text


def parse_dump_cells(text: str) -> list:
    """Cells of a yosys RTLIL ``dump``: ``type``, ``name``, ``parameters``, ``connections``, ``attributes``."""
    cells, cur, attrs = [], None, {}
    for line in text.splitlines():
        m = _CELL.match(line)
        if m:
            cur = {"type": m.group(1), "name": m.group(2).lstrip("\\"), "parameters": {},
                   "connections": {}, "attributes": attrs}
            attrs = {}
            cells.append(cur)
            continue
        if cur is None:
            m = _ATTR.match(line)
            if m:
                attrs[m.group(1)] = _value(m.group(2))
            elif line.strip():
                attrs = {}          # the attributes belonged to a wire or a module
            continue
        if line.strip() == "end":
            cur = None
            continue
        m = _PARAM.match(line)
        if m:
            cur["parameters"][m.group(1)] = _value(m.group(2))
            continue
        m = _CONN.match(line)
        if m:
            cur["connections"][m.group(1)] = m.group(2)
    return cells


@dataclass
class Multiplier:
    """A ``$mul`` cell before DSP mapping."""

    name: str
    a_bits: int
    b_bits: int
    y_bits: int
    source: str = ""

    @property
    def dsp_blocks(self) -> int:
        """SB_MAC16 blocks yosys' mul2dsp would use (0: too small, stays in logic)."""
        if self.y_bits < 11 or min(self.a_bits, self.b_bits) < 2:
            return 0
        return math.ceil(self.a_bits / 16) * math.ceil(self.b_bits / 16)

    @property
    def weight(self) -> int:
        return self.a_bits * self.b_bits


def multipliers_from_dump(text: str) -> list:
    out = []
    for c in parse_dump_cells(text):
        if c["type"] != "$mul":
            continue
        p = c["parameters"]
        out.append(Multiplier(c["name"], int(p["A_WIDTH"]), int(p["B_WIDTH"]), int(p["Y_WIDTH"]),
                              _source_line(c["attributes"].get("src", ""))))
    return out


def dsp_budget(muls, blocks: int) -> tuple:
    """Split multipliers into (on DSPs, in logic): widest first while the blocks last."""
    on, soft, left = [], [], blocks
    for m in sorted(muls, key=lambda m: (-m.weight, m.name)):
        if 0 < m.dsp_blocks <= left:
            on.append(m)
            left -= m.dsp_blocks
        else:
            soft.append(m)
    return on, soft


SEPARATE_ADDRESSES = "separate read and write addresses (SPRAM has a single address port)"
READ_DURING_WRITE = ("a read during a write (SPRAM holds its output while writing: the read "
                     "must be disabled then)")
INITIAL_CONTENTS = "initial contents (SPRAM has none)"
#: What makes a RAM fit SPRAM, said once in a verdict.
SPRAM_HINT = ("SPRAM wants one address per memory, muxed between the write and the read, "
              "and the read disabled while writing")


def _source_line(src: str) -> str:
    """``file.v:123`` from a yosys ``src`` attribute (innermost location, no folders)."""
    last = str(src).split("|")[-1]
    m = re.match(r"(.*?):(\d+)", last)
    return f"{Path(m.group(1)).name}:{m.group(2)}" if m else ""


@dataclass
class Memory:
    """A ``$mem_v2`` cell after yosys' coarse synthesis.

    ``same_address`` is True when the write address is the read address (directly, or
    through the enable multiplexer yosys puts in front of a write port).
    ``init_nonzero`` is True when the memory or its read register starts from values
    other than zero (zeros are what the converter writes when every signal gets an
    initial value; a RAM loaded through its write port does not rely on them).
    """

    name: str
    memid: str
    size: int
    width: int
    rd_ports: int
    wr_ports: int
    same_address: bool = False
    init_nonzero: bool = False
    source: str = ""
    placement: str = "auto"     # auto (yosys decides: EBR or logic) or spram
    note: str = ""

    @property
    def bits(self) -> int:
        return self.size * self.width

    @property
    def rom(self) -> bool:
        return self.wr_ports == 0

    @property
    def ebr_blocks(self) -> int:
        return ebr_blocks(self.size, self.width)

    @property
    def spram_blocks(self) -> int:
        return spram_blocks(self.size, self.width)

    @property
    def label(self) -> str:
        """The memory's name in the RTL, or ROM/RAM and its source line for generated names."""
        if not self.memid.startswith("$"):
            return self.memid
        return ("ROM" if self.rom else "RAM") + (f" at {self.source}" if self.source else "")

    def spram_refusal(self) -> str:
        """Why this memory cannot go to SPRAM as written ('' when yosys may try)."""
        if self.rom:
            return "a ROM (SPRAM has no initial contents)"
        if self.rd_ports != 1 or self.wr_ports != 1:
            return f"{self.rd_ports} read and {self.wr_ports} write ports (SPRAM has one port)"
        if self.init_nonzero:
            return INITIAL_CONTENTS
        return ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(bits=self.bits, ebr_blocks=self.ebr_blocks, spram_blocks=self.spram_blocks,
                 label=self.label, rom=self.rom)
        return d


def _nonzero(v) -> bool:
    if isinstance(v, dict):
        return bool(v.get("nonzero"))
    return bool(v) if isinstance(v, int) else False


def mux_drivers(il_text: str) -> dict:
    """``{Y: (A, B)}`` of every ``$mux`` cell in an RTLIL file."""
    out = {}
    for c in parse_dump_cells(il_text):
        if c["type"] == "$mux":
            k = c["connections"]
            if "Y" in k:
                out[k["Y"]] = (k.get("A", ""), k.get("B", ""))
    return out


def memories_from_dump(text: str, il_text: str = "") -> list:
    """Memories from a ``dump t:$mem_v2``; ``il_text`` (the RTLIL file) resolves write addresses."""
    muxes = mux_drivers(il_text) if il_text else {}
    out = []
    for c in parse_dump_cells(text):
        if c["type"] != "$mem_v2":
            continue
        p, k = c["parameters"], c["connections"]
        rd, wr = k.get("RD_ADDR", ""), k.get("WR_ADDR", "")
        a, b = muxes.get(wr, ("", ""))
        undefined = re.fullmatch(r"\d+'x+", a.strip()) is not None
        same = bool(rd) and (rd == wr or (undefined and b == rd))
        out.append(Memory(c["name"], str(p.get("MEMID", c["name"])).lstrip("\\"), int(p["SIZE"]),
                          int(p["WIDTH"]), int(p["RD_PORTS"]), int(p["WR_PORTS"]), same,
                          _nonzero(p.get("INIT", 0)) or _nonzero(p.get("RD_INIT_VALUE", 0)),
                          _source_line(c["attributes"].get("src", ""))))
    return out


#: Largest memory the plan moves from EBR to flip-flops when EBR is over budget.
LOGIC_MAX_BITS = 256


def plan_memories(mems, device: Device, excluded=None) -> dict:
    """Choose SPRAM candidates when the EBR estimate exceeds the device (see module docstring).

    Parameters
    ----------
    excluded : dict name -> reason, optional
        Memories yosys already refused to map to SPRAM.

    Returns
    -------
    dict
        ``ebr_estimate`` (blocks left for EBR), ``spram_candidates`` (names, largest
        first), ``logic`` (names moved to flip-flops), ``refused`` (RAM name -> reason);
        ``placement`` and ``note`` are set on the memories.
    """
    excluded = dict(excluded or {})
    for m in mems:
        m.placement, m.note = "auto", ""
    total = sum(m.ebr_blocks for m in mems)
    refused, chosen, spram_left = {}, [], device.spram
    if total > device.ebr:
        for m in sorted(mems, key=lambda m: (-m.ebr_blocks, m.name)):
            if total <= device.ebr or spram_left == 0:
                break
            why = excluded.get(m.name) or m.spram_refusal()
            if why:
                m.note = f"not SPRAM: {why}"
                if not m.rom:
                    refused[m.name] = why
                continue
            if m.spram_blocks > spram_left:
                m.note = f"not SPRAM: needs {m.spram_blocks} SPRAM blocks, {spram_left} left"
                continue
            chosen.append(m.name)
            m.placement = "spram"
            m.note = "initial zeros dropped: SPRAM has no initial contents"
            spram_left -= m.spram_blocks
            total -= m.ebr_blocks
    # Still over: the smallest memories go to flip-flops (iCE40 has no LUT RAM), each
    # at most LOGIC_MAX_BITS so that the logic cells pay little for the block saved.
    to_logic = []
    if total > device.ebr:
        for m in sorted(mems, key=lambda m: (m.bits, m.name)):
            if total <= device.ebr or m.bits > LOGIC_MAX_BITS:
                break
            if m.placement != "auto":
                continue
            to_logic.append(m.name)
            m.placement = "logic"
            m.note = f"flip-flops: EBR over budget, {m.bits} bits"
            total -= m.ebr_blocks
    return {"ebr_estimate": total, "spram_candidates": chosen, "logic": to_logic, "refused": refused}


def drop_zero_init(il_text: str, names) -> str:
    """RTLIL with the all-zero ``INIT``/``RD_INIT_VALUE`` of the named ``$mem_v2`` cells undefined.

    SPRAM has no power-up contents and no output register reset value; a RAM the host
    fills through its write port (the engine's weights) does not need them.
    """
    names = set(names)
    out, inside = [], False
    for line in il_text.splitlines(keepends=True):
        m = _CELL.match(line)
        if m:
            inside = m.group(1) == "$mem_v2" and m.group(2).lstrip("\\") in names
        elif inside and line.strip() == "end":
            inside = False
        elif inside:
            pm = re.match(r"^(\s*parameter \\(?:INIT|RD_INIT_VALUE) )(\d+)'([01x]*)\s*$", line)
            if pm:
                if "1" in pm.group(3):
                    raise ValueError(f"drop_zero_init: {line.strip()[:60]} is not all zero")
                line = f"{pm.group(1)}{pm.group(2)}'{'x' * int(pm.group(2))}\n"
        out.append(line)
    return "".join(out)


# --------------------------------------------------------------- stat and nextpnr parsing
def cells_from_stat_json(text: str, top: str | None = None) -> dict:
    """Cell type -> count of the top module from ``stat -json`` output (tee'd to a file)."""
    start = text.find("{")
    if start < 0:
        raise ValueError("yosys stat -json: no JSON object in the output")
    data = json.loads(text[start:])
    mods = data.get("modules", {})
    if top is not None and ("\\" + top) in mods:
        mod = mods["\\" + top]
    elif "design" in data:
        mod = data["design"]
    else:
        mod = next(iter(mods.values()))
    return {k: int(v) for k, v in mod.get("num_cells_by_type", {}).items()}


def resources_from_cells(cells: dict) -> dict:
    """iCE40 resources from mapped cell counts, with a logic-cell range estimate."""
    luts = cells.get("SB_LUT4", 0)
    ffs = sum(n for k, n in cells.items() if k.startswith("SB_DFF"))
    carry = cells.get("SB_CARRY", 0)
    return {"lut4": luts, "flip_flops": ffs, "carry": carry,
            "logic_cells_min": max(luts, ffs, carry), "logic_cells_max": luts + ffs,
            "dsp": cells.get("SB_MAC16", 0), "ebr": sum(n for k, n in cells.items() if k.startswith("SB_RAM40_4K")),
            "spram": cells.get("SB_SPRAM256KA", 0)}


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


def shortfalls(used: dict, device: Device) -> list:
    """Resources over the device's count: ``[{"resource", "used", "available", "excess"}]``."""
    limits = {"logic_cells": device.logic_cells, "dsp": device.dsp, "ebr": device.ebr,
              "spram": device.spram, "io": device.io}
    out = []
    for name, limit in limits.items():
        u = used.get(name)
        if u is not None and u > limit:
            out.append({"resource": name, "used": int(u), "available": limit, "excess": int(u - limit),
                        "percent_of_device": round(100.0 * u / limit, 1)})
    return out


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


# ------------------------------------------------------------------------ the UP5K flow
_COARSE_BEFORE_DSP = """opt_expr
opt_clean
check
opt -nodffe -nosdff
fsm
opt
wreduce
peepopt
opt_clean
share
techmap -map +/cmp2lut.v -D LUT_WIDTH=4
opt_expr
opt_clean
memory_dff
wreduce t:$mul"""

_COARSE_DSP_AND_AFTER = """techmap -map +/mul2dsp.v -map +/ice40/dsp_map.v -D DSP_A_MAXWIDTH=16 -D DSP_B_MAXWIDTH=16 -D DSP_A_MINWIDTH=2 -D DSP_B_MINWIDTH=2 -D DSP_Y_MINWIDTH=11 -D DSP_NAME=$__MUL16X16
select a:mul2dsp
setattr -unset mul2dsp
opt_expr -fine
wreduce
select -clear
ice40_dsp
chtype -set $mul t:$__soft_mul
alumacc
opt
memory -nomap
opt_clean"""

_LIBMAP_ERROR = re.compile(r"ERROR: no valid mapping found for memory \S+?\.(\S+)")


def _yosys(script: str, workdir: Path, name: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    (workdir / f"{name}.ys").write_text(script + "\n")
    proc = run_tool(["yosys", "-q", "-l", f"{name}.log", f"{name}.ys"], workdir, workdir / f"{name}.out",
                    timeout=timeout)
    return proc


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _check(proc, workdir: Path, name: str) -> None:
    if proc.returncode != 0:
        raise FlowError(f"yosys step {name} failed (log {workdir / (name + '.log')}):\n"
                        f"{_tail(workdir / (name + '.log'))}\n{proc.stderr[-2000:]}")


def synthesize_ice40(files, top: str, workdir: Path, device: Device = UP5K) -> dict:
    """yosys ``synth_ice40 -dsp -spram`` with the DSP budget and memory plan; returns findings.

    Writes ``netlist.json`` (for nextpnr) into ``workdir``.  Steps (each a yosys run,
    joined by RTLIL checkpoints): ``a`` up to the DSP mapping (lists the multipliers),
    ``b`` the DSP mapping and the rest of the coarse part (lists the memories), then
    trial memory mappings if SPRAM is wanted, and ``c`` the mapping to iCE40 cells.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    reads = "\n".join(f"read_verilog {Path(f).resolve()}" for f in files)
    a = (f"{reads}\nsynth_ice40 -top {top} -run begin:coarse\n{_COARSE_BEFORE_DSP}\n"
         f"rename -enumerate -pattern mulcell_% t:$mul\n"
         f"tee -q -o multipliers.txt dump t:$mul\nwrite_rtlil a.il")
    _check(_yosys(a, workdir, "a"), workdir, "a")
    muls = multipliers_from_dump((workdir / "multipliers.txt").read_text())
    on, soft = dsp_budget(muls, device.dsp)
    soften = (f"chtype -set $__soft_mul {' '.join(f'{top}/c:{m.name}' for m in soft)}\n" if soft else "")
    b = (f"read_rtlil a.il\n{soften}{_COARSE_DSP_AND_AFTER}\n"
         f"rename -enumerate -pattern memcell_% t:$mem_v2\n"
         f"tee -q -o memories.txt dump t:$mem_v2\nwrite_rtlil b.il")
    _check(_yosys(b, workdir, "b"), workdir, "b")
    b_il = (workdir / "b.il").read_text()
    mems = memories_from_dump((workdir / "memories.txt").read_text(), b_il)
    by_name = {m.name: m for m in mems}
    excluded, trials = {}, 0
    while True:
        plan = plan_memories(mems, device, excluded)
        candidates = plan["spram_candidates"]
        (workdir / "b_spram.il").write_text(drop_zero_init(b_il, candidates))
        if not candidates:
            break
        trials += 1
        sel = " ".join(f"{top}/c:{n}" for n in candidates)
        trial = (f"read_rtlil b_spram.il\nsetattr -set ram_style \"huge\" {sel}\n"
                 "memory_libmap -lib +/ice40/brams.txt -lib +/ice40/spram.txt")
        proc = _yosys(trial, workdir, "spram_trial")
        if proc.returncode == 0:
            break
        m = _LIBMAP_ERROR.search((workdir / "spram_trial.log").read_text(errors="replace") + proc.stderr)
        if not m or m.group(1) not in candidates:
            _check(proc, workdir, "spram_trial")
        name = m.group(1)
        excluded[name] = READ_DURING_WRITE if by_name[name].same_address else SEPARATE_ADDRESSES
    setattr_huge = "".join(f"setattr -set ram_style \"{style}\" {' '.join(f'{top}/c:{n}' for n in names)}\n"
                           for style, names in (("huge", candidates), ("logic", plan["logic"])) if names)
    c = (f"read_rtlil b_spram.il\n{setattr_huge}synth_ice40 -dsp -spram -run map_ram: -json netlist.json\n"
         f"tee -q -o stat.json stat -json")
    _check(_yosys(c, workdir, "c"), workdir, "c")
    cells = cells_from_stat_json((workdir / "stat.json").read_text(), top)
    return {
        "cells": cells,
        "resources": resources_from_cells(cells),
        "multipliers": {"total": len(muls), "dsp_blocks_available": device.dsp,
                        "on_dsp": [asdict(m) for m in on], "in_logic": [asdict(m) for m in soft]},
        "memories": [m.to_dict() for m in mems],
        "memory_plan": {"ebr_estimate_before": sum(m.ebr_blocks for m in mems),
                        "spram": candidates, "logic": plan["logic"], "refused_spram": plan["refused"],
                        "trial_mappings": trials},
        "netlist": str(workdir / "netlist.json"),
        "seconds": round(time.monotonic() - t0, 1),
    }


def place_and_route(workdir: Path, device: Device, target_mhz: float, seed: int) -> dict:
    """nextpnr-ice40 on ``workdir/netlist.json``; icepack when it routed.  Returns findings."""
    t0 = time.monotonic()
    args = ["nextpnr-ice40", *device.nextpnr_args, "--json", "netlist.json", "--asc", "design.asc",
            "--freq", f"{target_mhz:g}", "--seed", str(seed), "--report", "pnr_report.json",
            "--timing-allow-fail"]
    proc = run_tool(args, workdir, workdir / "nextpnr.log", timeout=7200)
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
        pack = run_tool(["icepack", "design.asc", "design.bin"], workdir, workdir / "icepack.log")
        found["bitstream"] = str(workdir / "design.bin") if pack.returncode == 0 else None
        if pack.returncode != 0:
            found["errors"].append(f"icepack failed: {_tail(workdir / 'icepack.log', 5)}")
    elif not found["errors"]:
        found["errors"].append(f"nextpnr-ice40 exited with {proc.returncode}: {_tail(workdir / 'nextpnr.log', 8)}")
    return found


def implement(src: DesignSource, out=DEFAULT_OUT, *, device: Device = UP5K, target_mhz: float = TARGET_MHZ,
              seed: int = DEFAULT_SEED, bridge: str = "auto", place: bool = True) -> dict:
    """The UP5K flow for one design; writes ``<out>/<module>/report.json`` and ``report.md``.

    Parameters
    ----------
    src : DesignSource
    bridge : {"auto", "yes", "no"}
        Wrap the design in the host bridge: ``auto`` does when it has the stream ports.
    place : bool
        Run nextpnr (and icepack) when synthesis shows the design can fit.
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
    problems = []
    if pins > device.io:
        problems.append({"resource": "io", "used": pins, "available": device.io, "excess": pins - device.io,
                         "percent_of_device": round(100.0 * pins / device.io, 1)})
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


def bridge_cells(bridge_file: Path, module: str, workdir: Path) -> dict:
    """The host bridge alone through synth_ice40: its share of the logic."""
    workdir.mkdir(parents=True, exist_ok=True)
    script = f"read_verilog {bridge_file.resolve()}\nsynth_ice40 -top {module}\ntee -q -o bridge_stat.json stat -json"
    _check(_yosys(script, workdir, "bridge"), workdir, "bridge")
    return resources_from_cells(cells_from_stat_json((workdir / "bridge_stat.json").read_text(), module))


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


# --------------------------------------------------------------------- generic synth
def generic_cells(cfg, out=DEFAULT_OUT) -> dict:
    """yosys generic ``synth`` of the bare engine ``cfg``: gates, flip-flops, memories.

    Multipliers (products of two signals, not by constants) are counted in the RTL
    (before ``alumacc`` merges them into ``$macc``),
    memories after the coarse part (``$mem_v2``, counted in bits and not expanded); the
    fine part maps the logic to yosys' internal gate library (``$_AND_``, ``$_MUX_``,
    ``$_DFF_*`` ...) without ``memory_map``.
    """
    require("yosys")
    workdir = Path(out) / "generic" / cfg.module_name
    workdir.mkdir(parents=True, exist_ok=True)
    src = engine_source(cfg, workdir / "rtl")
    t0 = time.monotonic()
    script = (f"read_verilog {src.verilog[0]}\nhierarchy -check -top {src.module}\nproc\nflatten\nopt_clean\n"
              "tee -q -o rtl_muls.txt dump t:$mul\n"
              f"synth -top {src.module} -run coarse:fine\n"
              "tee -q -o memories.txt dump t:$mem_v2\n"
              "opt -fast -full\ntechmap\nopt -fast\nabc -fast\nopt -fast\n"
              "tee -q -o fine_stat.json stat -json")
    _check(_yosys(script, workdir, "generic"), workdir, "generic")
    products = [c for c in parse_dump_cells((workdir / "rtl_muls.txt").read_text())
                if c["type"] == "$mul" and not any(_CONST.match(c["connections"].get(k, "0'0"))
                                                   for k in ("A", "B"))]
    fine = cells_from_stat_json((workdir / "fine_stat.json").read_text(), src.module)
    mems = memories_from_dump((workdir / "memories.txt").read_text())
    ffs = sum(n for k, n in fine.items() if "DFF" in k or "DLATCH" in k)
    gates = sum(n for k, n in fine.items() if k.startswith("$_") and k not in () and "DFF" not in k
                and "DLATCH" not in k)
    return {"design": src.module, "input_size": cfg.input_size, "hidden_size": cfg.hidden_size,
            "lanes": cfg.lanes, "multipliers": len(products),
            "gates": gates, "flip_flops": ffs, "cells_by_type": fine,
            "memories": len(mems), "memory_bits": sum(m.bits for m in mems),
            "ram_bits": sum(m.bits for m in mems if not m.rom), "rom_bits": sum(m.bits for m in mems if m.rom),
            "seconds": round(time.monotonic() - t0, 1)}


def generic_markdown(rows) -> str:
    head = "| engine | P | multipliers | gates | flip-flops | RAM bits | ROM bits |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['input_size']}->{r['hidden_size']} | {r['lanes']} | {r['multipliers']} | "
                     f"{r['gates']:,} | {r['flip_flops']:,} | {r['ram_bits']:,} | {r['rom_bits']:,} |")
    return "\n".join(lines)


# ----------------------------------------------------------------- multiplier utilisation
def reference_layers() -> list:
    """(D, H) of every LSTM layer of the reference autoencoder."""
    from golden.autoencoder import AutoencoderConfig

    return [tuple(int(v) for v in s) for s in AutoencoderConfig().layer_shapes]


def utilisation(lanes=UTILISATION_LANES, layers=None, measure: bool = False, steps: int = 2) -> list:
    """Rows of the utilisation table: formula, ideal, optional measured cycles per step."""
    from hdl.config import EngineConfig

    rows = []
    for d, h in layers or reference_layers():
        for p in lanes:
            if h % p:
                continue
            cfg = EngineConfig(d, h, p)
            row = {"layer": f"{d}->{h}", "input_size": d, "hidden_size": h, "lanes": p,
                   "multipliers": cfg.multipliers, "ideal": cfg.ideal_cycles,
                   "cycles_per_step": cfg.cycles_per_step, "measured": None,
                   "ratio": cfg.cycles_per_step / cfg.ideal_cycles,
                   "within_10_percent": cfg.cycles_per_step <= 1.1 * cfg.ideal_cycles,
                   "engine_target": cfg.target_cycles, "meets_engine_target": cfg.meets_target,
                   "mac_busy": cfg.mac_utilisation}
            if measure:
                from cosim.cycles import measure as measure_cycles

                m = measure_cycles(d, h, p, steps)
                row["measured"] = m.measured
                row["measured_seconds"] = round(m.seconds, 2)
            rows.append(row)
    return rows


def window_utilisation(lanes=UTILISATION_LANES, measure: bool = False, progress=None) -> list:
    """Rows of the whole-window design's table: per layer pass and P, cycles per step.

    The whole-window design (:mod:`hdl.autoencoder_engine`, the design placed on the
    UP5K) overlaps a step's row pipeline with the next step's first columns, so a
    layer's step takes ``(H/P)(D+H) + G`` cycles with ``G`` the gap
    (:meth:`AutoencoderEngineConfig.step_gap`), zero for every reference layer.  With
    ``measure`` the whole design runs two windows of the reference autoencoder on
    Verilator at each P and the measured window period is checked against the
    formula (the sum over passes); a difference is reported, not hidden.
    """
    from golden.autoencoder import AutoencoderConfig, realistic_weights, synthetic_windows
    from hdl.autoencoder_config import AutoencoderEngineConfig

    model = AutoencoderConfig()
    rows = []
    for p in lanes:
        if any(h % p for h in model.hidden_sizes):
            continue
        cfg = AutoencoderEngineConfig(model, p)
        measured = None
        if measure:
            from cosim.autoencoder import run_autoencoder_windows

            if progress is not None:
                progress(f"whole-window design at P={p} on Verilator")
            fixed = realistic_weights(model, seed=p).quantize(cfg.fmts)
            out = run_autoencoder_windows(fixed, fixed.quantize_windows(synthetic_windows(2, model, seed=p)),
                                          simulator="verilator", lanes=p)
            measured = out["cycles_per_window"]
        for r in cfg.cycle_table():
            if cfg.passes[r["pass"]].kind == "dense":
                continue
            ideal = math.ceil(r["hidden"] * r["columns"] / p)
            rows.append({"design": cfg.module_name, "layer": f"{r['inputs']}->{r['hidden']}",
                         "pass": r["pass"], "lanes": p, "multipliers": cfg.multipliers, "ideal": ideal,
                         "cycles_per_step": r["step_cycles"], "step_gap": r["step_gap"],
                         "ratio": r["step_cycles"] / ideal,
                         "within_10_percent": r["step_cycles"] <= 1.1 * ideal,
                         "window_cycles": cfg.cycles_per_window, "window_cycles_measured": measured,
                         "window_mac_busy": cfg.mac_utilisation})
    return rows


def window_utilisation_markdown(rows) -> str:
    lines = ["| layer D->H (pass) | P | MACs | ideal (H/P)(D+H) | cycles/step (formula) | gap | "
             "cycles/ideal | within 10% | window cycles formula / measured | window MACs busy |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        meas = r["window_cycles_measured"]
        meas = "-" if meas is None else (f"{meas:,}" if meas == r["window_cycles"] else f"**{meas:,}**")
        lines.append(f"| {r['layer']} ({r['pass']}) | {r['lanes']} | {r['multipliers']} | {r['ideal']} | "
                     f"{r['cycles_per_step']} | {r['step_gap']} | {r['ratio']:.3f} | "
                     f"{'yes' if r['within_10_percent'] else 'NO'} | {r['window_cycles']:,} / {meas} | "
                     f"{100 * r['window_mac_busy']:.1f}% |")
    return "\n".join(lines)


def utilisation_markdown(rows) -> str:
    lines = ["| layer D->H | P | MACs | ideal ceil(H(D+H)/P) | cycles/step (formula) | measured | "
             "cycles/ideal | within 10% | <= 1.1 ideal + 16 | MACs busy |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        meas = "-" if r["measured"] is None else str(r["measured"])
        lines.append(f"| {r['layer']} | {r['lanes']} | {r['multipliers']} | {r['ideal']} | "
                     f"{r['cycles_per_step']} | {meas} | {r['ratio']:.3f} | "
                     f"{'yes' if r['within_10_percent'] else 'NO'} | "
                     f"{'yes' if r['meets_engine_target'] else 'NO'} | {100 * r['mac_busy']:.1f}% |")
    return "\n".join(lines)


def utilisation_plot(rows, path: Path, window_rows=()) -> None:
    """Cycles per step against lanes, one panel line per layer, ideal dashed (log-log).

    ``window_rows`` (:func:`window_utilisation`) add the whole-window design: its
    cycles per step per layer (+) and its multipliers busy over a whole window.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    layers = []
    for r in rows:
        if r["layer"] not in layers:
            layers.append(r["layer"])
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for layer, col in zip(layers, colors * 3):
        rs = [r for r in rows if r["layer"] == layer]
        p = [r["lanes"] for r in rs]
        ax1.loglog(p, [r["ideal"] for r in rs], "--", color=col, lw=1)
        ax1.loglog(p, [r["cycles_per_step"] for r in rs], "o-", color=col, label=f"{layer}")
        meas = [(r["lanes"], r["measured"]) for r in rs if r["measured"] is not None]
        if meas:
            ax1.loglog(*zip(*meas), "x", color="k", ms=8)
        ax2.semilogx(p, [100 * r["mac_busy"] for r in rs], "o-", color=col, label=layer)
        ws = [r for r in window_rows if r["layer"] == layer]
        if ws:
            ax1.loglog([r["lanes"] for r in ws], [r["cycles_per_step"] for r in ws], "+", color=col, ms=12)
    if window_rows:
        per_p = {r["lanes"]: r["window_mac_busy"] for r in window_rows}
        ax2.semilogx(list(per_p), [100 * v for v in per_p.values()], "s--", color="k",
                     label="whole-window design (per window)")
    ax1.set_xlabel("lanes P per gate unit (4P multipliers)")
    ax1.set_ylabel("cycles per step")
    ax1.set_title("Single-layer engine cycles/step (o), ideal (dashed), measured (x);\n"
                  "whole-window design cycles/step (+)", fontsize=10)
    ax1.legend(fontsize=8)
    ax1.set_xticks(UTILISATION_LANES)
    ax1.set_xticklabels([str(p) for p in UTILISATION_LANES])
    ax2.axhline(100 / 1.1, color="r", lw=1, label="within 10% of ideal")
    ax2.set_xlabel("lanes P per gate unit")
    ax2.set_ylabel("multipliers busy (%)")
    ax2.set_ylim(0, 105)
    ax2.set_xticks(UTILISATION_LANES)
    ax2.set_xticklabels([str(p) for p in UTILISATION_LANES])
    ax2.set_title("Multipliers busy: single-layer engine per step (o), whole-window design per window", fontsize=9)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------- summary
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


def _engines(text: str):
    out = []
    for part in text.split(","):
        try:
            d, h, p = (int(v) for v in part.lower().split("x"))
        except ValueError:
            raise ValueError(f"--engines: expected DxHxP[,DxHxP...], got {part!r}") from None
        out.append((d, h, p))
    return out


def _ints(text: str, what: str):
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{what}: expected comma-separated integers, got {text!r}") from None


def add_arguments(p) -> None:
    p.add_argument("--manifest", action="append", default=[],
                   help="a converted design's manifest (repeatable): any top module with the manifest "
                        "layout of hdl.convert, e.g. the whole-window design")
    p.add_argument("--engines", default=None,
                   help="single-layer engines DxHxP, comma separated")
    p.add_argument("--autoencoder", type=int, default=None, metavar="P",
                   help="the whole-window design of the reference autoencoder at P lanes "
                        "(hdl.convert_autoencoder). Without --manifest, --engines and --autoencoder "
                        f"the flow runs the whole-window design at P={DEFAULT_AUTOENCODER_LANES} and the "
                        "engines " + ",".join("x".join(map(str, e)) for e in DEFAULT_ENGINES))
    p.add_argument("--target-mhz", type=float, default=TARGET_MHZ, help=f"clock constraint (default {TARGET_MHZ:g})")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"nextpnr seed (default {DEFAULT_SEED})")
    p.add_argument("--bridge", choices=("auto", "yes", "no"), default="auto",
                   help="wrap in the byte-wide host bridge (auto: when the design has the stream ports)")
    p.add_argument("--no-place", action="store_true", help="synthesis only, no nextpnr")
    p.add_argument("--generic-shape", default="x".join(map(str, DEFAULT_GENERIC_SHAPE)),
                   help="DxH of the generic cell counts (default %(default)s)")
    p.add_argument("--generic-lanes", default=",".join(map(str, DEFAULT_GENERIC_LANES)),
                   help="lane counts of the generic cell counts; empty to skip (default %(default)s)")
    p.add_argument("--no-utilisation", action="store_true", help="skip the multiplier utilisation table")
    p.add_argument("--measure-cycles", action="store_true",
                   help="measure the utilisation tables' cycles: single-layer engines in MyHDL simulation, "
                        "the whole-window design on Verilator (minutes)")
    p.add_argument("--only", choices=("up5k", "generic", "utilisation"), default=None,
                   help="run one part only")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default build/synth)")


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


def run(args) -> int:
    try:
        return _run(args)
    except (ToolMissing, FlowError) as exc:
        print(f"lstm-chiplet synth: error: {exc}", file=sys.stderr)
        return 1


def _run(args) -> int:
    from hdl.config import EngineConfig

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parts = {args.only} if args.only else {"up5k", "generic", "utilisation"}
    if args.no_utilisation:
        parts.discard("utilisation")
    today = time.strftime("%Y-%m-%d")
    summary = load_summary(out / "summary.json")
    summary.update(command="lstm-chiplet synth", date=today, device=UP5K.to_dict())
    if "up5k" in parts:
        sources = [DesignSource.from_manifest(m) for m in args.manifest]
        chosen = bool(sources) or args.engines is not None or args.autoencoder is not None
        ae_lanes = args.autoencoder if chosen else DEFAULT_AUTOENCODER_LANES
        if ae_lanes:
            sources.append(autoencoder_source(ae_lanes, out / "rtl"))
        engines = _engines(args.engines) if args.engines else ([] if chosen else list(DEFAULT_ENGINES))
        for d, h, p in engines:
            sources.append(engine_source(EngineConfig(d, h, p), out / "rtl"))
        for src in sources:
            print(f"synth: {src.module} on {UP5K.name} ...", file=sys.stderr, flush=True)
            r = implement(src, out, target_mhz=args.target_mhz, seed=args.seed, bridge=args.bridge,
                          place=not args.no_place)
            r["date"] = today
            summary["implementations"] = [x for x in summary["implementations"] if x["design"] != r["design"]] + [r]
            print(f"  {src.module}: " + " / ".join(r["verdict"]) + f" ({r['seconds']} s)", file=sys.stderr)
    if "generic" in parts:
        lanes = _ints(args.generic_lanes, "--generic-lanes")
        d, h = (int(v) for v in args.generic_shape.lower().split("x"))
        for p in lanes:
            print(f"synth: generic cells of D={d} H={h} P={p} ...", file=sys.stderr, flush=True)
            g = dict(generic_cells(EngineConfig(d, h, p), out), date=today)
            summary["generic"] = [x for x in summary["generic"] if x["design"] != g["design"]] + [g]
    if "utilisation" in parts:
        if args.measure_cycles:
            print("synth: measuring cycles per step in MyHDL simulation ...", file=sys.stderr, flush=True)
        rows = [dict(r, date=today) for r in utilisation(measure=args.measure_cycles)]
        wrows = [dict(r, date=today) for r in window_utilisation(
            measure=args.measure_cycles,
            progress=lambda what: print(f"synth: measuring {what} ...", file=sys.stderr, flush=True))]
        summary["utilisation"], summary["window_utilisation"] = rows, wrows
        (out / "utilisation.md").write_text(utilisation_markdown(rows) + "\n\n"
                                            + window_utilisation_markdown(wrows) + "\n")
        utilisation_plot(rows, out / "utilisation.png", wrows)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = summary_markdown(summary)
    (out / "summary.md").write_text(text + "\n")
    print(text)
    print(f"written {out / 'summary.json'}, {out / 'summary.md'}"
          + (f", {out / 'utilisation.png'}" if summary["utilisation"] else ""))
    return 0
