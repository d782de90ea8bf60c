"""`painterly batch` on this machine: content x style, re-runs that skip, manifests with bad rows,
failures that are retried and reported, Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from conftest import artwork_like, photo_like
from painterly.core import render as core_render
from painterly.errors import DivergedError
from painterly.frontends.cli import main
from painterly.jobs import batch
from painterly.media import images

TINY = ["--size", "48", "--iterations", "6", "-q"]


@pytest.fixture
def folder(tmp_path) -> Path:
    """Three small photos and two artworks."""
    (tmp_path / "photos").mkdir()
    for i in range(3):
        photo_like(64 - 8 * i, 48).rotate(90 * i, expand=True).save(tmp_path / "photos" / f"p{i}.png")
    for i in range(2):
        artwork_like(seed=i + 1).save(tmp_path / f"art{i}.png")
    return tmp_path


def _report(out: Path) -> dict:
    return json.loads((out / "painterly-batch.json").read_text())


def _outputs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.suffix == ".png")


def test_every_photo_in_every_style_and_a_re_run_renders_nothing(folder, monkeypatch):
    out = folder / "out"
    argv = ["batch", str(folder / "photos"), "--style", str(folder / "art0.png"), "--style", str(folder / "art1.png")]
    assert main([*argv, "-o", str(out), *TINY]) == 0
    outputs = _outputs(out)
    assert len(outputs) == 6 and _report(out)["counts"]["done"] == 6
    for path in outputs:
        metadata = images.read_metadata(path)
        assert path.stem.endswith(metadata["batch_key"][:12]) and metadata["iterations_done"] == "6"
        assert max(Image.open(path).size) == 48
    stamps = [p.stat().st_mtime_ns for p in outputs]

    monkeypatch.setattr(batch, "render_job", lambda *a, **k: pytest.fail("a finished job was rendered again"))
    assert main([*argv, "-o", str(out), *TINY]) == 0  # render_job would fail the test
    assert _report(out)["counts"] == {"done": 0, "skipped": 6, "failed": 0, "not run": 0}
    assert [p.stat().st_mtime_ns for p in _outputs(out)] == stamps


def test_a_changed_setting_or_photo_is_a_new_output_and_the_old_one_stays(folder):
    out, photo = folder / "out", folder / "photos" / "p0.png"
    argv = ["batch", str(photo), "--style", str(folder / "art0.png"), "-o", str(out), *TINY]
    assert main(argv) == 0
    assert main([*argv, "--iterations", "4"]) == 0
    photo_like(64, 48).transpose(Image.FLIP_LEFT_RIGHT).save(photo)
    assert main(argv) == 0
    assert len({p.name for p in _outputs(out)}) == 3


def test_manifest_bad_rows_are_reported_by_line_and_the_good_rows_done(folder, capsys):
    (folder / "jobs.csv").write_text(
        "content,style,iterations,ratio\n"
        "photos/p0.png,art0.png,5,\n"
        "photos/missing.png,art0.png,,\n"
        "photos/p1.png,art0.png;art1.png,,1e-2\n"
        "photos/p2.png,art1.png,lots,\n"
    )
    (folder / "more.jsonl").write_text(
        '{"content": "photos/p2.png", "style": ["art1.png"], "tv_weight": 5}\n'
        '{"content": "photos/p2.png", "style": "art0.png", "strenght": 3}\n'
        "not json\n"
    )
    out = folder / "out"
    assert main(["batch", "--manifest", str(folder / "jobs.csv"), "-o", str(out), *TINY]) == 1
    err = capsys.readouterr().err
    assert "row 3: content" in err and "missing.png: no such file" in err
    assert "row 5: --iterations: expected a whole number, got 'lots'" in err
    report = _report(out)
    assert report["counts"]["done"] == 2 and report["counts"]["failed"] == 2
    assert {e["row"] for e in report["jobs"] if e["status"] == "done"} == {2, 4}
    blend = images.read_metadata(next(p for p in _outputs(out) if "art0+art1" in p.name))
    assert blend["style"] == "art0.png,art1.png" and float(blend["style_weight"]) == 100

    assert main(["batch", "--manifest", str(folder / "more.jsonl"), "-o", str(out), *TINY]) == 1
    err = capsys.readouterr().err
    assert "row 2: unknown column 'strenght'" in err and "row 3: not a JSON object" in err
    assert images.read_metadata(next(p for p in _outputs(out) if p.name.startswith("p2--art1")))["tv_weight"] == "5"


def test_a_broken_image_is_retried_then_reported_and_the_batch_goes_on(folder, capsys):
    data = (folder / "photos" / "p1.png").read_bytes()
    (folder / "photos" / "p1.png").write_bytes(data[: len(data) // 2])
    out = folder / "out"
    assert main(["batch", str(folder / "photos"), "--style", str(folder / "art0.png"), "-o", str(out), *TINY]) == 1
    err = capsys.readouterr()
    assert err.err.count("p1.png: attempt") == 2 and "p1.png: failed after 3 attempts" in err.err
    assert "truncated" in err.out and "failed       1" in err.out
    failed = [e for e in _report(out)["jobs"] if e["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["attempts"] == 3 and len(_outputs(out)) == 2


def test_a_diverged_job_is_tried_again_with_the_next_seed(folder, monkeypatch):
    real_render = core_render.render

    def diverge_on_seed_0(plan, state=None):
        if plan.options.seed == 0:
            raise DivergedError("the loss is not finite")
        return real_render(plan, state)

    monkeypatch.setattr(core_render, "render", diverge_on_seed_0)
    out = folder / "out"
    argv = ["batch", str(folder / "photos" / "p0.png"), "--style", str(folder / "art0.png"), "-o", str(out)]
    assert main([*argv, *TINY]) == 0
    [output] = _outputs(out)
    assert images.read_metadata(output)["seed"] == "1" and _report(out)["jobs"][0]["attempts"] == 2


def test_ctrl_c_keeps_finished_images_and_the_same_command_continues(folder):
    out = folder / "out"
    argv = [sys.executable, "-m", "painterly", "batch", str(folder / "photos"), "--style", str(folder / "art0.png")]
    argv += ["--style", str(folder / "art1.png"), "-o", str(out), "--size", "48", "--iterations", "20", "-q"]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out.exists() and _outputs(out)) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130, proc.stderr.read()
    assert "interrupted; finished images are kept" in proc.stderr.read()
    kept = _outputs(out)
    assert 1 <= len(kept) < 6 and all(batch.finished(p) for p in kept)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no half-written file left
    assert _report(out)["interrupted"] is True
    assert subprocess.run(argv, capture_output=True).returncode == 0
    assert _report(out)["counts"]["skipped"] == len(kept) and len(_outputs(out)) == 6


def test_few_iterations_get_the_single_renders_note_once_per_batch(folder, capsys):
    photo, art = folder / "photos" / "p0.png", folder / "art0.png"
    few = ["--size", "48", "--iterations", "3", "--init", "noise"]  # the default's palette start keeps the photo
    assert main([str(photo), str(art), "-o", str(folder / "one.png"), *few]) == 0
    single = [line for line in capsys.readouterr().err.splitlines() if "from noise are few" in line]
    argv = ["batch", str(folder / "photos"), "--style", str(art), "-o", str(folder / "out"), "--quiet"]
    assert main([*argv, *few]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "from noise are few" in line]
    assert len(single) == 1 and "3 iterations from noise are few" in single[0] and "start from" in single[0]
    assert notes == single  # three photos, one note, said with --quiet too
