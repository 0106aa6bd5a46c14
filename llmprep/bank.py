"""Load and check question banks (format v1) into frozen dataclasses.

A bank is a directory with questions.yaml and optionally rubrics.yaml. YAML is read with the safe
loader only (a `!!python/...` tag is an error, never executed). Every problem is collected with
file:line and question id, so `validate` can print them all at once.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BankError, UnknownQuestion

BUILTIN_TOPICS = ("fundamentals", "training", "distributed", "compression", "inference", "applications", "coding")
KINDS = ("concept", "coding")
DEFAULT_PASS = 0.6
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

# A text is a tuple of (language, text) pairs; a plain YAML string has language "".
Text = tuple[tuple[str, str], ...]


def pick(text: Text, lang: str | None = None) -> str:
    """The text in `lang`, else the first available language."""
    for code, value in text:
        if code == lang:
            return value
    return text[0][1] if text else ""


def languages(text: Text) -> list[str]:
    return [code for code, _ in text if code]


@dataclass(frozen=True)
class Question:
    """One question: prompt and reference answer(s) in one or more languages, where it was defined."""

    id: str
    topic: str
    kind: str
    difficulty: int
    prompt: Text
    answers: tuple[Text, ...]
    tags: tuple[str, ...] = ()
    source: str | None = None
    related: tuple[str, ...] = ()
    file: str = ""
    line: int = 0

    def languages(self) -> list[str]:
        return languages(self.prompt)


@dataclass(frozen=True)
class Point:
    """One rubric point: its text, its keyword concepts (each a tuple of synonyms), weight and need."""

    id: str
    text: Text
    keywords: tuple[tuple[str, ...], ...]  # concepts, each a tuple of synonyms
    weight: float = 1.0
    need: int = 1


@dataclass(frozen=True)
class Rubric:
    """The points a question's answer is graded on (hand-written, or derived from the reference answers)."""

    qid: str
    points: tuple[Point, ...]
    pass_mark: float = DEFAULT_PASS
    derived: bool = False  # built from the reference answer(s), not hand-written
    # Alternative point sets (one per reference answer); the grade takes the best. variants[0] is points.
    variants: tuple[tuple[Point, ...], ...] = ()
    file: str = ""
    line: int = 0


@dataclass
class Bank:
    """Every loaded question and rubric, by id, in load order."""

    questions: dict[str, Question] = field(default_factory=dict)
    rubrics: dict[str, Rubric] = field(default_factory=dict)
    dirs: list[Path] = field(default_factory=list)

    def question(self, qid: str) -> Question:
        try:
            return self.questions[qid]
        except KeyError:
            raise UnknownQuestion(qid) from None

    def rubric(self, qid: str) -> Rubric:
        self.question(qid)
        return self.rubrics[qid]

    def topics(self) -> list[str]:
        seen = dict.fromkeys(q.topic for q in self.questions.values())
        return list(seen)


# ---------------------------------------------------------------- YAML with line numbers


class _Map(dict):
    """A YAML mapping that remembers its line and its keys' lines."""

    __slots__ = ("line", "key_lines")


class _Seq(list):
    __slots__ = ("line",)


def _read_events(text: str | bytes, fname: str, problems: list[str], stream=None) -> Any:
    """Build the document straight from the parser's events (no node tree: a 50 MB bank would need
    ~1 GB for one), with the safe loader's scalar resolution and constructors. Mappings and sequences
    become _Map/_Seq with line numbers; a tag the safe loader does not know is an error, never run.

    stream: (key, on_item). The items of the top-level `key` (a list's items, or a mapping's values) are
    handed to on_item(key_or_index, item, container, line) one by one as they are built, and not kept:
    the container stays in the document, empty but for its line numbers (and, for a mapping, its keys
    mapped to None). So a bank's questions are checked and converted without the whole file's tree."""
    import yaml  # imported here: a cached bank loads without yaml
    from yaml.events import (
        AliasEvent, MappingEndEvent, MappingStartEvent, ScalarEvent, SequenceEndEvent, SequenceStartEvent, StreamEndEvent,
    )
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    # libyaml's parser is ~10× faster; the constructors stay the safe ones either way.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    constructors = loader.yaml_constructors
    str_tag, seq_tag, map_tag = "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
    anchors: dict[str, Any] = {}

    def undefined(ev, kind, tag):
        node = kind(tag, [] if kind is not ScalarNode else "", ev.start_mark, ev.end_mark)
        constructors[None](loader, node)  # raises ConstructorError naming the tag and its line

    def build_streamed(ev, on_item) -> Any:
        if isinstance(ev, SequenceStartEvent) and ev.tag in (None, "!", seq_tag) and not ev.anchor:
            shell = _Seq()
            shell.line = ev.start_mark.line + 1
            i = 0
            while not loader.check_event(SequenceEndEvent):
                item_ev = loader.get_event()
                on_item(i, build(item_ev), shell, item_ev.start_mark.line + 1)
                i += 1
            loader.get_event()
            return shell
        if isinstance(ev, MappingStartEvent) and ev.tag in (None, "!", map_tag) and not ev.anchor:
            shell = new_map(ev)
            for key, key_line, item in entries(shell, lambda key, item_ev: build(item_ev)):
                shell[key] = None
                on_item(key, item, shell, key_line)
            return shell
        return build(ev)

    def new_map(ev) -> _Map:
        mapping = _Map()
        mapping.line = ev.start_mark.line + 1
        mapping.key_lines = {}
        return mapping

    def entries(mapping: _Map, value_of):
        """Read a mapping's entries up to its end, yielding (key, line, value_of(key, value event)) for
        each usable key; a non-string or duplicate key is reported, and each key's line recorded."""
        while not loader.check_event(MappingEndEvent):
            key_ev = loader.get_event()
            key_line = key_ev.start_mark.line + 1
            key = build(key_ev)
            item = value_of(key, loader.get_event())
            if not isinstance(key, (str, int, float, bool)):
                problems.append(f"{fname}:{key_line}: mapping key must be a string")
                continue
            if key in mapping:
                problems.append(f"{fname}:{key_line}: duplicate key {key!r}")
            mapping.key_lines[key] = key_line
            yield key, key_line, item
        loader.get_event()

    def build(ev, top: bool = False) -> Any:
        if isinstance(ev, ScalarEvent):
            tag = ev.tag
            if tag is None or tag == "!":
                tag = loader.resolve(ScalarNode, ev.value, ev.implicit)
            if tag == str_tag:
                value: Any = ev.value
            else:
                construct = constructors.get(tag)
                if construct is None:
                    undefined(ev, ScalarNode, tag)
                try:
                    value = construct(loader, ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, ev.style))
                except yaml.YAMLError:
                    raise
                except Exception:  # "!!int x", "!!timestamp 2024-13-45": the constructor's own ValueError
                    short = tag.rsplit(":", 1)[-1]
                    raise yaml.constructor.ConstructorError(
                        None, None, f"{ev.value[:40]!r} is not a valid !!{short}", ev.start_mark
                    ) from None
        elif isinstance(ev, AliasEvent):
            if ev.anchor not in anchors:
                raise yaml.composer.ComposerError(None, None, f"found undefined alias {ev.anchor!r}", ev.start_mark)
            return anchors[ev.anchor]
        elif isinstance(ev, SequenceStartEvent):
            if ev.tag not in (None, "!", seq_tag):
                undefined(ev, SequenceNode, ev.tag)
            value = _Seq()
            value.line = ev.start_mark.line + 1
            if ev.anchor:
                anchors[ev.anchor] = value
            while not loader.check_event(SequenceEndEvent):
                value.append(build(loader.get_event()))
            loader.get_event()
        elif isinstance(ev, MappingStartEvent):
            if ev.tag not in (None, "!", map_tag):
                undefined(ev, MappingNode, ev.tag)
            value = new_map(ev)
            if ev.anchor:
                anchors[ev.anchor] = value

            def value_of(key, item_ev):  # the streamed top-level key is built item by item
                if top and stream is not None and key == stream[0]:
                    return build_streamed(item_ev, stream[1])
                return build(item_ev)

            for key, _line, item in entries(value, value_of):
                value[key] = item
        else:  # pragma: no cover - the parser yields nothing else inside a document
            raise yaml.YAMLError(f"unexpected {type(ev).__name__}")
        if getattr(ev, "anchor", None):
            anchors[ev.anchor] = value
        return value

    try:
        loader.get_event()  # stream start
        if loader.check_event(StreamEndEvent):
            return None  # an empty file
        loader.get_event()  # document start
        data = build(loader.get_event(), top=True)
        loader.get_event()  # document end
        if not loader.check_event(StreamEndEvent):
            ev = loader.get_event()
            raise yaml.composer.ComposerError(
                "expected a single document in the stream", None, "but found another document", ev.start_mark
            )
        return data
    finally:
        loader.dispose()


_FAILED = object()  # read_yaml's result when the file could not be parsed (already reported)


def read_yaml(path: Path, problems: list[str], stream=None) -> Any:
    """Parse one YAML file safely; on failure append a one-line problem (file:line) and return _FAILED.
    stream: see _read_events."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror or exc}")
        return _FAILED
    try:
        data.decode("utf-8")  # (only to check: the parser reads the bytes, no second copy as str)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.append(f"{path}:{line}: not valid UTF-8 (byte {exc.start}); save the file as UTF-8")
        return _FAILED
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        problems.append(f"{path}:{line}: contains a NUL byte (binary file?)")
        return _FAILED
    import gc

    import yaml

    # The parse allocates millions of small objects and frees none: the cyclic GC would rescan them
    # over and over (quadratic time on a big bank), so it waits until the document is built.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    before = len(problems)
    try:
        return _read_events(data, str(path), problems, stream)
    except yaml.MarkedYAMLError as exc:
        del problems[before:]  # a file that does not parse: its one problem is the parse error
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        what = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        lines = data.decode("utf-8").splitlines()
        if "\t" in what or (mark and mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]):
            what = "tab character in indentation; YAML needs spaces"
        problems.append(f"{path}:{line}: {what}")
    except yaml.YAMLError as exc:
        del problems[before:]
        problems.append(f"{path}: invalid YAML: {str(exc).splitlines()[0]}")
    except RecursionError:
        del problems[before:]
        problems.append(f"{path}: YAML nested too deeply")
    finally:
        if gc_was_enabled:
            gc.enable()
    return _FAILED


# ---------------------------------------------------------------- schema checks


def _intern(s):
    """One string object for the many equal ones (language codes, topics, keywords): less memory for a
    big bank, and fewer objects to pickle and unpickle."""
    return sys.intern(s) if type(s) is str else s



class _Checker:
    def __init__(self, fname: str, problems: list[str]):
        self.fname = fname
        self.problems = problems

    def err(self, node: Any, where: str, msg: str, key: str | None = None) -> None:
        line = 0
        if isinstance(node, _Map) and key is not None:
            line = node.key_lines.get(key, node.line)
        elif isinstance(node, (_Map, _Seq)):
            line = node.line
        self.problems.append(f"{self.fname}:{line}: {where}: {msg}")

    def keys(self, node: _Map, allowed: set[str], required: set[str], where: str) -> None:
        for key in node:
            if key not in allowed:
                self.err(node, where, f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})", key)
        for key in sorted(required - set(node)):
            self.err(node, where, f"missing required key {key!r}")

    def text(self, node: _Map, key: str, where: str, required: bool = True, value: Any = None) -> Text | None:
        """A string or language mapping at node[key] (or `value`, an item of a list there)."""
        if value is None:
            value = node.get(key)
        if value is None:
            if required:
                self.err(node, where, f"missing {key!r}", key)
            return None
        if isinstance(value, str):
            if not value.strip():
                self.err(node, where, f"{key!r} is empty", key)
                return None
            return (("", value),)
        if isinstance(value, dict) and value:
            out = []
            for lang, s in value.items():
                if not isinstance(lang, str) or not re.fullmatch(r"[a-z]{2,3}([-_][A-Za-z]{2,4})?", lang):
                    self.err(node, where, f"{key!r}: bad language code {lang!r}", key)
                elif not isinstance(s, str) or not s.strip():
                    self.err(node, where, f"{key!r}.{lang} must be a non-empty string", key)
                else:
                    out.append((_intern(lang), s))
            return tuple(out) or None
        self.err(node, where, f"{key!r} must be a string or a mapping language -> string", key)
        return None

    def number(self, node: _Map, key: str, where: str, default, lo, hi, integer=False):
        value = node.get(key, default)
        ok = isinstance(value, int if integer else (int, float)) and not isinstance(value, bool)
        if not ok or not (lo <= value <= hi):
            kind = "an integer" if integer else "a number"
            self.err(node, where, f"{key!r} must be {kind} in {lo}..{hi}, got {value!r}", key)
            return default
        return value

    def str_list(self, node: _Map, key: str, where: str) -> tuple[str, ...]:
        value = node.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.err(node, where, f"{key!r} must be a list of non-empty strings", key)
            return ()
        return tuple(value)


_Q_KEYS = {"id", "topic", "kind", "difficulty", "tags", "source", "prompt", "answer", "related"}
_P_KEYS = {"id", "weight", "text", "keywords", "need"}


def _parse_questions(data: Any, fname: str, problems: list[str], streamed: _Items | None = None) -> list[Question]:
    """The questions of a parsed questions.yaml. `streamed`: what read_yaml's stream already made of the
    items (their questions and problems); the top-level checks come first, as if they had not been."""
    if data is _FAILED:
        return []
    c = _Checker(fname, problems)
    if not isinstance(data, _Map):
        problems.append(f"{fname}:1: expected a mapping with 'version: 1' and 'questions:'")
        return []
    c.keys(data, {"version", "questions"}, {"version", "questions"}, "top level")
    if "version" in data and data.get("version") != 1:
        c.err(data, "top level", f"unsupported version {data.get('version')!r} (this llmprep reads version 1)", "version")
    items = data.get("questions")
    if not isinstance(items, list):
        if "questions" in data:
            c.err(data, "top level", "'questions' must be a list", "questions")
        return []
    if streamed is not None and streamed.used:
        item_problems, out = streamed.result()
        problems.extend(item_problems)
        return out
    out: list[Question] = []
    for i, item in enumerate(items):
        _question_item(c, i, item, items, out)
    return out


class _Items:
    """Collects what each streamed item of a file becomes (see read_yaml's `stream`): questions (a list),
    or rubrics (by key: a key given twice keeps its first place and its last value, as a mapping does)."""

    def __init__(self, fname: str, make):
        self.fname = fname
        self.used = False
        self._make = make
        self._container = None
        self._items: list = []
        self._by_key: dict = {}

    def __call__(self, key, item, container, line) -> None:
        if container is not self._container:  # the top-level key given twice: the last one counts
            self._container = container
            self._items, self._by_key = [], {}
        self.used = True
        problems: list[str] = []
        out: Any = [] if self._make is _question_item else {}
        self._make(_Checker(self.fname, problems), key, item, container, out)
        if isinstance(out, list):
            self._items.append((problems, out))
        else:
            self._by_key[key] = (problems, out)

    def result(self) -> tuple[list[str], Any]:
        parts = self._items or list(self._by_key.values())
        problems = [p for probs, _ in parts for p in probs]
        if self._make is _question_item:
            return problems, [q for _, out in parts for q in out]
        merged: dict = {}
        for _, out in parts:
            merged.update(out)
        return problems, merged


def _question_item(c: _Checker, i: int, item: Any, items: _Seq, out: list[Question]) -> None:
    if not isinstance(item, _Map):
        c.err(items, f"questions[{i}]", "each question must be a mapping")
        return
    qid = item.get("id")
    where = f"question {qid}" if isinstance(qid, str) else f"questions[{i}]"
    c.keys(item, _Q_KEYS, {"id", "topic", "kind", "prompt", "answer"}, where)
    if not isinstance(qid, str) or not ID_RE.match(qid):
        if "id" in item:
            c.err(item, where, f"id {qid!r} must use lowercase letters, digits, '.', '_' or '-'", "id")
        return
    topic = item.get("topic")
    if not isinstance(topic, str) or not ID_RE.match(topic):
        if "topic" in item:
            c.err(item, where, f"topic {topic!r} must be a lowercase word", "topic")
        topic = "unknown"
    kind = item.get("kind", "concept")
    if kind not in KINDS:
        c.err(item, where, f"kind must be one of {', '.join(KINDS)}, got {kind!r}", "kind")
    difficulty = c.number(item, "difficulty", where, 2, 1, 3, integer=True)
    source = item.get("source")
    if source is not None and not isinstance(source, str):
        c.err(item, where, "'source' must be a string", "source")
        source = None
    prompt = c.text(item, "prompt", where)
    raw_answer = item.get("answer")
    answers: list[Text] = []
    if isinstance(raw_answer, list):
        if not raw_answer:
            c.err(item, where, "'answer' list is empty", "answer")
        for j, alt in enumerate(raw_answer):
            t = c.text(item, "answer", f"{where} answer[{j}]", value=alt)
            if t:
                answers.append(t)
    else:
        t = c.text(item, "answer", where)
        if t:
            answers.append(t)
    if prompt is None or not answers:
        return
    out.append(
        Question(
            id=qid, topic=_intern(topic), kind=_intern(kind) if kind in KINDS else "concept", difficulty=difficulty,
            prompt=prompt, answers=tuple(answers), tags=tuple(map(_intern, c.str_list(item, "tags", where))),
            source=source, related=c.str_list(item, "related", where), file=c.fname, line=item.line,
        )
    )


def _parse_keywords(c: _Checker, node: _Map, where: str) -> tuple[tuple[str, ...], ...] | None:
    raw = node.get("keywords")
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        c.err(node, where, "'keywords' must be a non-empty list (omit it to derive keywords from the text)", "keywords")
        return ()
    concepts = []
    for item in raw:
        syns = [item] if isinstance(item, str) else item
        if not isinstance(syns, list) or not syns or not all(isinstance(s, str) and s.strip() for s in syns):
            c.err(node, where, f"each keyword must be a non-empty string or a list of them, got {item!r}", "keywords")
            continue
        concepts.append(tuple(_intern(s.strip()) for s in syns))
    return tuple(concepts)


def _parse_rubrics(
    data: Any, fname: str, problems: list[str], streamed: _Items | None = None
) -> dict[str, tuple[Rubric, _Map]]:
    """The rubrics of a parsed rubrics.yaml, each with the mapping that holds its key's line."""
    if data is _FAILED:
        return {}
    c = _Checker(fname, problems)
    if not isinstance(data, _Map):
        problems.append(f"{fname}:1: expected a mapping with 'version: 1' and 'rubrics:'")
        return {}
    c.keys(data, {"version", "rubrics"}, {"version", "rubrics"}, "top level")
    if "version" in data and data.get("version") != 1:
        c.err(data, "top level", f"unsupported version {data.get('version')!r} (this llmprep reads version 1)", "version")
    items = data.get("rubrics")
    if not isinstance(items, _Map):
        if "rubrics" in data:
            c.err(data, "top level", "'rubrics' must be a mapping question-id -> rubric", "rubrics")
        return {}
    if streamed is not None and streamed.used:
        item_problems, out = streamed.result()
        problems.extend(item_problems)
        return out
    out: dict[str, tuple[Rubric, _Map]] = {}
    for qid, body in items.items():
        _rubric_item(c, qid, body, items, out)
    return out


def _rubric_item(c: _Checker, qid: Any, body: Any, items: _Map, out: dict[str, tuple[Rubric, _Map]]) -> None:
    from .autorubric import keywords_from_text

    where = f"rubric {qid}"
    if not isinstance(body, _Map):
        c.err(items, where, "must be a mapping with 'points'", qid)
        return
    c.keys(body, {"pass", "points"}, {"points"}, where)
    pass_mark = c.number(body, "pass", where, DEFAULT_PASS, 0, 1)
    raw_points = body.get("points")
    if not isinstance(raw_points, list) or not raw_points:
        if "points" in body:
            c.err(body, where, "'points' must be a non-empty list", "points")
        return
    points = []
    seen = set()
    for k, p in enumerate(raw_points):
        if not isinstance(p, _Map):
            c.err(raw_points, f"{where} point[{k}]", "each point must be a mapping")
            continue
        pid = p.get("id", f"p{k + 1}")
        pwhere = f"{where} point {pid}"
        c.keys(p, _P_KEYS, {"text"}, pwhere)
        if not isinstance(pid, str) or not ID_RE.match(pid):
            c.err(p, pwhere, f"point id {pid!r} must use lowercase letters, digits, '.', '_' or '-'", "id")
            continue
        if pid in seen:
            c.err(p, pwhere, f"duplicate point id {pid!r}", "id")
        seen.add(pid)
        text = c.text(p, "text", pwhere)
        weight = c.number(p, "weight", pwhere, 1, 0.001, 1000)
        keywords = _parse_keywords(c, p, pwhere)
        if keywords is None and text:
            keywords = keywords_from_text(text)
            if not keywords:
                c.err(p, pwhere, "no keywords given and none could be derived from its text", "text")
        need = c.number(p, "need", pwhere, 1, 1, 1000, integer=True)
        if keywords and need > len(keywords):
            c.err(p, pwhere, f"need {need} is larger than its {len(keywords)} keyword concept(s)", "need")
            need = len(keywords)
        if text and keywords:
            points.append(Point(id=_intern(pid), text=text, keywords=keywords, weight=float(weight), need=need))
    if points:
        pts = tuple(points)
        out[str(qid)] = (
            Rubric(qid=str(qid), points=pts, pass_mark=float(pass_mark), variants=(pts,), file=c.fname, line=body.line),
            items,
        )


def load_bank(dirs: list[Path]) -> Bank:
    """Load banks in order; later banks add questions (a duplicate id is an error). Raises BankError."""
    bank, problems = load_bank_collecting(dirs)
    if problems:
        raise BankError(problems)
    return bank


def load_bank_collecting(dirs: list[Path]) -> tuple[Bank, list[str]]:
    """Load what can be loaded and return it with every problem found (for `validate`)."""
    from .autorubric import derive_rubric

    problems: list[str] = []
    bank = Bank(dirs=list(dirs))
    rubric_nodes: list[tuple[Rubric, _Map, str]] = []
    for d in dirs:
        qfile = d / "questions.yaml"
        if not d.is_dir():
            problems.append(f"{d}: bank directory not found")
            continue
        if not qfile.is_file():
            problems.append(f"{qfile}: missing (a bank directory needs questions.yaml)")
            continue
        # Questions and rubrics are checked one by one while the file is parsed (see read_yaml).
        streamed = _Items(str(qfile), _question_item)
        data = read_yaml(qfile, problems, ("questions", streamed))
        for q in _parse_questions(data, str(qfile), problems, streamed):
            if q.id in bank.questions:
                prev = bank.questions[q.id]
                problems.append(f"{q.file}:{q.line}: question {q.id}: duplicate id (first defined at {prev.file}:{prev.line})")
                continue
            bank.questions[q.id] = q
        rfile = d / "rubrics.yaml"
        if rfile.is_file():
            streamed = _Items(str(rfile), _rubric_item)
            data = read_yaml(rfile, problems, ("rubrics", streamed))
            for qid, (rubric, items) in _parse_rubrics(data, str(rfile), problems, streamed).items():
                rubric_nodes.append((rubric, items, str(rfile)))
    for rubric, items, rfile in rubric_nodes:
        line = items.key_lines.get(rubric.qid, rubric.line)
        if rubric.qid not in bank.questions:
            problems.append(f"{rfile}:{line}: rubric {rubric.qid}: no question with this id")
        elif rubric.qid in bank.rubrics:
            problems.append(f"{rfile}:{line}: rubric {rubric.qid}: duplicate rubric")
        else:
            bank.rubrics[rubric.qid] = rubric
    for q in bank.questions.values():
        for rel in q.related:
            if rel not in bank.questions:
                problems.append(f"{q.file}:{q.line}: question {q.id}: related id {rel!r} is not in the bank")
    if not bank.questions and not problems:
        problems.append(f"{', '.join(str(d) for d in dirs) or '(no bank)'}: the bank holds no questions")
    for q in bank.questions.values():
        if q.id not in bank.rubrics:
            bank.rubrics[q.id] = derive_rubric(q, bank)
    return bank, problems
