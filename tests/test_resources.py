"""Guard the shipped corpora: the presets rely on these properties."""

import re
import string

import pytest

from bpttviz.resources_path import ENV_VAR, resources_dir


@pytest.fixture(scope="module")
def corpora():
    return resources_dir() / "corpora"


def test_resources_dir_contains_corpora(corpora):
    assert resources_dir().is_dir()
    assert corpora.is_dir()


def test_resources_dir_env_override_missing_raises(monkeypatch, tmp_path):
    missing = tmp_path / "nope"
    monkeypatch.setenv(ENV_VAR, str(missing))
    with pytest.raises(FileNotFoundError, match="nope"):
        resources_dir()


def test_dinos_names(corpora):
    text = (corpora / "dinos.txt").read_text(encoding="utf-8")
    assert text.endswith("\n")
    names = text[:-1].split("\n")
    assert all(re.fullmatch(r"[a-z]+", n) for n in names), [
        n for n in names if not re.fullmatch(r"[a-z]+", n)
    ][:10]
    assert len(set(names)) == len(names), "duplicate names"
    assert len(set(names)) >= 800


def test_dinos_vocabulary_is_27_chars(corpora):
    text = (corpora / "dinos.txt").read_text(encoding="utf-8")
    assert set(text) == set(string.ascii_lowercase) | {"\n"}
    assert len(set(text)) == 27


def test_sonnets_text(corpora):
    raw = (corpora / "sonnets.txt").read_bytes()
    text = raw.decode("utf-8")  # raises if not valid UTF-8
    assert len(text) >= 12000
    assert len(set(text)) <= 80
    assert "Shall I compare thee to a summer's day?" in text
