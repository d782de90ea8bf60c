"""Command-line flags generated from the option declarations (`options.SPECS`).

Flags default to argparse.SUPPRESS, so the parsed namespace holds only what the user typed:
a preset's values apply first and the user's flags win, without a second list of defaults.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Iterable

from ...core.options import SPECS, Options, Spec, coerce_changes
from ...core.presets import PRESETS, with_preset
from ...errors import OptionsError

EXIT_USER_ERROR = 2


class UsageError(Exception):
    """A wrong command line: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """Argument errors as one line and exit code 2, with a suggestion for a mistyped flag."""

    def error(self, message: str):
        hint = ""
        match = re.match(r"unrecognized arguments: (--[\w-]+)", message)
        if match:
            flags = [s for a in self._actions for s in a.option_strings if s.startswith("--")]
            close = difflib.get_close_matches(match.group(1).split("=")[0], flags, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
        self.exit(EXIT_USER_ERROR, f"painterly: error: {message}{hint} (see {self.prog} --help)\n")


def help_line(spec: Spec, defaults: Options | None = None) -> str:
    """The declared help with the default (from `defaults` when given) as the command line writes it."""
    default = spec.default if defaults is None else getattr(defaults, spec.name)  # ratio: a property
    if default is None and "(default" in spec.help:
        return spec.help
    if spec.kind == "bool":
        return f"{spec.help} (default {'on' if default else 'off'})"
    return f"{spec.help.split(' (default')[0]} (default {spec.show(default)})"


def _typed(spec: Spec):
    def convert(text: str):
        try:
            return spec.coerce(text)
        except OptionsError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{spec.flag}: ")) from None

    convert.__name__ = spec.kind
    return convert


def add_options(
    parser: argparse.ArgumentParser,
    names: Iterable[str] | None = None,
    defaults: Options | None = None,
    command: str | None = None,
) -> None:
    """A flag for every declared option (or only those in `names`, or those `command` reads: see
    `Spec.reads`), in the declared help groups; `defaults` are the defaults `--help` shows when the
    command has its own (pass them to `options_from`)."""
    wanted = None if names is None else set(names)
    groups = {g.title: g for g in parser._action_groups}  # join the command's own groups of that title
    for spec in SPECS:
        if spec.internal or not spec.flag or (wanted is not None and spec.name not in wanted):
            continue
        if command is not None and command not in spec.reads:
            continue
        if spec.group not in groups:
            groups[spec.group] = parser.add_argument_group(spec.group)
        kwargs: dict = dict(dest=spec.name, default=argparse.SUPPRESS, help=help_line(spec, defaults))
        if spec.kind == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif spec.kind == "paths":
            kwargs.update(action="append", metavar=spec.metavar)
        else:
            kwargs.update(type=_typed(spec), metavar=spec.metavar, choices=spec.choices)
        groups[spec.group].add_argument(spec.flag, **kwargs)


def add_preset(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=None,
        help="named settings applied before your own flags; see 'painterly presets' (default none)",
    )


def options_from(args: argparse.Namespace, base: Options | None = None) -> Options:
    """The options the user typed (after `--preset`'s, which they override), validated."""
    typed = {spec.name: getattr(args, spec.name) for spec in SPECS if hasattr(args, spec.name)}
    try:
        return with_preset(getattr(args, "preset", None), coerce_changes(typed), base)
    except OptionsError as exc:
        raise UsageError(str(exc)) from None


def as_flags(values: dict[str, object]) -> str:
    """Option values as a pasteable command line: --no-multiscale --iterations 1000."""
    by_name = {s.name: s for s in SPECS}
    parts = []
    for name, value in values.items():
        spec = by_name[name]
        if value is None:  # None is each such option's default: nothing to type
            continue
        if spec.kind == "bool":
            parts.append(spec.flag if value else "--no-" + spec.flag[2:])
        else:
            parts.append(f"{spec.flag} {spec.show(value)}")
    return " ".join(parts)


def set_help(parser: argparse.ArgumentParser, dest: str, text: str) -> None:
    """Replace the help of `parser`'s option `dest`: a command whose default is a rule, not a value."""
    (action,) = (a for a in parser._actions if a.dest == dest)
    action.help = text


def with_render_options(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """`parser` with --preset and every option `command` (render, batch or video) reads."""
    add_preset(parser)
    add_options(parser, command=command)
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[argparse.Namespace, Options]:
    """The parsed arguments and the `Options` they give."""
    args = parser.parse_args(argv)
    return args, options_from(args)
