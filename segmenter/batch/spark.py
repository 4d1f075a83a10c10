"""The batch job on Apache Spark: ``segmenter spark MANIFEST --out DIR`` or
``spark-submit segmenter/batch/spark.py MANIFEST --out DIR`` (needs ``pip install 'segmenter[spark]'``).

The same pipeline as ``segmenter run``, with the same pure functions in the middle:

1. The manifest (one WARC/WET/JSONL path or URI per line, as cc-pyspark takes: local, ``file://``,
   ``hdfs://``, ``s3://`` ...) becomes an RDD of (input index, URI), one partition per input by
   default. ``mapPartitions`` reads each input with ``readers.read_input`` and turns every record
   into a row with ``process.process_record`` (segment + MinHash signature of the body), exactly
   as the local workers do. An unreadable input yields an error marker, counted like the local run.
2. Stories (``--dedup``): every signed row is emitted once per LSH band key
   (``segmenter.dedup.lsh.band_keys``), the **shuffle groups rows by band key**, each bucket gives
   its verified pairs (``stories.bucket_verified_pairs``), and the distinct pairs are collected
   to the driver, which runs ``stories.assign`` (the dedup package's ``assign_clusters``: connected
   components under the no-chaining rule, in input order). Verified pairs are few next to the
   rows, so the driver only ever holds the duplicates. The same set of pairs and the same order
   give the same stories as the local pipeline.
3. Output: rows in input order, without signatures, as JSONL part files (``DIR/articles/``) or
   Parquet (``DIR/articles.parquet``), then ``DIR/summary.json``.

Document order is (input index, ordinal): the local pipeline's line order, so the representative
of every story (its first document) is the same document in both jobs.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Iterator

import numpy as np
from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from segmenter.batch import stories
from segmenter.batch.process import process_record
from segmenter.batch.readers import ReaderError, read_input
from segmenter.batch.run import Summary
from segmenter.dedup.config import DedupConfig
from segmenter.dedup.lsh import band_keys

INPUT_ERROR = "_input_error"  # marker field of the row an unreadable input yields
ORDER = "_order"               # (input index, ordinal): the sort key and the story-assignment order
PRIVATE_FIELDS = ("signature", "shingles", ORDER)

TEASER = T.StructType([T.StructField("headline", T.StringType()), T.StructField("blurb", T.StringType())])
SCHEMA = T.StructType([
    T.StructField("id", T.StringType()), T.StructField("url", T.StringType()),
    T.StructField("source", T.StringType()), T.StructField("ordinal", T.LongType()),
    T.StructField("status", T.StringType()), T.StructField("reason", T.StringType()),
    T.StructField("kind", T.StringType()), T.StructField("title", T.StringType()),
    T.StructField("body", T.StringType()), T.StructField("teasers", T.ArrayType(TEASER)),
    T.StructField("story_id", T.StringType()),
])


def read_manifest(path: str) -> list[str]:
    """The inputs listed in a manifest: one per line; blank lines and ``#`` comments are ignored."""
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip() and not line.lstrip().startswith("#")]


def partition_rows(inputs: Iterable[tuple[int, str]], signer=None, timeout: float | None = None
                   ) -> Iterator[dict]:
    """Rows of every record of the partition's inputs (the ``mapPartitions`` function)."""
    for index, uri in inputs:
        try:
            for record in read_input(uri):
                row = process_record(record, signer, timeout)
                row[ORDER] = (index, record.ordinal)
                yield row
        except ReaderError as exc:
            yield {INPUT_ERROR: str(exc), ORDER: (index, -1)}


def band_entries(row: dict, config: DedupConfig) -> list[tuple[int, tuple]]:
    """(band key, (order, signature, size)) for each band of a signed row long enough to merge."""
    if not row.get("signature") or not stories.eligible(row["shingles"], config):
        return []
    signature = stories.decode_signature(row["signature"])
    member = (row[ORDER], signature, row["shingles"])
    keys = band_keys(signature[None, :], config)[0]
    return [(int(key), member) for key in keys.tolist()]


def bucket_pairs(members: Iterable[tuple], config: DedupConfig) -> list[tuple]:
    """Verified pairs of one band bucket (orders are tuples here, compared like the local ints)."""
    members = [(order, np.asarray(sig, dtype=np.uint32), size) for order, sig, size in members]
    return list(stories.bucket_verified_pairs(members, config))


def public_row(row: dict, story_of: dict) -> dict:
    """The output row: story id set, private fields dropped."""
    out = {key: value for key, value in row.items() if key not in PRIVATE_FIELDS}
    if row.get("signature"):
        out["story_id"] = story_of.get(row[ORDER], row["id"])
    return out


def run_spark(inputs: list[str], out_dir: str, dedup: bool = False, out_format: str = "jsonl",
              master: str | None = None, partitions: int | None = None, timeout: float | None = 30.0,
              spark: SparkSession | None = None) -> Summary:
    """Run the batch job on Spark; return the same Summary as the local pipeline."""
    started = time.perf_counter()
    local_out = "://" not in out_dir
    if local_out:
        os.makedirs(out_dir, exist_ok=True)
    spark = spark or _session(master)
    sc = spark.sparkContext
    config = DedupConfig()
    signer = stories.signer(config) if dedup else None
    listed = sc.parallelize(list(enumerate(inputs)), partitions or len(inputs))
    rows = listed.mapPartitions(lambda part: partition_rows(part, signer, timeout))
    rows.persist(StorageLevel.MEMORY_AND_DISK)
    errors = [row[INPUT_ERROR] for row in rows.filter(lambda r: INPUT_ERROR in r).collect()]
    documents = rows.filter(lambda r: INPUT_ERROR not in r)
    story_of = _stories(documents, config) if dedup else {}
    story_ids = sc.broadcast(story_of)
    output = documents.sortBy(lambda r: r[ORDER]).map(lambda r: public_row(r, story_ids.value))
    _write(spark, output, out_dir, out_format)
    summary = Summary(input_errors=errors)
    for status, count in documents.map(lambda r: r["status"]).countByValue().items():
        for _ in range(count):
            summary.count(status)
    if dedup:
        signed = documents.filter(lambda r: bool(r.get("signature"))).count()
        summary.stories = signed - len(story_of)  # every signed document not joined founds one
    summary.seconds = round(time.perf_counter() - started, 3)
    rows.unpersist()
    if local_out:
        with open(os.path.join(out_dir, "summary.json"), "w", encoding="utf-8") as handle:
            json.dump(summary.__dict__, handle, indent=1)
    return summary


def _stories(documents, config: DedupConfig) -> dict:
    """{order: story id} for every document that joined a story founded by another document."""
    buckets = documents.flatMap(lambda r: band_entries(r, config)).groupByKey()
    pairs = buckets.flatMap(lambda kv: bucket_pairs(kv[1], config)).distinct().collect()
    mapping = stories.assign(pairs, config)           # order -> representative order
    joined = {order: rep for order, rep in mapping.items() if order != rep}
    reps = set(joined.values())
    rep_ids = dict(documents.filter(lambda r: r[ORDER] in reps).map(lambda r: (r[ORDER], r["id"])).collect())
    return {order: rep_ids[rep] for order, rep in joined.items()}


def _write(spark: SparkSession, output, out_dir: str, out_format: str) -> None:
    if out_format == "parquet":
        values = output.map(lambda r: tuple(r.get(f.name) for f in SCHEMA.fields))
        frame = spark.createDataFrame(values, SCHEMA)
        frame.write.mode("overwrite").parquet(_uri(f"{out_dir.rstrip('/')}/articles.parquet"))
    else:
        target = f"{out_dir.rstrip('/')}/articles"
        if os.path.isdir(target):  # a rerun replaces the previous output, as mode("overwrite") does
            shutil.rmtree(target)
        output.map(lambda r: json.dumps(r, ensure_ascii=False)).saveAsTextFile(_uri(target))


def _uri(path: str) -> str:
    return path if "://" in path else "file://" + os.path.abspath(path)


def _session(master: str | None) -> SparkSession:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers run this interpreter
    builder = SparkSession.builder.appName("segmenter")
    if master:
        builder = builder.master(master)
    elif "spark.master" not in SparkSession.builder._options and not os.environ.get("SPARK_HOME"):
        builder = builder.master("local[*]")
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``spark-submit segmenter/batch/spark.py`` / ``python -m segmenter.batch.spark``."""
    parser = argparse.ArgumentParser(prog="segmenter.batch.spark", description=__doc__.splitlines()[0])
    parser.add_argument("manifest")
    parser.add_argument("--out", required=True)
    parser.add_argument("--dedup", action="store_true")
    parser.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl")
    parser.add_argument("--partitions", type=int)
    args = parser.parse_args(argv)
    summary = run_spark(read_manifest(args.manifest), args.out, args.dedup, args.format,
                        partitions=args.partitions)
    print(summary.line(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
