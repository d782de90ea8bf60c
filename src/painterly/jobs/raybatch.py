"""Batch jobs as Ray tasks, on a local cluster (loopback only) or an existing one (`address`).

Each job is a task that asks for `cpus_per_job` CPUs (and `gpus_per_job` GPUs) and sets torch's
threads to match. Input files travel through Ray's object store (each file once, however many jobs
use it) and the encoded output comes back the same way, so worker machines need painterly
installed but no shared folder. Retries are the driver's (the same `Tally` as the local runner): a
task that raised, or whose worker process or node died, is submitted again.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path

from ..errors import ResourceError
from .batch import Job, Outcome, Rendered, Tally, render_job

LOOPBACK = ("127.0.0.1", "localhost", "::1")
OBJECT_STORE_BYTES = 256 * 1024 * 1024  # a local cluster's store: inputs and outputs, not arrays


def is_loopback(address: str | None) -> bool:
    return address is None or address.rsplit(":", 1)[0].strip("[]") in LOOPBACK


def connect(address: str | None, cpus: int | None = None):
    """Join the cluster at `address`, or start a local one on 127.0.0.1 with `cpus` CPUs (default
    all). Returns the `ray` module. Raises ResourceError when Ray is missing or unreachable."""
    if is_loopback(address):
        # Ray swaps a loopback address for the machine's own; this keeps a local cluster on loopback.
        # It must be set before ray is imported.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise ResourceError("--backend ray needs Ray: pip install 'painterly[ray]'") from None
    if address:
        _reachable(address)
    quiet = dict(logging_level=logging.ERROR, log_to_driver=False, configure_logging=True)
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(
                address="local",
                num_cpus=cpus or os.cpu_count(),
                include_dashboard=False,
                object_store_memory=OBJECT_STORE_BYTES,
                **quiet,
            )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ResourceError(f"cannot start or join the Ray cluster {address or ''}: {exc}".strip()) from None
    return ray


def _reachable(address: str, seconds: float = 5.0) -> None:
    """Raise ResourceError at once when nothing answers at HOST:PORT (ray.init would retry for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=seconds).close()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ResourceError(
            f"cannot reach the Ray cluster at {address} ({reason}); is 'ray start --head' running there?"
        ) from None


def render_task(job: Job, seed_offset: int, threads: int, paths: list[str], *blobs: bytes) -> Rendered:
    """One job on a Ray worker: its inputs arrive as bytes."""
    import torch

    torch.set_num_threads(threads)
    return render_job(job, seed_offset, inputs=dict(zip(paths, blobs, strict=True)))


def run_ray(
    jobs: list[Job],
    out_dir: Path,
    retries: int = 2,
    address: str | None = None,
    cpus_per_job: float = 1,
    gpus_per_job: float = 0,
) -> Iterator[Outcome]:
    """Render `jobs` as Ray tasks, yielding an outcome per attempt as tasks finish (any order).
    A local cluster started here is shut down at the end, also on Ctrl-C (in-flight tasks are
    cancelled; finished outputs are already written)."""
    ray = connect(address)
    task = ray.remote(render_task).options(num_cpus=cpus_per_job, num_gpus=gpus_per_job, max_retries=0)
    threads = max(1, int(cpus_per_job))
    slots = max(1, int(ray.cluster_resources().get("CPU", 1) // max(cpus_per_job, 1e-3)))
    tally, queue, in_flight = Tally(retries), deque(jobs), {}
    uses = Counter(str(p) for job in jobs for p in dict.fromkeys(job.files()))
    blobs: dict[str, object] = {}
    try:
        while queue or in_flight:
            while queue and len(in_flight) < 2 * slots:  # a short queue: Ctrl-C and retries lose little
                job = queue.popleft()
                offset = tally.start(job)
                paths = [str(p) for p in dict.fromkeys(job.files())]
                try:
                    refs = [blobs.get(p) or blobs.setdefault(p, ray.put(Path(p).read_bytes())) for p in paths]
                except OSError as exc:
                    yield _final(tally.failed(job, exc), queue, uses, blobs)
                    continue
                in_flight[task.remote(job, offset, threads, paths, *refs)] = job
            [ready], _ = ray.wait(list(in_flight), num_returns=1)
            job = in_flight.pop(ready)
            try:
                outcome = tally.done(job, out_dir, ray.get(ready))
            except Exception as exc:  # noqa: BLE001 - a task's error, or its worker's death
                outcome = tally.failed(job, _cause(ray, exc))
            yield _final(outcome, queue, uses, blobs)
    finally:
        for ref in in_flight:
            ray.cancel(ref, force=True)
        ray.shutdown()


def _final(outcome: Outcome, queue: deque, uses: Counter, blobs: dict) -> Outcome:
    """Queue a retry, or let go of the job's inputs in the object store once no job needs them."""
    if outcome.status == "retrying":
        queue.append(outcome.job)
        return outcome
    for path in dict.fromkeys(str(p) for p in outcome.job.files()):
        uses[path] -= 1
        if uses[path] <= 0:
            blobs.pop(path, None)
    return outcome


def _cause(ray, exc: BaseException) -> BaseException:
    """The job's own error inside Ray's wrapper; a plain line for a worker or node that died."""
    if isinstance(exc, ray.exceptions.RayTaskError) and getattr(exc, "cause", None) is not None:
        return exc.cause
    if isinstance(exc, ray.exceptions.WorkerCrashedError | ray.exceptions.NodeDiedError):
        return ResourceError("the Ray worker running it died (killed, or out of memory)")
    return exc
