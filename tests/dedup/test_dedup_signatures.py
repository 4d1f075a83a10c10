"""Normalisation, shingles and MinHash signatures, checked against datasketch itself."""
from __future__ import annotations

import random

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash

from segmenter.dedup import DedupConfig, normalize, shingle_hash32, shingles, signatures, to_minhash
from segmenter.dedup.minhash import containment, permutations, sha1_hash32
from segmenter.dedup.shingles import shingle_hashes


def odd_texts() -> list[str]:
    rng = random.Random(3)
    pools = [(32, 127), (0xA0, 0x3000), (0x3040, 0xA000), (0x10000, 0x1FAFF)]
    garbage = ["".join(chr(rng.randrange(*rng.choice(pools))) if rng.random() > 0.2 else " "
                       for _ in range(300)) for _ in range(20)]
    return ["", "   ", "one", "two words", "ＦＵＬＬ width ﬁne Straße", "東京都で大きな地震がありました。",
            "snake_case and-dashes, dots.and:colons", "\x00\x01 control \x7f chars\ud800"] + garbage


def test_normalize_folds_case_width_punctuation_and_splits_cjk():
    assert normalize("  Hello,   WORLD!! ﬁne\tＡＢＣ Straße  ") == "hello world fine abc strasse"
    assert normalize("snake_case") == "snake case"
    assert normalize("東京 abc") == "東 京 abc"


def test_shingles_short_and_empty():
    assert shingles("", 3) == []
    assert shingles("Just two", 3) == ["just two"]
    assert shingles("a b c d", 3) == ["a b c", "b c d"]


def test_vectorised_hashes_equal_plain_hash_of_each_shingle(stories):
    texts = [s["text"] for s in stories] + odd_texts()
    for ngram in (1, 3, 5):
        hashes, offsets = shingle_hashes(texts, ngram)
        for i, text in enumerate(texts):
            expected = [shingle_hash32(s) for s in shingles(text, ngram)]
            assert hashes[offsets[i]:offsets[i + 1]].tolist() == expected


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
@pytest.mark.parametrize("hash_name", ["fast", "sha1"])
def test_signatures_identical_to_datasketch(stories, scheme, hash_name):
    config = DedupConfig(num_perm=64, seed=42, scheme=scheme, hash=hash_name)
    texts = [s["text"] for s in stories] + odd_texts()
    ours = signatures(texts, config)
    hashfunc = shingle_hash32 if hash_name == "fast" else sha1_hash32
    for text, row in zip(texts, ours, strict=True):
        theirs = MinHash(num_perm=64, seed=42, hashfunc=hashfunc, scheme=scheme)
        theirs.update_batch([s.encode("utf-8", "surrogatepass") for s in shingles(text, config.ngram)])
        assert np.array_equal(theirs.hashvalues.astype(np.uint64), row.astype(np.uint64))


def test_default_sha1_config_matches_plain_datasketch_minhash(stories):
    """hash="sha1" with the default scheme: datasketch's own defaults, no hashfunc given."""
    text = stories[0]["text"]
    theirs = MinHash(num_perm=128, seed=1)
    theirs.update_batch([s.encode("utf-8") for s in shingles(text, 3)])
    ours = signatures([text], DedupConfig(hash="sha1"))[0]
    assert np.array_equal(theirs.hashvalues, ours)


def test_permutations_are_datasketchs():
    for scheme in ("affine32", "legacy"):
        a, b = permutations(32, 7, scheme)
        theirs = MinHash(num_perm=32, seed=7, scheme=scheme).permutations
        assert np.array_equal(theirs[0], a) and np.array_equal(theirs[1], b)


def test_to_minhash_is_a_lean_minhash_with_the_same_estimate(stories):
    config = DedupConfig()
    sigs = signatures([stories[0]["text"], stories[0]["text"] + " an extra closing sentence here"], config)
    first, second = to_minhash(sigs[0], config), to_minhash(sigs[1], config)
    assert isinstance(first, LeanMinHash)
    assert first.jaccard(second) == pytest.approx(float(np.mean(sigs[0] == sigs[1])))


def test_empty_text_has_datasketchs_empty_signature():
    sig = signatures([""], DedupConfig(num_perm=16))[0]
    assert np.array_equal(sig, MinHash(num_perm=16).hashvalues)


def test_batches_give_the_same_rows(stories):
    texts = [s["text"] for s in stories] * 50
    config = DedupConfig()
    whole = signatures(texts, config)
    one = np.stack([signatures([t], config)[0] for t in texts[:6]])
    assert np.array_equal(whole[:6], one)


def test_containment_estimate():
    assert containment(0.25, 100, 400) == pytest.approx(1.0)   # a quarter-size copy fully inside
    assert containment(0.0, 100, 100) == 0.0
