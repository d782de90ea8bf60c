"""The `painterly` command: argv -> a subcommand or a render; one-line errors and exit codes.

painterly CONTENT STYLE [STYLE ...] -o OUT [options]
painterly score | demo | presets | reproduce | web | video | batch ...
"""

from __future__ import annotations

import sys
import warnings

from ...errors import PainterlyError
from . import batch, commands, render, video
from .flags import EXIT_USER_ERROR, UsageError

COMMANDS = {
    "score": commands.score,
    "demo": commands.demo,
    "presets": commands.presets,
    "reproduce": commands.reproduce,
    "web": commands.web,
    "video": video.main,
    "batch": batch.main,
}


def _one_line(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"painterly: warning: {str(message).splitlines()[0]}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `painterly` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    warnings.showwarning = _one_line  # a library's warning: one line, without a source line
    command = COMMANDS.get(argv[0]) if argv else None
    try:
        return command(argv[1:]) if command else render.main(argv)
    except (PainterlyError, UsageError) as exc:
        print(f"painterly: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("painterly: interrupted", file=sys.stderr)
        return render.EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
