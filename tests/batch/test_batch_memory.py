"""Memory stays flat as the input grows: 1x vs 10x the same crawl file, peak RSS of a real run.

(The benchmark checks 1x vs 20x of the 181 HTML news pages; this is the quick version.)"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_paths import CRAWL, REPO, needs_shared

psutil = pytest.importorskip("psutil", reason="psutil not installed: pip install -e '.[test]'")

pytestmark = [needs_shared, pytest.mark.slow]


def peak_rss(cmd: list[str]) -> int:
    """Largest RSS of the process tree while ``cmd`` runs (sampled every 50 ms)."""
    child = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        try:
            peak = max(peak, sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]))
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.05)
    assert child.returncode == 0
    return peak


def test_peak_memory_is_flat_from_1x_to_10x_input(tmp_path: Path):
    inputs = []
    for i in range(10):
        link = tmp_path / f"crawl-{i}.wet.gz"
        link.symlink_to(CRAWL / "cc-2016-50-single-member.wet.gz")
        inputs.append(str(link))

    def run(paths: list[str], out: str) -> int:
        return peak_rss([sys.executable, "-m", "segmenter", "run", *paths, "--out", str(tmp_path / out),
                         "--dedup", "--quiet"])

    small, big = run(inputs[:1], "x1"), run(inputs, "x10")
    assert big <= small * 1.2, f"peak RSS {small / 2**20:.0f} MiB at 1x, {big / 2**20:.0f} MiB at 10x"
