"""Shared fixtures: every test gets its own data dir, and banks are built from small YAML texts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

FIXTURE_BANK = Path(__file__).parent / "fixtures" / "bank"


@pytest.fixture(autouse=True)
def llmprep_home(tmp_path, monkeypatch):
    """Point LLMPREP_HOME at a temp dir and clear bank/locale env so tests never touch real user data."""
    home = tmp_path / "home"
    monkeypatch.setenv("LLMPREP_HOME", str(home))
    monkeypatch.delenv("LLMPREP_BANK", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.delenv("LANGUAGE", raising=False)
    return home


@pytest.fixture
def make_bank(tmp_path):
    """make_bank(questions_yaml, rubrics_yaml=None, name="bank") -> Path of a bank directory."""

    def make(questions: str | bytes, rubrics: str | bytes | None = None, name: str = "bank") -> Path:
        d = tmp_path / name
        d.mkdir()
        for fname, body in (("questions.yaml", questions), ("rubrics.yaml", rubrics)):
            if body is None:
                continue
            if isinstance(body, str):
                body = textwrap.dedent(body).encode("utf-8")
            (d / fname).write_bytes(body)
        return d

    return make
