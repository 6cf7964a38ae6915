"""Handshake traffic patterns: tvalid gaps, tready back-pressure, resets in mid-sequence.

The values a design computes must not depend on the traffic; the traffic is what makes
the handshakes, stalls and resets visit their corner cases.  A :class:`Traffic` is
drawn from a seeded ``numpy`` generator so that one integer reproduces it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .stream import Stimulus


@dataclass(frozen=True)
class Traffic:
    """Per-beat gaps, the out_tready pattern, and per-beat reset scheduling."""

    gaps: tuple
    ready: tuple
    reset_wait: tuple
    reset_len: tuple

    @classmethod
    def smooth(cls, n_beats: int) -> "Traffic":
        """Back to back: no gaps, always ready, no resets."""
        return cls((0,) * n_beats, (True,), (-1,) * n_beats, (0,) * n_beats)

    @classmethod
    def random(cls, rng: np.random.Generator, n_beats: int, *, gap_max: int = 6,
               gap_prob: float = 0.5, stall_prob: float = 0.4, ready_len: int = 97,
               stall_run_max: int = 1, resets: int = 0, reset_wait_max: int = 40) -> "Traffic":
        """Random traffic.

        * gaps: with probability ``gap_prob``, 1..gap_max idle cycles before a beat;
        * ready: a pattern of at least ``ready_len`` cycles (97 is prime, so it drifts
          against the step period), low a fraction ``stall_prob`` of the time; with
          ``stall_run_max > 1`` it alternates runs, the low runs 1..stall_run_max long
          (long enough, they outlast a whole step and make outputs pile up);
        * ``resets`` resets after random beats (not the last), 0..reset_wait_max cycles
          after the beat's acceptance, 1..3 cycles long.
        """
        gaps = tuple(int(rng.integers(1, gap_max + 1)) if rng.random() < gap_prob else 0
                     for _ in range(n_beats))
        if stall_run_max > 1 and 0.0 < stall_prob < 1.0:
            high_max = max(1, int(round(stall_run_max * (1.0 - stall_prob) / stall_prob)))
            ready = []
            while len(ready) < ready_len:
                ready += [True] * int(rng.integers(1, high_max + 1))
                ready += [False] * int(rng.integers(1, stall_run_max + 1))
            ready = tuple(ready[:65535])
        else:
            ready = tuple(bool(rng.random() >= stall_prob) for _ in range(ready_len))
        if not any(ready):
            ready = ready[:-1] + (True,)
        wait = [-1] * n_beats
        length = [0] * n_beats
        if n_beats > 1 and resets:
            for k in rng.choice(n_beats - 1, size=min(resets, n_beats - 1), replace=False):
                wait[int(k)] = int(rng.integers(0, reset_wait_max + 1))
                length[int(k)] = int(rng.integers(1, 4))
        return cls(gaps, ready, tuple(wait), tuple(length))


def stimulus(image, beats, traffic: Traffic, **kw) -> Stimulus:
    """A :class:`Stimulus` from an image, packed beats and a traffic pattern."""
    return Stimulus(tuple(image), tuple(beats), traffic.gaps, traffic.ready, traffic.reset_wait,
                    traffic.reset_len, **kw)
