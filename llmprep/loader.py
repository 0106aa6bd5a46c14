"""Bank loading as the commands use it, with a cache of parsed banks.

The cache key is a hash of every bank file's bytes plus the llmprep version, so an edited bank or a
new llmprep can never be served stale data. The cache is an optimisation only: any problem reading or
writing it falls back to parsing the YAML.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

from . import __version__
from .bank import Bank, load_bank, load_bank_collecting

CACHE_FORMAT = "1"
_KEEP = 8  # cached banks kept per data dir


def fingerprint(dirs: list[Path]) -> str | None:
    """Hash of the bank files' bytes and the llmprep version; None when a bank cannot be read."""
    h = hashlib.blake2b(digest_size=20)
    h.update(f"{CACHE_FORMAT}\0{__version__}\0".encode())
    for d in dirs:
        h.update(str(d.resolve()).encode() + b"\0")
        for name in ("questions.yaml", "rubrics.yaml"):
            try:
                data = (d / name).read_bytes()
            except FileNotFoundError:
                if name == "questions.yaml":
                    return None
                data = b"\0absent"
            except OSError:
                return None
            h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def load(dirs: list[Path], use_cache: bool = True) -> Bank:
    """Load the banks or raise BankError naming the first problem."""
    key = fingerprint(dirs) if use_cache else None
    if key:
        bank = _read_cache(key)
        if bank is not None:
            return bank
    bank = load_bank(dirs)
    if key:
        _write_cache(key, bank)
    return bank


def load_collecting(dirs: list[Path]) -> tuple[Bank, list[str]]:
    """Every problem, for `validate` (never cached: validation must read the files)."""
    return load_bank_collecting(dirs)


def _cache_file(key: str) -> Path:
    from .paths import cache_dir

    return cache_dir() / f"bank-{key}.pickle"


def _read_cache(key: str) -> Bank | None:
    try:
        with open(_cache_file(key), "rb") as fh:
            bank = pickle.load(fh)
        return bank if isinstance(bank, Bank) else None
    except Exception:  # missing, truncated or from another version: parse instead
        return None


def _write_cache(key: str, bank: Bank) -> None:
    target = _cache_file(key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".bank-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(bank, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, target)
        old = sorted(target.parent.glob("bank-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in old[_KEEP:]:
            stale.unlink(missing_ok=True)
    except OSError:
        try:
            os.unlink(tmp)  # type: ignore[possibly-undefined]
        except (OSError, UnboundLocalError):
            pass
