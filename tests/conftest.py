"""Shared fixtures: small synthetic images written as real files (no test images are shipped)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two test processes on the 2 cores: one torch thread each, and in the processes
    # they start (OpenMP threads that outnumber the cores spin and slow everything down).
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def photo_like(width: int = 64, height: int = 48) -> Image.Image:
    """A smooth 'photograph': a sky gradient, a dark house with a bright window, a green field."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    a = np.zeros((height, width, 3), np.float32)
    a[..., 0] = 90 + 80 * y / height
    a[..., 1] = 140 + 60 * y / height
    a[..., 2] = 230 - 40 * y / height
    field = y > 0.65 * height
    a[field] = (60, 150, 50)
    house = (x > 0.2 * width) & (x < 0.55 * width) & (y > 0.3 * height) & (y <= 0.65 * height)
    a[house] = (110, 60, 40)
    window = (x > 0.3 * width) & (x < 0.4 * width) & (y > 0.4 * height) & (y < 0.5 * height)
    a[window] = (250, 230, 120)
    return Image.fromarray(a.astype(np.uint8), "RGB")


def artwork_like(width: int = 64, height: int = 64, seed: int = 1) -> Image.Image:
    """A 'painting': diagonal blue/yellow brush-stroke stripes with noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    stripes = (np.sin((x + 2 * y) / 3.0) > 0).astype(np.float32)
    a = np.empty((height, width, 3), np.float32)
    a[..., 0] = 30 + 200 * stripes
    a[..., 1] = 60 + 160 * stripes
    a[..., 2] = 200 - 150 * stripes
    a += rng.normal(0, 20, a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")


@pytest.fixture
def content_path(tmp_path):
    path = tmp_path / "content.png"
    photo_like().save(path)
    return path


@pytest.fixture
def style_path(tmp_path):
    path = tmp_path / "style.png"
    artwork_like().save(path)
    return path


SLOW_PASS = dict(fixed=0.05, per_pixel=2e-5, load=2.0, setting="a slow test machine")  # ~4 s a pass


@pytest.fixture
def slow_machine(monkeypatch):
    """This machine measured as a slow, quiet one (4 s a pass), without timing anything or caching a speed."""
    from painterly.core import speed

    slow = speed.Speed(**SLOW_PASS)
    monkeypatch.setattr(speed, "measure", lambda options: slow)
    monkeypatch.setattr(speed, "measured", lambda options: True)
    monkeypatch.setattr(speed, "observe", lambda *a, **k: None)
    monkeypatch.setattr(speed.contention, "others_now", lambda meter=None: 0.0)  # and quiet: no test reads the load
    return slow


@pytest.fixture
def pictures(tmp_path):
    """A 400x300 photo and a 300x300 artwork as files: (photo path, artwork path)."""
    photo, art = tmp_path / "photo.png", tmp_path / "art.png"
    photo_like(400, 300).save(photo)
    artwork_like(300, 300).save(art)
    return str(photo), str(art)
