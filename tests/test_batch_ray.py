"""`painterly batch --backend ray` on a real Ray cluster on this machine: a head and one more worker
node on 127.0.0.1, a worker killed with SIGKILL mid-batch, and a re-run that renders nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import artwork_like, photo_like

# Ray swaps a loopback address for the machine's own unless told not to; before Ray is imported.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

from painterly.frontends.cli import main  # noqa: E402
from painterly.jobs import batch  # noqa: E402
from painterly.media import images  # noqa: E402

LOOPBACK = {"node_ip_address": "127.0.0.1", "num_cpus": 1, "object_store_memory": 80 * 1024**2}


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={**LOOPBACK, "include_dashboard": False})
    cluster.add_node(**LOOPBACK)
    yield cluster
    cluster.shutdown()


@pytest.fixture
def photos(tmp_path) -> tuple[Path, list[Path]]:
    """Six photos and two artworks: 12 jobs."""
    (tmp_path / "photos").mkdir()
    for i in range(6):
        photo_like(64, 40 + 4 * i).save(tmp_path / "photos" / f"p{i}.png")
    styles = [tmp_path / f"art{i}.png" for i in range(2)]
    for i, path in enumerate(styles):
        artwork_like(seed=i + 1).save(path)
    return tmp_path / "photos", styles


def _rendering_workers() -> list[psutil.Process]:
    """Ray worker processes busy with a job (Ray titles them ray::<task>)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if cmdline and cmdline[0].startswith("ray::render_task"):
            found.append(proc)
    return found


def test_a_worker_killed_mid_batch_loses_no_job_and_a_re_run_renders_nothing(cluster, photos, tmp_path, monkeypatch):
    folder, styles = photos
    out = tmp_path / "out"
    argv = ["batch", str(folder), *[a for s in styles for a in ("--style", str(s))], "-o", str(out)]
    argv += ["--size", "64", "--iterations", "20", "-q", "--backend", "ray", "--address", cluster.address]
    proc = subprocess.Popen([sys.executable, "-m", "painterly", *argv], stderr=subprocess.PIPE, text=True)
    killed = None
    while killed is None and proc.poll() is None:
        busy = _rendering_workers()
        if busy:
            time.sleep(0.3)  # mid-render, not at its start
            busy[0].send_signal(signal.SIGKILL)
            killed = busy[0].pid
        time.sleep(0.05)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert killed is not None and "attempt 1 failed (the Ray worker running it died" in err

    report = json.loads((out / "painterly-batch.json").read_text())
    assert report["counts"]["done"] == 12 and max(job["attempts"] for job in report["jobs"]) == 2
    outputs = sorted(out.glob("*.png"))
    assert len(outputs) == 12 and not [p for p in out.iterdir() if p.name.startswith(".")]
    for path in outputs:
        assert batch.finished(path) and path.stem.endswith(images.read_metadata(path)["batch_key"][:12])

    monkeypatch.setattr(batch, "render_job", lambda *a, **k: pytest.fail("a finished job was rendered again"))
    assert main(argv) == 0  # every job skipped: none sent to a worker, none rendered
    report = json.loads((out / "painterly-batch.json").read_text())
    assert report["counts"]["skipped"] == 12 and report["counts"]["done"] == 0


def test_without_an_address_a_local_cluster_runs_on_loopback_and_is_stopped(photos, tmp_path):
    folder, styles = photos
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "painterly", "batch", str(folder / "p0.png"), str(folder / "p1.png")]
    argv += ["--style", str(styles[0]), "-o", str(out), *"--size 48 --iterations 4 -q --backend ray".split()]
    before = {p.pid for p in psutil.process_iter()}
    run = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert len(list(out.glob("*.png"))) == 2

    def left() -> list[psutil.Process]:  # Ray's own processes (ray::workers, raylet, gcs_server, ...)
        return [
            p
            for p in psutil.process_iter(["cmdline"])
            if p.pid not in before and any(a.startswith("ray::") or "/ray/" in a for a in p.info["cmdline"] or [])
        ]

    deadline = time.monotonic() + 120  # Ray's processes take a moment to exit after the shutdown, longer when busy
    while left() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left() == []


def test_an_address_where_no_cluster_answers_is_a_one_line_error(photos, tmp_path, capsys):
    folder, styles = photos
    argv = ["batch", str(folder / "p0.png"), "--style", str(styles[0]), "-o", str(tmp_path / "out"), "-q"]
    assert main([*argv, "--backend", "ray", "--address", f"127.0.0.1:{_closed_port()}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the Ray cluster" in err[0]


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
