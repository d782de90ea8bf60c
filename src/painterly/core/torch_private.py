"""The three things the optimiser relies on that torch does not document: each in one place, and
`tests/test_torch_private.py` fails if a torch release changes one of them.

- `version`: a tensor's in-place version counter (`Tensor._version`); the closure's cache knows by it
  that the pixels and gradient are the ones it evaluated (no copy of a 4096 px image per step).
- `set_line_search`: torch's L-BFGS reads its `line_search_fn` from the parameter group at every
  `step`, so a search can be switched on for some iterations and off for the others in one optimiser
  (and one curvature history).
- `inverse_curvature`: L-BFGS keeps its current inverse curvature as `state[param]["H_diag"]`; the
  next scale's first step starts from it.
"""

from __future__ import annotations

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
