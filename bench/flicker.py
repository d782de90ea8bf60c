"""Flicker of a stylised clip (issue "Video", must-show 1 and 2).

Flicker = the mean absolute difference (0..255) between each stylised frame and the previous
stylised frame warped by the *content's* optical flow, over the pixels where that flow is reliable
(painterly.jobs.temporal). Two generated clips: shapes moving over a textured background, and a slow pan
and zoom over scikit-image's astronaut photo. Each is rendered with the default temporal weight and
with --temporal-weight 0 (every frame a still render) at the same settings; prints flicker, the
ratio, seconds per later frame in passes (bench/passes.py's unit, timed here) and peak RSS, and
writes two consecutive frames of each render as a strip.

    .venv/bin/python bench/flicker.py --size 256 --frames 12 --strip docs/video-frames.png
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import clips  # noqa: E402
import painterly  # noqa: E402
from painterly.jobs import temporal  # noqa: E402
from passes import SHARED, cpu, pass_time  # noqa: E402


def flicker(content: list[np.ndarray], styled: list[np.ndarray]) -> float:
    """Mean |S_k - warp(S_k-1)| over reliable pixels, over all consecutive pairs."""
    total, count = 0.0, 0.0
    for k in range(1, len(content)):
        forward, backward = temporal.flow(content[k - 1], content[k]), temporal.flow(content[k], content[k - 1])
        c = temporal.reliable(forward, backward)[..., None]
        warped = temporal.warp(styled[k - 1].astype(np.float32), backward)
        total += float((c * np.abs(styled[k].astype(np.float32) - warped)).sum())
        count += float(c.sum()) * 3
    return total / max(count, 1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--strip", default="/tmp/painterly-video-frames.png")
    args = ap.parse_args()
    from skimage import data

    model, flags = cpu()
    unit = pass_time(bf16=any(f in flags for f in ("avx512_bf16", "amx_bf16")))
    print(f"CPU: {model} ({' '.join(flags)}); pass {unit:.3f} s")
    w, h = args.size, args.size * 3 // 4
    sources = {
        "shapes": clips.moving_shapes(args.frames, w, h),
        "pan-zoom": clips.pan_zoom(data.astronaut(), args.frames, w, h),
    }
    style = SHARED / "images" / "starry_night.jpg"
    strip = []
    print(f"{'clip':>9} {'temporal w':>10} {'flicker':>8} {'s/frame':>8} {'passes/frame':>12} {'peak RSS':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, frames in sources.items():
            clip = clips.write_video(frames, Path(tmp) / f"{name}.mp4")
            content = [
                np.asarray(f) for f in painterly.media.videofiles.frames(painterly.media.videofiles.open_clip(clip))
            ]
            results = {}
            for weight in (painterly.Options().temporal_weight, 0.0):
                out = Path(tmp) / f"{name}-w{weight:g}"
                times = []
                started = time.perf_counter()
                for event in painterly.api.video(clip, style, out, size=args.size, temporal_weight=weight):
                    if event.step is not None and event.step.iteration == event.step.iterations:
                        times.append(time.perf_counter() - started)
                        started = time.perf_counter()
                styled = [np.asarray(Image.open(p)) for p in sorted(out.glob("frame_*.png"))]
                later = float(np.median(times[1:]))
                results[weight] = flicker(content, styled)
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
                print(
                    f"{name:>9} {weight:>10g} {results[weight]:>8.2f} {later:>8.2f} {later / unit:>12.1f} {rss:>7.2f} G"
                )
                strip.append(np.concatenate(styled[len(styled) // 2 : len(styled) // 2 + 2], axis=1))
            ratio = results[0.0] / results[painterly.Options().temporal_weight]
            print(f"{name:>9} flicker with temporal loss is {ratio:.1f}x lower")
    Image.fromarray(np.concatenate(strip, axis=0)).save(args.strip)
    print(f"two consecutive frames per render (rows: shapes temporal/0, pan-zoom temporal/0): {args.strip}")


if __name__ == "__main__":
    main()
