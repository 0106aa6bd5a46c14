"""Bank loading as the commands use it, with a cache of parsed banks and of the grader's work.

The cache key is a hash of every bank file's bytes, the llmprep version and the source of the modules
that turn a bank into what is cached (parser, auto-rubric, tokeniser, grader), plus the installed
yaml/opencc/snowballstemmer files: an edited bank, a new llmprep or an edited grader can never be
served stale data. The cache is an optimisation only: any problem reading or writing it falls back to
parsing the YAML (and compiling rubrics) as if there were no cache.

Files in <data dir>/cache/ (the newest few kept):
  bank-KEY.pickle    pickles in a row: a small header (problems, counts: all `validate` reads), then the
                     bank's directories, ids in order, and each question with its rubric pickled alone, so
                     `grade QID` or `show QID` unpickles one question, not the bank
  grader-KEY.pickle  the grader's bank statistics and every rubric compiled so far, each pickled alone
                     (unpickled on first use), so a cached `grade` tokenises nothing but the answer
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

try:  # the C module alone: `import pickle` adds ~1 ms of pure-Python module to every run
    from _pickle import dump as _dump, dumps as _dumps, load as _load, loads as _loads
except ImportError:  # pragma: no cover
    from pickle import dump as _dump, dumps as _dumps, load as _load, loads as _loads

_PROTOCOL = 5

from . import __version__
from .bank import Bank, load_bank_collecting
from .errors import BankError

CACHE_FORMAT = "3"
_KEEP = 8  # cache files of each kind kept per data dir
# Modules whose code decides what a parsed bank or a compiled rubric looks like.
_SOURCES = ("__init__.py", "bank.py", "autorubric.py", "text.py", "grading.py", "loader.py")
_DEPENDENCIES = ("yaml", "opencc", "snowballstemmer")


class Summary:
    """What `validate` prints, readable from the cache without unpickling the bank."""

    def __init__(self, problems: list[str], questions: int, topics: int):
        self.problems = problems
        self.questions = questions
        self.topics = topics


def _hasher():
    try:  # the builtin module: importing hashlib loads OpenSSL (~3 ms)
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover
        from hashlib import blake2b
    return blake2b(digest_size=20)


def _code_key(h) -> None:
    here = Path(__file__).resolve().parent
    for name in _SOURCES:
        try:
            data = (here / name).read_bytes()
        except OSError:
            data = b"\0absent"
        h.update(name.encode() + len(data).to_bytes(8, "little") + data)
    from importlib.util import find_spec

    for dep in _DEPENDENCIES:
        try:
            spec = find_spec(dep)
            st = os.stat(spec.origin) if spec and spec.origin else None
            h.update(f"{dep}:{spec.origin}:{st.st_size}:{st.st_mtime_ns}".encode() if st else f"{dep}:-".encode())
        except (ImportError, OSError, ValueError):
            h.update(f"{dep}:?".encode())


def fingerprint(dirs: list[Path]) -> str | None:
    """Hash of the bank files' bytes, the llmprep version and code; None when a bank cannot be read."""
    h = _hasher()
    h.update(f"{CACHE_FORMAT}\0{__version__}\0".encode())
    _code_key(h)
    for d in dirs:
        # The path as given too: messages and Question.file quote it.
        h.update(str(d).encode() + b"\0" + str(d.resolve()).encode() + b"\0")
        for name in ("questions.yaml", "rubrics.yaml"):
            try:
                with open(d / name, "rb") as fh:  # in 1 MB pieces: a 50 MB bank is never in memory twice
                    size = 0
                    while chunk := fh.read(1 << 20):
                        h.update(chunk)
                        size += len(chunk)
                h.update(b"\0" + size.to_bytes(8, "little"))
            except FileNotFoundError:
                if name == "questions.yaml":
                    return None
                h.update(b"\0absent")
            except OSError:
                return None
    return h.hexdigest()


def load(dirs: list[Path], use_cache: bool = True) -> Bank:
    """Load the banks or raise BankError naming the first problem."""
    bank, problems = load_collecting(dirs, use_cache)
    if problems:
        raise BankError(problems)
    return bank


def load_collecting(dirs: list[Path], use_cache: bool = True) -> tuple[Bank, list[str]]:
    """The bank and every problem found in it (a bank with problems is cached too)."""
    key = fingerprint(dirs) if use_cache else None
    if key:
        cached = _read_bank(key)
        if cached is not None:
            bank, problems = cached
            bank._cache_key = key  # type: ignore[attr-defined]
            return bank, problems
    bank, problems = _parse(dirs)
    if key:
        _write_bank(key, bank, problems)
        bank._cache_key = key  # type: ignore[attr-defined]
    return bank, problems


def summary(dirs: list[Path]) -> tuple[Summary, Bank | None]:
    """`validate` without --strict: the problems and counts, from the cache header when the files are
    unchanged (the bank itself is then not unpickled, and None is returned for it)."""
    key = fingerprint(dirs)
    if key:
        header = _read_header(key)
        if header is not None:
            return header, None
    bank, problems = load_collecting(dirs)
    return Summary(problems, len(bank.questions), len(bank.topics())), bank


def _parse(dirs: list[Path]) -> tuple[Bank, list[str]]:
    enabled = gc.isenabled()
    gc.disable()  # a big bank is a million small objects, none of them garbage: no GC passes meanwhile
    try:
        return load_bank_collecting(dirs)
    finally:
        if enabled:
            gc.enable()


class _CachedBank(Bank):
    """A bank read back from the cache. Each question (with its rubric) is unpickled when first asked for
    by id; the first use of `questions` or `rubrics` as a whole unpickles all of them."""

    def __init__(self, dirs: list[Path], entries: dict[str, bytes], rubric_order: list[str]):
        self.dirs = dirs
        self._entries = entries
        self._rubric_order = rubric_order
        self._one: dict[str, tuple] = {}

    def _entry(self, qid: str) -> tuple:
        got = self._one.get(qid)
        if got is None:
            blob = self._entries.get(qid)
            if blob is None:
                from .errors import UnknownQuestion

                raise UnknownQuestion(qid)
            got = self._one[qid] = _loads(blob)
        return got

    def __getattr__(self, name: str):
        if name not in ("questions", "rubrics"):
            raise AttributeError(name)
        enabled = gc.isenabled()
        gc.disable()
        try:
            entries = {qid: self._entry(qid) for qid in self._entries}
        finally:
            if enabled:
                gc.enable()
        self.questions = {qid: q for qid, (q, _) in entries.items()}
        self.rubrics = {qid: entries[qid][1] for qid in self._rubric_order}
        self._one = {}
        return getattr(self, name)

    def question(self, qid: str):
        if "questions" in self.__dict__:
            return super().question(qid)
        return self._entry(qid)[0]

    def rubric(self, qid: str):
        if "rubrics" in self.__dict__:
            return super().rubric(qid)
        return self._entry(qid)[1]


# ---------------------------------------------------------------- the grader cache


def make_grader(bank: Bank):
    """A Grader for `bank`, given the statistics and compiled rubrics a previous run cached."""
    from .grading import Grader

    key = getattr(bank, "_cache_key", None)
    state = _read_pickles(_cache_file("grader", key), 2) if key else None
    if state is not None:
        stats, blobs = state
        grader = Grader(bank, stats=stats, blobs=blobs)
    else:
        grader = Grader(bank)
    grader._cache_key = key  # type: ignore[attr-defined]
    grader._cache_loaded = state is not None  # type: ignore[attr-defined]
    return grader


def save_grader(grader) -> None:
    """Add the rubrics this run compiled to the grader cache (nothing to do when none were compiled)."""
    key = getattr(grader, "_cache_key", None)
    fresh = getattr(grader, "fresh", None) or set()
    from_workers = getattr(grader, "new_blobs", 0)  # compiled by `grade --batch` workers, already pickled
    if not key or not (fresh or from_workers):
        return
    blobs = dict(grader.blobs)
    for qid in fresh:
        blobs[qid] = _dumps(grader.compiled(qid), protocol=_PROTOCOL)
    _write_pickles(_cache_file("grader", key), [grader.stats, blobs])
    grader.fresh = set()
    grader.blobs = blobs
    grader.new_blobs = 0


# ---------------------------------------------------------------- cache files


def _cache_file(kind: str, key: str) -> Path:
    from .paths import cache_dir

    return cache_dir() / f"{kind}-{key}.pickle"


def _read_pickles(path: Path, count: int) -> list | None:
    """The first `count` pickles of a cache file, or None if it is missing or unreadable."""
    enabled = gc.isenabled()
    gc.disable()  # unpickling a big bank makes millions of objects and frees none: no GC passes
    try:
        with open(path, "rb") as fh:
            return [_load(fh) for _ in range(count)]
    except Exception:  # missing, truncated or from another version: parse instead
        return None
    finally:
        if enabled:
            gc.enable()


def _read_header(key: str) -> Summary | None:
    got = _read_pickles(_cache_file("bank", key), 1)
    header = got[0] if got else None
    return header if isinstance(header, Summary) else None


def _read_bank(key: str) -> tuple[Bank, list[str]] | None:
    got = _read_pickles(_cache_file("bank", key), 4)
    if not got or not isinstance(got[0], Summary) or not isinstance(got[3], dict):
        return None
    header, dirs, rubric_order, entries = got
    return _CachedBank(dirs, entries, rubric_order), header.problems


def _write_bank(key: str, bank: Bank, problems: list[str]) -> None:
    header = Summary(list(problems), len(bank.questions), len(bank.topics()))
    # Each question alone: a pickle of the whole bank would keep a memo of every object in it while
    # writing (hundreds of MB for 10,000 questions), and could only be read back whole.
    entries = {qid: _dumps((q, bank.rubrics.get(qid)), protocol=_PROTOCOL) for qid, q in bank.questions.items()}
    _write_pickles(_cache_file("bank", key), [header, list(bank.dirs), list(bank.rubrics), entries])


def _write_pickles(target: Path, objects: list) -> None:
    """Write atomically (temp file + rename); any OSError leaves the cache as it was."""
    import tempfile

    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".cache-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            for obj in objects:
                _dump(obj, fh, protocol=_PROTOCOL)
        os.replace(tmp, target)
        tmp = None
        kind = target.name.split("-", 1)[0]
        old = sorted(target.parent.glob(f"{kind}-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in old[_KEEP:]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
