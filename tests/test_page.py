import pytest

from segmenter.page import HTML, TEXT, Page, PageError, browser_encoding, charset_from_content_type, decode_bytes


def test_sniffs_html_and_text():
    assert Page.from_input("<!DOCTYPE html><html><body><p>x</p></body></html>").content_type == HTML
    assert Page.from_input("Just a headline\nAnd a paragraph < 5 words.").content_type == TEXT


def test_declared_content_type_wins():
    assert Page.from_input("<p>x</p>", "text/plain").content_type == TEXT
    assert Page.from_input("plain", "text/html; charset=utf-8").content_type == HTML
    with pytest.raises(PageError):
        Page.from_input("x", "application/pdf")


def test_decoding_honours_bom_declared_charset_and_meta():
    assert decode_bytes("héllo".encode("utf-16"))[0] == "héllo"
    assert decode_bytes("héllo".encode("latin-1"), "iso-8859-1")[0] == "héllo"
    html = '<meta charset="windows-1251"><p>привет</p>'.encode("cp1251")
    assert "привет" in decode_bytes(html)[0]


def test_declared_labels_decode_as_browsers_do():
    # Pages labelled iso-8859-1 are written in windows-1252: curly quotes and dashes, not C1 controls.
    quoted = "It’s “done” – 5 €".encode("cp1252")
    assert decode_bytes(b'<meta charset="iso-8859-1"><p>' + quoted)[0].endswith("It’s “done” – 5 €")
    assert decode_bytes(quoted, "ISO-8859-1") == ("It’s “done” – 5 €", 0)
    assert decode_bytes(quoted, "us-ascii")[0] == "It’s “done” – 5 €"
    # gb2312 pages use GBK characters beyond GB2312 (here 镕), as browsers allow.
    chinese = "朱镕基".encode("gbk")
    assert decode_bytes(chinese, "gb2312") == ("朱镕基", 0)
    assert browser_encoding("Shift_JIS") == "cp932" and browser_encoding("windows-874") == "cp874"
    assert browser_encoding("koi8-r") == "koi8-r" and browser_encoding("no-such-charset") is None
    # A <meta> readable as ASCII cannot be right about UTF-16.
    assert decode_bytes('<meta charset="utf-16"><p>héllo</p>'.encode())[0].endswith("héllo</p>")


def test_invalid_utf8_is_replaced_not_raised():
    text, replaced = decode_bytes(b"ok \xff\xfe text")
    assert "ok" in text and replaced >= 1 or "ÿ" in text


def test_charset_from_content_type():
    assert charset_from_content_type("text/html; charset=ISO-8859-1") == "ISO-8859-1"
    assert charset_from_content_type("text/plain") is None


def test_rejects_non_text_input():
    with pytest.raises(PageError):
        Page.from_input(12345)
