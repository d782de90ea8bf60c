"""Property-based tests: the image loader and the option parser never fail with anything but
their own one-line user errors, whatever they are given."""

import io
import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from painterly.errors import InputImageError, PainterlyError
from painterly.frontends.cli import flags, render
from painterly.media import images

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (7, 5), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


@SETTINGS
@given(st.binary(max_size=3000) | st.builds(lambda cut, data: data[:cut], st.integers(0, 200), st.just(png_bytes())))
def test_loader_on_arbitrary_bytes_returns_rgb_or_input_error(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "in.jpg")
        with open(path, "wb") as f:
            f.write(data)
        try:
            image = images.load(path)
        except InputImageError as exc:
            assert "\n" not in str(exc) and path in str(exc)
        else:
            assert image.mode == "RGB" and image.width >= 1 and image.height >= 1


@SETTINGS
@given(
    st.integers(1, 12),
    st.integers(1, 12),
    st.sampled_from([1, 2, 3, 4, 5]),
    st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.bool_, np.int32]),
    st.integers(0, 2**31 - 1),
)
def test_loader_on_arbitrary_arrays(height, width, channels, dtype, seed):
    rng = np.random.default_rng(seed)
    array = (rng.random((height, width, channels)) * 300).astype(dtype)
    try:
        image = images.load(array)
    except InputImageError:
        assert channels not in (1, 3, 4)
    else:
        assert image.size == (width, height) and image.mode == "RGB"
        if dtype == np.int32 and channels == 3:  # integers above 255 saturate instead of wrapping
            assert np.array_equal(np.asarray(image), np.clip(array, 0, 255).astype(np.uint8))


FLAGS = [
    "--size",
    "--iterations",
    "--ratio",
    "--content-weight",
    "--style-weight",
    "--style-layers",
    "--style-layer-weights",
    "--style-weights",
    "--init",
    "--seed",
    "--pooling",
    "--network",
    "--optimizer",
    "--lr",
    "--tv-weight",
    "--style-scale",
    "--preserve-colors",
    "--preset",
    "--max-memory",
    "--time-budget",
    "--stop-tolerance",
    "--no-multiscale",
    "--device",
    "--precision",
    "--content-layers",
]
VALUES = [
    "0",
    "1",
    "-1",
    "512",
    "1e-3",
    "nan",
    "inf",
    "abc",
    "",
    "conv1_1,conv5_1",
    "conv9_9",
    "1,2",
    "avg",
    "max",
    "paper",
    "plain",
    "adam",
    "4G",
    "luminance",
    "noise",
    "content",
    "0.5",
    "1,0,0,0,0",
]


@SETTINGS
@given(st.lists(st.sampled_from(FLAGS) | st.sampled_from(VALUES) | st.text(max_size=8), max_size=8))
def test_option_parser_gives_options_or_a_usage_error(words):
    argv = ["c.png", "s.png", "-o", "o.png", *words]
    try:
        opts = flags.options_from(render.parser().parse_args(argv))
    except SystemExit as exc:
        assert exc.code == 2
    except (PainterlyError, flags.UsageError):
        pass
    else:
        assert opts.validate() is opts


def test_parser_errors_are_one_line(capsys):
    with pytest.raises(SystemExit):
        render.parser().parse_args(["c", "s", "-o", "o.png", "--size", "big"])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("painterly: error:")
