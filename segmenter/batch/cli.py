"""CLI of the batch jobs: ``segmenter run INPUT... --out DIR`` and ``segmenter spark MANIFEST --out DIR``."""
from __future__ import annotations

import argparse
import logging
import os
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` and ``spark`` commands."""
    p = subparsers.add_parser(
        "run", help="segment (and dedup) crawl dumps, JSONL exports or folders into JSONL; resumable",
        description="Read WARC/WET files (gzipped or not), JSONL (id, url, text|html) or folders of "
                    ".txt/.html, segment every page, optionally merge stories, and write "
                    "DIR/articles.jsonl. Rerun the same command to resume after a crash.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="WARC/WET/JSONL file, folder, or URI")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (also the checkpoint)")
    p.add_argument("--dedup", action="store_true", help="merge near-duplicate articles into stories")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default 1)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="per-document time limit (default 30; 0 for none)")
    p.add_argument("--quiet", action="store_true", help="no progress line and no summary")
    p.set_defaults(func=run_command)

    s = subparsers.add_parser(
        "spark", help="the same job on Apache Spark over a manifest of WARC/WET paths",
        description="Run the batch job with PySpark (pip install 'segmenter[spark]'). MANIFEST lists "
                    "one input per line: local paths, file://, hdfs://, s3:// URIs (as cc-pyspark).")
    s.add_argument("manifest", metavar="MANIFEST")
    s.add_argument("--out", required=True, metavar="DIR")
    s.add_argument("--dedup", action="store_true", help="merge near-duplicate articles into stories")
    s.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl")
    s.add_argument("--master", default=None, help="Spark master (default: spark-submit's, else local[*])")
    s.add_argument("--partitions", type=int, default=None, help="input partitions (default: one per file)")
    s.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS")
    s.set_defaults(func=spark_command)


def run_command(args: argparse.Namespace) -> int:
    """``segmenter run``: the local pipeline."""
    from segmenter.batch.run import Progress, RunError, run
    from segmenter.cli import CLIError

    if args.workers < 1:
        raise CLIError("--workers must be at least 1")
    missing = [path for path in args.inputs if "://" not in path and not os.path.exists(path)]
    if missing:
        raise CLIError(f"no such input: {missing[0]}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    progress = Progress(enabled=False if args.quiet else None)
    try:
        summary = run(args.inputs, args.out, dedup=args.dedup, workers=args.workers,
                      timeout=args.timeout or None, progress=progress)
    except RunError as exc:
        raise CLIError(str(exc)) from exc
    if not args.quiet:
        print(f"segmenter run: {summary.line()} -> {os.path.join(args.out, 'articles.jsonl')}",
              file=sys.stderr)
    return 0


def spark_command(args: argparse.Namespace) -> int:
    """``segmenter spark``: the same job as a PySpark application."""
    from segmenter.cli import CLIError

    try:
        from segmenter.batch import spark
    except ImportError as exc:
        raise CLIError(f"{exc}: install the spark extra: pip install 'segmenter[spark]'") from exc
    try:
        inputs = spark.read_manifest(args.manifest)
    except OSError as exc:
        raise CLIError(f"cannot read {args.manifest}: {exc.strerror}") from exc
    if not inputs:
        raise CLIError(f"{args.manifest} lists no inputs")
    summary = spark.run_spark(inputs, args.out, dedup=args.dedup, out_format=args.format,
                              master=args.master, partitions=args.partitions,
                              timeout=args.timeout or None)
    print(f"segmenter spark: {summary.line()} -> {args.out}", file=sys.stderr)
    return 0
