"""The whole-window autoencoder engine as the device under test, and the rtl backend's runner.

:func:`run_autoencoder_windows` is what :mod:`lstm_chiplet.backends` calls for
``--backend rtl``: it converts the whole-window engine for the model's topology
(:func:`autoencoder_design`, once, cached under ``build/cosim/designs/``), writes every
weight through the write port once (:func:`golden.autoencoder_memory_map.autoencoder_image`),
streams all windows back to back, and returns the reconstruction and the measured
cycles.  The device has the single-layer engine's port names, so the host model, the
stimulus and trace files and both runners of the co-simulation serve it unchanged:

* Verilator (default): the C++ harness of :mod:`cosim.verilator`, compiled once per
  design text (cached); the run is polled so long runs report progress;
* Icarus (``simulator="icarus"``, slow): MyHDL's VPI co-simulation of :mod:`cosim.icarus`.

Cycles per window are measured, not assumed: the spacing of the first input beats of
consecutive windows (the host always offers and is always ready).  To measure the last
window too, one probe beat (zeros) follows the last window and a reset drops the
partial window it starts.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from .compile import converted, design_from_verilog
from .paths import build_root
from .stream import Stimulus, StreamShape, Trace
from .tools import ToolFailed
from .verilog import pack_words, unpack_words

SIMULATORS = ("verilator", "icarus")
#: Seconds between looks at a running Verilator harness (progress).
POLL_SECONDS = 0.5


def autoencoder_design(cfg, root: Path | None = None):
    """Convert an :class:`hdl.autoencoder_config.AutoencoderEngineConfig` once (cached).

    Returns a :class:`cosim.compile.Design` (``cycles_per_step`` is None: the engine
    takes F cycles per input beat; its documented figure is ``cfg.cycles_per_window``).
    """
    verilog, manifest = converted(cfg, root)
    shape = design_shape(cfg)
    return design_from_verilog(verilog, cfg.module_name, shape, None, "autoencoder", manifest, cfg)


def design_shape(cfg) -> StreamShape:
    f, vw = cfg.features, cfg.vec_bits
    return StreamShape(f, vw, f, vw, cfg.addr_bits, cfg.weight_bits)


def check_windows(fixed_model, x_int) -> np.ndarray:
    """``x_int`` as an int64 (N, T, F) array of vec-format integers, or a clear error."""
    from golden.formats import FormatError
    from golden.lstm_float import ShapeError

    cfg = fixed_model.cfg
    x = np.asarray(x_int)
    if x.ndim != 3 or x.shape[1:] != (cfg.timesteps, cfg.features):
        raise ShapeError(f"rtl windows: expected integer windows of shape (N, {cfg.timesteps}, "
                         f"{cfg.features}), got {x.shape}")
    if x.size and not np.issubdtype(x.dtype, np.integer):
        raise FormatError(f"rtl windows: expected integers of {fixed_model.fmts.vec.describe()}, "
                          f"got dtype {x.dtype}")
    x = x.astype(np.int64)
    vec = fixed_model.fmts.vec
    if x.size and (x.min() < vec.int_min or x.max() > vec.int_max):
        raise FormatError(f"rtl windows: integers span [{x.min()}, {x.max()}], outside "
                          f"{vec.describe()}")
    return x


def window_stimulus(cfg, image, x_int, *, ready=(True,), gaps=None, probe: bool = True,
                    tail_cycles: int = 8) -> Stimulus:
    """The host's whole run: the image once, then every window's T beats back to back.

    With ``probe``, one beat of zeros follows the last window and a reset after its
    acceptance (once the last output has left) drops the window it starts: the probe's
    acceptance closes the last window's period.
    ``gaps`` (idle cycles before each beat) and ``ready`` (the out_tready pattern) add
    host slowness for tests.
    """
    n, t, f = x_int.shape
    vw = cfg.vec_bits
    beats = [(pack_words(x_int[w, s], vw), s == t - 1) for w in range(n) for s in range(t)]
    gaps = list(gaps) if gaps is not None else [0] * len(beats)
    waits, lens = [-1] * len(beats), [0] * len(beats)
    if probe:
        beats.append((0, False))
        gaps.append(0)
        waits.append(cfg.dense_wait + 8)
        lens.append(1)
    stall = max(1, len(ready) - sum(bool(r) for r in ready) + 1)
    max_cycles = (len(image) + 64 + (n + 1) * (2 * cfg.cycles_per_window + 64) * stall
                  + sum(gaps) + 1000)
    return Stimulus(tuple(image), tuple(beats), tuple(gaps), tuple(bool(r) for r in ready),
                    tuple(waits), tuple(lens), tail_cycles=tail_cycles, max_cycles=max_cycles)


def reconstruction_from_trace(trace: Trace, cfg, windows: int) -> np.ndarray:
    """The (N, T, F) vec integers of a run's output beats (checks count and tlast)."""
    t, f = cfg.timesteps, cfg.features
    outs = trace.outputs
    if len(outs) < windows * t:
        raise ToolFailed(f"{cfg.module_name}: {len(outs)} output beats for {windows} windows of "
                         f"{t} steps (status {trace.status!r} at cycle {trace.end_cycle})")
    outs = outs[:windows * t]
    lasts = [o.last for o in outs]
    want = [s == t - 1 for _ in range(windows) for s in range(t)]
    if lasts != want:
        bad = next(k for k, (a, b) in enumerate(zip(lasts, want)) if a != b)
        raise ToolFailed(f"{cfg.module_name}: out_tlast of output beat {bad} is {int(lasts[bad])}, "
                         f"expected {int(want[bad])}")
    rec = np.array([unpack_words(o.data, f, cfg.vec_bits) for o in outs], dtype=np.int64)
    return rec.reshape(windows, t, f)


def window_cycles(trace: Trace, cfg, windows: int) -> list:
    """Cycles between the first beats of consecutive windows (the probe closes the last)."""
    accepted = dict(trace.accepts)
    t = cfg.timesteps
    starts = [accepted[w * t] for w in range(windows) if w * t in accepted]
    probe = accepted.get(windows * t)
    if probe is not None:
        starts.append(probe)
    return [b - a for a, b in zip(starts, starts[1:])]


_TB_TEMPLATE = r"""// File-driven test bench generated by cosim.autoencoder: a transcription of
// cosim.stream.HostModel (like the Verilator harness of cosim.verilator), reading the
// stimulus text and writing the trace text, so Icarus runs long streams at full speed.
`timescale 1ns/1ps
module @TB@;
reg clk = 1'b0;
reg rst = 1'b1, in_tvalid = 1'b0, in_tlast = 1'b0, out_tready = 1'b0, wr_en = 1'b0;
reg [@WI@-1:0] in_tdata = 0;
reg [@WA@-1:0] wr_addr = 0;
reg [@WD@-1:0] wr_data = 0;
wire in_tready, out_tvalid, out_tlast;
wire [@WO@-1:0] out_tdata;

@TOP@ dut (.clk(clk), .rst(rst), .in_tdata(in_tdata), .in_tvalid(in_tvalid),
    .in_tready(in_tready), .in_tlast(in_tlast), .out_tdata(out_tdata),
    .out_tvalid(out_tvalid), .out_tready(out_tready), .out_tlast(out_tlast),
    .wr_en(wr_en), .wr_addr(wr_addr), .wr_data(wr_data));

reg [8*4096-1:0] stim_name, trace_name;
integer fi, fb, fo, r, k, ch;
integer reset_cycles, max_cycles, tail_cycles, expect_final, nready, nimage, nbeats;
reg ready_mem [0:65535];
reg [@WA@-1:0] img_addr; reg [@WD@-1:0] img_data; integer img_loaded;
integer b_gap, b_last, b_wait, b_len; reg [@WI@-1:0] b_data;
reg [@WA@-1:0] skip_a; reg [@WD@-1:0] skip_d;
reg [8*64-1:0] word;
// host state (cosim.stream.HostModel)
integer rst_left, wr_idx, beat, gap_left, reset_wait, reset_len, outs_since_reset, tail_left;
integer first, c, xz_errors;
reg offering, prev_valid, prev_taken, stalled, taken, done;
reg [@WO@-1:0] stall_data; reg stall_last;
// sampled before the edge, and this cycle's drive
reg s_in_tready, s_out_tvalid, s_out_tlast; reg [@WO@-1:0] s_out_tdata;
reg d_rst, d_in_tvalid, d_in_tlast, d_out_tready, d_wr_en;
reg [@WI@-1:0] d_in_tdata; reg [@WA@-1:0] d_wr_addr; reg [@WD@-1:0] d_wr_data;

task fail(input [8*64-1:0] what);
begin
    $display("bench: %0s", what);
    $finish(2);
end
endtask

task read_beat;   // the record of beat `beat` from the beats section
begin
    r = $fscanf(fb, " %d %d %h %d %d", b_gap, b_last, b_data, b_wait, b_len);
    if (r != 5) fail("bad beat line");
end
endtask

task apply;
begin
    rst = d_rst; in_tvalid = d_in_tvalid; in_tlast = d_in_tlast; out_tready = d_out_tready;
    wr_en = d_wr_en; in_tdata = d_in_tdata; wr_addr = d_wr_addr; wr_data = d_wr_data;
end
endtask

task idle(input rst_value);
begin
    d_rst = rst_value; d_in_tvalid = 0; d_in_tlast = 0; d_out_tready = 0; d_wr_en = 0;
    d_in_tdata = 0; d_wr_addr = 0; d_wr_data = 0;
end
endtask

initial begin
    if (!$value$plusargs("stim=%s", stim_name)) fail("no +stim=FILE");
    if (!$value$plusargs("trace=%s", trace_name)) fail("no +trace=FILE");
    fi = $fopen(stim_name, "r"); fb = $fopen(stim_name, "r");
    if (fi == 0 || fb == 0) fail("cannot open the stimulus file");
    r = $fscanf(fi, " reset_cycles %d max_cycles %d tail_cycles %d expect_final %d ready %d",
                reset_cycles, max_cycles, tail_cycles, expect_final, nready);
    if (r != 5) fail("bad header");
    k = 0;
    while (k < nready) begin
        ch = $fgetc(fi);
        if (ch == "0" || ch == "1") begin ready_mem[k] = (ch == "1"); k = k + 1; end
        else if (ch < 0) fail("bad ready pattern");
    end
    r = $fscanf(fi, " image %d", nimage);
    if (r != 1) fail("bad image count");
    // second handle: skip to the beats section
    r = $fscanf(fb, " reset_cycles %d max_cycles %d tail_cycles %d expect_final %d ready %d",
                k, k, k, k, k);
    k = 0;
    while (k < nready) begin
        ch = $fgetc(fb);
        if (ch == "0" || ch == "1") k = k + 1;
    end
    r = $fscanf(fb, " image %d", k);
    for (k = 0; k < nimage; k = k + 1) r = $fscanf(fb, " %h %h", skip_a, skip_d);
    r = $fscanf(fb, " beats %d", nbeats);
    if (r != 1) fail("bad beat count");
    fo = $fopen(trace_name, "w");
    if (fo == 0) fail("cannot open the trace file");
    img_loaded = -1;
    rst_left = reset_cycles - 1; wr_idx = 0; beat = 0; gap_left = 0;
    if (nbeats > 0) begin read_beat; gap_left = b_gap; end
    offering = 0; reset_wait = -1; reset_len = 0; outs_since_reset = 0; tail_left = -1;
    prev_valid = 0; prev_taken = 0; stalled = 0; first = 0; xz_errors = 0; done = 0;
    idle(1);
    apply;
    c = 0;
    #1;
    while (!done) begin
        s_in_tready = in_tready; s_out_tvalid = out_tvalid; s_out_tlast = out_tlast;
        s_out_tdata = out_tdata;
        #4 clk = 1'b1;
        #1;
        if (!d_rst) begin
            if ((^{s_in_tready, s_out_tvalid}) === 1'bx
                    || (s_out_tvalid === 1'b1 && (^{s_out_tdata, s_out_tlast}) === 1'bx)) begin
                xz_errors = xz_errors + 1;
                if (xz_errors <= 8) $display("XZ cycle %0d: in_tready=%b out_tvalid=%b out_tlast=%b",
                                             c, s_in_tready, s_out_tvalid, s_out_tlast);
            end
            if (d_wr_en) wr_idx = wr_idx + 1;
            if (d_in_tvalid && s_in_tready) begin
                $fwrite(fo, "in %0d %0d\n", beat, c);
                if (b_wait >= 0) begin reset_wait = b_wait; reset_len = b_len; end
                beat = beat + 1;
                offering = 0;
                if (beat < nbeats) begin read_beat; gap_left = b_gap; end
            end
            if (stalled) begin
                if (!s_out_tvalid) $fwrite(fo, "viol %0d out_tvalid dropped before out_tready\n", c);
                else if (s_out_tdata !== stall_data || s_out_tlast !== stall_last)
                    $fwrite(fo, "viol %0d out_tdata/out_tlast changed while stalled\n", c);
            end
            if (s_out_tvalid && (!prev_valid || prev_taken)) first = c;
            taken = s_out_tvalid && d_out_tready;
            if (taken) begin
                $fwrite(fo, "out %0d %0d %0d %h\n", c, first, s_out_tlast ? 1 : 0, s_out_tdata);
                outs_since_reset = outs_since_reset + 1;
            end
            stalled = s_out_tvalid && !d_out_tready;
            if (stalled) begin stall_data = s_out_tdata; stall_last = s_out_tlast; end
            prev_valid = s_out_tvalid; prev_taken = taken;
        end else begin
            stalled = 0; prev_valid = 0; prev_taken = 0;
        end
        if (c + 1 >= max_cycles) begin
            $fwrite(fo, "end %0d timeout\n", c);
            done = 1;
        end else begin
            if (tail_left < 0 && beat == nbeats && reset_wait < 0 && rst_left == 0 && !d_rst
                    && outs_since_reset >= expect_final) tail_left = tail_cycles;
            if (tail_left == 0) begin
                $fwrite(fo, "end %0d ok\n", c);
                done = 1;
            end
            if (tail_left > 0) tail_left = tail_left - 1;
        end
        if (!done) begin
            idle(0);
            d_out_tready = ready_mem[(c + 1) % nready];
            if (reset_wait == 0) begin
                reset_wait = -1; rst_left = reset_len;
                $fwrite(fo, "rst %0d\n", c + 1);
                outs_since_reset = 0;
            end else if (reset_wait > 0) begin
                reset_wait = reset_wait - 1;
            end
            if (rst_left > 0) begin
                rst_left = rst_left - 1; idle(1); offering = 0;
            end else if (wr_idx < nimage) begin
                while (img_loaded < wr_idx) begin
                    r = $fscanf(fi, " %h %h", img_addr, img_data);
                    if (r != 2) fail("bad image line");
                    img_loaded = img_loaded + 1;
                end
                d_wr_en = 1; d_wr_addr = img_addr; d_wr_data = img_data;
            end else if (beat < nbeats && reset_wait < 0) begin
                if (!offering) begin
                    if (gap_left > 0) gap_left = gap_left - 1; else offering = 1;
                end
                if (offering) begin d_in_tvalid = 1; d_in_tdata = b_data; d_in_tlast = b_last; end
            end
            apply;
            #4 clk = 1'b0;
            #1;
            c = c + 1;
        end
    end
    $fclose(fo);
    $display("xz_errors %0d", xz_errors);
    $finish(0);
end
endmodule
"""
TB_PREFIX = "tb_host_"


def testbench_verilog(design) -> str:
    """The file-driven Icarus test bench for ``design`` (see :func:`run_icarus_file`)."""
    widths = {"@WI@": design.port("in_tdata").width, "@WO@": design.port("out_tdata").width,
              "@WA@": design.port("wr_addr").width, "@WD@": design.port("wr_data").width}
    text = _TB_TEMPLATE.replace("@TB@", TB_PREFIX + design.module).replace("@TOP@", design.module)
    for key, value in widths.items():
        text = text.replace(key, str(value))
    return text


def compile_testbench(design) -> Path:
    """``vvp`` image of the design under the file-driven bench (cached by design text)."""
    from .compile import cached_build
    from .tools import run_tool, tool_version

    top = TB_PREFIX + design.module

    def build_in(folder: Path):
        run_tool(["iverilog", "-g2005", "-s", top, "-o", "sim.vvp", "bench.v", "dut.v"],
                 cwd=folder, timeout=1800, what=f"iverilog ({design.label} bench)")

    return cached_build("icarus-bench", design, {"bench.v": testbench_verilog(design)}, build_in,
                        tool_version("iverilog")) / "sim.vvp"


def run_icarus_file(design, stim: Stimulus, timeout: float = 24 * 3600.0) -> Trace:
    """Run ``stim`` on Icarus with the file-driven bench; the same trace as the other runners.

    ``vvp`` simulates the design and the host model alone (no VPI round trip per
    cycle), and checks for X/Z on the outputs after the first reset, as the VPI
    wrapper of :mod:`cosim.icarus` does.
    """
    from .tools import pin_prefix, require

    require("vvp")
    vvp = compile_testbench(design)
    work = build_root() / "runs"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work, prefix="icarus-") as tmp:
        stim_path = Path(tmp) / "stimulus.txt"
        trace_path = Path(tmp) / "trace.txt"
        stim_path.write_text(stim.to_text())
        start = time.monotonic()
        try:
            proc = subprocess.run(pin_prefix() + ["vvp", "-n", str(vvp), f"+stim={stim_path}",
                                                  f"+trace={trace_path}"],
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise ToolFailed(f"{design.label}: Icarus run exceeded {timeout:g} s") from exc
        wall = time.monotonic() - start
        out = proc.stdout + proc.stderr
        if proc.returncode != 0 or not trace_path.is_file():
            raise ToolFailed(f"{design.label}: Icarus bench failed (exit {proc.returncode}):\n{out[-4000:]}")
        trace = Trace.from_text(trace_path.read_text(), simulator="icarus")
    trace.wall_seconds = wall
    found = [line for line in out.splitlines() if line.startswith("xz_errors ")]
    trace.xz_errors = int(found[-1].split()[1]) if found else None
    trace.xz_messages = [line for line in out.splitlines() if line.startswith("XZ ")]
    return trace


def run_stimulus(design, stim: Stimulus, simulator: str = "verilator", progress=None,
                 progress_total: int = 0, beats_per_unit: int = 1) -> Trace:
    """Run ``stim`` on ``simulator``; Verilator runs are polled to report progress."""
    if simulator == "icarus":
        trace = run_icarus_file(design, stim)
        if progress is not None:
            progress(progress_total, progress_total)
        return trace
    if simulator != "verilator":
        raise ValueError(f"simulator must be one of {SIMULATORS}, got {simulator!r}")
    from .verilator import build

    exe = build(design)
    work = build_root() / "runs"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work, prefix="autoencoder-") as tmp:
        stim_path = Path(tmp) / "stimulus.txt"
        trace_path = Path(tmp) / "trace.txt"
        stim_path.write_text(stim.to_text())
        start = time.monotonic()
        with open(Path(tmp) / "harness.log", "w") as log:
            proc = subprocess.Popen([str(exe), str(stim_path), str(trace_path)], stdout=log,
                                    stderr=subprocess.STDOUT)
            try:
                done = -1
                while True:
                    try:
                        proc.wait(timeout=POLL_SECONDS)
                        break
                    except subprocess.TimeoutExpired:
                        pass
                    if progress is not None and trace_path.is_file():
                        with open(trace_path, "rb") as fh:
                            outs = sum(1 for line in fh if line.startswith(b"out "))
                        units = min(progress_total, outs // max(1, beats_per_unit))
                        if units != done:
                            done = units
                            progress(units, progress_total)
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        wall = time.monotonic() - start
        if proc.returncode != 0:
            raise ToolFailed(f"{design.label}: Verilator harness failed (exit {proc.returncode}):\n"
                             + (Path(tmp) / "harness.log").read_text(errors="replace")[-4000:])
        trace = Trace.from_text(trace_path.read_text(), simulator="verilator")
    trace.wall_seconds = wall
    trace.xz_errors = None
    if progress is not None:
        progress(progress_total, progress_total)
    return trace


def run_autoencoder_windows(fixed_model, x_int, *, simulator: str = "verilator", lanes: int = 4,
                            progress=None) -> dict:
    """Reconstruct windows on the converted Verilog of the whole autoencoder.

    Parameters
    ----------
    fixed_model : golden.autoencoder.FixedAutoencoder
        Its topology and formats choose the design; its weights are the image.
    x_int : int array (N, T, F)
        Windows as vec-format integers (``FixedAutoencoder.quantize_windows``).
    simulator : {"verilator", "icarus"}
    lanes : int
        ``P`` lanes per gate unit (must divide every hidden size).
    progress : callable, optional
        ``progress(done_windows, total_windows)``.

    Returns
    -------
    dict
        ``reconstruction`` (N, T, F) int64 vec integers; ``cycles_per_window`` (the
        measured spacing of windows, int); ``window_cycles`` (per window);
        ``formula_cycles_per_window``; ``latency_cycles`` (first beat taken to the
        last output taken, per window); ``ideal_cycles_per_window``,
        ``macs_per_window`` and ``passes`` (per pass: cycles, ideal, utilisation, from
        :meth:`hdl.autoencoder_config.AutoencoderEngineConfig.cycle_table`);
        ``image_words``; ``simulated_cycles``; ``wall_seconds``; ``simulator``;
        ``module``; ``lanes``.

    Raises
    ------
    golden.formats.FormatError, golden.lstm_float.ShapeError
        Unsuitable lanes or windows (the message names the parameter).
    cosim.tools.ToolFailed, cosim.tools.MissingToolError
        The simulator is missing or the run went wrong (lost beats, timeout).
    """
    from golden.autoencoder_memory_map import autoencoder_image
    from hdl.autoencoder_config import AutoencoderEngineConfig

    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {SIMULATORS}, got {simulator!r}")
    cfg = AutoencoderEngineConfig.for_model(fixed_model, lanes)
    x = check_windows(fixed_model, x_int)
    n, t, f = x.shape
    if n == 0:
        if progress is not None:
            progress(0, 0)
        return {"reconstruction": np.zeros((0, t, f), dtype=np.int64),
                "cycles_per_window": cfg.cycles_per_window, "window_cycles": [],
                "formula_cycles_per_window": cfg.cycles_per_window, "latency_cycles": [],
                "image_words": 0, "simulated_cycles": 0, "wall_seconds": 0.0,
                "simulator": simulator, "module": cfg.module_name, "lanes": cfg.lanes}
    design = autoencoder_design(cfg)
    image = autoencoder_image(fixed_model, cfg.lanes)
    stim = window_stimulus(cfg, image, x)
    if progress is not None:
        progress(0, n)
    trace = run_stimulus(design, stim, simulator, progress, n, t)
    if trace.status != "ok":
        raise ToolFailed(f"{cfg.module_name} on {simulator}: run ended with status {trace.status!r} "
                         f"at cycle {trace.end_cycle} ({len(trace.outputs)} of {n * t} outputs)")
    if trace.violations:
        c, what = trace.violations[0]
        raise ToolFailed(f"{cfg.module_name} on {simulator}: AXI4-Stream rule broken at cycle {c}: {what}")
    if trace.xz_errors:
        raise ToolFailed(f"{cfg.module_name} on {simulator}: {trace.xz_errors} cycle(s) with X/Z on "
                         f"the outputs: {'; '.join(trace.xz_messages[:3])}")
    rec = reconstruction_from_trace(trace, cfg, n)
    periods = window_cycles(trace, cfg, n)
    accepted = dict(trace.accepts)
    outs = trace.outputs
    latency = [outs[(w + 1) * t - 1].cycle - accepted[w * t] for w in range(n)]
    measured = max(periods) if periods else None
    return {"reconstruction": rec, "cycles_per_window": measured, "window_cycles": periods,
            "formula_cycles_per_window": cfg.cycles_per_window, "latency_cycles": latency,
            "ideal_cycles_per_window": cfg.ideal_cycles, "macs_per_window": cfg.macs_per_window,
            "passes": cfg.cycle_table(),
            "image_words": len(image), "simulated_cycles": trace.end_cycle,
            "wall_seconds": trace.wall_seconds, "simulator": simulator,
            "module": cfg.module_name, "lanes": cfg.lanes}
