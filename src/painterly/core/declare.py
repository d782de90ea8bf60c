"""How an option is declared: its `Spec` (how to read it from text, help line, CLI group and
flag, web control) and `option(...)`, which attaches one to an `Options` field.

The declarations themselves stand beside the fields in `options.py`; the CLI's flags and the web
page's controls are generated from them. Nothing here knows any particular option.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import OptionsError


@dataclass(frozen=True)
class Control:
    """How the web UI shows an option: a label, whether it hides under 'More controls', a range
    for numbers, choices that differ from the CLI's, and a starting value that differs from the
    default (None = the default)."""

    label: str
    advanced: bool = False
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    info: str = ""
    choices: tuple[str, ...] | None = None
    value: object = None


SERVER = "server"  # web: set by whoever runs the server (`painterly web --device`), not by its users

# The commands that read an option (`Spec.reads`), so each one's --help lists only its own: every
# command that builds the paper's objective (score too), those that optimise an image, the stills.
SCORED = ("render", "batch", "video", "score")
RUNS = ("render", "batch", "video")
STILLS = ("render", "batch")


@dataclass(frozen=True)
class Spec:
    """One option's declaration. `kind` says how a value is read from text: int, float, str,
    bool, layers (comma-separated names), floats (comma-separated numbers), bytes (512M, 4G),
    seconds (a number, None = no limit) or paths (a flag given once per value)."""

    name: str
    default: object
    kind: str
    help: str
    group: str
    flag: str
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    web: Control | str | None = None  # a Control, SERVER, or None: on the command line only
    internal: bool = False  # neither a flag nor a control, on purpose
    reads: tuple[str, ...] = RUNS  # the commands that read it (see SCORED)
    within: tuple[float, float] | None = None  # the values every door lets pass, both ends included

    def admits(self, value: object) -> bool:
        """Whether `value` is of this option's kind and `within` its range (a finite number for floats)."""
        low, high = self.within
        if self.kind == "int":
            return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        return isinstance(value, int | float) and math.isfinite(value) and low <= value <= high

    def range_error(self, value: object) -> str:
        """The one-line refusal of a value outside `within`."""
        low, high = self.within
        if math.isinf(high):
            return f"{self.key.replace('_', '-')} must be a finite number >= {self.show(low)}, got {value!r}"
        return f"{self.key.replace('_', '-')} must be from {self.show(low)} to {self.show(high)}, got {value!r}"

    @property
    def key(self) -> str:
        """The option's name for users: its flag without dashes (style_weights), also the web API's name."""
        return self.flag[2:].replace("-", "_")

    def coerce(self, value: object) -> object:
        """A value from the command line or a web control -> the field's type; raises OptionsError."""
        if value is None or (self.kind in ("floats", "seconds", "bytes") and value in ("", 0)):
            return None
        try:
            return _COERCE[self.kind](value)
        except (TypeError, ValueError) as exc:
            raise OptionsError(f"{self.flag}: {_EXPECTED[self.kind]}, got {value!r}") from exc

    def show(self, value: object) -> str:
        """`value` as the command line writes it: conv1_1,conv2_1 for tuples, 0.001 for floats."""
        if isinstance(value, tuple):
            return ",".join(self.show(v) for v in value)
        return f"{value:g}" if isinstance(value, float) else str(value)


def option(default: object, kind: str, help: str, group: str, **spec: object) -> object:
    """A dataclass field whose metadata declares the option (see `Spec`)."""
    return field(default=default, metadata={"spec": dict(kind=kind, help=help, group=group, **spec)})


def _layers(text: object) -> tuple[str, ...]:
    items = text.replace(" ", "").split(",") if isinstance(text, str) else text
    return tuple(str(x) for x in items if x)


def _floats(text: object) -> tuple[float, ...]:
    items = text.replace(" ", "").split(",") if isinstance(text, str) else text
    return tuple(float(x) for x in items if x != "")


def _bool(value: object) -> bool:
    if isinstance(value, str):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise ValueError(value)
        return value.lower() in ("true", "1", "yes", "on")
    return bool(value)


def _int(value: object) -> int:
    number = float(value)
    if not number.is_integer():
        raise ValueError(value)
    return int(number)


def _bytes(text: object) -> float:
    from .resources import parse_bytes

    return parse_bytes(str(text)) if isinstance(text, str) else float(text)


_COERCE = {
    "int": _int,
    "float": float,
    "str": str,
    "bool": _bool,
    "layers": _layers,
    "floats": _floats,
    "bytes": _bytes,
    "seconds": float,
    "paths": lambda v: (v,) if isinstance(v, str) else tuple(str(x) for x in v),
}
_EXPECTED = {
    "int": "expected a whole number",
    "float": "expected a number",
    "str": "expected text",
    "bool": "expected true or false",
    "layers": "expected comma-separated layer names like conv1_1,conv2_1",
    "floats": "expected comma-separated numbers like 3,7",
    "bytes": "expected a size like 512M or 4G",
    "seconds": "expected a number of seconds",
    "paths": "expected file names",
}
