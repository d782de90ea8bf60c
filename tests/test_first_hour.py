"""The frictions a new user met in the first hour (issue "The first hour of a new user")."""

from __future__ import annotations

import json
import re
import shlex

from PIL import Image

from conftest import artwork_like, photo_like
from painterly.frontends.cli import COMMANDS, flags, main, render


def test_luminance_preservation_prints_no_warning_flood(tmp_path, content_path, style_path, capsys):
    out = tmp_path / "o.png"
    argv = [str(content_path), str(style_path), "-o", str(out), "--size", "48", "--iterations", "6"]
    assert main([*argv, "--preserve-colors", "luminance", "-q"]) == 0
    err = capsys.readouterr().err
    assert "CIE-LAB" not in err and "warnings.warn" not in err and err.count("\n") <= 1, err


def test_presets_print_pasteable_flags(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out.splitlines()
    lines = [line.split(" = ", 1)[1] for line in out if line.strip().startswith("--preset ")]
    assert len(lines) >= 3
    for flags_line in lines:
        args = render.parser().parse_args(["c.png", "s.png", "-o", "o.png", *shlex.split(flags_line)])
        flags.options_from(args)  # parses and validates: every printed value is one the CLI takes


def test_a_mistyped_flag_gets_a_suggestion(capsys):
    try:
        main(["c.png", "s.png", "-o", "o.png", "--style-weigth", "3"])
    except SystemExit as exc:
        assert exc.code == 2
    assert "did you mean --style-weight" in capsys.readouterr().err


def _help(capsys, *command: str) -> str:
    try:
        main([*command, "--help"])
    except SystemExit:
        pass
    return capsys.readouterr().out


def test_help_shows_defaults_as_typed_and_every_argument_has_a_line(capsys):
    top = _help(capsys)
    assert all(f"painterly {name}" in top for name in COMMANDS)  # every subcommand is named
    for command in [[], *([name] for name in COMMANDS)]:
        text = _help(capsys, *command)
        assert "('" not in text, command  # defaults as the command line writes them, not Python tuples
        bare = re.findall(r"^  ([A-Z][A-Z_]*)$", text, re.M)  # a positional with no help beside it
        assert bare == [], (command, bare)


def test_score_defaults_to_the_outputs_own_size_and_aligns(tmp_path, content_path, style_path, capsys):
    out = tmp_path / "a-rather-long-file-name-for-a-result-of-this-run.png"
    assert main([str(content_path), str(style_path), "-o", str(out), "--size", "48", "--iterations", "3"]) == 0
    capsys.readouterr()
    assert main(["score", str(content_path), str(style_path), str(out), str(content_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "size=64" in lines[0]  # the largest output's long side: the content's 64 px
    assert len({line.index(" content_rel") for line in lines[1:2]}) == 1
    assert len({len(line) for line in lines[1:]}) == 1  # every row as wide as the header: aligned
    assert main(["score", str(content_path), str(style_path), str(out), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["size"] == 48 and {"content", "style", "total", "content_rel", "style_rel"} <= set(row)


def test_too_few_iterations_and_swapped_inputs_get_a_hint(tmp_path, capsys):
    photo, art = tmp_path / "holiday-photo.png", tmp_path / "starry_night.png"
    photo_like().save(photo)
    artwork_like().save(art)
    out = tmp_path / "o.png"
    assert main([str(art), str(photo), "-o", str(out), "--size", "48", "--iterations", "20", "--init", "noise"]) == 0
    err = capsys.readouterr().err
    assert "20 iterations from noise are few" in err
    assert "starry_night.png looks like the artwork and holiday-photo.png like the photograph" in err
    out.unlink()
    assert main([str(photo), str(art), "-o", str(out), "--size", "48", "--iterations", "100"]) == 0
    assert "hint" not in capsys.readouterr().err  # a good run prints nothing but its progress and result


def test_resume_removes_the_checkpoint_and_the_bar_goes_on_from_where_it_stopped(tmp_path, capsys):
    photo, art, out = tmp_path / "photo.png", tmp_path / "art.png", tmp_path / "out.png"
    photo_like().save(photo)
    artwork_like().save(art)
    argv = [str(photo), str(art), "-o", str(out), "--size", "48", "--iterations", "120"]
    assert main([*argv, "--save-every", "100", "-q"]) == 0  # leaves out.png.ckpt from iteration 100
    ckpt = tmp_path / "out.png.ckpt"
    assert ckpt.exists()
    capsys.readouterr()
    assert main([*argv, "--resume", str(ckpt)]) == 0
    err = capsys.readouterr().err
    percents = [int(p) for p in re.findall(r"painterly:\s+(\d+)%", err)]
    assert percents and percents[0] >= 80 and percents[-1] == 100, err[-500:]
    assert not ckpt.exists() and "removed the checkpoint" in err
    assert Image.open(out).size == (48, 36)
