from segmenter.blocks import MAX_BLOCK_CHARS, text_blocks


def test_lines_become_blocks_with_exact_offsets():
    text = "Title\n\n  Body line one.  \r\nlast"
    blocks = text_blocks(text)
    assert [b.text for b in blocks] == ["Title", "Body line one.", "last"]
    for b in blocks:
        assert text[b.start:b.end] == b.text


def test_huge_line_is_cut_into_bounded_blocks():
    text = "x" * (MAX_BLOCK_CHARS * 2 + 5)
    blocks = text_blocks(text)
    assert len(blocks) == 3
    assert all(len(b.text) <= MAX_BLOCK_CHARS for b in blocks)
    assert "".join(b.text for b in blocks) == text


def test_blank_input_has_no_blocks():
    assert text_blocks("") == []
    assert text_blocks(" \n\t\n") == []


def test_lines_of_zero_width_characters_are_blank_and_trimmed_from_blocks():
    # a zero-width space as a spacer paragraph, a stray byte-order mark, a soft hyphen
    text = "Lead\n\u200b\n \ufeff Body\u200b \n\u00ad\u2060\nper\u200dson"
    blocks = text_blocks(text)
    assert [b.text for b in blocks] == ["Lead", "Body", "per\u200dson"]  # a joiner inside a word stays
    assert all(text[b.start:b.end] == b.text for b in blocks)


def test_indented_long_lines_and_odd_line_breaks_keep_exact_offsets():
    text = ("\r\n  lead \u2028" + " y" * MAX_BLOCK_CHARS + "  \x0c\t" + "z" * MAX_BLOCK_CHARS + "\x85 tail ")
    blocks = text_blocks(text)
    assert [b.text[:4] for b in blocks] == ["lead", "y y ", "y y ", "zzzz", "tail"]
    assert all(text[b.start:b.end] == b.text and 0 < len(b.text) <= MAX_BLOCK_CHARS for b in blocks)
