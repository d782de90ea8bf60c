"""Load test of the web UI: N clients submit at once through gradio_client; all must finish.

Starts `painterly web` on a free loopback port in a subprocess, submits one run per client
(each its own session) at the same moment, and prints per-client queue wait and run time, the
largest queue position seen, whether every client got a valid PNG, and the server's peak RSS.
Only 127.0.0.1 is contacted; every request loop is bounded by --timeout.

    .venv/bin/python bench/web_load.py --clients 8 --size 64 --iterations 20
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from webserver import check_png, free_port, load, most_at_once, peak_rss_mib, start_server, stop_server, wait_ready  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--size", type=int, default=64, help="output long side, px")
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--concurrency", type=int, default=1, help="server's runs at once")
    p.add_argument("--timeout", type=float, default=600, help="s per client, all included")
    args = p.parse_args()
    from painterly.media import images, samples

    tmp = Path(tempfile.mkdtemp(prefix="painterly-load-"))
    content, style = tmp / "chelsea.png", tmp / "immunohistochemistry.png"
    images.save(images.resize_long_side(samples.photo("chelsea"), 256), content)
    images.save(images.resize_long_side(samples.photo("immunohistochemistry"), 256), style)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_server(
        port,
        "--concurrency",
        str(args.concurrency),
        log=tmp / "server.log",
        env={"GRADIO_TEMP_DIR": str(tmp / "gradio")},
    )
    try:
        wait_ready(url, proc)
        idle_rss = peak_rss_mib(proc.pid)
        t0 = time.monotonic()
        results = load(
            url,
            args.clients,
            str(content),
            str(style),
            args.timeout,
            tmp / "downloads",
            size=args.size,
            iterations=args.iterations,
        )
        wall = time.monotonic() - t0
        peak = peak_rss_mib(proc.pid)
        problems = {r.index: r.error or check_png(r.png, args.size, args.iterations) for r in results}
    finally:
        stop_server(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    ok = sum(not v for v in problems.values())
    print(f"# {args.clients} clients at once, {args.size} px, {args.iterations} iterations, ", end="")
    print(f"server concurrency {args.concurrency}")
    print(f"{'client':>6} {'queue pos':>9} {'wait s':>7} {'run s':>6}  result")
    for r in results:
        print(f"{r.index:>6} {r.max_rank:>9} {r.wait_s:7.1f} {r.run_s:6.1f}  {problems[r.index] or 'valid PNG'}")
    print(
        f"clients {args.clients}, finished with valid PNG {ok}/{args.clients}, wall {wall:.1f} s, "
        f"most running at once {most_at_once(results)}, server peak RSS {peak:.0f} MiB (idle {idle_rss:.0f} MiB)"
    )
    return 0 if ok == args.clients else 1


if __name__ == "__main__":
    sys.exit(main())
