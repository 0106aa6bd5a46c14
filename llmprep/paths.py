"""The one place that decides where llmprep's files live."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "LLMPREP_HOME"
BANK_ENV = "LLMPREP_BANK"


def data_dir() -> Path:
    """User data dir: $LLMPREP_HOME, else platformdirs' user data dir (e.g. ~/.local/share/llmprep)."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("llmprep", appauthor=False))


def db_path() -> Path:
    return data_dir() / "history.sqlite3"


def cache_dir() -> Path:
    return data_dir() / "cache"


def builtin_bank_dir() -> Path:
    """The bank shipped with llmprep: inside the package when installed from a wheel,
    the repository's top-level data/ when running from a source checkout or editable install."""
    here = Path(__file__).resolve().parent
    installed = here / "data"
    if (installed / "questions.yaml").is_file():
        return installed
    return here.parent / "data"


def bank_dirs(extra: list[str] | None, no_builtin: bool) -> list[Path]:
    """Banks to load, in order: built-in (unless disabled), $LLMPREP_BANK entries, then --bank options."""
    dirs: list[Path] = [] if no_builtin else [builtin_bank_dir()]
    env = os.environ.get(BANK_ENV, "")
    dirs += [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    dirs += [Path(p).expanduser() for p in (extra or [])]
    return dirs
