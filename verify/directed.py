"""Directed stimuli for the regression subsets: sums that land on rounding boundaries.

A perturbation of a low-order bit of an accumulator (a product, a partial sum, a
drained row sum) moves it by far less than half an LSB of the requantized result, so
it changes the result only when the sum sits next to a rounding boundary; random
weights and inputs put a sum there about once in ``2^shift`` requantizations.  The
stimuli here put sums on the boundary or just beside it on purpose (a few units above
or below, the distance drawn log-uniformly), so that a perturbation of a low bit
towards the boundary moves the rounded result by one LSB:

* :func:`boundary_residues`: the two residues modulo ``2^shift`` next to the boundary
  of a format's rounding (``2^(shift-1)`` and one less for round-half-up; 0 and
  ``2^shift - 1`` for floor), from golden's own ``rounding_half``, and
  :func:`boundary_target`, a residue beside them;
* :func:`tie_case` (single-layer engine): every step chooses its last input so that
  one gate row's accumulator lands on a boundary residue, row after row; its other
  inputs are chosen among a few candidates so that a cell-state or hidden-output sum
  lands next to its own boundary as well;
* :func:`tie_model` (whole-window engine): the kernel weights of every layer and of
  the dense layer are nudged (a few LSB per row) so that in the first window every
  row of the i, g and o gates lands on a boundary at step 0 and every row of the f
  gate at step 1 (where ``c_prev`` is not 0, so the forget gate matters);
* :func:`recovery_case` (single-layer engine): the cell state saturates, then leaves
  saturation while the gates still read it, so the saturated value itself is seen.

Everything is integer arithmetic of ``golden``; the tests count the boundary hits
with golden's accumulators, independently of the solving here.
"""

from __future__ import annotations

import numpy as np

#: Largest nudge of the first free weight tried per row (the second one is solved).
NUDGE = 96


def boundary_residues(fmt, shift: int) -> tuple:
    """(on, below): residues modulo ``2^shift`` on the rounding boundary of ``fmt``
    shifting by ``shift``, and one unit below it."""
    from golden.lstm_fixed import rounding_half

    m = 1 << shift
    on = rounding_half(fmt, shift) % m
    return on, (on - 1) % m


def boundary_target(rng, fmt, shift: int) -> int:
    """A residue next to the boundary: ``on + u`` or ``below - u`` with ``u`` 0 half the
    time, else drawn log-uniformly below ``2^(shift-1)``, so that the low bits vary (a perturbation of
    bit k changes the rounding when the sum is within ``2^k`` of the boundary on the
    right side and the perturbed bit, or the bit it depends on, has the right value)."""
    on, below = boundary_residues(fmt, shift)
    j = int(rng.integers(0, shift)) if rng.integers(2) else 0     # half of them exactly there
    u = int(rng.integers(0, 1 << j)) if j else 0
    return (on + u) % (1 << shift) if rng.integers(2) else (below - u) % (1 << shift)


def _centred(r, m):
    r = np.asarray(r, dtype=np.int64) % m
    return np.where(r >= m // 2, r - m, r)


def nudge_row(base: int, v, w, target: int, shift: int, lo: int, hi: int):
    """A new column ``w'`` (close to ``w``) with ``base + v.(w' - w) == target`` modulo
    ``2^shift``, or None.  ``base`` is the row's current sum, ``v`` the input vector."""
    m = 1 << shift
    v = np.asarray(v, dtype=np.int64)
    odd = [j for j in range(len(v)) if v[j] % 2]
    if not odd:
        return None
    j2 = odd[-1]
    inv = pow(int(v[j2]) % m, -1, m)
    others = [j for j in range(len(v)) if j != j2 and v[j]]
    need = (target - base) % m
    best = None
    for j1 in others[:1] or [None]:
        d1 = np.arange(-NUDGE, NUDGE + 1) if j1 is not None else np.zeros(1, np.int64)
        v1 = int(v[j1]) if j1 is not None else 0
        d2 = _centred((need - d1 * v1) * inv, m)
        ok = ((w[j2] + d2 >= lo) & (w[j2] + d2 <= hi)
              & ((w[j1] + d1 >= lo) & (w[j1] + d1 <= hi) if j1 is not None else True))
        if not ok.any():
            continue
        cost = np.where(ok, np.abs(d1) + np.abs(d2), np.iinfo(np.int64).max)
        k = int(np.argmin(cost))
        best = (j1, int(d1[k]), j2, int(d2[k]))
    if best is None:
        return None
    j1, d1, j2, d2 = best
    out = np.array(w, dtype=np.int64)
    if j1 is not None:
        out[j1] += d1
    out[j2] += d2
    return out


# --------------------------------------------------------------------------- single-layer engine
def _moderate_weights(rng, fm, d, h):
    """Weights of about +-1 (so that sums stay where the activations have slope)."""
    from golden.lstm_fixed import FixedLSTMWeights

    w = fm.weight
    scale = 1 << max(0, w.frac_bits - 1)

    def draw(shape):
        return rng.integers(-scale, scale + 1, shape).astype(np.int64)

    kernel = draw((d, 4 * h))
    kernel[-1] |= 1                # the last input's weights odd: it can move every row
    return FixedLSTMWeights.from_ints(kernel, draw((h, 4 * h)) >> 1, draw(4 * h) >> 1, fm, layer="ties")


def _cell_sums(w, x, h, c):
    """The exact sums c' and h' are rounded from, for a batch of inputs x (B, D)."""
    from golden.lstm_fixed import (_cell_sum, activate_codes, cell_state, gate_activations,
                                   gate_preact, TANH)

    fm = w.fmts
    i, f, g, o = gate_activations(gate_preact(x, h, w), fm)
    s, big = _cell_sum(i, f, g, np.broadcast_to(c, i.shape).astype(np.int64), fm)
    c_new = cell_state(i, f, g, np.broadcast_to(c, i.shape), fm)
    t = o * activate_codes(c_new, TANH, fm)
    return (s, big - fm.preact.frac_bits), (t, 2 * fm.act.frac_bits - fm.vec.frac_bits)


def _boundary_distance(values, fmt, shift):
    """Per value: how far (in units) the value is from the nearer side of its boundary."""
    on, _ = boundary_residues(fmt, shift)
    m = 1 << shift
    r = _centred(np.asarray(values) - on, m)          # 0: on it, -1: one below
    return np.minimum(np.abs(r), np.abs(r + 1))


def _z_step_shows(w, x, h, c, row: int, delta: int):
    """Per input draw x (B, D): whether moving pre-activation ``row`` by ``delta`` LSB
    changes the step's h."""
    from golden.lstm_fixed import cell_update, gate_activations, gate_preact

    hb = np.repeat(h, len(x), 0)
    cb = np.repeat(c, len(x), 0)
    z = gate_preact(x, hb, w)
    moved = z.copy()
    moved[:, row] += delta
    h0, _ = cell_update(*gate_activations(z, w.fmts), cb, w.fmts)
    h1, _ = cell_update(*gate_activations(moved, w.fmts), cb, w.fmts)
    return (h0 != h1).any(axis=1)


def tie_case(cfg, seed: int, n_sequences: int = 8, length: int = 8, candidates: int = 24):
    """An :class:`cosim.engine.EngineCase` whose every step puts a gate row on a rounding
    boundary of z (rows in turn, beside it: :func:`boundary_target`).  The step's other
    inputs are the best of ``candidates`` draws: one where that row's z one LSB off
    changes h, and among those the one with a c' or h' sum nearest its boundary."""
    from cosim.engine import EngineCase
    from cosim.traffic import Traffic
    from golden.lstm_fixed import gate_accumulators, step

    fm = cfg.fmts
    rng = np.random.default_rng(seed)
    d, hs = cfg.input_size, cfg.hidden_size
    w = _moderate_weights(rng, fm, d, hs)
    shift = fm.acc_frac - fm.preact.frac_bits
    m = 1 << shift
    vec = fm.vec
    inv = [pow(int(k) % m, -1, m) for k in w.kernel[-1]]
    seqs, n = [], 0
    for _ in range(n_sequences):
        h = np.zeros((1, hs), np.int64)
        c = np.zeros((1, hs), np.int64)
        seq = []
        for _ in range(length):
            row, target = n % (4 * hs), boundary_target(rng, fm.preact, shift)
            n += 1
            x = rng.integers(vec.int_min // 2, vec.int_max // 2 + 1, (candidates, d)).astype(np.int64)
            x[:, -1] = 0
            rest = gate_accumulators(x, np.repeat(h, candidates, 0), w)[:, row]
            x[:, -1] = _centred((target - rest) * inv[row], m)
            x = x[(x[:, -1] >= vec.int_min) & (x[:, -1] <= vec.int_max)]
            (cs, c_shift), (ts, t_shift) = _cell_sums(w, x, np.repeat(h, len(x), 0), c)
            score = np.minimum(_boundary_distance(cs, fm.preact, c_shift).min(axis=1),
                               _boundary_distance(ts, fm.vec, t_shift).min(axis=1))
            # first the draws where the row's z one LSB off (the way a perturbation
            # towards the boundary moves it) changes this step's h
            on, _ = boundary_residues(fm.preact, shift)
            delta = -1 if (target - on) % m < m // 2 else 1
            score = score + np.where(_z_step_shows(w, x, h, c, row, delta), 0, 1 << 62)
            xt = x[int(np.argmin(score))][None]
            h, c = step(xt, h, c, w)
            seq.append(xt[0])
        seqs.append(np.array(seq, dtype=np.int64))
    ctx = {"case": "rounding ties", "seed": seed, "config": cfg.module_name,
           "sequences": [len(s) for s in seqs]}
    return EngineCase(cfg, w, seqs, Traffic.smooth(sum(len(s) for s in seqs)), ctx)


def recovery_case(cfg, sign: int = -1, hold: int | None = None, release: int = 4):
    """The cell state driven to saturation (sign -1: the bottom, +1: the top of the preact
    range), held there, then pulled back by a small forget gate and a g of the other
    sign, so that the saturated value is read by the steps after it.

    Input 0 drives the forget gate, input 1 the g gate; i and o are held near 1 by their
    biases.  Returns the :class:`cosim.engine.EngineCase`."""
    from cosim.engine import EngineCase
    from cosim.traffic import Traffic
    from golden.lstm_fixed import FixedLSTMWeights

    fm = cfg.fmts
    d, hs = cfg.input_size, cfg.hidden_size
    if d < 2:
        raise ValueError("recovery_case: needs two inputs (forget gate, g gate)")
    w = fm.weight
    big = int(w.quantize(min(4.0, w.max)))
    kernel = np.zeros((d, 4 * hs), np.int64)
    kernel[0, hs:2 * hs] = big
    kernel[1, 2 * hs:3 * hs] = big
    bias = np.zeros(4 * hs, np.int64)
    bias[0:hs] = w.int_max
    bias[3 * hs:] = w.int_max
    weights = FixedLSTMWeights.from_ints(kernel, np.zeros((hs, 4 * hs), np.int64), bias, fm, layer="recovery")
    vec = fm.vec
    hold = hold or int(np.ceil(fm.preact.max)) + 6
    push = np.array([vec.int_max, sign * vec.int_max], np.int64)       # f ~ 1, g ~ sign
    # f = sigmoid(-2.5) ~ 0.08 and g ~ -sign: c' = f * c_sat - sign is well inside tanh's slope
    pull = np.array([int(vec.quantize(-2.5 / float(w.to_float(big)))), -sign * vec.int_max], np.int64)
    seq = np.array([push] * hold + [pull] * release, dtype=np.int64)
    ctx = {"case": "saturation and recovery", "sign": sign, "config": cfg.module_name, "steps": len(seq)}
    return EngineCase(cfg, weights, [seq], Traffic.smooth(len(seq)), ctx)


# --------------------------------------------------------------------------- whole-window engine
def layer_inputs(model, x):
    """Every LSTM layer's input sequences (N, T, D_k) for windows ``x``, as golden feeds them."""
    from golden.autoencoder import run_layers
    from golden.lstm_fixed import lstm_layer_fixed

    seen = []

    def layer_fn(seq, w):
        seen.append(np.asarray(seq, dtype=np.int64))
        return lstm_layer_fixed(seq, w)

    hs, _, _ = run_layers(x, model.layers, model.cfg, layer_fn, model.requantize_between)
    return seen, hs


#: (window, target) draws per row of the last layer, kept when its z step shows.
VISIBLE_TRIES = 4


def perturbed_reconstruction(model, x, at=None):
    """``model.forward_int(x)["reconstruction"]`` with, when ``at = (layer, window,
    step, row, delta)`` is given, that one pre-activation moved by ``delta`` LSB: what a
    perturbation that flips that rounding does to the output."""
    from golden.autoencoder import run_layers
    from golden.lstm_fixed import cell_update, gate_activations, gate_preact

    layer_index = iter(range(model.cfg.num_layers))

    def layer_fn(seq, w):
        k = next(layer_index)
        b, steps, _ = seq.shape
        h = np.zeros((b, w.hidden_size), np.int64)
        c = np.zeros((b, w.hidden_size), np.int64)
        hs = np.empty((b, steps, w.hidden_size), np.int64)
        cs = np.empty_like(hs)
        for t in range(steps):
            z = gate_preact(seq[:, t], h, w)
            if at is not None and at[0] == k and at[2] == t:
                z[at[1], at[3]] += at[4]
            h, c = cell_update(*gate_activations(z, w.fmts), c, w.fmts)
            hs[:, t], cs[:, t] = h, c
        return hs, cs

    hs, _, _ = run_layers(np.asarray(x), model.layers, model.cfg, layer_fn, model.requantize_between)
    return model.dense_int(hs[-1])


def tie_model(fixed, x, seed: int):
    """A copy of ``fixed`` with moderate random weights, nudged so that for the first
    windows of ``x`` every gate row of every layer and every dense row lands on a
    rounding boundary (beside it: :func:`boundary_target`): i, g, o at step 0, f at step 1,
    and i, g, o at step 1 again through their recurrent weights (each row in the first
    window, from its own offset, whose inputs can move it); each
    dense row at as many (window, step) points as it has weights (:func:`solve_mod`).
    In the last LSTM layer the first half of the rows hold i and g high, so that its c is large
    and its output gate's tie shows in h; the dense weights reach 1.5, so that a
    last-layer h one LSB off shows in y."""
    from golden.autoencoder import FixedAutoencoder
    from golden.lstm_fixed import FixedLSTMWeights, gate_accumulators, lstm_layer_fixed

    rng = np.random.default_rng(seed)
    cfg = fixed.cfg
    layers = [_moderate_weights(rng, fixed.formats.layers[k], d, h) for k, (d, h) in enumerate(cfg.layer_shapes)]
    last = layers[-1]
    hs = last.hidden_size
    bias = last.bias.copy()
    wmax = last.fmts.weight.int_max
    rows = np.arange(hs) < (hs + 1) // 2   # the first half of the rows (every lane): c large, o shows
    bias[:hs][rows] = wmax // 2          # i ~ 1
    bias[2 * hs:3 * hs][rows] = wmax // 4  # g ~ tanh(2)
    layers[-1] = FixedLSTMWeights.from_ints(last.kernel, last.recurrent, bias, last.fmts)
    wf = fixed.formats.dense.weight
    # dense weights up to 1.5: a one-LSB change of the last layer's h moves y by more
    # than its own rounding, so the last layer's ties show in the output
    big = (3 << max(0, wf.frac_bits - 1))
    kernel = rng.integers(-big, big + 1, fixed.dense_kernel.shape).astype(np.int64)
    bias = rng.integers(-(1 << max(0, wf.frac_bits - 2)), 1 << max(0, wf.frac_bits - 2),
                        fixed.dense_bias.shape).astype(np.int64)
    model = FixedAutoencoder(cfg, layers, kernel, bias, fixed.formats)
    n_win = len(x)
    for k in range(cfg.num_layers):
        w = model.layers[k]
        fm = w.fmts
        shift = fm.acc_frac - fm.preact.frac_bits
        seqs = layer_inputs(model, x)[0][k]
        d, hs = w.input_size, w.hidden_size
        wmat = np.concatenate([w.kernel, w.recurrent])
        h0 = np.zeros((n_win, hs), np.int64)
        # i, g, o at step 0 (kernel); f at step 1 (f does not change step 0's h and c);
        # then i, g, o at step 1 through their recurrent weights only (step 0 reads none)
        phases = [(0, 0, False), (2, 0, False), (3, 0, False)]
        if seqs.shape[1] > 1:
            phases += [(1, 1, False), (0, 1, True), (2, 1, True), (3, 1, True)]
        for gate, t, recurrent_only in phases:
            cur = FixedLSTMWeights.from_ints(wmat[:d], wmat[d:], w.bias, fm)
            if t:
                h0 = lstm_layer_fixed(seqs[:, :1], cur)[0][:, 0]
            v = np.concatenate([seqs[:, t], h0 if t else np.zeros((n_win, hs), np.int64)], axis=1)
            acc = gate_accumulators(v[:, :d], v[:, d:], cur)
            if recurrent_only:
                v = v.copy()
                v[:, :d] = 0
            for r in range(gate * hs, (gate + 1) * hs):
                # the first window that can move the row; in the last layer, the first
                # (window, target) whose one-LSB step of z shows in the reconstruction
                tries = [(n, boundary_target(rng, fm.preact, shift))
                         for n in ((r + k + j) % n_win for j in range(n_win))
                         for _ in range(VISIBLE_TRIES if k == cfg.num_layers - 1 else 1)]
                for n, target in tries:
                    col = nudge_row(int(acc[n, r]), v[n], wmat[:, r], target,
                                    shift, fm.weight.int_min, fm.weight.int_max)
                    if col is None:
                        continue
                    if k == cfg.num_layers - 1:
                        trial = wmat.copy()
                        trial[:, r] = col
                        layers = list(model.layers)
                        layers[k] = FixedLSTMWeights.from_ints(trial[:d], trial[d:], w.bias, fm)
                        m2 = FixedAutoencoder(cfg, layers, model.dense_kernel, model.dense_bias, model.formats)
                        on, _ = boundary_residues(fm.preact, shift)
                        step = -1 if (target - on) % (1 << shift) < (1 << (shift - 1)) else 1
                        if np.array_equal(perturbed_reconstruction(m2, x, (k, n, t, r, step)),
                                          perturbed_reconstruction(m2, x)):
                            continue
                    wmat[:, r] = col
                    break
        layers = list(model.layers)
        layers[k] = FixedLSTMWeights.from_ints(wmat[:d], wmat[d:], w.bias, fm)
        model = FixedAutoencoder(cfg, layers, model.dense_kernel, model.dense_bias, model.formats)
    fo = model.formats
    hl = layer_inputs(model, x)[1][-1].reshape(-1, cfg.hidden_sizes[-1])     # every (window, step)
    kernel = model.dense_kernel.copy()
    shift = fo.dense_acc_frac - fo.output.frac_bits
    for r in range(kernel.shape[1]):
        # as many (window, step) points as the column has weights, all on a boundary at once
        for _ in range(32):
            pts = rng.choice(len(hl), size=min(len(hl), hl.shape[1]), replace=False)
            acc = hl[pts] @ kernel[:, r] + (int(bias[r]) << fo.dense_in.frac_bits)
            want = np.array([boundary_target(rng, fo.output, shift) for _ in pts])
            delta = solve_mod(hl[pts], want - acc, shift)
            if delta is None:
                continue
            col = kernel[:, r] + delta
            if col.min() >= wf.int_min and col.max() <= wf.int_max:
                kernel[:, r] = col
                break
    return FixedAutoencoder(cfg, list(model.layers), kernel, bias, fo)


def solve_mod(a, b, shift: int):
    """A small ``d`` with ``a d == b`` modulo ``2^shift`` (``a`` k x n, k <= n, solved on
    its first k columns; the others stay 0), or None when those k columns are singular
    modulo 2.  Each entry of ``d`` is centred in ``[-2^(shift-1), 2^(shift-1))``."""
    m = 1 << shift
    a = [[int(v) % m for v in row] for row in np.asarray(a)]
    b = [int(v) % m for v in np.asarray(b)]
    k, n = len(a), len(a[0])
    if k > n:
        return None
    rows = [a[i][:k] + [b[i]] for i in range(k)]
    for col in range(k):
        piv = next((i for i in range(col, k) if rows[i][col] % 2), None)
        if piv is None:
            return None
        rows[col], rows[piv] = rows[piv], rows[col]
        inv = pow(rows[col][col], -1, m)
        rows[col] = [(v * inv) % m for v in rows[col]]
        for i in range(k):
            if i != col and rows[i][col]:
                f = rows[i][col]
                rows[i] = [(vi - f * vc) % m for vi, vc in zip(rows[i], rows[col])]
    d = np.zeros(n, np.int64)
    d[:k] = _centred([rows[i][k] for i in range(k)], m)
    return d
