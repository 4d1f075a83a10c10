"""Batch benchmark: records/s and peak memory of the local pipeline (1 and 2 workers) and of Spark
``local[2]``, segment + dedup + write, on ``news-181.warc.gz`` repeated, all in the same run.

    python benchmarks/batch.py                 # 16 copies = 2,896 HTML records, plus the 1x/20x memory check
    python benchmarks/batch.py --copies 4 --no-spark --no-flat

Each job runs as its own process (the ``segmenter`` CLI, as a user runs it) so that its memory is
measured alone, over the job's process tree (main process, workers, the Spark JVM and its Python
workers). Two measures of memory:

- **peak MiB**: the largest sum over the tree of PSS (proportional set size: a page shared by forked
  workers is split between them, not counted once per worker), *sampled* from
  ``/proc/PID/smaps_rollup`` every 0.01 s for the first 5 s of a job (start-up, and the whole of a
  1x run, which lasts a few seconds) and every 0.05 s after that (a long run's memory is steady; a
  denser sampler would take a core's share from the job on a 2-core machine).
- **HWM MiB**: the sum of each process's *exact* peak RSS (``VmHWM``, the kernel's high-water mark,
  read at every sample; the main process's from ``wait4`` when it exits). No sampling can miss it,
  but it counts each shared page once per process that maps it (the imports and the model,
  ~110 MB, three times with two workers), adds up peaks that happened at different times, and
  cannot see a page that stops being shared: a forked worker writing to an inherited page
  (copy-on-write) leaves its RSS unchanged while the machine spends a second page.

The flatness target is on PSS, because that is the memory the job really takes and because the
growth it exists to catch is exactly that copy-on-write kind (it was: workers' full garbage
collections copied ~30 MB of inherited pages each, mid-run, invisible in RSS). It uses the PSS of
*anonymous* memory (heap, Python objects, arrays): anonymous pages are shared only inside the
job's fork tree, so their summed PSS is exact and no other process can change it, whereas
file-backed pages (the code of numpy, scipy ... ~40 MB) are shared with every process on the
machine that maps the same libraries, so other work on the machine moves the job's PSS (seen: the
main process's file-backed PSS fell from 37 to 21 MB and back within a run, its RSS unchanged).
The HWM is the check on the sampling: every process's largest sampled RSS is compared with its
exact VmHWM, and the ratio line says how close the samples came (a sampler that missed a
process's peak shows up there).

records/s is records read / wall seconds from the start of the process (imports, model load and
the JVM start included). CPU ms/rec is the CPU time (user + system) of the job's process tree per
record (exact for the local jobs; Spark's, sampled with the memory): unlike records/s it hardly
depends on what else runs on the machine. Below the table, the CPU cost of ``segment()`` alone on
the same pages (one thread, in this process) shows how much of a record's cost is the model and
how much the pipeline around it. Inputs are symlinks to the one file, so the page cache serves
them all.

"Flat memory": the 2-worker local job on 1x (181 records) and 20x (3,620 records) input; the
target is an anonymous-PSS peak within 20% of each other.
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
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
DEFAULT_INPUT = REPO.parent / "shared" / "corpora" / "crawl" / "news-181.warc.gz"
SAMPLE_SECONDS = 0.05
# Sample densely while a job starts: a 1x run is over in a few seconds, a long run is steady after.
START_SAMPLE_SECONDS = 0.01
START_SECONDS = 5.0
# Linux >= 4.14: one cheap read per process gives PSS split into anonymous and file-backed pages.
HAS_ROLLUP = os.path.exists("/proc/self/smaps_rollup")


@dataclass
class Memory:
    """What ``measure`` found of a job's memory, in bytes (see the module docstring)."""

    pss: int = 0  # peak of the tree's summed PSS (sampled)
    anon: int = 0  # peak of the tree's summed anonymous PSS (sampled)
    hwm: int = 0  # sum of each process's exact peak RSS (VmHWM)
    coverage: float = 1.0  # lowest (largest sampled RSS / VmHWM) over the job's processes
    samples: int = 0
    sampled_rss: dict[int, int] = field(default_factory=dict)  # pid -> largest RSS seen
    peak_rss: dict[int, int] = field(default_factory=dict)  # pid -> VmHWM last read

    def add_sample(self, usage: dict[int, dict[str, int]]) -> None:
        """Fold one sample of the tree (pid -> Pss, Pss_Anon, Rss, VmHWM) in."""
        self.samples += 1
        self.pss = max(self.pss, sum(u["Pss"] for u in usage.values()))
        self.anon = max(self.anon, sum(u["Pss_Anon"] for u in usage.values()))
        for pid, u in usage.items():
            self.sampled_rss[pid] = max(self.sampled_rss.get(pid, 0), u["Rss"])
            self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), u["VmHWM"])

    def finish(self) -> None:
        self.hwm = sum(self.peak_rss.values())
        self.coverage = min((self.sampled_rss.get(pid, 0) / hwm for pid, hwm in self.peak_rss.items()
                             if hwm), default=1.0)


def process_usage(proc: psutil.Process) -> dict[str, int]:
    """Pss, Pss_Anon, Rss and VmHWM of one process, in bytes (from /proc; psutil's PSS or RSS for
    all four where the kernel has no ``smaps_rollup``)."""
    if not HAS_ROLLUP:  # an older kernel or another OS: no split, and no exact peak
        info = proc.memory_full_info()
        pss = getattr(info, "pss", info.rss)
        return {"Pss": pss, "Pss_Anon": pss, "Rss": info.rss, "VmHWM": info.rss}
    try:
        with open(f"/proc/{proc.pid}/smaps_rollup", encoding="ascii") as handle:
            rollup = handle.read().splitlines()[1:]
        with open(f"/proc/{proc.pid}/status", encoding="ascii") as handle:
            hwm = [line for line in handle if line.startswith("VmHWM:")]
    except FileNotFoundError as exc:
        raise psutil.NoSuchProcess(proc.pid) from exc
    fields = dict(line.split(":", 1) for line in rollup + hwm)
    # A zombie (exited, not yet reaped) has no memory lines: it counts as nothing.
    return {key: int(fields[key].split()[0]) * 1024 if key in fields else 0
            for key in ("Pss", "Pss_Anon", "Rss", "VmHWM")}


def tree_usage(proc: psutil.Process, cpu: dict[int, float] | None = None) -> dict[int, dict[str, int]]:
    """``process_usage`` of a process and each of its descendants (pid -> usage); records each
    one's CPU seconds so far in ``cpu`` (pid -> seconds) when given."""
    usage = {}
    for member in [proc, *proc.children(recursive=True)]:
        try:
            usage[member.pid] = process_usage(member)
            if cpu is not None:
                times = member.cpu_times()
                cpu[member.pid] = times.user + times.system
        except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError, PermissionError):
            continue  # gone (or going) between the listing and the read
    return usage


def children_cpu() -> float:
    """CPU seconds of the processes this one (and they, recursively) waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(cmd: list[str]) -> tuple[float, Memory, float]:
    """Run ``cmd``; return (wall seconds, its memory, CPU seconds). Raises if it fails."""
    cpu_before = children_cpu()
    started = time.perf_counter()
    log = tempfile.TemporaryFile()  # not a pipe: Spark's logging would fill it and block the job
    child = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
    proc = psutil.Process(child.pid)
    memory, sampled = Memory(), {}
    while True:
        # wait4 rather than poll(): it also gives the main process's exact peak RSS (ru_maxrss, the
        # largest of its own and its reaped workers'), which no sample after its last can see.
        pid, status, rusage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            memory.peak_rss[child.pid] = max(memory.peak_rss.get(child.pid, 0), rusage.ru_maxrss * 1024)
            break
        try:
            memory.add_sample(tree_usage(proc, sampled))
        except psutil.NoSuchProcess:
            pass  # the main process is exiting: wait4 reaps it on the next turn
        dense = time.perf_counter() - started < START_SECONDS
        time.sleep(START_SAMPLE_SECONDS if dense else SAMPLE_SECONDS)
    seconds = time.perf_counter() - started
    memory.finish()
    if child.returncode != 0:
        log.seek(0)
        raise RuntimeError(f"{' '.join(cmd[:4])} failed: {log.read().decode()[-1500:]}")
    # Exact for what the job reaps (its pool workers); Spark's JVM and Python workers are not its
    # children to reap, so for them the last sample of each process counts (up to one sample short).
    return seconds, memory, max(children_cpu() - cpu_before, sum(sampled.values()))


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
    seconds, memory, cpu = measure(cmd)
    summary = json.loads((out / "summary.json").read_text())
    return {"seconds": seconds, "peak": memory.pss, "memory": memory, "cpu": cpu, **summary}


def spark_job(inputs: list[str], out: Path) -> dict:
    manifest = out.parent / f"{out.name}.manifest"
    manifest.write_text("\n".join(inputs) + "\n")
    cmd = [sys.executable, "-m", "segmenter", "spark", str(manifest), "--out", str(out), "--dedup",
           "--master", "local[2]"]
    seconds, memory, cpu = measure(cmd)
    summary = json.loads((out / "summary.json").read_text())
    return {"seconds": seconds, "peak": memory.pss, "memory": memory, "cpu": cpu, **summary}


def row(name: str, result: dict) -> str:
    rate = result["read"] / result["seconds"]
    cpu_ms = result["cpu"] / max(result["read"], 1) * 1000
    return (f"| {name:<28} | {result['read']:>7} | {result['kept']:>6} | {result['failed']:>6} | "
            f"{result.get('stories') or 0:>7} | {result['seconds']:>7.1f} | {rate:>9.1f} | {cpu_ms:>10.1f} | "
            f"{result['peak'] / 2**20:>8.0f} | {result['memory'].hwm / 2**20:>7.0f} |")


def flat_report(small: Memory, big: Memory) -> str:
    """The 1x/20x lines: the target ratio (anonymous PSS), its cross-checks, and the sampling check."""
    mib = 2**20
    lines = [f"peak memory 20x / 1x: {big.anon / small.anon:.2f} (target <= 1.20; anonymous PSS, sampled: "
             f"{small.anon / mib:.0f} -> {big.anon / mib:.0f} MiB)",
             f"  total PSS {big.pss / small.pss:.2f} ({small.pss / mib:.0f} -> {big.pss / mib:.0f} MiB, "
             f"sampled); summed VmHWM {big.hwm / small.hwm:.2f} ({small.hwm / mib:.0f} -> "
             f"{big.hwm / mib:.0f} MiB, exact, shared pages once per process)",
             f"  samples ({small.samples} at 1x, {big.samples} at 20x) reached "
             f"{min(small.coverage, big.coverage):.0%} of the exact peak RSS of every process"]
    if min(small.coverage, big.coverage) < 0.95:
        lines.append("  WARNING: the samples missed a process's peak: the sampled peaks above may be low")
    return "\n".join(lines)


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
          "| CPU ms/rec | peak MiB | HWM MiB |")
    print("|------------------------------|--------:|-------:|-------:|--------:|--------:|----------:"
          "|-----------:|---------:|--------:|")
    for name, result in results:
        print(row(name, result))
    model_ms = segment_cpu_ms(args.input)
    print(f"segment() alone: {model_ms:.1f} ms CPU a record (first 60 pages, one thread), so 2 workers "
          f"on 2 idle cores do at most {2000 / model_ms:.0f} records/s; the rest of CPU ms/rec is the "
          "pipeline (reading, decoding, signatures, IPC, writing, stories) and start-up.")
    if not args.no_flat:
        print(flat_report(results[-2][1]["memory"], results[-1][1]["memory"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
