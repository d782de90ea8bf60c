"""A time budget kept at every scale: when a scale runs slower than planned (another program took
the CPU, the machine throttled), the scales left are re-planned before they start, so the top
scale always gets the iterations a finished picture needs and is never cut.

Re-planned, best first: the lower rungs get fewer iterations (each at least MIN_ITERATIONS); if the
top scale still does not fit, the run ends one rung lower, with that rung's own planned
iterations, and the result is upsampled to the size asked for (the run says so). A lower rung
still stops at its share of the time left; the top scale runs to its end, so a run overshoots its
budget by at most the misjudged part of one scale. When a plan was cut to fit the budget and time is
left as the top scale starts (the machine was faster than the cautious plan), the top scale takes it:
iterations past its planned ones until the budget ends (the last iterations sharpen the picture most).
"""

from __future__ import annotations

from . import contention
from . import speed as speeds
from .plan import MIN_ITERATIONS, Plan

SLOWER = 1.15  # a scale this much slower than planned counts (the estimate is good to about 10 %)


class Budget:
    """The iterations per scale of `plan`, re-planned to end by `deadline` (clock seconds; None: no
    budget, the plan as laid out)."""

    def __init__(self, plan: Plan, deadline: float | None, others: float = 0.0):
        """`others`: the share of the CPUs other programs take at the start (`contention`): a busy
        machine is slower from the first scale on."""
        self.plan, self.deadline, self.others = plan, deadline, others
        self.planned = [s.iterations for s in plan.scales]  # the plan's own counts, never re-planned
        self.top = plan.network_top  # the network's top rung (not the end's projection)
        self.counts = list(self.planned)
        self.speed = speeds.measure(plan.options) if deadline is not None else None
        # the last finished scale's seconds over its planned seconds; at first the calibrated slowdown
        # on the threads this run will use (`contention.Cores`)
        self.rate = speeds.busy_slowdown(others, contention.CORES.planned(others, started=True))
        self.laps: list[float] = []  # when the running scale's iterations ended (clock seconds)
        self.began: float | None = None  # when the running scale started (None: resumed)
        self.until: float | None = None  # when the running scale stops (clock seconds; None: at its count)
        self.floor = 0  # iterations the running scale makes before `until` may stop it

    def last(self) -> int:
        """Index of the last scale that will run."""
        return max(k for k, n in enumerate(self.counts) if n > 0 or k == 0)

    def lap(self, iteration: int, now: float) -> int:
        """Iteration `iteration` of the running scale ended at `now` (clock seconds); returns it."""
        self.laps.append(now)
        return iteration

    def finished(self, k: int, others: float = 0.0) -> None:
        """Scale `k` ended while other programs took `others` of the CPUs: how fast the machine is now,
        from its second half (its set-up, first line searches and a fresh process's first kernels say
        little about the scales left). On a busy machine at most the calibrated `busy_slowdown`: a
        small scale suffers more from sharing the CPU than the larger ones after it."""
        laps, began, self.laps, self.began = self.laps, self.began, [], None
        half = len(laps) // 2
        if self.speed is None or not laps or not half and began is None:
            return
        if half:
            seconds, planned = laps[-1] - laps[half - 1], self._seconds(k, len(laps)) - self._seconds(k, half)
        else:  # one iteration (a deadline stopped it): the whole scale
            seconds, planned = laps[-1] - began, self._seconds(k, 1)
        if planned > 0:
            self.rate = seconds / planned
            if others > contention.BUSY:
                self.rate = min(self.rate, speeds.busy_slowdown(others))

    def start(self, k: int, now: float) -> str:
        """Re-plan scales k.. to fit the time left at `now`, and set when scale k stops; a note for people
        when the counts changed."""
        self.began = now
        if self.deadline is None or k > self.last():
            return ""
        note = self._replan(k, now)
        if k == self.last():  # the top: never cut; a plan cut for the budget takes the time left
            self.until, self.floor = self.deadline, self.counts[k]
            if self.plan.budget_cut:
                note = "; ".join(filter(None, (note, self._fill(k, now))))
        else:  # a lower rung: at its share of the time left
            left = [self.cost(j, self.counts[j]) for j in range(k, self.last() + 1)]
            self.until, self.floor = now + max(0.0, self.deadline - now) * left[0] / max(sum(left), 1e-9), 0
        return note

    def over(self, iterations: int, now: float) -> bool:
        """Whether the running scale stops after `iterations` of its iterations, at `now` (clock seconds)."""
        return self.until is not None and now >= self.until and iterations >= self.floor

    def _replan(self, k: int, now: float) -> str:
        """Re-plan scales k.. to fit the time left at `now`; a note for people when they changed."""
        if self.rate < SLOWER and self.counts[k:] == self.planned[k:]:
            return ""
        before = list(self.counts)
        self.counts = self.counts[:k] + self._fit(k, self.deadline - now)
        if self.counts == before:
            return ""
        last, sides = self.last(), [s.side for s in self.plan.scales]
        kept = ", ".join(f"{n} on {sides[j]}" for j, n in enumerate(self.counts) if j >= k and n)
        speed = f"{self.rate:.1f}x slower than planned" if self.rate >= SLOWER else "faster again"
        note = f"this machine is {speed}: the scales left get {kept} px"
        if last < self.top:
            note += f", and the {sides[last]} px result is upsampled to {sides[-1]} px at the end"
        return note

    def _fill(self, k: int, now: float) -> str:
        """Give the top scale `k` the iterations that fit in the time left; a note when it gets more."""
        each = max(self.cost(k, 1) - self.cost(k, 0), 1e-9)
        fit = int((self.deadline - now - self.cost(k, 0)) / each)
        if fit <= self.counts[k]:
            return ""
        planned, self.counts[k] = self.counts[k], fit
        side = self.plan.scales[k].side
        return f"time is left in the budget: the {side} px scale takes up to {fit} iterations ({planned} planned)"

    def cost(self, k: int, iterations: int) -> float:
        """Seconds scale `k` takes now with `iterations` iterations."""
        return self.rate * self._seconds(k, iterations)

    def _seconds(self, k: int, iterations: int) -> float:
        """Seconds scale `k` takes with `iterations` iterations at this machine's measured speed."""
        return speeds.scale_seconds(self.plan, k, iterations, self.speed)

    def _fit(self, k: int, seconds: float) -> list[int]:
        """Iterations for scales k.. that fit in `seconds`: the top's own, then fewer on the lower rungs,
        then one rung fewer (0 iterations for the rungs dropped). Fitted from the plan's own counts, so
        time that an earlier, more cautious re-plan left over goes back to the scales left."""
        counts, n = self.planned, self.top + 1
        projection = [0] * (len(counts) - n)  # the end's projection: no iterations, no network
        if sum(self.cost(j, counts[j]) for j in range(k, n)) <= seconds:
            return counts[k:]
        for last in range(n - 1, k, -1):
            top = counts[last]
            room = seconds - self.cost(last, top)
            planned = sum(self.cost(j, counts[j]) for j in range(k, last))
            if room <= 0 or planned <= 0:
                continue
            lower = [max(MIN_ITERATIONS, int(counts[j] * min(1.0, room / planned))) for j in range(k, last)]
            while sum(self.cost(j, c) for j, c in zip(range(k, last), lower)) > room and max(lower) > MIN_ITERATIONS:
                lower = [max(MIN_ITERATIONS, int(c * 0.9)) for c in lower]
            if sum(self.cost(j, c) for j, c in zip(range(k, last), lower)) <= room:
                return [*lower, top] + [0] * (n - 1 - last) + projection
        # only this scale is left: it becomes the top, with what fits of its own iterations, at least
        # the plan's top scale's (a finished picture's)
        each = max(self.cost(k, 1) - self.cost(k, 0), 1e-9)
        fit = int((seconds - self.cost(k, 0)) / each)
        top = max(counts[self.top], MIN_ITERATIONS, min(counts[k], fit))
        return [top] + [0] * (n - 1 - k) + projection
