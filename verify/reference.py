"""Reference Verilog of the datapath units, written from golden's arithmetic (no MyHDL).

Each generator returns the text of one plain Verilog-2005 module with the same ports
as the converted unit.  They follow golden's route, not the block's:

* requantize: ``fmt.fit(shift_round(x, s))`` as golden writes it, ``(x + 2^(s-1)) >>> s``
  in a wide signed value and two magnitude comparisons (the block adds bit s-1 of x to
  ``x >>> s`` and tests the upper bits for all-equal); a per-pass shift is a ``case``
  with one constant shift per pass (the block pre-shifts, then shifts by ``extra``);
* activation: golden.activations.activate per pass: ``|z|`` (doubled for tanh), the
  clamp, ``k = u >> shift``, ``T[k]`` and ``T[k+1]`` from one ``case`` table of samples
  (the block holds two ROMs, samples and slopes, and one interpolation scale for every
  pass), the symmetry, then the requantization above;
* cell state: golden.lstm_fixed.cell_state: both products at full width, aligned to
  ``F``, summed and requantized;
* MAC lane: the exact product sign-extended by concatenation, the row sum and the drain
  chain.

Every intermediate of the requantize, activation and cell-state references is a 64-bit
signed wire (:data:`WIDE`), wide enough for any value golden computes at the formats
used here (:func:`check_wide` refuses others), so no Verilog sizing rule can truncate;
the MAC lane's are at the accumulator's width, its product sign-extended explicitly.  Latency: the unit's documented latency, as a delay
line on the result.
"""

from __future__ import annotations

from golden.activations import SIGMOID, activation_table

#: Bits of every intermediate of the reference modules.
WIDE = 64


def _c(v: int) -> str:
    """A 64-bit signed Verilog constant."""
    return f"-{WIDE}'sd{-v}" if v < 0 else f"{WIDE}'sd{v}"


def check_wide(bits: int, what: str) -> None:
    if bits > WIDE - 2:
        raise ValueError(f"reference: {what} needs {bits} bits, more than the {WIDE}-bit intermediates")


def _requant_lines(out: str, value: str, shift: int, fmt, tag: str) -> list:
    """Lines computing ``out = fmt.fit(fmt.shift_round(value, shift))`` (64-bit wires)."""
    lines = []
    if shift > 0:
        half = (1 << (shift - 1)) if fmt.rounding == "nearest_posinf" else 0
        lines.append(f"wire signed [{WIDE - 1}:0] {tag}_r = ({value} + {_c(half)}) >>> {shift};")
    else:
        lines.append(f"wire signed [{WIDE - 1}:0] {tag}_r = {value} <<< {-shift};")
    lines.append(f"wire signed [{WIDE - 1}:0] {out} = ({tag}_r > {_c(fmt.int_max)}) ? {_c(fmt.int_max)} : "
                 f"({tag}_r < {_c(fmt.int_min)}) ? {_c(fmt.int_min)} : {tag}_r;")
    return lines


def _select_lines(per_pass: list) -> list:
    """``q`` = the result of the pass that ``extra`` names (the only one without extra)."""
    if len(per_pass) == 1:
        return [f"wire signed [{WIDE - 1}:0] q = {per_pass[0]};"]
    lines = [f"reg signed [{WIDE - 1}:0] q;", "always @* begin", "    case (extra)"]
    lines += [f"        {e}: q = {name};" for e, name in enumerate(per_pass)]
    lines += [f"        default: q = {_c(0)};", "    endcase", "end"]
    return lines


def _delay_lines(result: str, y: str, bits: int, latency: int) -> list:
    """``y`` = ``result``'s low bits, ``latency`` clock cycles later."""
    if latency == 0:
        return [f"assign {y} = {result}[{bits - 1}:0];"]
    lines = [f"reg [{bits - 1}:0] d{k};" for k in range(1, latency + 1)]
    lines.append("always @(posedge clk) begin")
    lines.append(f"    d1 <= {result}[{bits - 1}:0];")
    lines += [f"    d{k} <= d{k - 1};" for k in range(2, latency + 1)]
    lines.append("end")
    lines.append(f"assign {y} = d{latency};")
    return lines


def _header(module: str, ports: list, doc: str) -> list:
    lines = ["// " + line for line in doc.splitlines()] + [f"module {module} ({', '.join(n for n, _, _ in ports)});"]
    for name, direction, bits in ports:
        rng = f"[{bits - 1}:0] " if bits > 1 else ""
        sign = "signed " if direction.endswith("signed") else ""
        lines.append(f"{direction.split()[0]} {sign}{rng}{name};")
    return lines


def _shifting_ports(x: str, x_bits: int, case, y_bits: int) -> list:
    """clk, the input, ``extra`` when the case has a per-pass shift, and y."""
    extra = [("extra", "input", case.extra_bits)] if case.extra_span else []
    return [("clk", "input", 1), (x, "input signed", x_bits)] + extra + [("y", "output signed", y_bits)]


def requantize_reference(case, module: str) -> str:
    """golden.formats.QFormat.requantize for a verify.units.RequantizeCase."""
    fmt = case.fmt
    check_wide(case.x_bits + 2 + max(0, fmt.frac_bits - case.from_frac), case.name)
    ports = _shifting_ports("x", case.x_bits, case, fmt.word_bits)
    lines = _header(module, ports, f"reference: {fmt.describe()} requantize from "
                                   f"{case.from_frac} (+ extra) fraction bits, golden's route")
    lines.append(f"wire signed [{WIDE - 1}:0] xw = x;")
    for e in range(case.extra_span + 1):
        lines += _requant_lines(f"q{e}", "xw", case.from_frac + e - fmt.frac_bits, fmt, f"p{e}")
    lines += _select_lines([f"q{e}" for e in range(case.extra_span + 1)])
    lines += _delay_lines("q", "y", fmt.word_bits, case.latency)
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def activation_reference(case, module: str) -> str:
    """golden.activations.activate for a verify.units.ActivationCase (every pass)."""
    big = activation_table(case.table_fmts)
    entries = big.entries
    kb = len(entries).bit_length()
    zb = case.fmts.preact.word_bits
    act = case.fmts.act
    ports = _shifting_ports("z", zb, case, act.word_bits)
    lines = _header(module, ports, f"reference: golden.activations.activate({case.function}) at "
                                   f"{case.fmts.describe()}, golden's route")
    lines.append(f"function [{max(entries).bit_length() - 1}:0] sample;  // T[k] = round(sigmoid(k/32) 2^tf)")
    lines.append(f"    input [{kb - 1}:0] k;")
    lines.append("    case (k)")
    lines += [f"        {k}: sample = {v};" for k, v in enumerate(entries)]
    lines.append("        default: sample = 0;")
    lines.append("    endcase")
    lines.append("endfunction")
    lines.append(f"wire signed [{WIDE - 1}:0] zw = z;")
    lines.append(f"wire signed [{WIDE - 1}:0] mag = (zw < {_c(0)}) ? -zw : zw;")
    doubled = "mag + mag" if case.function != SIGMOID else "mag"
    lines.append(f"wire signed [{WIDE - 1}:0] twice = {doubled};")
    for e in range(case.extra_span + 1):
        t = activation_table(case.pass_formats(e))
        check_wide(t.value_frac + 4, case.name)
        s = t.shift
        one = t.one
        p = f"e{e}"
        lines.append(f"wire signed [{WIDE - 1}:0] {p}_u = (twice > {_c(t.u_max)}) ? {_c(t.u_max)} : twice;")
        lines.append(f"wire [{kb - 1}:0] {p}_k = {p}_u >>> {s};")
        lines.append(f"wire signed [{WIDE - 1}:0] {p}_r = {p}_u & {_c((1 << s) - 1)};")
        lines.append(f"wire signed [{WIDE - 1}:0] {p}_lo = sample({p}_k);")
        lines.append(f"wire signed [{WIDE - 1}:0] {p}_hi = sample({p}_k + 1'b1);")
        lines.append(f"wire signed [{WIDE - 1}:0] {p}_y = ({p}_lo <<< {s}) + ({p}_hi - {p}_lo) * {p}_r;")
        if case.function == SIGMOID:
            pos, neg = f"{p}_y", f"{_c(one)} - {p}_y"
        else:
            pos, neg = f"{p}_y + {p}_y - {_c(one)}", f"{_c(one)} - {p}_y - {p}_y"
        lines.append(f"wire signed [{WIDE - 1}:0] {p}_v = (zw >= {_c(0)}) ? ({pos}) : ({neg});")
        lines += _requant_lines(f"{p}_out", f"{p}_v", t.value_frac - act.frac_bits, act, p)
    lines += _select_lines([f"e{e}_out" for e in range(case.extra_span + 1)])
    lines += _delay_lines("q", "y", act.word_bits, case.latency)
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def cell_state_reference(case, module: str) -> str:
    """golden.lstm_fixed.cell_state: c' = preact.requantize((f c << a) + (i g << b), F)."""
    f = case.fmts
    a_frac = f.act.frac_bits
    fc_frac, ig_frac = a_frac + f.preact.frac_bits, 2 * a_frac
    big = max(fc_frac, ig_frac)
    ab, zb = f.act.word_bits, f.preact.word_bits
    check_wide(max(ab + zb + big - fc_frac, 2 * ab + big - ig_frac) + 2, case.name)
    ports = [("clk", "input", 1), ("i", "input signed", ab), ("f", "input signed", ab),
             ("g", "input signed", ab), ("c_prev", "input signed", zb), ("c_new", "output signed", zb)]
    lines = _header(module, ports, "reference: golden.lstm_fixed.cell_state, golden's route")
    lines += [f"wire signed [{WIDE - 1}:0] fw = f;", f"wire signed [{WIDE - 1}:0] cw = c_prev;",
              f"wire signed [{WIDE - 1}:0] iw = i;", f"wire signed [{WIDE - 1}:0] gw = g;",
              f"wire signed [{WIDE - 1}:0] total = ((fw * cw) <<< {big - fc_frac}) + ((iw * gw) <<< {big - ig_frac});"]
    lines += _requant_lines("q", "total", big - f.preact.frac_bits, f.preact, "c")
    lines += _delay_lines("q", "c_new", zb, case.latency)
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def mac_lane_reference(case, module: str) -> str:
    """The MAC lane: prod = w v (exact), sum = first ? prod : acc + prod, the drain chain."""
    f = case.fmts
    vb, wb, pb, ab = f.vec.word_bits, f.weight.word_bits, case.product_bits, case.acc_bits
    ports = [("clk", "input", 1), ("v", "input signed", vb), ("w", "input signed", wb),
             ("first", "input", 1), ("last", "input", 1), ("drain_in", "input signed", ab),
             ("drain_out", "output signed", ab)]
    lines = _header(module, ports, "reference: one multiply-accumulate lane, exact products")
    lines += [f"wire signed [{pb - 1}:0] product = v * w;",
              f"reg signed [{ab - 1}:0] held;",
              f"reg signed [{ab - 1}:0] running;",
              f"reg signed [{ab - 1}:0] drain;",
              "reg first_d, last_d;",
              f"wire signed [{ab - 1}:0] row_sum = first_d ? held : running + held;",
              "always @(posedge clk) begin",
              f"    held <= {{{{{ab - pb}{{product[{pb - 1}]}}}}, product}};",
              "    first_d <= first;",
              "    last_d <= last;",
              "    running <= row_sum;",
              "    drain <= last_d ? row_sum : drain_in;",
              "end",
              "assign drain_out = drain;",
              "endmodule"]
    return "\n".join(lines) + "\n"
