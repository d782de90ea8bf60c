"""The optimisation loop: gradient descent on the image's pixels (L-BFGS or Adam).

`iterate` is a generator: it yields a `Step` after every iteration, so callers (CLI progress
bar, web UI, API callbacks) can watch, save intermediate images or stop early. The best image
seen so far is always available, and a diverging run (NaN/inf, or a loss exploding) is rolled
back to it instead of being returned.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from .errors import DivergedError
from .objective import Losses

DIVERGENCE_FACTOR = 1e3  # a loss this many times the best seen counts as divergence
MAX_RESTARTS = 3
PROJECT_EVERY = 10  # iterations between projections of the pixels onto 0..1


@dataclass(frozen=True)
class Step:
    """State after one iteration. `image` is the best image so far, RGB 0..1 [1,3,H,W]."""

    iteration: int
    iterations: int
    loss: float
    content: float
    style: float
    tv: float
    evaluations: int
    image: torch.Tensor
    note: str = ""
    side: int = 0  # long side (px) of the scale this step ran at
    checkpoint: Callable[[], dict] | None = field(default=None, repr=False)  # resumable state, on demand


class _NonFinite(Exception):
    """The objective returned NaN/inf (raised out of the optimiser's line search)."""


class _Tracker:
    """Evaluates the objective, caches the last evaluation and remembers the best image."""

    def __init__(self, objective: Callable[[torch.Tensor], Losses], x: torch.Tensor):
        self.objective = objective
        self.x = x
        self.evaluations = 0
        self.best_loss = math.inf
        self.best_image = x.detach().clone()
        self.last: Losses | None = None
        self._cached: tuple[torch.Tensor, float, torch.Tensor] | None = None
        self.normaliser: float | None = None  # 1 / first loss: keeps L-BFGS' line search arithmetic in range

    def closure(self) -> torch.Tensor:
        # L-BFGS re-evaluates the start point of every step; reuse the line search's last value.
        if self._cached is not None and torch.equal(self._cached[0], self.x.detach()):
            self.x.grad = self._cached[2].clone()
            return torch.tensor(self._cached[1] * self.normaliser)
        if self.x.grad is not None:
            self.x.grad = None
        with torch.enable_grad():
            result = self.objective(self.x)
            loss = float(result.total.detach())
            if self.normaliser is None:
                self.normaliser = 1.0 / loss if math.isfinite(loss) and loss > 0 else 1.0
            if math.isfinite(loss):
                (result.total * self.normaliser).backward()
        self.evaluations += 1
        self.last = result
        if not math.isfinite(loss):
            raise _NonFinite(loss)
        if loss < self.best_loss:
            self.best_loss = loss
            self.best_image = self.x.detach().clamp(0.0, 1.0)
        self._cached = (self.x.detach().clone(), loss, self.x.grad.detach().clone())
        return result.total.detach() * self.normaliser


def _make_optimizer(
    name: str, x: torch.Tensor, lr: float, history: int, step_shrink: float = 1.0
) -> torch.optim.Optimizer:
    """Adam with step size lr, or L-BFGS (unit step, strong-Wolfe line search); `step_shrink`
    shrinks either after a divergence."""
    if name == "adam":
        return torch.optim.Adam([x], lr=lr * step_shrink)
    return torch.optim.LBFGS(
        [x],
        lr=step_shrink,
        max_iter=1,
        max_eval=20,
        history_size=history,
        tolerance_grad=0.0,
        tolerance_change=0.0,
        line_search_fn="strong_wolfe",
    )


def iterate(
    objective: Callable[[torch.Tensor], Losses],
    init: torch.Tensor,
    iterations: int,
    optimizer: str = "lbfgs",
    lr: float = 0.02,
    history: int = 100,
    resume: dict | None = None,
) -> Iterator[Step]:
    """Minimise `objective` over the pixels of `init` (RGB 0..1, [1,3,H,W]) for `iterations` steps.

    The objective sees the image clamped to 0..1 (what will be saved); the pixels themselves
    are projected onto 0..1 every PROJECT_EVERY iterations. Yields a `Step` per iteration;
    the last one's `image` is the result. `step.checkpoint()` returns the state that `resume`
    takes to continue exactly where that step left off.
    """
    x = init.detach().clone().requires_grad_(True)
    tracker = _Tracker(objective, x)
    opt = _make_optimizer(optimizer, x, lr, history)
    restarts = stalls = 0
    iteration = 0
    if resume is not None:
        with torch.no_grad():
            x.copy_(resume["x"])
        opt.load_state_dict(resume["optimizer"])
        tracker.normaliser, tracker.best_loss = resume["normaliser"], resume["best_loss"]
        tracker.best_image, tracker.evaluations = resume["best_image"], resume["evaluations"]
        iteration, restarts, stalls = resume["iteration"], resume["restarts"], resume.get("stalls", 0)

    def checkpoint() -> dict:
        return {
            "x": x.detach().clone(),
            "optimizer": opt.state_dict(),
            "normaliser": tracker.normaliser,
            "best_loss": tracker.best_loss,
            "best_image": tracker.best_image,
            "evaluations": tracker.evaluations,
            "iteration": iteration,
            "restarts": restarts,
            "stalls": stalls,
        }

    if iterations == 0:
        tracker.closure()
    while iteration < iterations:
        note = ""
        best_before = tracker.best_loss
        try:
            if optimizer == "adam":
                opt.zero_grad(set_to_none=True)
                tracker.closure()
                opt.step()
            else:
                opt.step(tracker.closure)
        except _NonFinite:
            pass  # handled below as divergence
        iteration += 1
        if iteration % PROJECT_EVERY == 0 or iteration == iterations:
            # The objective clamps internally; projecting now and then lets saturated pixels move
            # again (it costs one extra evaluation, so not after every step).
            with torch.no_grad():
                x.clamp_(0.0, 1.0)
        current = tracker.last
        loss = float(current.total.detach()) if current is not None else math.nan
        if not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * tracker.best_loss:
            restarts += 1
            if restarts > MAX_RESTARTS:
                raise DivergedError(
                    f"optimisation diverged {restarts} times (loss {loss:.3g}); the best image reached "
                    f"(loss {tracker.best_loss:.3g}) was kept",
                    tracker.best_image,
                )
            with torch.no_grad():
                x.copy_(tracker.best_image)
            opt = _make_optimizer(optimizer, x, lr, history, step_shrink=0.5**restarts)
            tracker._cached = None
            note = f"diverged (loss {loss:.3g}); restarted from the best image"
        elif optimizer == "lbfgs" and not tracker.best_loss < best_before:
            # The line search found no decrease: L-BFGS' curvature pairs no longer fit (e.g. after a
            # projection moved pixels) and it would repeat the same failing search. Start its
            # history afresh from the best image; a second stall in a row means it has converged.
            stalls += 1
            with torch.no_grad():
                x.copy_(tracker.best_image)
            opt = _make_optimizer(optimizer, x, lr, history, step_shrink=0.5**restarts)
            tracker._cached = None
            note = "converged (no decrease after an L-BFGS reset)" if stalls > 1 else ""
        else:
            stalls = 0
        yield Step(
            iteration=iteration,
            iterations=iterations,
            loss=tracker.best_loss if note or stalls else loss,
            content=current.content if current else math.nan,
            style=current.style if current else math.nan,
            tv=current.tv if current else math.nan,
            evaluations=tracker.evaluations,
            image=tracker.best_image,
            note=note,
            checkpoint=checkpoint,
        )
        if stalls > 1:
            return
    if iterations == 0:
        current = tracker.last
        yield Step(
            0,
            0,
            float(current.total.detach()),
            current.content,
            current.style,
            current.tv,
            tracker.evaluations,
            tracker.best_image,
        )
