"""The board top in simulation: board layer + engine on Verilator, its serial pins on a pseudo-terminal.

:func:`board_core` converts :func:`hdl.board_io.board_io` for a
:class:`hdl.board_config.BoardConfig` (in a fresh process, cached under
``build/cosim/designs/``) and wires it to the converted whole-window engine in one
module, ``board.core_module``: the board top without its PLL.  Simulation runs this
module with the simulation clock as the design clock; the PLL exists only in the
iCEBreaker wrapper (:func:`lstm_chiplet.board.top.icebreaker_verilog`).

:class:`BoardSimulation` runs it under a generated C++ harness that opens a
pseudo-terminal (``posix_openpt``, ``grantpt``, ``unlockpt``), prints the slave's
path and then, cycle by cycle, sends the bytes the host writes into the rx pin bit
by bit (``board.divisor`` clocks per bit, 8N1) and decodes the tx pin the same way,
writing each decoded byte back to the host.  A host program opens the slave path as
if it were the FTDI's serial port.  The harness ends when its standard input closes,
on its wall-clock limit, or when killed; it sleeps in ``poll`` when the line and the
board have been idle for a while, so a waiting simulation costs no CPU.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .compile import Design, cached_build
from .paths import REPO, build_root, private_dir, publish_dir
from .tools import ToolFailed, require, tool_version
from .verilator import compile_harness
from .verilog import parse_ports

#: Engine ports the core wires between board_io and the engine (all but clk and rst).
_ENGINE_WIRES = ("in_tdata", "in_tvalid", "in_tready", "in_tlast", "out_tdata", "out_tvalid",
                 "out_tready", "out_tlast", "wr_en", "wr_addr", "wr_data")
#: Seconds the harness may take to print the pseudo-terminal's path.
START_SECONDS = 30.0


def _board_io_worker(argv) -> None:
    """In a fresh process: convert board_io for a BoardConfig given as JSON (see board_io_verilog)."""
    import warnings

    from hdl.autoencoder_config import AutoencoderEngineConfig
    from hdl.board_config import BoardConfig
    from hdl.board_io import board_io, board_io_ports

    d = json.loads(argv[0])
    board = BoardConfig(AutoencoderEngineConfig.from_dict(d["engine"]), float(d["clock_hz"]),
                        int(d["baud"]), int(d["fifo_depth"]))
    warnings.filterwarnings("ignore", message=r".*driven but not read: .*unused")
    board_io(**board_io_ports(board), board=board).convert(hdl="Verilog", path=argv[1],
                                                           name=board.io_module, initial_values=True)


def _source_key(board, *extra) -> str:
    from .compile import source_digest

    h = hashlib.sha1(json.dumps(board.to_dict(), sort_keys=True).encode())
    h.update(source_digest("hdl", "golden").encode())
    for e in extra:
        h.update(str(e).encode())
    return h.hexdigest()[:12]


def board_io_verilog(board) -> Path:
    """board_io for ``board`` as Verilog (converted once per configuration and hdl source)."""
    final = build_root() / "designs" / f"{board.io_module}-{_source_key(board)}"
    path = final / f"{board.io_module}.v"
    if path.is_file():
        return path
    tmp = private_dir(final.parent, board.io_module)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONHASHSEED"] = "0"
    code = "import sys; from cosim.board import _board_io_worker; _board_io_worker(sys.argv[1:])"
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(board.to_dict()), "."], cwd=str(tmp),
                          env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not (tmp / path.name).is_file():
        raise ToolFailed(f"conversion of {board.io_module} failed:\n{proc.stderr[-4000:]}")
    publish_dir(tmp, final)
    return path


def core_verilog(board, engine_module: str, io_module: str) -> str:
    """The board top without the PLL: board_io and the engine, sharing the engine's ports."""
    e = board.engine
    widths = {"in_tdata": e.in_bits, "out_tdata": e.out_bits, "wr_addr": e.addr_bits,
              "wr_data": e.weight_bits}

    def rng(n):
        return f"[{widths[n] - 1}:0] " if n in widths else ""

    lines = [f"// {board.core_module}: {engine_module} behind the board layer (cosim.board).",
             f"module {board.core_module} (clk, rst_in, rx, tx, led_error, led_alive);",
             "input clk;", "input rst_in;", "input rx;", "output tx;", "output led_error;",
             "output led_alive;",
             "wire core_rst;"]
    lines += [f"wire {rng(n)}{n};" for n in _ENGINE_WIRES]
    conns = ",\n".join(f"    .{n}({n})" for n in _ENGINE_WIRES)
    lines += [f"{io_module} board (",
              "    .clk(clk), .rst_in(rst_in), .rx(rx), .tx(tx), .led_error(led_error),",
              "    .led_alive(led_alive), .core_rst(core_rst),",
              conns, ");",
              f"{engine_module} core (",
              "    .clk(clk), .rst(core_rst),",
              conns, ");",
              "endmodule", ""]
    return "\n".join(lines)


def board_core(board) -> Design:
    """One Verilog file holding the engine, board_io and the core module (cached)."""
    from .autoencoder import autoencoder_design

    engine = autoencoder_design(board.engine)
    io_path = board_io_verilog(board)
    text = (engine.text + "\n" + io_path.read_text() + "\n"
            + core_verilog(board, engine.module, board.io_module))
    key = hashlib.sha1(text.encode()).hexdigest()[:12]
    final = build_root() / "designs" / f"{board.core_module}-{key}"
    path = final / f"{board.core_module}.v"
    if not path.is_file():
        tmp = private_dir(final.parent, board.core_module)
        (tmp / path.name).write_text(text)
        publish_dir(tmp, final)
    return Design(board.core_module, path, tuple(parse_ports(path.read_text(), board.core_module)),
                  None, None, "board core")


_HARNESS = r"""// Harness generated by cosim.board: the board core's serial pins on a pseudo-terminal.
#include "verilated.h"
#include "V@TOP@.h"
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static const long DIVISOR = @DIVISOR@;

static double now() { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

int main(int argc, char** argv) {
    double wall_limit = argc > 1 ? atof(argv[1]) : 60.0;
    long idle_cycles = argc > 2 ? atol(argv[2]) : 1000000;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) { perror("harness: pty"); return 2; }
    const char* slave_name = ptsname(master);
    if (!slave_name) { perror("harness: ptsname"); return 2; }
    // Keep a slave descriptor open (the master would read EIO while no host holds one)
    // and make the line raw at once: no echo of the board's bytes back to the board.
    int keep = open(slave_name, O_RDWR | O_NOCTTY);
    if (keep < 0) { perror("harness: open slave"); return 2; }
    struct termios tio;
    if (tcgetattr(keep, &tio) == 0) { cfmakeraw(&tio); tcsetattr(keep, TCSANOW, &tio); }
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    printf("pty %s\n", slave_name);
    fflush(stdout);

    VerilatedContext* ctx = new VerilatedContext;
    V@TOP@* top = new V@TOP@{ctx};
    top->clk = 0; top->rst_in = 0; top->rx = 1;
    top->eval();

    std::deque<unsigned char> to_board;          // host bytes not yet on the rx pin
    unsigned char out_buf[4096]; int out_len = 0;
    long rx_bit = -1, rx_tick = 0; unsigned rx_frame = 0;   // rx pin driver
    long tx_state = -1, tx_tick = 0; unsigned tx_shift = 0; // tx pin decoder
    long cycle = 0, last_activity = 0, bytes_in = 0, bytes_out = 0, tx_errors = 0;
    // bursts: host bytes that start after an idle line, and what the board sent until the next
    long b_start = -1, b_rx_end = 0, b_tx_end = -1, b_rx = 0, b_tx = 0, rx_idle_since = 0;
    double start = now();
    const char* why = "stdin closed";
    for (;;) {
        // ---- the host side, every 1024 cycles or when idle
        if ((cycle & 1023) == 0) {
            bool idle = cycle - last_activity > idle_cycles && to_board.empty() && rx_bit < 0
                        && tx_state < 0 && out_len == 0;
            struct pollfd p[2] = {{master, POLLIN, 0}, {0, POLLIN, 0}};
            int r = poll(p, 2, idle ? 20 : 0);
            if (r > 0 && (p[0].revents & POLLIN)) {
                unsigned char b[4096];
                ssize_t n = read(master, b, sizeof b);
                for (ssize_t i = 0; i < n; ++i) to_board.push_back(b[i]);
                if (n > 0) { last_activity = cycle; bytes_in += n; }
            }
            if (r > 0 && (p[1].revents & (POLLIN | POLLHUP))) {
                char c[64];
                ssize_t n = read(0, c, sizeof c);
                if (n == 0) break;
            }
            if (out_len > 0) {
                ssize_t n = write(master, out_buf, out_len);
                if (n > 0) { memmove(out_buf, out_buf + n, out_len - n); out_len -= (int)n; }
            }
            if (now() - start > wall_limit) { why = "wall-clock limit"; break; }
            if (idle) continue;
        }
        // ---- the rx pin: host bytes, 8N1, DIVISOR clocks per bit
        if (rx_bit < 0 && !to_board.empty()) {
            if (cycle - rx_idle_since > 10 * DIVISOR || b_start < 0) {
                if (b_start >= 0) fprintf(stderr, "burst %ld %ld %ld %ld %ld\n", b_start, b_rx_end, b_tx_end, b_rx, b_tx);
                b_start = cycle; b_rx = 0; b_tx = 0; b_tx_end = -1;
            }
            ++b_rx;
            rx_frame = 0x200u | ((unsigned)to_board.front() << 1);   // stop, data, start
            to_board.pop_front();
            rx_bit = 0; rx_tick = 0;
        }
        if (rx_bit >= 0) {
            top->rx = (rx_frame >> rx_bit) & 1;
            if (++rx_tick == DIVISOR) {
                rx_tick = 0;
                if (++rx_bit == 10) { rx_bit = -1; top->rx = 1; rx_idle_since = cycle; b_rx_end = cycle; }
            }
        }
        top->clk = 1; top->eval();
        top->clk = 0; top->eval();
        ++cycle;
        // ---- the tx pin: find the start bit, sample every bit in its middle
        int line = top->tx;
        if (tx_state < 0) {
            if (!line) { tx_state = 0; tx_tick = DIVISOR / 2; tx_shift = 0; }
        } else if (--tx_tick == 0) {
            tx_tick = DIVISOR;
            if (tx_state == 0) {
                if (line) tx_state = -1;                           // a glitch, not a start bit
                else tx_state = 1;
            } else if (tx_state <= 8) {
                tx_shift |= (unsigned)line << (tx_state - 1);
                ++tx_state;
            } else {
                if (!line) { ++tx_errors; fprintf(stderr, "harness: tx framing error at cycle %ld\n", cycle); }
                else if (out_len < (int)sizeof out_buf) {
                    out_buf[out_len++] = (unsigned char)tx_shift; ++bytes_out; ++b_tx; b_tx_end = cycle;
                }
                tx_state = -1;
                last_activity = cycle;
            }
        }
        if (rx_bit >= 0) last_activity = cycle;
    }
    if (b_start >= 0) fprintf(stderr, "burst %ld %ld %ld %ld %ld\n", b_start, b_rx_end, b_tx_end, b_rx, b_tx);
    fprintf(stderr, "harness: %s after %ld cycles, %ld bytes in, %ld bytes out, %ld tx framing errors\n",
            why, cycle, bytes_in, bytes_out, tx_errors);
    top->final();
    delete top; delete ctx;
    close(keep); close(master);
    return 0;
}
"""


def harness_cpp(board) -> str:
    return _HARNESS.replace("@TOP@", board.core_module).replace("@DIVISOR@", str(board.divisor))


def build_harness(board) -> Path:
    """The pseudo-terminal harness executable for ``board`` (built once per design text)."""
    for tool in ("verilator", "g++", "make"):
        require(tool)
    design = board_core(board)

    folder = cached_build("verilator-board", design, {"harness.cpp": harness_cpp(board)},
                          lambda folder: compile_harness(folder, design),
                          tool_version("verilator"))
    return folder / "obj" / "sim"


def parse_bursts(log: str) -> list:
    """The harness's ``burst`` lines: cycles of the first rx start bit, of the last rx
    stop bit, of the last tx byte decoded before the next burst (-1: none), and the
    byte counts each way."""
    out = []
    for line in log.splitlines():
        if line.startswith("burst "):
            start, rx_end, tx_end, rx, tx = (int(v) for v in line.split()[1:])
            out.append({"start": start, "rx_end": rx_end, "tx_end": tx_end, "rx_bytes": rx, "tx_bytes": tx})
    return out


class BoardSimulation:
    """The simulated board on a pseudo-terminal, as a context manager.

    ``with BoardSimulation(board, wall_seconds=60) as sim: ... sim.port ...`` starts the
    harness, waits for the slave's path (:attr:`port`), and on exit closes its standard
    input and kills it if it has not ended within a second.  :attr:`log` holds the
    harness's stderr after exit: its summary line and one ``burst`` line per group of
    host bytes that arrived after an idle line (:func:`parse_bursts`).
    """

    def __init__(self, board, wall_seconds: float = 60.0, idle_cycles: int | None = None):
        self.board = board
        self.wall_seconds = float(wall_seconds)
        self.idle_cycles = int(idle_cycles if idle_cycles is not None
                               else 4 * board.engine.cycles_per_window)
        self.proc = None
        self.port = None
        self.log = ""
        self._log_path = None

    def __enter__(self) -> "BoardSimulation":
        exe = build_harness(self.board)
        runs = build_root() / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        self._log_path = runs / f"board-{os.getpid()}-{time.monotonic_ns()}.log"
        self._log = open(self._log_path, "w")
        self.proc = subprocess.Popen([str(exe), f"{self.wall_seconds:g}", str(self.idle_cycles)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)
        try:
            self.port = self._read_port()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _read_port(self) -> str:
        import select

        deadline = time.monotonic() + START_SECONDS
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise ToolFailed(f"board harness did not print its pseudo-terminal within {START_SECONDS:g} s")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                ch = os.read(self.proc.stdout.fileno(), 1)
                if not ch:
                    raise ToolFailed("board harness ended before printing its pseudo-terminal")
                line += ch
        text = line.decode().strip()
        if not text.startswith("pty "):
            raise ToolFailed(f"board harness printed {text!r}, expected 'pty PATH'")
        return text[4:]

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self._log.close()
            self.log = self._log_path.read_text(errors="replace")
            self._log_path.unlink()
            self.proc = None
