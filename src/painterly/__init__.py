"""painterly: neural style transfer after Gatys, Ecker & Bethge (CVPR 2016)."""

from .api import Score, score, stylize, stylize_iter, stylize_video
from .errors import InputImageError, OptionsError, OutputError, PainterlyError, ResourceError
from .optimize import Step
from .options import Options

__version__ = "0.1.0"

__all__ = [
    "InputImageError",
    "Options",
    "OptionsError",
    "OutputError",
    "PainterlyError",
    "ResourceError",
    "Score",
    "Step",
    "__version__",
    "score",
    "stylize",
    "stylize_iter",
    "stylize_video",
]
