"""Spark local[2] gives the same articles and the same stories as the local pipeline."""
from __future__ import annotations

import json
import os
import sys

import pytest
from batch_paths import CRAWL, needs_shared

pyspark = pytest.importorskip("pyspark", reason="pyspark not installed: pip install 'segmenter[spark]'")

from segmenter.batch.run import ARTICLES_FILE, run  # noqa: E402
from segmenter.batch.spark import read_manifest, run_spark  # noqa: E402

pytestmark = [needs_shared, pytest.mark.slow]

FILES = ["cc-2016-50-single-member.wet.gz", "whirlwind.warc.gz", "warcio-example.warc.gz",
         "cc-2020-34-sample.warc.gz", "broken/fragment1_incomplete_last.wet.gz",
         "broken/fragment2_no_header.wet.gz"]


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers import this venv's segmenter
    session = (SparkSession.builder.master("local[2]").appName("segmenter-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("inputs")
    copy = folder / "cc-2016-50-copy.wet.gz"  # a second crawl of the same pages: every story x2
    copy.symlink_to(CRAWL / "cc-2016-50-single-member.wet.gz")
    return [str(CRAWL / name) for name in FILES] + [str(copy)]


def test_spark_articles_and_stories_equal_the_local_pipeline(spark, inputs, tmp_path):
    manifest = tmp_path / "manifest.txt"
    manifest.write_text("# crawl samples\n" + "\n".join(inputs) + "\n\n")
    assert read_manifest(str(manifest)) == inputs

    local = run(inputs, str(tmp_path / "local"), dedup=True, workers=2)
    distributed = run_spark(read_manifest(str(manifest)), str(tmp_path / "spark"), dedup=True, spark=spark)

    with open(tmp_path / "local" / ARTICLES_FILE, encoding="utf-8") as handle:
        local_rows = [json.loads(line) for line in handle]
    parts = sorted((tmp_path / "spark" / "articles").glob("part-*"))
    spark_rows = [json.loads(line) for part in parts
                  for line in part.read_text(encoding="utf-8").splitlines()]
    assert len(spark_rows) == len(local_rows) == local.read == 25 * 2 + 1 + 2 + 16 + 2
    assert spark_rows == local_rows  # same articles, statuses and story ids, in the same order
    counts = ("read", "kept", "skipped", "failed", "stories")
    assert [getattr(distributed, name) for name in counts] == [getattr(local, name) for name in counts]
    assert len(distributed.input_errors) == len(local.input_errors) == 1

    stories: dict = {}
    for row in spark_rows:
        if row["story_id"]:
            stories.setdefault(row["story_id"], []).append(row)
    copies = [members for members in stories.values() if len(members) >= 2]
    assert len(copies) >= 10  # each page and its copy share one story


def test_spark_parquet_output(spark, inputs, tmp_path):
    small = [str(CRAWL / "warcio-example.warc.gz"), str(CRAWL / "cc-2016-50-single-member.wet.gz")]
    summary = run_spark(small, str(tmp_path), out_format="parquet", spark=spark)
    frame = spark.read.parquet(str(tmp_path / "articles.parquet"))
    assert frame.count() == summary.read == 27
    assert {"url", "title", "body", "teasers", "story_id", "status"} <= set(frame.columns)
