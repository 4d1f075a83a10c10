"""DedupConfig: validation, round trip, derived LSH parameters."""
from __future__ import annotations

import pytest

from segmenter.dedup import DedupConfig
from segmenter.dedup.config import optimal_bands


@pytest.mark.parametrize("bad", [
    {"ngram": 0}, {"num_perm": 4}, {"threshold": 0}, {"threshold": 1.5}, {"containment": 0},
    {"scheme": "md5"}, {"hash": "crc"}, {"bands": 10}, {"bands": 100, "rows": 2}, {"seed": -1},
    {"min_tokens": -1}, {"lsh_fn_weight": 1.0},
])
def test_invalid_values_are_refused_with_a_message(bad):
    with pytest.raises(ValueError, match=r"\w"):
        DedupConfig(**bad)


def test_round_trip_and_unknown_keys():
    config = DedupConfig(ngram=4, threshold=0.6, exact=True)
    assert DedupConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown"):
        DedupConfig.from_dict({**config.to_dict(), "shingle_size": 3})


def test_lsh_params_fit_and_follow_the_threshold():
    bands, rows = DedupConfig().lsh_params
    assert bands * rows <= 128
    assert DedupConfig(bands=16, rows=8).lsh_params == (16, 8)
    low, high = optimal_bands(0.3, 128), optimal_bands(0.8, 128)
    assert low[1] < high[1]  # a higher threshold wants more rows per band
