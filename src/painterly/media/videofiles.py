"""Video in and out: frames from a video file (PyAV, FFmpeg inside its wheel) or from a folder of
images taken in name order, and the stylised frames back into a video with the input's frame
timing and audio. Needs `painterly[video]`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import InputImageError, OutputError
from . import images

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov")  # containers that take H.264 and the usual audio codecs


@dataclass(frozen=True)
class Clip:
    """A video's frames: where they come from, how many, and the name each stylised frame gets."""

    path: Path
    names: tuple[str, ...]  # one file name per frame, in order
    is_folder: bool
    rate: float | None = None  # average frames per second of a video file


def _av():
    try:
        import av
    except ImportError:  # pragma: no cover - the video extra is not installed
        raise InputImageError("video needs PyAV: pip install 'painterly[video]'") from None
    return av


def check_path(path: str | os.PathLike) -> Path:
    """`path` as a Path; raises InputImageError when nothing is there (before any decoding)."""
    path = Path(path)
    if not path.exists():
        raise InputImageError(f"video {path}: no such file or folder")
    return path


def open_clip(path: str | os.PathLike) -> Clip:
    """Check a video file or a folder of frames and list its frames. Raises InputImageError (one line)
    for a missing path, an empty folder, a file that is not a video or has no video stream."""
    path = check_path(path)
    if path.is_dir():
        names = tuple(sorted(p.name for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        if not names:
            raise InputImageError(f"video {path}: the folder holds no image frames ({', '.join(IMAGE_SUFFIXES)})")
        return Clip(path, names, True)
    av = _av()
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputImageError(f"video {path}: no video stream in it")
            stream = container.streams.video[0]
            count = sum(1 for _ in container.decode(stream))
            rate = float(stream.average_rate) if stream.average_rate else None
    except av.FFmpegError as exc:
        raise InputImageError(f"video {path}: cannot be read as a video ({exc.strerror or exc})") from None
    if count == 0:
        raise InputImageError(f"video {path}: the video stream has no frames")
    return Clip(path, tuple(f"frame_{k:06d}.png" for k in range(count)), False, rate)


def frames(clip: Clip) -> Iterator[Image.Image]:
    """The clip's frames in order, as RGB PIL images (EXIF rotation and colour profiles applied for files)."""
    if clip.is_folder:
        for name in clip.names:
            yield images.load(clip.path / name, "video frame")
        return
    av = _av()
    with av.open(str(clip.path)) as container:
        for frame in container.decode(container.streams.video[0]):
            yield frame.to_image().convert("RGB")


def encode(clip: Clip, stylised: list[Path], out: Path) -> Path:
    """Write the stylised frames (PNG files, one per frame of `clip`) as an H.264 video at `out`, with
    each frame at its input timestamp (constant or variable frame rate kept) and the input's audio
    streams copied. Written atomically."""
    av = _av()
    tmp = out.with_name(f".{out.name}.partial{out.suffix}")
    try:
        with av.open(str(clip.path)) as source, av.open(str(tmp), "w") as sink:
            video_in = source.streams.video[0]
            first = Image.open(stylised[0])
            video_out = sink.add_stream("libx264", rate=video_in.average_rate or 24)
            video_out.width, video_out.height = first.size
            video_out.pix_fmt = "yuv420p"
            video_out.time_base = video_out.codec_context.time_base = video_in.time_base  # every pts kept as is
            audio = [(a, sink.add_stream_from_template(a)) for a in source.streams.audio]
            for path, frame in zip(stylised, source.decode(video_in)):
                out_frame = av.VideoFrame.from_ndarray(np.asarray(Image.open(path).convert("RGB")), format="rgb24")
                out_frame.pts, out_frame.time_base = frame.pts, frame.time_base
                sink.mux(video_out.encode(out_frame))
            sink.mux(video_out.encode(None))
            if audio:
                source.seek(0)
                for packet in source.demux([a for a, _ in audio]):
                    if packet.dts is None:
                        continue
                    packet.stream = dict(audio)[packet.stream]
                    sink.mux(packet)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


def even_size(size: tuple[int, int]) -> tuple[int, int]:
    """(W, H) rounded down to even numbers: H.264 in yuv420p needs them."""
    return max(2, size[0] // 2 * 2), max(2, size[1] // 2 * 2)
