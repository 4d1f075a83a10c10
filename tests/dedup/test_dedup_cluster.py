"""Batch clustering: copies merge, distinct stories stay apart, no chaining, short texts alone."""
from __future__ import annotations

import gzip
import importlib.util
import json
import random
import sys
import tracemalloc
from collections import defaultdict

import numpy as np
import pytest
from dedup_helpers import SHARED, variant

from segmenter.dedup import (
    DedupConfig,
    Document,
    assign_clusters,
    band_keys,
    bucket_pairs,
    bulk_signatures,
    candidate_pairs,
    cluster,
    verify,
)
from segmenter.dedup.match import min_shingles


def partition(assignments) -> list[set]:
    groups = defaultdict(set)
    for a in assignments:
        groups[a.cluster].add(a.id)
    return sorted(groups.values(), key=sorted)


def test_reprint_variants_merge_and_stories_stay_apart(corpus):
    docs, truth = corpus
    found = partition(cluster(docs))
    expected = defaultdict(set)
    for doc_id, story in truth.items():
        expected[story].add(doc_id)
    assert found == sorted(expected.values(), key=sorted)


def test_cluster_id_is_first_member_and_similarity_reported(corpus):
    docs, _ = corpus
    result = {a.id: a for a in cluster(docs)}
    assert result["harbour-original"].cluster == "harbour-original"
    assert result["harbour-original"].similarity == 1.0
    assert result["harbour-footer"].cluster == "harbour-original"
    assert 0.5 < result["harbour-footer"].similarity < 1.0


def test_truncated_copy_matches_its_original_by_containment(stories):
    text = stories[2]["text"]
    half = variant(text, "truncate")
    config = DedupConfig(containment=0.7, threshold=0.9)  # Jaccard alone would not merge these
    result = cluster([Document("full", text), Document("half", half)], config)
    assert result[1].cluster == "full"


def test_chaining_trap_bridge_document_does_not_glue_two_stories(stories):
    a, c = stories[0]["text"], stories[1]["text"]
    a_words, c_words = a.split(), c.split()
    bridge = " ".join(a_words[: len(a_words) * 6 // 10] + c_words[: len(c_words) * 6 // 10])
    docs = [Document("a", a), Document("bridge", bridge), Document("c", c)]
    config = DedupConfig(threshold=0.3, containment=0.95)
    result = {x.id: x.cluster for x in cluster(docs, config)}
    assert result["bridge"] == "a"          # the bridge matches a (the representative)...
    assert result["c"] == "c"               # ...and c matches the bridge, but not a: no chain
    # plain union-find over the same verified pairs would have glued them:
    sigs, sizes, _ = bulk_signatures([d.text for d in docs], config)
    pairs = candidate_pairs(band_keys(sigs, config))
    assert {(0, 1), (1, 2)} <= {tuple(p) for p in pairs.tolist()}


def test_assign_clusters_quorum_and_determinism():
    config = DedupConfig(member_quorum=0.5)
    ids = ["r", "m1", "m2", "x"]
    # x matches two members but not the representative: 2 of 3 >= quorum, so it joins
    pairs = [("r", "m1", 0.9), ("r", "m2", 0.8), ("m1", "x", 0.7), ("m2", "x", 0.6)]
    first = assign_clusters(ids, pairs, config)
    assert [a.cluster for a in first] == ["r", "r", "r", "r"]
    assert first[3].similarity == pytest.approx(0.65)
    shuffled = pairs[::-1]
    assert assign_clusters(ids, shuffled, config) == first
    # with one member match only, x founds its own cluster
    alone = assign_clusters(ids, pairs[:3], config)
    assert alone[3].cluster == "x"
    with pytest.raises(ValueError):
        assign_clusters(["a", "a"], [], config)


def test_empty_and_very_short_texts_are_never_merged():
    docs = [Document(f"e{i}", "") for i in range(30)] + [Document(f"s{i}", "Reuters") for i in range(30)]
    docs += [Document(f"b{i}", "By our correspondent in Geneva") for i in range(10)]
    result = cluster(docs)
    assert len({a.cluster for a in result}) == len(docs)


def test_candidate_pairs_equal_brute_force():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 5, size=(40, 3))
    expected = {(i, j) for i in range(40) for j in range(i + 1, 40) if np.any(keys[i] == keys[j])}
    found = {tuple(p) for p in candidate_pairs(keys).tolist()}
    assert found == expected
    eligible = np.arange(40) % 2 == 0
    assert {tuple(p) for p in candidate_pairs(keys, eligible).tolist()} == \
        {(i, j) for i, j in expected if i % 2 == 0 and j % 2 == 0}


def test_exact_verification_gives_the_same_stories_on_clear_cases(corpus):
    docs, _ = corpus
    assert partition(cluster(docs, DedupConfig(exact=True))) == partition(cluster(docs))


def test_cluster_is_independent_of_batch_boundaries(corpus, monkeypatch):
    import segmenter.dedup.cluster  # noqa: F401  (the module, not the function of the same name)

    docs, _ = corpus
    whole = cluster(docs)
    monkeypatch.setattr(sys.modules["segmenter.dedup.cluster"], "BATCH", 7)
    assert cluster(docs) == whole


def test_10mb_and_binary_texts_are_handled_in_bounded_memory():
    rng = random.Random(1)
    big = " ".join(f"w{rng.randrange(5000)}" for _ in range(1_700_000))  # about 10 MB of text
    binary = bytes(range(256)).decode("latin-1") * 40
    docs = [Document("big", big), Document("big-copy", "Header line. " + big), Document("bin", binary)]
    tracemalloc.start()
    result = cluster(docs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result[1].cluster == "big" and result[2].cluster == "bin"
    assert peak < 200 * 2**20


def _dedup_scores():
    spec = importlib.util.spec_from_file_location("score", SHARED / "eval" / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dedup_scores


@pytest.mark.shared
@pytest.mark.skipif(not (SHARED / "corpora" / "dedup").exists(), reason="needs ../shared/corpora/dedup")
def test_reprints_subset_quality():
    path = SHARED / "corpora" / "dedup" / "reprints-synth" / "reprints.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for _, line in zip(range(2500), lines, strict=False)]
    truth = {str(r["id"]): r["cluster"] for r in rows}
    pred = {a.id: a.cluster for a in cluster(Document(str(r["id"]), r["text"]) for r in rows)}
    scores = _dedup_scores()(truth, pred)
    assert scores["ari"] >= 0.9, scores


def test_distributed_style_pipeline_gives_the_same_clusters(corpus):
    """What the Spark job does: signatures per partition, group by band key, verify inside each
    bucket, collect the pairs in any order, then assign_clusters. Same clusters as cluster()."""
    docs, _ = corpus
    config = DedupConfig()
    partitions = [docs[i::3] for i in range(3)]
    signed = {}
    for part in partitions:  # each "executor" signs its own partition
        sigs, sizes, _ = bulk_signatures([d.text for d in part], config)
        signed.update({d.id: (sig, int(size)) for d, sig, size in zip(part, sigs, sizes, strict=True)})
    buckets = defaultdict(set)
    for doc_id, (sig, size) in signed.items():
        if size >= min_shingles(config):
            for band, key in enumerate(band_keys(sig, config).tolist()):
                buckets[(band, key)].add(doc_id)
    pairs = set()
    for members in buckets.values():
        ordered = sorted(members)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:]:
                ok, sim = verify(signed[a][0], signed[a][1], signed[b][0], signed[b][1], config)
                if ok:
                    pairs.add((a, b, float(sim)))
    shuffled = list(pairs)
    random.Random(5).shuffle(shuffled)
    distributed = assign_clusters([d.id for d in docs], shuffled, config)
    assert distributed == cluster(docs, config)


@pytest.mark.shared
@pytest.mark.skipif(not (SHARED / "corpora" / "dedup").exists(), reason="needs ../shared/corpora/dedup")
def test_reuters_pairs_at_jaccard_08_with_exact_verification():
    base = SHARED / "corpora" / "dedup" / "reuters21578"
    truth = {}
    for line in (base / "jaccard_pairs_ge0.5.tsv").read_text().splitlines()[1:]:
        a, b, jaccard = line.split("\t")
        if float(jaccard) >= 0.8:
            truth[(a, b) if a < b else (b, a)] = float(jaccard)
    wanted = {doc for pair in truth for doc in pair}
    with gzip.open(base / "reuters21578.jsonl.gz", "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    docs = [Document(str(r["newid"]), r["text"]) for i, r in enumerate(rows)
            if str(r["newid"]) in wanted or i % 20 == 0]  # the pairs' documents plus 5% others
    config = DedupConfig(ngram=5, threshold=0.8, containment=1.0, min_size_ratio=1.0, exact=True,
                         lsh_fn_weight=0.95)
    groups = defaultdict(list)
    for a in cluster(docs, config):
        groups[a.cluster].append(a.id)
    found = {tuple(sorted((x, y))) for g in groups.values() for i, x in enumerate(g) for y in g[i + 1:]}
    long_enough = {str(r["newid"]) for r in rows if r["n_words"] >= 50}
    found = {p for p in found if p[0] in long_enough and p[1] in long_enough}
    recall = len(found & set(truth)) / len(truth)
    precision = len(found & set(truth)) / len(found)
    assert recall >= 0.97 and precision >= 0.98, (recall, precision)


def test_thousands_of_identical_texts_stay_linear(stories):
    docs = [Document(f"copy-{i}", stories[0]["text"]) for i in range(3000)]
    docs += [Document(s["id"], s["text"]) for s in stories[1:]]
    tracemalloc.start()
    result = cluster(docs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert {a.cluster for a in result[:3000]} == {"copy-0"}
    assert len({a.cluster for a in result}) == 6
    assert peak < 100 * 2**20


def test_bucket_pairs_cap():
    left, right = bucket_pairs(5, 10)
    assert len(left) == 10 and (left < right).all()
    left, right = bucket_pairs(6, 2)
    assert sorted(zip(left.tolist(), right.tolist(), strict=True)) == \
        [(0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (1, 2), (1, 3), (1, 4), (1, 5)]
