"""`painterly video` (issue "Video"): timing and audio kept, odd inputs, resumable, the flow maths."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from clips import moving_shapes, write_video  # noqa: E402
from conftest import artwork_like  # noqa: E402
from painterly.frontends.cli import main  # noqa: E402
from painterly.jobs import temporal  # noqa: E402

FAST = ["--size", "64", "--iterations", "8", "--frame-iterations", "3", "-q"]


@pytest.fixture
def style(tmp_path) -> Path:
    path = tmp_path / "style.png"
    artwork_like(64, 64).save(path)
    return path


def _frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.pts * f.time_base) for f in c.decode(video=0)]


def _peak_hz(container) -> float:
    """The loudest frequency of a container's first audio stream (the tone itself survived the copy)."""
    samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
    return float(np.argmax(np.abs(np.fft.rfft(samples))) * container.streams.audio[0].sample_rate / len(samples))


def test_frame_rate_timing_and_audio_are_kept(tmp_path, style):
    clip = write_video(moving_shapes(5, 64, 48), tmp_path / "clip.mp4", fps=12, tone_hz=440)
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), str(style), "-o", str(out), *FAST]) == 0
    with av.open(str(clip)) as a, av.open(str(out)) as b:
        assert b.streams.video[0].average_rate == a.streams.video[0].average_rate == 12
        assert [s.type for s in b.streams] == ["video", "audio"]
        assert b.streams.audio[0].codec_context.name == "aac" and b.streams.audio[0].sample_rate == 44100
        tone_in, tone_out = _peak_hz(a), _peak_hz(b)
        assert tone_out == pytest.approx(tone_in, abs=2) and tone_out == pytest.approx(440, abs=10)
    assert _frame_times(out) == pytest.approx(_frame_times(clip))
    assert (tmp_path / "out.mp4.frames" / "frame_000004.png").exists()


def test_variable_frame_rate_keeps_each_frames_time(tmp_path, style):
    times = [0.0, 0.1, 0.15, 0.4, 0.45]
    clip = write_video(moving_shapes(5, 64, 48), tmp_path / "vfr.mp4", times=times)
    out = tmp_path / "out.mkv"
    assert main(["video", str(clip), str(style), "-o", str(out), *FAST]) == 0
    assert _frame_times(out) == pytest.approx(times, abs=1e-3)


def test_a_folder_of_frames_gives_png_frames_with_the_same_names(tmp_path, style):
    frames = tmp_path / "frames"
    frames.mkdir()
    for k, a in enumerate(moving_shapes(3, 64, 48)):
        Image.fromarray(a).save(frames / f"shot{k:02d}.jpg")
    out = tmp_path / "styled"
    assert main(["video", str(frames), str(style), "-o", str(out), *FAST]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["shot00.png", "shot01.png", "shot02.png"]
    assert Image.open(out / "shot02.png").size == (64, 48)


def test_a_one_frame_video_works(tmp_path, style):
    clip = write_video(moving_shapes(1, 64, 48), tmp_path / "one.mp4")
    assert main(["video", str(clip), str(style), "-o", str(tmp_path / "out.mp4"), *FAST]) == 0
    assert len(_frame_times(tmp_path / "out.mp4")) == 1


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 44100, 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: _audio_only(d / "tone.m4a"), "no video stream"),
        (lambda d: (d / "broken.mp4").write_bytes(os.urandom(4000)) and d / "broken.mp4", "cannot be read as a video"),
        (lambda d: d / "missing.mp4", "no such file"),
        (lambda d: (d / "empty").mkdir() or d / "empty", "no image frames"),
    ],
)
def test_odd_inputs_give_one_line_errors(tmp_path, style, capsys, make, message):
    source = make(tmp_path)
    assert main(["video", str(source), str(style), "-o", str(tmp_path / "out.mp4"), *FAST]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


def test_other_settings_are_refused_on_a_re_run(tmp_path, style, capsys):
    clip = write_video(moving_shapes(2, 64, 48), tmp_path / "clip.mp4")
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), str(style), "-o", str(out), *FAST]) == 0
    assert main(["video", str(clip), str(style), "-o", str(out), *FAST, "--seed", "3"]) == 2
    assert "other settings (seed)" in capsys.readouterr().err
    assert main(["video", str(clip), str(style), "-o", str(out), *FAST, "--seed", "3", "--overwrite"]) == 0


def test_a_killed_run_continues_without_rendering_finished_frames_again(tmp_path, style):
    clip = write_video(moving_shapes(6, 64, 48), tmp_path / "clip.mp4")
    out = tmp_path / "out.mp4"
    args = ["video", str(clip), str(style), "-o", str(out), "--size", "64", "--iterations", "10"]
    args += ["--frame-iterations", "5", "-q"]
    proc = subprocess.Popen([sys.executable, "-m", "painterly", *args], stderr=subprocess.DEVNULL)
    frames = tmp_path / "out.mp4.frames"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not (frames / "frame_000002.png").exists() and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = {p.name: p.stat().st_mtime_ns for p in frames.glob("frame_*.png")}
    assert 3 <= len(kept) < 6 and not out.exists()
    assert main(args) == 0
    assert all((frames / name).stat().st_mtime_ns == t for name, t in kept.items())  # not rendered again
    assert main([*args[:4], str(tmp_path / "full.mp4"), *args[5:]]) == 0
    for k in range(6):
        a = np.asarray(Image.open(frames / f"frame_{k:06d}.png"), np.float32)
        b = np.asarray(Image.open(tmp_path / "full.mp4.frames" / f"frame_{k:06d}.png"), np.float32)
        assert np.abs(a - b).mean() < 0.5, k


def test_warp_follows_the_flow_and_occlusions_are_unreliable():
    rng = np.random.default_rng(0)
    texture = (rng.random((64, 80, 3)) * 255).astype(np.uint8)
    texture = np.asarray(Image.fromarray(texture).resize((160, 128)).resize((80, 64), Image.BILINEAR))
    before, after = texture, np.roll(texture, 3, axis=1)  # everything moves 3 px right
    after[20:40, 30:50] = (255, 0, 0)  # an object appears: nothing in `before` matches it
    forward, backward = temporal.flow(before, after), temporal.flow(after, before)
    warped = temporal.warp(before, backward)
    c = temporal.reliable(forward, backward)
    inside = (slice(5, 59), slice(8, 72))
    assert np.median(backward[inside][..., 0]) == pytest.approx(-3, abs=0.5)
    good = c[inside] > 0
    assert np.abs(warped[inside].astype(float) - after[inside].astype(float))[good].mean() < 12
    assert c[24:36, 34:46].mean() < c[inside].mean()  # the new object is less trusted than the rest
