"""How much of the CPU other programs take while painterly runs.

The whole machine's busy CPU time (psutil) minus this process's own, over the wall time and the
CPU count: 0 on a quiet machine, 0.5 when another program keeps one of two cores busy. A run on a
busy machine is slower than this machine's speed says (the speed cache keeps the idle speed), so
the estimate says so and such a run's scales are not folded into the cache.
"""

from __future__ import annotations

import time

import psutil

BUSY = 0.2  # others' share of all CPUs from which the machine counts as busy (a quiet desktop: 0.01-0.05)
SAMPLE_SECONDS = 0.3  # `others_now` looks this long at least


class Meter:
    """Others' share of the CPUs since the meter started (or was restarted)."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.restart()

    def restart(self) -> None:
        self._start = self._sample()

    def seconds(self) -> float:
        """Wall seconds since the start."""
        return time.monotonic() - self._start[0]

    def others(self) -> float:
        """Share (0..1) of all CPUs' time since the start that other processes used."""
        wall, busy, own = (b - a for a, b in zip(self._start, self._sample()))
        if wall <= 0:
            return 0.0
        return min(1.0, max(0.0, (busy - own) / (wall * (psutil.cpu_count() or 1))))

    def _sample(self) -> tuple[float, float, float]:
        total = psutil.cpu_times()
        idle = total.idle + getattr(total, "iowait", 0.0)
        busy = sum(total) - idle - getattr(total, "guest", 0.0) - getattr(total, "guest_nice", 0.0)
        mine = self._process.cpu_times()
        return time.monotonic(), busy, mine.user + mine.system + mine.children_user + mine.children_system


def others_now(meter: Meter | None = None) -> float:
    """Others' share of the CPUs now: over `meter`'s span (its work so far does not count), waiting
    until SAMPLE_SECONDS have passed."""
    meter = meter or Meter()
    time.sleep(max(0.0, SAMPLE_SECONDS - meter.seconds()))
    return meter.others()


def describe(others: float) -> str:
    """'the CPU is busy: other programs use 50 % of it'."""
    return f"the CPU is busy: other programs use {100 * others:.0f} % of it"
