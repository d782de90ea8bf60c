"""How much of the CPU other programs take while painterly runs.

The whole machine's busy CPU time (psutil) minus this process's own, over the wall time and the
CPU count: 0 on a quiet machine, 0.5 when another program keeps one of two cores busy. A run on a
busy machine is slower than this machine's speed says (the speed cache keeps the idle speed), so
the estimate says so and such a run's scales are not folded into the cache.
"""

from __future__ import annotations

import threading
import time

import psutil
import torch

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


class Cores:
    """The one owner of this process's torch thread count while runs are going: a run alone in the
    process uses the cores other programs leave it (`fit`, at each scale), and the count the process
    had is put back when the last run ends. Two runs at once (the web server) keep the count as it is:
    it is the process's, not a run's.

    With one of two cores taken by another program, two threads run an evaluation 2.26x slower than
    idle and one thread 1.86x: the threads step together, and each step waits for the one that shares
    its core (docs/NOTES.md, "fewer threads on a busy CPU")."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs = 0
        self._own = 0  # the process's own count, kept while runs go

    def enter(self) -> None:
        with self._lock:
            if self._runs == 0:
                self._own = torch.get_num_threads()
            self._runs += 1

    def leave(self) -> None:
        with self._lock:
            self._runs -= 1
            if self._runs == 0 and torch.get_num_threads() != self._own:
                torch.set_num_threads(self._own)

    def fit(self, others: float) -> str:
        """Threads for the next scale from `others` (the others' share of all CPUs over the last scale,
        `Meter.others`), and a note when the count changes ('' otherwise)."""
        with self._lock:
            if self._runs != 1:
                return ""
            cpus, now = psutil.cpu_count() or 1, torch.get_num_threads()
            want = cores_left(others, own=self._own, competing=now >= cpus)
            if want == now:
                return ""
            torch.set_num_threads(want)
        if want < now:
            return f"{describe(others)}: using {want} of {cpus} cores from here (threads that share a core wait)"
        return f"the CPU is free again: back to {want} threads"

    def planned(self, others: float, *, started: bool) -> int:
        """The threads a run will use while other programs take `others` of the CPUs (measured while
        our threads took every core, as `speed.busy_share` gives it): the cores left when the run is
        alone in the process (`started`: the asking run has entered already), else the count as it is."""
        with self._lock:
            alone = self._runs == (1 if started else 0)
            own = self._own if self._runs else torch.get_num_threads()
        return cores_left(others, own=own, competing=True) if alone else torch.get_num_threads()


def cores_left(others: float, *, own: int, competing: bool) -> int:
    """Threads (at most `own`) for the cores other programs leave while they take `others` (0..1) of all
    CPUs; `competing`: measured while our threads took every core, so the others got h / (h + 1) of
    their own share h."""
    cpus = psutil.cpu_count() or 1
    alone = min(1.0, others / max(1e-9, 1.0 - others)) if competing else others
    return own if others <= BUSY else max(1, min(own, round(cpus * (1.0 - alone))))


CORES = Cores()


def describe(others: float) -> str:
    """'the CPU is busy: other programs use 50 % of it'."""
    return f"the CPU is busy: other programs use {100 * others:.0f} % of it"
