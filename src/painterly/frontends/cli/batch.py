"""`painterly batch CONTENT... --style S... -o DIR`: many renders, resumable, local or on Ray."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ... import __version__
from ...errors import OptionsError, PainterlyError
from ...media.files import write_text_atomic
from . import flags
from .render import EXIT_FAILED, EXIT_INTERRUPTED

if TYPE_CHECKING:  # torch: imported where the jobs are made, after the command line is checked
    from ...jobs import batch

SUFFIXES = {"png": ".png", "jpg": ".jpg", "tif": ".tif"}
EXAMPLES = """examples:
  painterly batch photos/ --style starry.jpg --style scream.jpg -o styled/
  painterly batch 'shoot/**/*.jpg' --style art.jpg -o styled/ --size 1024 --backend ray
  painterly batch --manifest jobs.csv -o styled/ --backend ray --address 10.0.0.5:6379
manifest (CSV header or JSON keys): content, style (a;b blends), preset, any option by name:
  content,style,iterations,ratio
  a.jpg,starry.jpg,300,1e-3
"""


ABOUT = (
    "Render every content image in every style (or the rows of a manifest). Output names come from the inputs' "
    "contents and the settings, so a re-run skips finished images; a failed job is retried, then reported, and "
    "the batch goes on."
)


def parser() -> argparse.ArgumentParser:
    p = flags.Parser(
        prog="painterly batch",
        description=ABOUT,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", metavar="CONTENT", nargs="*", help="content images: folders, globs or files")
    p.add_argument("--style", dest="batch_styles", action="append", default=[], metavar="STYLE",
                   help="an artwork; repeat for more (each content x each style)")  # fmt: skip
    p.add_argument("--manifest", metavar="FILE", help="a CSV or JSON-lines file of jobs (see below)")
    o = p.add_argument_group("output")
    o.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the outputs and the report")
    o.add_argument("--format", choices=list(SUFFIXES), default="png", help="output file type (default png)")
    o.add_argument("--report", metavar="FILE", help="JSON report (default DIR/painterly-batch.json)")
    o.add_argument("--retries", type=int, default=2, metavar="N", help="tries after a failure (default 2)")
    o.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    r = p.add_argument_group("backend")
    r.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: one job at a time on all cores; ray: jobs as Ray tasks (default local)")  # fmt: skip
    r.add_argument("--address", metavar="HOST:PORT",
                   help="join this Ray cluster (default: start one on this machine, on 127.0.0.1)")  # fmt: skip
    r.add_argument("--cpus-per-job", type=float, default=1, metavar="N",
                   help="Ray: CPUs (and torch threads) per job (default 1)")  # fmt: skip
    r.add_argument("--gpus-per-job", type=float, default=0, metavar="N",
                   help="Ray: GPUs per job, e.g. 1 or 0.5 (default 0: CPU)")  # fmt: skip
    return flags.with_render_options(p, "batch")


def collect(args: argparse.Namespace, opts, out_dir: Path) -> tuple[list[batch.Job], list[dict]]:
    """The batch's jobs (duplicates dropped) and its bad rows, as report entries."""
    if not args.inputs and not args.manifest:
        raise flags.UsageError("give content images (folders, globs, files) or --manifest FILE")
    if args.inputs and not args.batch_styles:
        raise flags.UsageError("give at least one --style for the content images")
    suffix = SUFFIXES[args.format]
    if opts.bit_depth == 16 and suffix == ".jpg":
        raise flags.UsageError("--bit-depth 16 needs --format png or tif")
    styles = tuple(Path(s) for s in args.batch_styles)
    for style in styles:
        if not style.is_file():
            raise flags.UsageError(f"style {style}: no such file")
    from ...jobs import batch, manifest

    jobs, bad, hasher = [], [], batch.Hasher()
    for content in batch.content_files(args.inputs, exclude=out_dir):
        for style in styles:
            try:
                jobs.append(batch.make_job(content, [style], opts, hasher, suffix))
            except PainterlyError as exc:
                bad.append({"row": None, "content": str(content), "status": "failed", "reason": str(exc)})
    if args.manifest:
        more, errors = manifest.read(Path(args.manifest), opts, styles, hasher, suffix)
        jobs += more
        bad += [{"row": e.row, "status": "failed", "attempts": 0, "reason": e.reason} for e in errors]
    return list({job.key: job for job in jobs}.values()), bad


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    args, opts = flags.parse(parser(), argv)
    # Installed explicitly: a shell starts background jobs with SIGINT ignored; SIGTERM stops alike.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop)
    out_dir = Path(args.output)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OptionsError(f"output folder {out_dir}: cannot create ({exc.strerror or exc})") from None
    jobs, bad = collect(args, opts, out_dir)
    from tqdm import tqdm

    from ...jobs import batch

    todo, skipped = batch.pending(jobs, out_dir)
    _start_notes(todo)  # warnings: said with --quiet too
    report = Report(out_dir, Path(args.report) if args.report else out_dir / "painterly-batch.json", args)
    report.add(skipped)
    for entry in bad:
        report.say(f"row {entry['row']}: {entry['reason']}" if entry["row"] else entry["reason"])
    bar = None if args.quiet else tqdm(total=len(jobs), initial=len(skipped), unit="job", desc="painterly",
                                       file=sys.stderr, dynamic_ncols=True)  # fmt: skip
    report.bar = bar
    try:
        for outcome in _run(args, todo, out_dir, bar):
            report.add([outcome])
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        if bar is not None:
            bar.close()
    report.write(jobs, bad)
    if report.interrupted:
        print("painterly: interrupted; finished images are kept: run the same command to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_FAILED if report.failures(bad) else 0


def _start_notes(todo: list[batch.Job]) -> None:
    """The single render's note on a start image it changes (few iterations from noise), once each."""
    from ...core.plan import start_for

    notes = (start_for(job.options, masks=bool(job.options.style_masks))[1] for job in todo)
    for note in dict.fromkeys(filter(None, notes)):
        print(f"painterly: warning: {note}", file=sys.stderr)


def _run(args: argparse.Namespace, todo: list[batch.Job], out_dir: Path, bar):
    from ...jobs import batch

    if args.backend == "local":

        def show(job, step):  # fmt: skip
            if bar is not None:
                bar.set_postfix_str(f"{job.content.name}: it {step.iteration}/{step.iterations}", refresh=False)
                bar.refresh() if step.iteration % 10 == 0 else None

        return batch.run_local(todo, out_dir, args.retries, on_step=show)
    if not todo:  # nothing to render: no cluster to start
        return iter(())
    from ...jobs import raybatch

    return raybatch.run_ray(todo, out_dir, args.retries, args.address, args.cpus_per_job, args.gpus_per_job)


class Report:
    """Outcomes as they come (progress, retry lines), then the summary table and the JSON report."""

    def __init__(self, out_dir: Path, path: Path, args: argparse.Namespace):
        self.out_dir, self.path, self.args = out_dir, path, args
        self.final: dict[str, batch.Outcome] = {}
        self.started = time.monotonic()
        self.interrupted = False
        self.bar = None

    def say(self, line: str) -> None:
        (self.bar.write if self.bar is not None else print)(f"painterly: {line}", file=sys.stderr)

    def add(self, outcomes: list[batch.Outcome]) -> None:
        for outcome in outcomes:
            where = f"row {outcome.job.row}" if outcome.job.row else outcome.job.content.name
            if outcome.status == "retrying":
                self.say(f"{where}: attempt {outcome.attempts} failed ({outcome.reason}); trying again")
                continue
            if outcome.status == "failed":
                self.say(f"{where}: failed after {outcome.attempts} attempts: {outcome.reason}")
            self.final[outcome.job.key] = outcome
            if self.bar is not None and outcome.status != "skipped":
                self.bar.update(1)

    def failures(self, bad: list[dict]) -> int:
        return len(bad) + sum(o.status == "failed" for o in self.final.values())

    def write(self, jobs: list[batch.Job], bad: list[dict]) -> None:
        entries = [self.final[j.key].as_dict(self.out_dir) for j in jobs if j.key in self.final]
        entries += [{**b, "status": "failed"} for b in bad]
        from ...jobs import batch

        entries += [batch.Outcome(j, "not run").as_dict(self.out_dir) for j in jobs if j.key not in self.final]
        counts = {s: sum(e["status"] == s for e in entries) for s in ("done", "skipped", "failed", "not run")}
        seconds = time.monotonic() - self.started
        body = {"version": __version__, "backend": self.args.backend, "seconds": round(seconds, 2),
                "interrupted": self.interrupted, "counts": counts, "jobs": entries}  # fmt: skip
        try:
            write_text_atomic(self.path, json.dumps(body, indent=1) + "\n", "report")
        except PainterlyError as exc:
            self.say(f"warning: {exc}")
        print(_table(counts, entries, seconds, self.path))


def _table(counts: dict[str, int], entries: list[dict], seconds: float, path: Path) -> str:
    lines = [f"{'status':<8} {'jobs':>5}"] + [f"{s:<8} {n:>5}" for s, n in counts.items() if n or s != "not run"]
    failed = [e for e in entries if e["status"] == "failed"]
    if failed:
        lines.append(f"{'row':>5}  {'content':<24} {'style':<24} reason")
        for e in failed:
            style = ",".join(Path(s).name for s in e.get("styles", []))
            lines.append(f"{e['row'] or '-':>5}  {Path(e.get('content', '-')).name:<24} {style:<24} {e['reason']}")
    lines.append(f"{len(entries)} jobs in {seconds:.1f} s; report: {path}")
    return "\n".join(lines)
