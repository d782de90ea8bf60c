"""The four things the optimiser relies on that torch does not document: each in one place, and
`tests/test_torch_private.py` fails if a torch release changes one of them.

- `version`: a tensor's in-place version counter (`Tensor._version`); the closure's cache knows by it
  that the pixels and gradient are the ones it evaluated (no copy of a 4096 px image per step).
- `set_line_search`: torch's L-BFGS reads its `line_search_fn` from the parameter group at every
  `step`, so a search can be switched on for some iterations and off for the others in one optimiser
  (and one curvature history).
- `inverse_curvature`: L-BFGS keeps its current inverse curvature as `state[param]["H_diag"]`; the
  next scale's first step starts from it.
- `no_compiler_import`: `Optimizer.add_param_group` (called by every optimiser's constructor) is wrapped
  by `torch._disable_dynamo`, which imports torch's compiler (torch._dynamo: about 1 s on a 2-core CPU, 3 %
  of a default render in a fresh process) at its first call and then calls the function it stores as
  `__dynamo_disable`; while the compiler is not imported, storing the function itself skips the import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

STRONG_WOLFE = "strong_wolfe"


def version(tensor: torch.Tensor) -> int:
    """How often `tensor` was changed in place (a step, a projection, a fresh gradient) since it was made."""
    return tensor._version


def set_line_search(optimizer: torch.optim.LBFGS, on: bool) -> None:
    """Make `optimizer`'s next `step` search along its direction (strong Wolfe) or take a fixed step."""
    optimizer.param_groups[0]["line_search_fn"] = STRONG_WOLFE if on else None


def inverse_curvature(optimizer: torch.optim.Optimizer, param: torch.Tensor) -> float | None:
    """L-BFGS' current inverse curvature for `param` (in its loss's units), or None before it has one."""
    value = optimizer.state.get(param, {}).get("H_diag")
    return None if value is None else float(value)


@contextlib.contextmanager
def no_compiler_import() -> Iterator[None]:
    """Within this block, making an optimiser does not import torch's compiler (nothing here compiles);
    after it torch is as before. Does nothing once the compiler is imported or where torch differs."""
    raw = getattr(torch.optim.Optimizer.add_param_group, "__wrapped__", None)
    if raw is None or "_dynamo" in vars(torch) or hasattr(raw, "__dynamo_disable"):  # vars: no lazy import
        yield
        return
    setattr(raw, "__dynamo_disable", raw)  # noqa: B010 (the name is torch's, not mangled)
    try:
        yield
    finally:
        delattr(raw, "__dynamo_disable")
