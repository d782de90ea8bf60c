"""The command line on a slow machine (issue 25): quick answers without torch, help that says what
the run does, each subcommand's help listing only the flags it reads, and a `score` whose size
and alpha/beta are one documented rule."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import photo_like
from painterly import __version__
from painterly.core import network, resources
from painterly.core.options import Options
from painterly.core.plan import schedule
from painterly.core.render import STOP_WINDOW
from painterly.frontends.cli import main
from painterly.media import images

# Runs the command in a fresh interpreter and says on the last line of stderr whether torch was imported.
PROBE = """
import sys
from painterly.frontends.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
print("torch imported" if "torch" in sys.modules else "torch not imported", file=sys.stderr)
sys.exit(code)
"""


def run_fresh(argv: list[str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, cwd=cwd, timeout=300)


QUICK = [
    (["--help"], 0, "usage: painterly"),
    (["--version"], 0, f"painterly {__version__}"),
    (["presets"], 0, "--preset paper"),
    (["score", "--help"], 0, "usage: painterly score"),
    (["batch", "--help"], 0, "usage: painterly batch"),
    (["video", "--help"], 0, "usage: painterly video"),
    (["missing.jpg", "style.png", "-o", "out.png"], 2, "content image missing.jpg: no such file"),
    (["content.png", "missing.jpg", "-o", "out.png"], 2, "style image missing.jpg: no such file"),
    (["content.png", "style.png", "-o", "out.png", "--size", "big"], 2, "--size"),
    (["content.png", "style.png", "-o", "out.png", "--iterations", "-3"], 2, "iterations must be"),
    (["content.png", "style.png", "-o", "out.png", "--precison", "fp32"], 2, "did you mean --precision"),
    (["content.png", "style.png", "-o", "content.png"], 2, "is one of the input images"),
    (["score", "missing.jpg", "style.png", "content.png"], 2, "content image missing.jpg: no such file"),
    (["batch", "content.png", "--style", "missing.jpg", "-o", "out"], 2, "style missing.jpg: no such file"),
    (["video", "missing.mp4", "style.png", "-o", "out.mp4"], 2, "video missing.mp4: no such file or folder"),
    (["video", "content.png", "missing.jpg", "-o", "out.mp4"], 2, "style image missing.jpg: no such file"),
]


@pytest.mark.parametrize("argv, code, says", QUICK, ids=[" ".join(a) for a, _, _ in QUICK])
def test_help_version_presets_and_mistakes_answer_without_loading_torch(
    argv, code, says, content_path, style_path, tmp_path
):
    done = run_fresh(argv, tmp_path)
    assert done.returncode == code, done.stderr
    assert says in done.stdout + done.stderr
    assert done.stderr.splitlines()[-1] == "torch not imported"
    if code == 2:
        assert len(done.stderr.splitlines()) == 2 and "Traceback" not in done.stderr  # the error, the probe's line


def test_the_library_loads_torch_only_when_a_function_needs_it():
    code = (
        "import sys, painterly; painterly.Options(size=256).validate(); before = 'torch' in sys.modules; "
        "painterly.stylize; painterly.Step; print(before, 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["False", "True"], done.stderr


def help_text(capsys, *argv: str) -> str:
    """`painterly ARGV --help` as printed."""
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return capsys.readouterr().out


def flag_help(text: str, flag: str) -> str:
    """The entry of `flag` in a --help text, argparse's line wrapping undone."""
    entries = re.split(r"\n(?=  -)", text.split("options:", 1)[1])  # an entry starts on a line "  -..."
    (entry,) = (e for e in entries if re.match(rf"\s*(-\w( \S+)?, )?{re.escape(flag)}\b", e))
    return " ".join(entry.split("\n\n")[0].split())


def test_multiscale_help_names_the_sides_a_run_goes_through(capsys):
    sides = [side for side, _ in schedule(Options())]  # 512 px: the run's coarse-to-fine ladder
    assert len(sides) > 2
    said = flag_help(help_text(capsys), "--multiscale")
    numbers = [int(n) for n in re.findall(r"\d+", said)]
    assert any(numbers[k : k + len(sides)] == sides for k in range(len(numbers))), said
    assert "double" not in said


def test_help_quotes_the_rules_the_code_uses(capsys):
    text = help_text(capsys)
    precision = flag_help(text, "--precision")
    assert all(flag in precision for flag in network.BF16_FLAGS), precision  # the CPUs that get bf16
    assert "fp32 on CPU" not in precision
    assert f"{resources.TILE_HALO} px" in flag_help(text, "--tile")
    assert f"{STOP_WINDOW} iterations" in flag_help(text, "--stop-tolerance")
    output = flag_help(text, "--output")
    assert all(suffix in output for suffix in images.OUTPUT_FORMATS), output  # every format it writes


def listed_flags(capsys, *argv: str) -> set[str]:
    return set(re.findall(r"--[a-z][\w-]*", help_text(capsys, *argv)))


RUN_ONLY = {"--iterations", "--optimizer", "--multiscale", "--init", "--seed", "--time-budget", "--lbfgs-history"}
VIDEO_ONLY = {"--temporal-weight", "--frame-iterations"}


def test_each_subcommand_help_lists_only_the_flags_it_reads(capsys):
    score = listed_flags(capsys, "score")
    assert not (RUN_ONLY | VIDEO_ONLY | {"--precision", "--bit-depth", "--style-mask", "--tile"}) & score
    assert {"--size", "--ratio", "--style-layers", "--tv-weight", "--weights", "--device"} <= score
    batch = listed_flags(capsys, "batch")
    assert not VIDEO_ONLY & batch and {"--iterations", "--bit-depth", "--style-mask"} <= batch
    still = listed_flags(capsys)
    assert not VIDEO_ONLY & still and RUN_ONLY <= still
    video = listed_flags(capsys, "video")
    assert VIDEO_ONLY <= video and not {"--bit-depth", "--style-mask"} & video


def test_score_help_states_the_size_rule_and_the_alpha_beta_the_run_uses(capsys, content_path, style_path):
    text = help_text(capsys, "score")
    assert "largest output" in flag_help(text, "--size")
    ratio = float(re.search(r"\(default ([\d.e-]+)\)", flag_help(text, "--ratio")).group(1))
    assert main(["score", str(content_path), str(style_path), str(content_path)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    alpha, beta = (float(re.search(rf"{w}=([\d.e+-]+)", header).group(1)) for w in ("alpha", "beta"))
    assert alpha / beta == pytest.approx(ratio)
    assert "size=64" in header and "largest" in header


def scores(capsys, content_path, style_path, *outputs) -> dict[str, dict]:
    assert main(["score", str(content_path), str(style_path), *map(str, outputs), "--json"]) == 0
    captured = capsys.readouterr()
    return {row["output"]: row for row in map(json.loads, captured.out.splitlines())}, captured.err


def test_an_outputs_score_does_not_depend_on_the_others_listed_and_sizes_that_differ_are_named(
    capsys, content_path, style_path, tmp_path
):
    rng = np.random.default_rng(0)
    big, small = tmp_path / "big.png", tmp_path / "small.png"
    noisy = np.asarray(photo_like(96, 72), np.float32) + rng.normal(0, 25, (72, 96, 3))
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(big)
    Image.open(big).resize((32, 24)).save(small)
    alone, quiet = scores(capsys, content_path, style_path, big)
    together, warned = scores(capsys, content_path, style_path, small, big)
    assert together[str(big)]["size"] == alone[str(big)]["size"] == 96
    for column in ("content", "style", "content_rel", "style_rel"):
        assert together[str(big)][column] == pytest.approx(alone[str(big)][column], rel=1e-4), column
    assert "warning" not in quiet
    assert "differ in size" in warned and "32x24" in warned and "96x72" in warned and len(warned.splitlines()) == 1
