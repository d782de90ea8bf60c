"""Small generated clips for the video tests and bench/flicker.py (no video files are shipped)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def moving_shapes(frames: int = 8, width: int = 96, height: int = 72, seed: int = 0) -> list[np.ndarray]:
    """A disc and a square gliding over a fixed textured background, RGB uint8 [H,W,3] each."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    background = np.stack([120 + 60 * np.sin(x / 5), 140 + 50 * np.cos(y / 7), 160 + 40 * np.sin((x + y) / 9)], -1)
    background += rng.normal(0, 12, background.shape)
    out = []
    for k in range(frames):
        a = background.copy()
        cx, cy = width * (0.25 + 0.03 * k), height * 0.45
        a[(x - cx) ** 2 + (y - cy) ** 2 < (height * 0.18) ** 2] = (220, 60, 40)
        sx, sy = width * (0.7 - 0.02 * k), height * (0.3 + 0.02 * k)
        a[(abs(x - sx) < height * 0.12) & (abs(y - sy) < height * 0.12)] = (40, 70, 200)
        out.append(np.clip(a, 0, 255).astype(np.uint8))
    return out


def pan_zoom(photo: np.ndarray, frames: int = 8, width: int = 96, height: int = 72) -> list[np.ndarray]:
    """A slow pan and zoom over `photo` (RGB uint8): a real-looking camera move."""
    from PIL import Image

    image = Image.fromarray(photo)
    w, h = image.size
    out = []
    for k in range(frames):
        zoom = 1.0 - 0.004 * k  # 0.4 % closer and 0.3 % further right per frame (~1 px at 256 px)
        cw, ch = w * 0.8 * zoom, h * 0.8 * zoom
        x0, y0 = w * (0.05 + 0.003 * k), h * 0.1
        box = (x0, y0, x0 + cw, y0 + ch)
        out.append(np.asarray(image.resize((width, height), Image.BICUBIC, box=box)))
    return out


def write_video(
    frames: list[np.ndarray], path: Path, fps: int = 24, tone_hz: float | None = None, times: list[float] | None = None
) -> Path:
    """An H.264 file of `frames` at `fps` (or at the given `times` in seconds: variable frame rate),
    with a sine tone of `tone_hz` as AAC audio when given."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.time_base = video.codec_context.time_base = Fraction(1, 1000 if times else fps)
        audio = out.add_stream("aac", rate=44100) if tone_hz else None
        for k, a in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(a, format="rgb24")
            frame.pts = round(times[k] * 1000) if times else k
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None:
            seconds = (times[-1] if times else len(frames) / fps) + 0.1
            t = np.arange(int(44100 * seconds)) / 44100
            samples = (0.3 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
            for start in range(0, len(samples), 1024):
                chunk = av.AudioFrame.from_ndarray(samples[None, start : start + 1024], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = 44100, start
                out.mux(audio.encode(chunk))
            out.mux(audio.encode(None))
    return path
