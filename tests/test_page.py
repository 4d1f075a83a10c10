import pytest

from segmenter.page import HTML, TEXT, Page, PageError, charset_from_content_type, decode_bytes


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


def test_invalid_utf8_is_replaced_not_raised():
    text, replaced = decode_bytes(b"ok \xff\xfe text")
    assert "ok" in text and replaced >= 1 or "ÿ" in text


def test_charset_from_content_type():
    assert charset_from_content_type("text/html; charset=ISO-8859-1") == "ISO-8859-1"
    assert charset_from_content_type("text/plain") is None


def test_rejects_non_text_input():
    with pytest.raises(PageError):
        Page.from_input(12345)
