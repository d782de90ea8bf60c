"""User-facing error types: each message is one line fit to print as-is.

Anything raised that is *not* one of these is a bug and may show a traceback.
"""


class PainterlyError(Exception):
    """Base class for errors caused by the user's input or environment."""


class InputImageError(PainterlyError):
    """An input image is missing, unreadable, corrupt, or unsupported."""


class OutputError(PainterlyError):
    """The output cannot be written where asked (exists, is an input, not writable)."""


class OptionsError(PainterlyError):
    """An option has an invalid value or combination."""


class ResourceError(PainterlyError):
    """A needed resource (weights file, device, memory) is unavailable."""

    size: int | None = None  # a long side (px) that would fit, when the refusal suggests one


class CheckpointError(PainterlyError):
    """A checkpoint to resume from is missing, unreadable, or made with other settings."""


class DivergedError(PainterlyError):
    """The optimisation diverged repeatedly; `best_image` holds the best image reached."""

    def __init__(self, message: str, best_image=None):
        super().__init__(message)
        self.best_image = best_image
