"""The command line: exit codes, one-line errors, outputs with metadata, Ctrl-C."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from conftest import artwork_like, photo_like
from painterly import __version__
from painterly.core.plan import schedule
from painterly.frontends.cli import main
from painterly.media import images


def one_line_error(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("painterly: error: ")
    assert "Traceback" not in err
    return lines[0]


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "--style-weights" in out and "--ratio" in out


@pytest.mark.parametrize(
    "args, expect",
    [
        (["missing.jpg", "{style}", "-o", "{out}"], "no such file"),
        (["{content}", "{style}"], "required"),
        (["{content}", "{style}", "-o", "{out}", "--size", "abc"], "expected a whole number"),
        (["{content}", "{style}", "-o", "{out}", "--ratio", "1e-3", "--style-weight", "5"], "not both"),
        (["{content}", "{style}", "-o", "{out}", "--style-layers", "conv1_1,conv7_1"], "unknown style layer"),
        (["{content}", "{style}", "-o", "{content}"], "input"),
        (["{content}", "{style}", "-o", "{tmp}/nodir/out.png"], "does not exist"),
        (["{content}", "{style}", "-o", "{tmp}/out.bmpx"], "unknown format"),
        (["{content}", "{corrupt}", "-o", "{out}"], "not an image"),
        (["{content}", "{style}", "-o", "{out}", "--weights", "{corrupt}"], "weights"),
        (["score", "{content}", "{style}", "{corrupt}"], "not an image"),
    ],
)
def test_user_errors_exit_2_with_one_line(tmp_path, content_path, style_path, capsys, args, expect):
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\x00garbage" * 50)
    names = dict(content=content_path, style=style_path, out=tmp_path / "out.png", tmp=tmp_path, corrupt=corrupt)
    argv = [a.format(**names) for a in args]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    assert code == 2
    assert expect in one_line_error(capsys)
    assert not (tmp_path / "out.png").exists()


def test_refuses_to_overwrite_without_flag(tmp_path, content_path, style_path, capsys):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    assert main([str(content_path), str(style_path), "-o", str(out), "--size", "32", "--iterations", "1"]) == 2
    assert "already exists" in one_line_error(capsys)
    assert out.read_bytes() == b"precious"


def test_run_writes_png_with_parameters(tmp_path, content_path, style_path):
    out = tmp_path / "out.png"
    argv = [
        str(content_path),
        str(style_path),
        "-o",
        str(out),
        "--size",
        "48",
        "--iterations",
        "6",
        "--seed",
        "7",
        "--ratio",
        "1e-4",
        "--save-every",
        "3",
        "-q",
    ]
    assert main(argv) == 0
    image = Image.open(out)
    assert image.size == (48, 36)
    meta = images.read_metadata(out)
    assert meta["seed"] == "7" and meta["version"] == __version__
    assert float(meta["style_weight"]) == pytest.approx(1e4)
    assert meta["iterations_done"] == "6" and meta["content"] == "content.png"
    assert (tmp_path / "out.iter00003.png").exists()


def test_score_prints_losses(tmp_path, content_path, style_path, capsys):
    assert main(["score", str(content_path), str(style_path), str(content_path), "--size", "48"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("# alpha=1 beta=1000")
    row = out[-1].split()
    assert float(row[1]) == 0.0  # the content scored against itself has zero content loss
    assert float(row[2]) > 0


def test_ctrl_c_saves_image_and_checkpoint_and_resume_matches_an_uninterrupted_run(tmp_path, content_path, style_path):
    import numpy as np

    out = tmp_path / "out.png"
    args = [str(content_path), str(style_path), "--size", "64", "--iterations", "80"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "painterly", *args, "-o", str(out)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
    )
    deadline = time.monotonic() + 120
    seen = ""
    while time.monotonic() < deadline and proc.poll() is None:
        seen += proc.stderr.read(1)
        # tqdm redraws at most every 0.1 s, so iteration 5 itself may never be shown
        if any(int(n) >= 5 for n in re.findall(r"it (\d+)/", seen)):
            break
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, rest
    assert "best image so far saved" in rest and "--resume" in rest
    meta = images.read_metadata(out)
    stopped_at = int(meta["iteration"])
    assert meta["interrupted"] == "true" and 0 < stopped_at < 80
    assert Image.open(out).size == (64, 48)
    ckpt = tmp_path / "out.png.ckpt"
    assert ckpt.exists()
    # resuming finishes the run; it matches a run that was never interrupted
    assert main([*args, "-o", str(out), "--resume", str(ckpt), "-q"]) == 0
    assert images.read_metadata(out)["iterations_done"] == "80"
    assert main([*args, "-o", str(tmp_path / "full.png"), "-q"]) == 0
    resumed = np.asarray(Image.open(out), np.float32)
    full = np.asarray(Image.open(tmp_path / "full.png"), np.float32)
    assert np.abs(resumed - full).mean() < 0.5


def test_ctrl_c_at_a_coarse_scale_saves_the_size_asked_for_and_resume_continues_the_real_run(
    tmp_path, monkeypatch, capsys
):
    import torch

    from painterly.frontends.cli import render

    content, style, out = tmp_path / "photo.png", tmp_path / "art.png", tmp_path / "out.png"
    photo_like(320, 80).save(content)  # wide: a 256 px run of few pixels
    artwork_like(256, 64).save(style)
    args = [str(content), str(style), "-o", str(out), "--size", "256", "--iterations", "12", "--min-scale", "128", "-q"]
    sides = [side for side, _ in schedule(render.flags.options_from(render.parser().parse_args(args)), 4)]
    assert sides[0] == 128 and sides[-1] == 256  # coarse to fine: Ctrl-C at iteration 2 is at 128 px
    save_intermediate = render.Controller._save_intermediate

    def ctrl_c_at_iteration_2(self, step):
        save_intermediate(self, step)
        if step.iteration == 2:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(render.Controller, "_save_intermediate", ctrl_c_at_iteration_2)
    assert main(args) == 130
    err = capsys.readouterr().err
    assert "rendered at 128x32 px, upsampled to 256x64" in err and f"--resume {out}.ckpt" in err
    assert Image.open(out).size == (256, 64)
    meta = images.read_metadata(out)
    assert meta["upsampled_from"] == "128x32" and meta["interrupted"] == "true" and meta["iteration"] == "2"
    # the checkpoint holds the run itself, at 128 px, not the upsampled picture
    state = torch.load(f"{out}.ckpt", weights_only=True)["state"]
    assert state["scale_index"] == 0 and tuple(state["iterate"]["x"].shape[-2:]) == (32, 128)
    monkeypatch.undo()
    assert main([*args, "--resume", f"{out}.ckpt"]) == 0
    finished = images.read_metadata(out)
    assert finished["iterations_done"] == "12" and "upsampled_from" not in finished
    assert Image.open(out).size == (256, 64)


def test_a_checkpoint_from_a_scales_last_step_resumes_the_run_exactly():
    """Ctrl-C while the next scale's objective is built saves the finished scale's last step; resuming
    from it stopped with an UnboundLocalError instead of going on to the next scale."""
    from painterly import api
    from painterly.core.render import render

    decided = api.plan(photo_like(320, 80), artwork_like(256, 64), size=256, iterations=12)
    first = decided.scales[0].iterations
    uninterrupted = list(render(decided))[-1].image
    saved = next(step for step in render(decided) if step.iteration == first).checkpoint()
    resumed = list(render(decided, resume=saved))
    assert resumed[-1].iteration == 12 and (resumed[-1].image == uninterrupted).all()


def test_resume_with_other_settings_is_refused(tmp_path, content_path, style_path, capsys):
    out = tmp_path / "out.png"
    base = [str(content_path), str(style_path), "-o", str(out), "--size", "32", "--iterations", "4", "-q"]
    assert main([*base, "--save-every", "2"]) == 0
    ckpt = tmp_path / "out.png.ckpt"
    assert ckpt.exists()
    assert main([*base, "--resume", str(ckpt), "--seed", "5"]) == 2
    assert "seed" in one_line_error(capsys)


def parsed(*argv):

    from painterly.frontends.cli import flags, render

    return flags.options_from(render.parser().parse_args(["c.png", "s.png", "-o", "o.png", *argv]))


def test_presets_apply_and_explicit_flags_win(capsys):
    photoreal = parsed("--preset", "photoreal")
    assert photoreal.init == "palette" and photoreal.ratio == pytest.approx(1e-2) and photoreal.tv_weight == 1.0
    assert photoreal.photo_weight == 1e8
    assert parsed("--preset", "photoreal", "--init", "noise", "--ratio", "1e-2").init == "noise"
    assert parsed("--preset", "photoreal", "--ratio", "1e-2").ratio == pytest.approx(1e-2)
    paper = parsed("--preset", "paper")
    assert schedule(paper) == [(512, 1000)]
    assert parsed("--no-multiscale", "--time-budget", "30").time_budget == 30
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "paper" in out and "photoreal" in out and "fast" in out


def test_every_option_has_help_with_default(capsys):
    from painterly.frontends.cli import render

    for action in render.parser()._actions:
        if action.option_strings and action.dest not in ("help", "version"):
            assert action.help, action.dest
            if action.default is not None and not isinstance(action.default, bool):
                assert "default" in action.help, action.dest


def test_size_zero_keeps_the_content_size_and_warns(tmp_path, content_path, style_path, capsys):
    out = tmp_path / "full.png"
    assert main([str(content_path), str(style_path), "-o", str(out), "--size", "0", "--iterations", "2", "-q"]) == 0
    assert Image.open(out).size == Image.open(content_path).size
    assert "s per iteration" in capsys.readouterr().err


def test_tiny_max_memory_is_refused_before_any_work_with_a_size_that_fits(
    tmp_path, content_path, style_path, capsys, monkeypatch
):
    from painterly.core import network

    out = tmp_path / "out.png"
    args = [str(content_path), str(style_path), "-o", str(out), "--size", "1024", "--max-memory", "650M"]
    args += ["--precision", "fp32", "--iterations", "1"]  # the same memory model on every CPU: ~230 px fits
    with monkeypatch.context() as m:  # refused before the network is built or any iteration runs
        m.setattr(network, "build", lambda *a, **k: pytest.fail("the network was built for a refused run"))
        assert main(args) == 2
    line = one_line_error(capsys)
    assert "needs about" in line and "--max-memory" in line
    suggested = int(line.split("try --size ")[1].split()[0])
    assert 64 <= suggested < 1024
    assert not out.exists()
    # the suggestion fits: --auto-size picks it and the run completes
    assert main([*args, "--auto-size", "-q"]) == 0
    assert max(Image.open(out).size) == suggested


def test_max_memory_value_is_checked(tmp_path, content_path, style_path, capsys):
    with pytest.raises(SystemExit) as info:
        main([str(content_path), str(style_path), "-o", str(tmp_path / "o.png"), "--max-memory", "lots"])
    assert info.value.code == 2
    assert "512M or 4G" in one_line_error(capsys)
