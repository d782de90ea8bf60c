"""The optimisation loop: gradient descent on the image's pixels (L-BFGS or Adam).

`iterate` is a generator: it yields a `Step` after every iteration, so callers (CLI progress
bar, web UI, API callbacks) can watch, save intermediate images or stop early. The best image
seen so far is always available, and a diverging run (NaN/inf, or a loss exploding) is rolled
back to it instead of being returned.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from ..errors import DivergedError
from . import evaluate, torch_private
from .losses import Losses
from .objective import Objective

DIVERGENCE_FACTOR = 1e3  # a loss this many times the best seen counts as divergence
# A fixed L-BFGS step that lands this far above the best loss has left the basin: typically right
# after a projection, when the curvature pairs no longer fit, it throws pixels far outside 0..1,
# where the clamped objective is flat and the run never comes back.
RISE_FACTOR = 4.0
MAX_RESTARTS = 3
PROJECT_EVERY = 10  # iterations between projections of the pixels onto 0..1
SEARCH_FIRST = 2  # fixed-step L-BFGS: line-search iterations when starting from the initial image


@dataclass(frozen=True)
class Step:
    """State after one iteration. `image` is the best image so far, RGB 0..1 [1,3,H,W]."""

    iteration: int
    iterations: int
    loss: float
    content: float
    style: float
    pixels: float  # tv_weight * TV + temporal_weight * temporal (the terms without the network)
    evaluations: int
    image: torch.Tensor
    note: str = ""
    side: int = 0  # long side (px) of the scale this step ran at
    step_scale: float = math.nan  # L-BFGS' inverse curvature (H_diag, normalised units): seeds the next scale
    checkpoint: Callable[[], dict] | None = field(default=None, repr=False)  # resumable state, on demand


class _NonFinite(Exception):
    """The objective returned NaN/inf (raised out of the optimiser's line search)."""


class _Tracker:
    """Evaluates the objective, caches the last evaluation and remembers the best image."""

    def __init__(self, objective: Objective, x: torch.Tensor, tile: int = 0):
        self.objective = objective
        self.tile = tile
        self.x = x
        self.evaluations = 0
        self.best_loss = math.inf
        self.best_image = x.detach().clone()
        self.last: Losses | None = None
        self._cached: tuple[tuple[int, int], float, torch.Tensor] | None = None
        self._evaluated: torch.Tensor | None = None  # the pixels of the cached evaluation, kept while searching
        self.keep_pixels = False  # a line search moves away and back: keep each evaluation's pixels to know it
        self.normaliser: float | None = None  # 1 / first loss: keeps L-BFGS' line search arithmetic in range

    def _normalise_by(self, loss: float) -> float:
        if self.normaliser is None:  # the first loss sets the scale for the whole scale's run
            self.normaliser = 1.0 / loss if math.isfinite(loss) and loss > 0 else 1.0
        return self.normaliser

    def closure(self) -> torch.Tensor:
        # L-BFGS re-evaluates the start point of every step; reuse the last evaluation when it was made at
        # these pixels: unchanged since (version counters), or moved away and back to the same values, as
        # a line search does (it evaluates x + t d, restores x, then steps to x + t d: one pass per search).
        if self._cached is not None and self._same_point():
            self.x.grad = self._cached[2]
            return torch.tensor(self._cached[1] * self.normaliser)
        self.forget()
        self.x.grad = None
        offset = (0, 0)
        if self.tile:  # the same objective and gradient, one tile's activations at a time
            # The grid moves at every evaluation (rounding differs a little at a seam, so no seam settles),
            # by offsets drawn from the evaluation count, so a resumed run moves it the same way.
            shift = torch.randint(self.tile, (2,), generator=torch.Generator().manual_seed(self.evaluations))
            offset = (int(shift[0]), int(shift[1]))
        result, self.x.grad = evaluate.loss_and_grad(self.objective, self.x, self.tile, offset, self._normalise_by)
        loss = float(result.total.detach())
        self.evaluations += 1
        self.last = result
        if not math.isfinite(loss):
            raise _NonFinite(loss)
        if loss < self.best_loss:
            self.best_loss = loss
            self.best_image = self.x.detach().clamp(0.0, 1.0)
        self._cached = (self._versions(self.x.grad), loss, self.x.grad)
        self._evaluated = self.x.detach().clone() if self.keep_pixels else None
        return result.total.detach() * self.normaliser

    def forget(self) -> None:
        """Drop the cached evaluation (the next closure evaluates)."""
        self._cached = self._evaluated = None

    def _same_point(self) -> bool:
        """Whether the cached evaluation was made at these pixels and its gradient is untouched."""
        (x_version, grad_version), _, grad = self._cached
        if torch_private.version(grad) != grad_version:
            return False
        if torch_private.version(self.x) == x_version:
            return True
        return self._evaluated is not None and torch.equal(self.x.detach(), self._evaluated)

    def _versions(self, grad: torch.Tensor) -> tuple[int, int]:
        """Which pixels and gradient these are: any in-place change (a step, a projection) bumps a version."""
        return torch_private.version(self.x), torch_private.version(grad)


def _make_optimizer(
    name: str, x: torch.Tensor, lr: float, history: int, line_search: bool, step_shrink: float = 1.0
) -> torch.optim.Optimizer:
    """Adam with step size lr, or L-BFGS with a unit step: with `line_search` a strong-Wolfe search
    (several evaluations per iteration), else the fixed step of the classic implementations (one
    evaluation per iteration). `step_shrink` shrinks either after a divergence."""
    with torch_private.no_compiler_import():
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
            line_search_fn=torch_private.STRONG_WOLFE if line_search else None,
        )


class _Descent:
    """The optimiser's state over one scale: pixels, optimiser, best image, restarts and stalls."""

    def __init__(
        self,
        objective: Objective,
        init: torch.Tensor,
        *,
        optimizer: str,
        lr: float,
        history: int,
        line_search: bool,
        search_first: int = 0,
        tile: int = 0,
        first_step: float = 0.0,
    ):
        self.x = init.detach().clone().requires_grad_(True)
        self.tracker = _Tracker(objective, self.x, tile)
        self.optimizer, self.lr, self.history, self.line_search = optimizer, lr, history, line_search
        self.opt = _make_optimizer(optimizer, self.x, lr, history, line_search)
        self.restarts = self.stalls = self.iteration = 0
        self.fixed_step = False
        self.search_until = search_first
        self.first_step = first_step

    def state(self) -> dict:
        """Everything `restore` needs to continue exactly from here (a checkpoint)."""
        t = self.tracker
        return {
            "x": self.x.detach().clone(),
            "optimizer": self.opt.state_dict(),
            "normaliser": t.normaliser,
            "best_loss": t.best_loss,
            "best_image": t.best_image,
            "evaluations": t.evaluations,
            "iteration": self.iteration,
            "restarts": self.restarts,
            "stalls": self.stalls,
            "search_until": self.search_until,
        }

    def restore(self, state: dict) -> None:
        with torch.no_grad():
            self.x.copy_(state["x"])
        self.opt.load_state_dict(state["optimizer"])
        t = self.tracker
        t.normaliser, t.best_loss = state["normaliser"], state["best_loss"]
        t.best_image, t.evaluations = state["best_image"].to(self.x.device), state["evaluations"]
        self.iteration, self.restarts, self.stalls = state["iteration"], state["restarts"], state["stalls"]
        self.search_until = state["search_until"]

    def step(self, last: bool) -> str:
        """One iteration; returns a note when it diverged (rolled back) or stalled (converged)."""
        best_before = self.tracker.best_loss
        try:
            self._move()
        except _NonFinite:
            pass  # handled below as divergence
        self.iteration += 1
        if self.iteration % PROJECT_EVERY == 0 or last:
            # The objective clamps internally; projecting now and then lets saturated pixels move
            # again (it costs one extra evaluation, so not after every step).
            with torch.no_grad():
                self.x.clamp_(0.0, 1.0)
        return self._judge(self.loss(), best_before)

    def mode(self) -> str:
        """How the next L-BFGS iteration moves: "seeded" (an upsampled scale's first step, a
        search from the step carried over from the scale below), "search" (a strong-Wolfe line search: with
        --line-search, the first iterations from the initial image and the one after a restart) or "fixed"
        (the classic unit step, one evaluation). Fixed steps need a first curvature pair of the right scale:
        from a start far from any optimum (white noise) and after a restart the first steps search for it."""
        if self.iteration == 0 and self.first_step > 0 and not self.restarts:
            return "seeded"
        return "search" if self.line_search or self.iteration < self.search_until else "fixed"

    def _move(self) -> None:
        """One optimiser step from the current pixels (raises _NonFinite from inside a line search)."""
        if self.optimizer == "adam":
            self.opt.zero_grad(set_to_none=True)
            self.tracker.closure()
            self.opt.step()
            return
        mode = self.mode()
        self.fixed_step = mode == "fixed"
        self.tracker.keep_pixels = not self.fixed_step  # the fixed step after a search reuses its last point
        torch_private.set_line_search(self.opt, mode != "fixed")
        lr = self.opt.param_groups[0]["lr"]
        if mode == "seeded":
            self._seed_first_step()
        self.opt.step(self.tracker.closure)
        self.opt.param_groups[0]["lr"] = lr  # a seed is for the first step only

    def _judge(self, loss: float, best_before: float) -> str:
        """After a step to `loss`: go on (""), or restart from the best image and say why (divergence,
        an unstable fixed step, a failed line search: a second one in a row means converged)."""
        if not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * self.tracker.best_loss:
            self.restarts += 1
            if self.restarts > MAX_RESTARTS:
                raise DivergedError(
                    f"optimisation diverged {self.restarts} times (loss {loss:.3g}); the best image reached "
                    f"(loss {self.tracker.best_loss:.3g}) was kept",
                    self.tracker.best_image,
                )
            self._restart_from_best()
            return f"diverged (loss {loss:.3g}); restarted from the best image"
        if self.fixed_step and loss > RISE_FACTOR * self.tracker.best_loss:
            self._restart_from_best()  # not counted as a divergence: the run goes on from its best
            return f"unstable step (loss {loss:.3g}); restarted from the best image"
        if self.optimizer == "lbfgs" and self.line_search and not self.tracker.best_loss < best_before:
            # The line search found no decrease: L-BFGS' curvature pairs no longer fit (e.g. after a
            # projection moved pixels) and it would repeat the same failing search. Start its
            # history afresh from the best image; a second stall in a row means it has converged.
            self.stalls += 1
            self._restart_from_best()
            return "converged (no decrease after an L-BFGS reset)" if self.stalls > 1 else ""
        self.stalls = 0
        return ""

    def _seed_first_step(self) -> None:
        """L-BFGS' first step along -g is 1/|g|_1: it moves the pixels by 1 in all, so at an upsampled
        scale the first iterations only measure curvature (at 1024 px in 11 iterations the loss fell 0.04%
        over the first three). The search starts at `first_step` instead (the previous scale's inverse
        curvature, carried over by the caller), which the scale's best step along -g lies near."""
        self.tracker.closure()  # cached: the optimiser's own first evaluation reuses it
        g1 = float(self.x.grad.abs().sum())
        self.opt.param_groups[0]["lr"] = self.first_step / min(1.0, 1.0 / g1) if g1 > 0 else 1.0

    def step_scale(self) -> float:
        """L-BFGS' current inverse curvature (normalised units), or NaN before it has one."""
        value = torch_private.inverse_curvature(self.opt, self.x) if self.optimizer == "lbfgs" else None
        return float(value) if value is not None and self.iteration > 1 else math.nan

    def _restart_from_best(self) -> None:
        with torch.no_grad():
            self.x.copy_(self.tracker.best_image)
        shrink = 0.5**self.restarts
        self.opt = _make_optimizer(self.optimizer, self.x, self.lr, self.history, self.line_search, shrink)
        self.tracker.forget()
        self.search_until = self.iteration + 1

    def release(self) -> None:
        """Drop what only further iterations use (the optimiser's history, the cached evaluation, the
        gradient, the objective), so the next scale is built in the room they took; `state()` still
        gives a checkpoint, with a fresh optimiser."""
        self.opt = _make_optimizer(self.optimizer, self.x, self.lr, self.history, self.line_search)
        self.tracker.forget()
        self.tracker.objective = None
        self.x.grad = None

    def loss(self) -> float:
        last = self.tracker.last
        return float(last.total.detach()) if last is not None else math.nan

    def report(self, iterations: int, note: str = "") -> Step:
        """The Step after the current iteration (the best loss while recovering from a reset)."""
        last, t = self.tracker.last, self.tracker
        return Step(
            iteration=self.iteration,
            iterations=iterations,
            loss=t.best_loss if note or self.stalls else self.loss(),
            content=last.content if last else math.nan,
            style=last.style if last else math.nan,
            pixels=last.pixels if last else math.nan,
            evaluations=t.evaluations,
            image=t.best_image,
            note=note,
            checkpoint=self.state,
            step_scale=self.step_scale(),
        )


def iterate(
    objective: Objective,
    init: torch.Tensor,
    iterations: int,
    *,
    optimizer: str = "lbfgs",
    lr: float = 0.02,
    history: int = 100,
    resume: dict | None = None,
    line_search: bool = True,
    search_first: int = 0,
    tile: int = 0,
    first_step: float = 0.0,
) -> Iterator[Step]:
    """Minimise `objective` over the pixels of `init` (RGB 0..1, [1,3,H,W]) for `iterations` steps.

    The objective sees the image clamped to 0..1 (what will be saved); the pixels themselves
    are projected onto 0..1 every PROJECT_EVERY iterations. Yields a `Step` per iteration;
    the last one's `image` is the result. `step.checkpoint()` returns the state that `resume`
    takes to continue exactly where that step left off. With 0 iterations it evaluates `init` once.
    Without `line_search`, the first `search_first` iterations still search (see SEARCH_FIRST).
    `tile` > 0 evaluates the network tile by tile (`tiling`): the same values in less memory.
    `first_step` > 0 makes L-BFGS' first iteration a line search along -g starting at that step
    (normalised units, as `Step.step_scale`) instead of a step of 1/|g|_1.
    """
    descent = _Descent(
        objective, init, optimizer=optimizer, lr=lr, history=history, line_search=line_search,
        search_first=search_first, tile=tile, first_step=first_step,
    )  # fmt: skip
    if resume is not None:
        descent.restore(resume)
    if iterations == 0:
        descent.tracker.closure()
        yield dataclasses.replace(descent.report(0), checkpoint=None)
        return
    if descent.iteration >= iterations:  # resumed from the last step: that step again (its best loss)
        yield dataclasses.replace(descent.report(iterations), loss=descent.tracker.best_loss)
    while descent.iteration < iterations:
        note = descent.step(last=descent.iteration + 1 == iterations)
        yield descent.report(iterations, note)
        if descent.stalls > 1:
            break
    # Done: free what further iterations would use. Only here: a caller that stops early (Ctrl-C, the
    # stopping rule) may still save a checkpoint of the last step, which must resume exactly.
    descent.release()
