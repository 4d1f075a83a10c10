"""Batch benchmark: records/s and peak memory of the local pipeline (1 and 2 workers) and of Spark
``local[2]``, segment + dedup + write, on ``news-181.warc.gz`` repeated, all in the same run.

    python benchmarks/batch.py                 # 16 copies = 2,896 HTML records, plus the 1x/20x memory check
    python benchmarks/batch.py --copies 4 --no-spark --no-flat

Each job runs as its own process (the ``segmenter`` CLI, as a user runs it) so that its memory is
measured alone: peak memory is the largest sum, over the job's process tree (main process,
workers, the Spark JVM and its Python workers), of PSS (proportional set size: pages shared by
forked workers are split between them, not counted once per worker), sampled every 0.05 s (a 1x
run lasts a second or two; coarser sampling missed its peak).
records/s is records read / wall seconds from the start of the process (imports, model load and
the JVM start included). CPU ms/rec is the CPU time (user + system) of the job's process tree per
record (exact for the local jobs; Spark's, sampled with the memory): unlike records/s it hardly
depends on what else runs on the machine. Below the table, the CPU cost of ``segment()`` alone on
the same pages (one thread, in this process) shows how much of a record's cost is the model and
how much the pipeline around it. Inputs are symlinks to the one file, so the page cache serves
them all.

"Flat memory": the 2-worker local job on 1x (181 records) and 20x (3,620 records) input; the
target is a peak within 20% of each other.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
DEFAULT_INPUT = REPO.parent / "shared" / "corpora" / "crawl" / "news-181.warc.gz"
SAMPLE_SECONDS = 0.05


def tree_memory(proc: psutil.Process, cpu: dict[int, float] | None = None) -> int:
    """Sum of PSS (else RSS) over a process and its descendants, in bytes; records each one's CPU
    seconds so far in ``cpu`` (pid -> seconds) when given."""
    total = 0
    for member in [proc, *proc.children(recursive=True)]:
        try:
            info = member.memory_full_info()
            total += getattr(info, "pss", info.rss)
            if cpu is not None:
                times = member.cpu_times()
                cpu[member.pid] = times.user + times.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def children_cpu() -> float:
    """CPU seconds of the processes this one (and they, recursively) waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(cmd: list[str]) -> tuple[float, int, float]:
    """Run ``cmd``; return (wall seconds, peak tree memory in bytes, CPU seconds). Raises if it fails."""
    cpu_before = children_cpu()
    started = time.perf_counter()
    log = tempfile.TemporaryFile()  # not a pipe: Spark's logging would fill it and block the job
    child = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
    proc = psutil.Process(child.pid)
    peak, sampled = 0, {}
    while child.poll() is None:
        try:
            peak = max(peak, tree_memory(proc, sampled))
        except psutil.NoSuchProcess:
            break
        time.sleep(SAMPLE_SECONDS)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        log.seek(0)
        raise RuntimeError(f"{' '.join(cmd[:4])} failed: {log.read().decode()[-1500:]}")
    # Exact for what the job reaps (its pool workers); Spark's JVM and Python workers are not its
    # children to reap, so for them the last sample of each process counts (up to one sample short).
    return seconds, peak, max(children_cpu() - cpu_before, sum(sampled.values()))


def make_inputs(source: Path, copies: int, folder: Path) -> list[str]:
    """``copies`` differently named symlinks to ``source`` (record ids stay unique)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(copies):
        link = folder / f"{source.name.split('.')[0]}-{i:03d}{''.join(source.suffixes)}"
        if not link.exists():
            link.symlink_to(source)
        paths.append(str(link))
    return paths


def local_job(inputs: list[str], out: Path, workers: int) -> dict:
    cmd = [sys.executable, "-m", "segmenter", "run", *inputs, "--out", str(out), "--dedup",
           "--workers", str(workers), "--quiet"]
    seconds, peak, cpu = measure(cmd)
    summary = json.loads((out / "summary.json").read_text())
    return {"seconds": seconds, "peak": peak, "cpu": cpu, **summary}


def spark_job(inputs: list[str], out: Path) -> dict:
    manifest = out.parent / f"{out.name}.manifest"
    manifest.write_text("\n".join(inputs) + "\n")
    cmd = [sys.executable, "-m", "segmenter", "spark", str(manifest), "--out", str(out), "--dedup",
           "--master", "local[2]"]
    seconds, peak, cpu = measure(cmd)
    summary = json.loads((out / "summary.json").read_text())
    return {"seconds": seconds, "peak": peak, "cpu": cpu, **summary}


def row(name: str, result: dict) -> str:
    rate = result["read"] / result["seconds"]
    cpu_ms = result["cpu"] / max(result["read"], 1) * 1000
    return (f"| {name:<28} | {result['read']:>7} | {result['kept']:>6} | {result['failed']:>6} | "
            f"{result.get('stories') or 0:>7} | {result['seconds']:>7.1f} | {rate:>9.1f} | {cpu_ms:>10.1f} | "
            f"{result['peak'] / 2**20:>8.0f} |")


def segment_cpu_ms(source: Path, limit: int = 60) -> float:
    """CPU ms of ``segment()`` alone per document of ``source`` (its first ``limit``, one thread)."""
    from threadpoolctl import threadpool_limits

    from segmenter.batch.process import skip_reason
    from segmenter.batch.readers import read_input
    from segmenter.engine import segment
    from segmenter.page import Page

    pages = [Page.from_input(r.data, r.content_type, r.charset, r.url) for r in read_input(str(source))
             if not skip_reason(r)][:limit]
    with threadpool_limits(1):
        segment(pages[0])
        started = time.process_time()
        for page in pages:
            segment(page)
        return (time.process_time() - started) / len(pages) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT, help="the WARC/WET file to repeat")
    parser.add_argument("--copies", type=int, default=16, help="copies of the input (default 16)")
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark local[2] job")
    parser.add_argument("--no-flat", action="store_true", help="skip the 1x/20x memory check")
    args = parser.parse_args(argv)
    if not args.input.exists():
        print(f"input {args.input} not found (needs ../shared or --input)", file=sys.stderr)
        return 2
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="segmenter-bench-") as tmp:
        work = Path(tmp)
        inputs = make_inputs(args.input, args.copies, work / "in")
        label = f"x{args.copies}"
        results = [(f"local, 1 worker, {label}", local_job(inputs, work / "w1", 1)),
                   (f"local, 2 workers, {label}", local_job(inputs, work / "w2", 2))]
        if not args.no_spark:
            results.append((f"spark local[2], {label}", spark_job(inputs, work / "spark")))
        if not args.no_flat:
            flat = make_inputs(args.input, 20, work / "in")
            results.append(("local, 2 workers, x1", local_job(flat[:1], work / "f1", 2)))
            results.append(("local, 2 workers, x20", local_job(flat, work / "f20", 2)))
    print(f"segment + dedup + write, input {args.input.name} ({os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}, load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after: other work on the machine slows every row)")
    print("| job                          | records |   kept | failed | stories | seconds | records/s "
          "| CPU ms/rec | peak MiB |")
    print("|------------------------------|--------:|-------:|-------:|--------:|--------:|----------:"
          "|-----------:|---------:|")
    for name, result in results:
        print(row(name, result))
    model_ms = segment_cpu_ms(args.input)
    print(f"segment() alone: {model_ms:.1f} ms CPU a record (first 60 pages, one thread), so 2 workers "
          f"on 2 idle cores do at most {2000 / model_ms:.0f} records/s; the rest of CPU ms/rec is the "
          "pipeline (reading, decoding, signatures, IPC, writing, stories) and start-up.")
    if not args.no_flat:
        small, big = results[-2][1]["peak"], results[-1][1]["peak"]
        print(f"peak memory 20x / 1x: {big / small:.2f} (target <= 1.20)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
