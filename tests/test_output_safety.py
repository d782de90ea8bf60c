"""A finished run is never lost: full disks are refused up front when knowable, and a save that
fails anyway puts the result in a rescue directory and says where."""

from __future__ import annotations

import errno
import os
import tempfile
from types import SimpleNamespace

import pytest
from PIL import Image

from painterly import api
from painterly.errors import InputImageError
from painterly.frontends import cli
from painterly.frontends.cli import render
from painterly.media import files, images

RUN = ["--size", "32", "--iterations", "2", "-q"]


def test_disk_full_at_the_end_rescues_the_result(content_path, style_path, tmp_path, capsys, monkeypatch):
    out_dir, rescue_dir = tmp_path / "out", tmp_path / "rescue"
    out_dir.mkdir(), rescue_dir.mkdir()
    real_mkstemp = tempfile.mkstemp

    def full_disk(*args, dir=None, **kwargs):
        if dir is not None and os.path.samefile(dir, out_dir):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(files.tempfile, "mkstemp", full_disk)
    monkeypatch.setattr(tempfile, "tempdir", str(rescue_dir))
    code = cli.main([str(content_path), str(style_path), "-o", str(out_dir / "out.png"), *RUN])
    err = capsys.readouterr().err.strip()
    assert code == render.EXIT_FAILED
    assert list(out_dir.iterdir()) == []  # no partial file where the output should have been
    (rescued,) = rescue_dir.glob("painterly-rescued-*")
    assert f"saved to {rescued}" in err and "No space left on device" in err and len(err.splitlines()) == 1
    assert Image.open(rescued).size == (32, 24) and images.read_metadata(rescued)["iterations_done"] == "2"


def test_too_little_free_space_is_refused_before_any_work(content_path, style_path, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(images.os, "statvfs", lambda _: SimpleNamespace(f_bavail=16, f_frsize=4096))
    called = []
    monkeypatch.setattr(api, "render", lambda *a, **k: called.append(1))
    code = cli.main([str(content_path), str(style_path), "-o", str(tmp_path / "out.png"), *RUN])
    err = capsys.readouterr().err
    assert code == 2 and "only 0.1 MB free" in err and not called


def test_failing_intermediate_saves_do_not_stop_the_run(content_path, style_path, tmp_path, capsys, monkeypatch):
    real_save = images.save

    def intermediate_fails(image, path, metadata=None, *args):
        if ".iter" in str(path):
            raise images.OutputError(f"output {path}: cannot write (No space left on device)")
        return real_save(image, path, metadata, *args)

    monkeypatch.setattr(images, "save", intermediate_fails)
    out = tmp_path / "out.png"
    code = cli.main([str(content_path), str(style_path), "-o", str(out), "--save-every", "1", *RUN])
    assert code == 0 and out.exists()
    assert "warning" in capsys.readouterr().err


def test_unreadable_file_is_refused(content_path, monkeypatch):
    monkeypatch.setattr(images.os, "access", lambda path, mode: False)  # as root every file is readable
    with pytest.raises(InputImageError, match="permission denied"):
        images.load(content_path)
