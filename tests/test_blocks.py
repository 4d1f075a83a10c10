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
