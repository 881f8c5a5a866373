"""Corpus loading: every bad input gets a clear CorpusError, never a crash or a traceback
from deep inside; and a hypothesis fuzz of arbitrary bytes."""
import pytest
from hypothesis import given, settings, strategies as st

from bpttviz.engine.data import (MAX_VOCAB, CorpusError, Vocabulary, check_seq_length,
                                 decode_corpus, name_example, read_corpus)


def _write(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"   \n\n", "empty"),
    (b"aaaaaaa", "only 1 distinct"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("caf\u00e9".encode("latin-1") + b" and more text", "not UTF-8"),
    ("".join(chr(0x4e00 + i) for i in range(MAX_VOCAB + 5)).encode(), "distinct characters"),
])
def test_bad_corpora_are_refused_with_reason(tmp_path, data, words):
    p = _write(tmp_path, "c.txt", data)
    with pytest.raises(CorpusError, match=words):
        read_corpus(p)


def test_missing_folder_and_huge(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        read_corpus(tmp_path / "nope.txt")
    with pytest.raises(CorpusError, match="folder"):
        read_corpus(tmp_path)
    p = _write(tmp_path, "big.txt", b"ab" * 600)
    with pytest.raises(CorpusError, match="limit is"):
        read_corpus(p, max_bytes=1000)


def test_good_corpus_roundtrip(tmp_path):
    p = _write(tmp_path, "ok.txt", "\ufeffhello\r\nworld\n".encode())
    text = read_corpus(p)
    assert text == "hello\nworld\n"
    v = Vocabulary.from_text(text)
    assert v.decode(v.encode(text)) == text
    assert v.label(v.index["\n"]) == "\\n"


def test_seq_length_longer_than_corpus():
    with pytest.raises(ValueError, match="at most 9"):
        check_seq_length(25, 10)
    with pytest.raises(ValueError, match="seq_length"):
        check_seq_length(0, 10)


def test_name_example_follows_the_assignment():
    v = Vocabulary.from_text("abc\n")
    ins, tgs = name_example("cab", v)
    assert list(ins) == [-1, v.index["c"], v.index["a"], v.index["b"]]
    assert list(tgs) == [v.index["c"], v.index["a"], v.index["b"], v.index["\n"]]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_decode_corpus_bytes(data):
    """Any bytes either decode to usable text or raise CorpusError; nothing else."""
    try:
        text = decode_corpus(data)
    except CorpusError as e:
        assert str(e)
        return
    assert 2 <= len(set(text)) <= MAX_VOCAB
    v = Vocabulary.from_text(text)
    assert v.decode(v.encode(text)) == text


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_decode_corpus_text(text):
    try:
        out = decode_corpus(text.encode("utf-8", "surrogatepass"))
    except (CorpusError, UnicodeEncodeError):
        return
    expected = text[1:] if text.startswith("\ufeff") else text
    assert out == expected.replace("\r\n", "\n")
    assert len(set(out)) >= 2
