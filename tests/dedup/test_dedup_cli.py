"""``segmenter dedup``: output lines, --store, bad input handled without a traceback."""
from __future__ import annotations

import json

import pytest
from dedup_helpers import variant

from segmenter.cli import main
from segmenter.dedup.index import ADD_BATCH


def write_jsonl(path, rows) -> str:
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(row if isinstance(row, str) else json.dumps(row))
            out.write("\n")
    return str(path)


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def collection(tmp_path, stories):
    rows = [{"id": s["id"], "text": s["text"], "title": s["title"]} for s in stories]
    rows += [{"id": f"{s['id']}-copy", "text": variant(s["text"], "dateline"), "url": f"https://x.example/{s['id']}",
              "source": "x"} for s in stories[:3]]
    return write_jsonl(tmp_path / "in.jsonl", rows)


def test_cluster_output_one_line_per_document(collection, capsys):
    assert main(["dedup", collection]) == 0
    out = lines(capsys.readouterr().out)
    assert len(out) == 9 and set(out[0]) == {"id", "cluster", "similarity"}
    by_id = {row["id"]: row for row in out}
    assert by_id["harbour-copy"]["cluster"] == "harbour"
    assert by_id["market"]["cluster"] == "market"


def test_exact_option_gives_the_same_clusters_here(collection, capsys):
    assert main(["dedup", collection]) == 0
    estimated = [(r["id"], r["cluster"]) for r in lines(capsys.readouterr().out)]
    assert main(["dedup", collection, "--exact"]) == 0
    assert [(r["id"], r["cluster"]) for r in lines(capsys.readouterr().out)] == estimated


def test_out_file_and_store(collection, tmp_path, capsys):
    out_path = tmp_path / "out.jsonl"
    assert main(["dedup", collection, "--out", str(out_path)]) == 0
    assert len(lines(out_path.read_text())) == 9
    store = str(tmp_path / "s.db")
    assert main(["dedup", collection, "--store", store]) == 0
    first = lines(capsys.readouterr().out)
    assert {"id", "story", "similarity", "is_new"} == set(first[0])
    assert sum(row["is_new"] for row in first) == 6
    assert main(["dedup", collection, "--store", store]) == 0  # idempotent re-run
    assert not any(row["is_new"] for row in lines(capsys.readouterr().out))


def test_bad_lines_are_counted_and_skipped(tmp_path, stories, capsys):
    path = write_jsonl(tmp_path / "bad.jsonl", [
        {"id": "ok", "text": stories[0]["text"]}, "{not json", {"id": "no-text"}, {"text": "no id"},
        {"id": "bad-type", "text": 42}, "[1, 2]", {"id": "ok", "text": "duplicate id"},
        {"id": "bad-time", "text": "x", "seen": "yesterday"}, {"id": ["list"], "text": "x"},
        {"id": 7, "text": "numeric ids are fine"}])
    assert main(["dedup", path]) == 0
    captured = capsys.readouterr()
    assert [row["id"] for row in lines(captured.out)] == ["ok", "7"]
    assert "skipped 8 bad line(s)" in captured.err and "line 2: bad JSON" in captured.err
    assert "Traceback" not in captured.err


def test_strict_mode_missing_file_binary_and_bad_options(tmp_path, capsys):
    path = write_jsonl(tmp_path / "bad.jsonl", ["{oops"])
    assert main(["dedup", path, "--strict"]) == 2
    assert "line 1: bad JSON" in capsys.readouterr().err
    assert main(["dedup", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot open" in capsys.readouterr().err
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(bytes(range(256)) * 50)
    assert main(["dedup", str(binary)]) == 0
    assert "skipped" in capsys.readouterr().err
    assert main(["dedup", path, "--threshold", "3"]) == 2
    assert "threshold" in capsys.readouterr().err


def test_store_with_another_config_is_a_clear_error(collection, tmp_path, capsys):
    store = str(tmp_path / "s.db")
    assert main(["dedup", collection, "--store", store]) == 0
    capsys.readouterr()
    assert main(["dedup", collection, "--store", store, "--ngram", "5"]) == 2
    err = capsys.readouterr().err
    assert "ngram=3" in err and err.count("\n") == 1
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite" * 500)
    assert main(["dedup", collection, "--store", str(junk)]) == 2
    assert "store" in capsys.readouterr().err


def test_store_retention_expiry(tmp_path, stories, capsys):
    rows = [{"id": s["id"], "text": s["text"], "seen": f"2026-01-0{i + 1}T00:00:00Z"}
            for i, s in enumerate(stories)]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    store = str(tmp_path / "s.db")
    assert main(["dedup", path, "--store", store]) == 0
    assert main(["dedup", "--store", store, "--expire-before", "2026-01-04T00:00:00Z"]) == 0
    assert "expired 3 document(s)" in capsys.readouterr().err
    assert main(["dedup", "--expire-before", "2026-01-04"]) == 2
    assert main(["dedup", "--store", store, "--expire-before", "last week"]) == 2
    assert main(["dedup"]) == 2


def test_lone_surrogates_in_fields_are_stored_replaced(tmp_path, stories, capsys):
    line = json.dumps({"id": "odd\ud800", "text": stories[0]["text"] + " \udc80", "title": "T\udfff"})
    path = write_jsonl(tmp_path / "in.jsonl", [line])
    store = str(tmp_path / "s.db")
    assert main(["dedup", path, "--store", store]) == 0
    assert lines(capsys.readouterr().out)[0]["id"] == "odd\ufffd"


def test_store_mode_streams_and_strict_stops_at_the_bad_line(tmp_path, stories, capsys):
    rows = [{"id": f"{s['id']}-{k}", "text": s["text"]} for k in range(100) for s in stories]  # 600 lines
    path = write_jsonl(tmp_path / "in.jsonl", rows + ["{broken"])
    store = str(tmp_path / "s.db")
    assert main(["dedup", path, "--store", store, "--strict"]) == 2
    captured = capsys.readouterr()
    assert "line 601: bad JSON" in captured.err
    assert len(lines(captured.out)) == ADD_BATCH  # the first batch was stored and reported
    assert main(["dedup", path, "--store", store]) == 0
    out = lines(capsys.readouterr().out)
    assert len(out) == 600 and sum(row["is_new"] for row in out) == 0  # 6 stories, all known now
