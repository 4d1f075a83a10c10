"""The compiled model (data/model.npz): inference without scikit-learn, the same probabilities as the
Pipeline it is exported from, and a file format that refuses what it cannot read."""
import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import segmenter
from segmenter.blocks import PageBlocks, text_blocks
from segmenter.engine import page_blocks
from segmenter.estimators import compile_pipeline, make_pipeline, shipped_pipeline
from segmenter.model import FORMAT_VERSION, MANIFEST_FILE, CompiledModel, default_model_path, shipped_model
from segmenter.page import Page

FIXTURES = Path(__file__).parent / "fixtures"
TEXT_PAGE = FIXTURES / "page-dump.txt"
HTML_PAGES = ["readability-ars-1.html.gz", "scrapinghub-sciencealert.html.gz"]


def _fixture_pages() -> list[Page]:
    pages = [Page.from_input(TEXT_PAGE.read_text(encoding="utf-8"), "text"), Page.from_input("one line", "text")]
    return pages + [Page.from_input(gzip.decompress((FIXTURES / name).read_bytes()), "html") for name in HTML_PAGES]


def test_inference_imports_no_scikit_learn_scipy_or_skops():
    probe = f"""
import sys
import segmenter
from segmenter.cli import main
segmenter.segment(open({str(TEXT_PAGE)!r}, encoding="utf-8").read())
segmenter.segment(open({str(FIXTURES / "readability-ars-1.html.gz")!r}, "rb").read(), "html")
main(["segment", {str(TEXT_PAGE)!r}])
print(sorted({{name.split(".")[0] for name in sys.modules}} & {{"sklearn", "scipy", "skops"}}), file=sys.stderr)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert out.stderr.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("page", _fixture_pages(), ids=["text", "one-line", *HTML_PAGES])
def test_shipped_npz_gives_the_shipped_pipelines_probabilities(page):
    """A model.npz not exported from the shipped model.skops (stale after a retrain) fails here."""
    compiled, pipeline = shipped_model(), shipped_pipeline()
    assert compiled.classes_.tolist() == pipeline.classes_.tolist()
    assert compiled.feature_names == pipeline.named_steps["vectorizer"].feature_names_
    pages = [page_blocks(page)]
    assert compiled.predict_proba(pages).tobytes() == pipeline.predict_proba(pages).tobytes()


def test_manifest_lists_both_model_files_as_shipped():
    data = default_model_path().parent
    files = json.loads((data / MANIFEST_FILE).read_text())["files"]
    assert set(files) == {"model.npz", "model.skops"}
    for name, entry in files.items():
        content = (data / name).read_bytes()
        assert entry == {"bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}


# A small model fitted here: pages of numbered lines, labelled by simple rules so that every class occurs.

def _page(k: int) -> tuple[PageBlocks, list[str]]:
    lines = ["Home", "World news", f"Headline of story {k} about the harbour",
             *(f"Paragraph {i} of story {k}: the council met and agreed a plan, which takes years." for i in range(4)),
             f"Another story {k + 1} in the news today", f"Its summary, which goes on for a little while {k}...",
             "Contact us"]
    labels = ["other", "other", "title", *["body"] * 4, "teaser_headline", "teaser_blurb", "other"]
    return PageBlocks(text_blocks("\n".join(lines[k % 2:])), "Headline" if k % 3 else None), labels[k % 2:]


@pytest.fixture(scope="module")
def small_pipeline():
    pages, labels = zip(*(_page(k) for k in range(12)), strict=True)
    pipeline = make_pipeline(random_state=0).set_params(classifier__first__max_iter=3,
                                                        classifier__second__max_iter=3)
    # (one OpenMP thread: a team of them crawls on a busy 2-core machine)
    with threadpool_limits(1, user_api="openmp"):
        return pipeline.fit(list(pages), np.concatenate(labels))


@pytest.fixture(scope="module")
def small_npz(small_pipeline, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "model.npz"
    compile_pipeline(small_pipeline).save(path)
    return path


def test_save_and_load_give_the_pipelines_probabilities_and_segmentation(small_pipeline, small_npz):
    loaded = CompiledModel.load(small_npz)
    assert loaded.classes_.tolist() == small_pipeline.classes_.tolist()
    pages = [_page(20)[0], _page(21)[0], PageBlocks(text_blocks("just one line"))]
    with threadpool_limits(1, user_api="openmp"):
        expected = small_pipeline.predict_proba(pages)
    assert loaded.predict_proba(pages).tobytes() == expected.tobytes()
    page = "\n".join(block.text for block in _page(22)[0].blocks)
    assert segmenter.segment(page, model=loaded).to_dict() == segmenter.segment(page, model=small_pipeline).to_dict()


def test_a_pipeline_of_another_shape_does_not_compile(small_pipeline):
    with pytest.raises(ValueError, match="pipeline"):
        compile_pipeline(small_pipeline[1:])


def _arrays(path: Path) -> dict:
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def _write(path: Path, arrays: dict) -> Path:
    with open(path, "wb") as file:
        np.savez_compressed(file, **arrays)
    return path


def _damaged(arrays: dict, key: str, value) -> dict:
    changed = dict(arrays)
    if value is None:
        del changed[key]
    else:
        changed[key] = value
    return changed


@pytest.mark.parametrize("change, message", [
    (lambda a: _damaged(a, "format_version", np.array(FORMAT_VERSION + 1)), "format version 2"),
    (lambda a: _damaged(a, "format_version", None), "no format version"),
    (lambda a: _damaged(a, "second.value", None), "no array 'second.value'"),
    (lambda a: _damaged(a, "first.left", a["first.left"][:-1]), "node arrays"),
    (lambda a: _damaged(a, "first.num_threshold", a["first.num_threshold"].reshape(1, -1)),
     "'first.num_threshold' is float64 with 2"),
    (lambda a: _damaged(a, "classes", a["classes"][:4]), "trees per round for 4 classes"),
    (lambda a: _damaged(a, "feature_names", a["feature_names"][1:]), "the first pass reads"),
    (lambda a: _damaged(a, "first.left", np.zeros_like(a["first.left"])), "before its parent"),
    (lambda a: _damaged(a, "second.feature_idx", a["second.feature_idx"] + 10_000), "beyond"),
], ids=["version", "no-version", "missing", "truncated-array", "mis-shaped", "classes", "features", "loop",
        "column"])
def test_a_file_of_another_version_or_with_bad_arrays_is_refused(small_npz, tmp_path, change, message):
    path = _write(tmp_path / "bad.npz", change(_arrays(small_npz)))
    with pytest.raises(ValueError, match=message) as error:
        CompiledModel.load(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("content", [
    lambda good: good[:len(good) // 2],                                            # truncated download
    lambda good: good[:200] + bytes(b ^ 0xFF for b in good[200:400]) + good[400:],  # damaged in the middle
    lambda good: b"",
    lambda good: bytes(range(256)) * 10,
    lambda good: b"\x80\x04\x95",                                                  # a pickle's start
], ids=["truncated", "corrupt", "empty", "random", "pickle"])
def test_a_damaged_file_is_a_clear_value_error(small_npz, tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content(small_npz.read_bytes()))
    with pytest.raises(ValueError, match="model file") as error:
        CompiledModel.load(path)
    assert str(path) in str(error.value)


def test_a_file_with_pickled_objects_is_refused_not_unpickled(small_npz, tmp_path):
    arrays = _damaged(_arrays(small_npz), "classes", np.array([object()] * 5, dtype=object))
    path = tmp_path / "objects.npz"
    with open(path, "wb") as file:
        np.savez_compressed(file, **arrays)
    with pytest.raises(ValueError, match="model file"):
        CompiledModel.load(path)
