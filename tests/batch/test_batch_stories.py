"""The batch story stage gives exactly the dedup library's ``cluster()`` (same pairs, same order)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from segmenter.batch import stories
from segmenter.batch.process import process_record
from segmenter.batch.readers import read_input
from segmenter.dedup.cluster import cluster
from segmenter.dedup.config import DedupConfig
from segmenter.dedup.document import Document


def signed_rows(paths: list[str], config: DedupConfig, repeat: int) -> list[dict]:
    rows = [process_record(record, stories.signer(config)) for path in paths for record in read_input(path)]
    return [dict(row, id=f"doc-{i}") for i, row in enumerate(rows * repeat)]


@pytest.mark.parametrize("max_bucket", [2, 100])
def test_sqlite_band_buckets_equal_library_cluster(tmp_path, tiny_wet, tiny_warc, max_bucket):
    config = DedupConfig(max_bucket=max_bucket)
    rows = signed_rows([tiny_wet, tiny_warc], config, repeat=4)
    with open(tmp_path / "records.jsonl", "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    count = stories.cluster_file(str(tmp_path / "records.jsonl"), str(tmp_path), config)
    lookup = stories.StoryLookup(str(tmp_path))
    signed = [(order, row) for order, row in enumerate(rows) if row.get("signature")]
    got = [lookup.story_of(order, row) for order, row in signed]
    lookup.close()
    expected = cluster([Document(row["id"], row["body"]) for _, row in signed], config)
    assert len(signed) >= 8 and got == [a.cluster for a in expected]
    assert count == len(set(got)) < len(signed)  # the repeats merged


def test_bucket_pairs_are_the_same_for_int_and_tuple_orders():
    config = DedupConfig()
    sig = stories.Signer(config)("the same words again " * 30)[0]
    member = np.frombuffer(sig, dtype=np.uint32)
    by_int = list(stories.bucket_verified_pairs([(2, member, 100), (1, member, 100)], config))
    by_tuple = list(stories.bucket_verified_pairs([((0, 2), member, 100), ((0, 1), member, 100)], config))
    assert by_int == [(1, 2, 1.0)] and by_tuple == [((0, 1), (0, 2), 1.0)]
