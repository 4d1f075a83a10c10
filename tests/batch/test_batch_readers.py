"""Readers: every shared crawl file with its record count, the self-made fixtures, damage handling."""
from __future__ import annotations

import gzip
import io
import json
import logging

import pytest
from batch_paths import CRAWL, needs_shared

from segmenter.batch.process import SKIPPED, process_record, skip_reason
from segmenter.batch.readers import ReaderError, read_input, read_inputs, read_jsonl, read_warc
from segmenter.page import Page

# Document records per file (response / conversion / revisit; not request, metadata, warcinfo),
# counted with warcio record by record and by zcat | grep '^WARC-Type:'.
CRAWL_COUNTS = {
    "whirlwind.warc.gz": {"response": 1},
    "whirlwind.warc.wet.gz": {"conversion": 1},
    "whirlwind.warc.wat.gz": {},  # metadata (JSON) only: no documents
    "cc-2020-34-sample.warc.gz": {"response": 16},
    "cc-2016-50-single-member.wet.gz": {"conversion": 25},
    "clueweb09-quirks.warc.gz": {"response": 29},
    "warcio-example.warc.gz": {"response": 1, "revisit": 1},
    "news-181.warc.gz": {"response": 181},
    "news-181.warc.wet.gz": {"conversion": 181},
    "broken/fragment1_incomplete_last.wet.gz": {"conversion": 2},  # the 2nd is truncated
    "broken/fragment3.wet.gz": {"conversion": 5},
}


def count_types(records) -> dict:
    counts: dict = {}
    for record in records:
        counts[record.record_type] = counts.get(record.record_type, 0) + 1
    return counts


@needs_shared
@pytest.mark.parametrize("name", sorted(CRAWL_COUNTS))
def test_every_shared_crawl_file_reads_with_its_record_count(name):
    records = list(read_input(str(CRAWL / name)))
    assert count_types(records) == CRAWL_COUNTS[name]
    assert [r.ordinal for r in records] == list(range(len(records)))
    assert len({r.id for r in records}) == len(records)
    assert all(r.url for r in records)


@needs_shared
def test_every_file_of_the_crawl_folder_is_covered():
    names = {str(p.relative_to(CRAWL)) for p in CRAWL.rglob("*.gz")}
    assert names == set(CRAWL_COUNTS) | {"broken/fragment2_no_header.wet.gz"}


@needs_shared
def test_truncated_last_record_is_flagged_and_logged(caplog):
    with caplog.at_level(logging.WARNING):
        records = list(read_input(str(CRAWL / "broken/fragment1_incomplete_last.wet.gz")))
    assert [r.truncated for r in records] == [False, True]
    assert skip_reason(records[1]) == "truncated record"
    assert "truncated" in caplog.text


@needs_shared
def test_fragment_without_header_is_a_clear_error_and_the_next_input_still_reads():
    broken = str(CRAWL / "broken/fragment2_no_header.wet.gz")
    with pytest.raises(ReaderError, match="not a WARC/WET file"):
        list(read_input(broken))
    errors: list[str] = []
    records = list(read_inputs([broken, str(CRAWL / "whirlwind.warc.wet.gz")], errors))
    assert len(records) == 1 and len(errors) == 1 and "fragment2" in errors[0]


@needs_shared
def test_warc_response_headers_and_declared_charset():
    records = list(read_input(str(CRAWL / "cc-2020-34-sample.warc.gz")))
    charsets = {r.charset.lower() for r in records if r.charset}
    assert {"gb2312", "utf-8", "windows-1251"} <= charsets
    assert all(r.http_status == 200 and r.content_type == "html" for r in records)
    gb = next(r for r in records if r.charset and r.charset.lower() == "gb2312")
    page = Page.from_input(gb.data, gb.content_type, gb.charset)
    assert page.replaced_chars < 10 and any("\u4e00" <= ch <= "\u9fff" for ch in page.text)


@needs_shared
def test_clueweb_warc_018_bodies_decode_as_euc_jp():
    records = list(read_input(str(CRAWL / "clueweb09-quirks.warc.gz")))
    assert all(r.charset == "EUC-JP" and r.data.lstrip().startswith(b"<html") for r in records)
    page = Page.from_input(records[0].data, records[0].content_type, records[0].charset)
    assert page.replaced_chars == 0 and any("\u30a0" <= ch <= "\u30ff" for ch in page.text)


@needs_shared
def test_revisit_record_has_no_payload_and_is_skipped_with_its_target():
    revisit = [r for r in read_input(str(CRAWL / "warcio-example.warc.gz")) if r.record_type == "revisit"]
    assert len(revisit) == 1 and revisit[0].data is None
    row = process_record(revisit[0])
    assert row["status"] == SKIPPED and "http://example.com/" in row["reason"]


def test_tiny_warc_records_types_and_charsets(tiny_warc):
    records = list(read_input(tiny_warc))
    assert [(r.record_type, r.http_status, r.mime) for r in records] == [
        ("response", 200, "text/html"), ("response", 200, "text/html"), ("response", 404, "text/html"),
        ("response", 200, "image/png"), ("revisit", None, "application/http")]
    cafe = records[1]
    assert cafe.charset == "windows-1252"
    assert "Caf\u00e9 society" in Page.from_input(cafe.data, cafe.content_type, cafe.charset).text
    assert [skip_reason(r) for r in records[2:]] == [
        "http status 404", "unsupported content type image/png", "revisit of https://news.example/a"]


def test_single_member_gzip_wet_reads_every_record(tiny_wet):
    with open(tiny_wet, "rb") as handle:
        data = handle.read()
    assert len(gzip.decompress(data)) > 0 and data.count(b"\x1f\x8b\x08") == 1  # one gzip member
    records = list(read_input(tiny_wet))
    assert [r.url for r in records] == [f"https://news.example/wet/{i}" for i in range(3)]
    assert all(r.content_type == "text" and isinstance(r.data, bytes) for r in records)


def test_uncompressed_warc_reads_too(tiny_warc):
    with open(tiny_warc, "rb") as handle:
        plain = gzip.decompress(handle.read())
    records = list(read_warc(io.BytesIO(plain), "plain.warc"))
    assert len(records) == 5 and records[0].id == "plain.warc#0"


def test_gzip_cut_mid_file_is_a_clear_error_not_a_short_file():
    # news-size records: the records before the cut come out, then the error names the damage
    path = CRAWL / "news-181.warc.gz"
    if not path.exists():
        pytest.skip(f"../shared crawl samples absent ({CRAWL})")
    data = path.read_bytes()
    seen = []
    with pytest.raises(ReaderError, match="cut short"):
        for record in read_warc(io.BytesIO(data[: len(data) // 2]), "half.warc.gz"):
            seen.append(record)
    assert 80 <= len(seen) < 181


def test_cut_tiny_fixture_never_crashes(tiny_warc):
    with open(tiny_warc, "rb") as handle:
        data = handle.read()
    for cut in range(1, len(data), 397):
        try:
            records = list(read_warc(io.BytesIO(data[:cut]), "cut.warc.gz"))
        except ReaderError as exc:
            assert "cut.warc.gz" in str(exc)
        else:
            assert len(records) <= 5


def test_garbage_input_is_a_reader_error(tmp_path):
    path = tmp_path / "notes.warc"
    path.write_text("just some text\nnot a warc\n")
    with pytest.raises(ReaderError, match="notes.warc: not a WARC/WET file"):
        list(read_input(str(path)))


def test_jsonl_text_html_ids_and_bad_lines(tmp_path):
    lines = [json.dumps({"id": "a", "url": "https://x/a", "text": "Title\n\nBody"}), "",
             "{not json", json.dumps({"url": "https://x/b", "html": "<p>Hi</p>"}), json.dumps([1, 2])]
    path = tmp_path / "export.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    records = list(read_input(str(path)))
    assert [(r.id, r.content_type, r.truncated) for r in records] == [
        ("a", "text", False), (f"{path}#1", None, True), (f"{path}#2", "html", False),
        (f"{path}#3", None, True)]
    assert records[2].data == "<p>Hi</p>" and records[0].url == "https://x/a"


def test_jsonl_is_sniffed_without_its_extension(tmp_path):
    path = tmp_path / "export.data"
    path.write_text(json.dumps({"id": 1, "text": "hello"}) + "\n")
    assert [r.id for r in read_input(str(path))] == ["1"]
    assert [r.id for r in read_jsonl(io.BytesIO(path.read_bytes()), "s")] == ["1"]


def test_folder_reads_txt_and_html_in_sorted_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "page.html").write_text("<html><body><p>x</p></body></html>")
    (tmp_path / "a.txt").write_text("plain")
    (tmp_path / "skip.png").write_bytes(b"\x89PNG")
    records = list(read_input(str(tmp_path)))
    assert [(r.url, r.content_type) for r in records] == [("a.txt", "text"), ("b/page.html", "html")]


def test_file_uri_reads_like_a_path(tiny_wet):
    assert [r.url for r in read_input("file://" + tiny_wet)] == [r.url for r in read_input(tiny_wet)]


def test_missing_input_is_a_reader_error(tmp_path):
    with pytest.raises(ReaderError, match="cannot open"):
        list(read_input(str(tmp_path / "absent.warc.gz")))
