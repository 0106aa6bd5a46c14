"""Bank loading as the commands use it (one place to add caching of parsed banks)."""

from __future__ import annotations

from pathlib import Path

from .bank import Bank, load_bank, load_bank_collecting


def load(dirs: list[Path]) -> Bank:
    """Load the banks or raise BankError naming the first problem."""
    return load_bank(dirs)


def load_collecting(dirs: list[Path]) -> tuple[Bank, list[str]]:
    return load_bank_collecting(dirs)
