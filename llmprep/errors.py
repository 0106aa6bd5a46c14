"""Domain errors and the exit codes they map to (translated once, at the CLI boundary)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    USER_ERROR = 1  # bad bank, unknown id, unreadable file, corrupt database …
    USAGE = 2  # bad command line (click's own code)
    INTERRUPTED = 130  # Ctrl-C


class LlmprepError(Exception):
    """An error the user can fix; shown as one line, never with a traceback."""

    exit_code = ExitCode.USER_ERROR


class BankError(LlmprepError):
    """One or more problems in a bank; `problems` holds one line each (file:line: id: message)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        first = self.problems[0] if self.problems else "invalid bank"
        more = f" (and {len(self.problems) - 1} more problem(s); run `llmprep validate`)" if len(self.problems) > 1 else ""
        super().__init__(first + more)


class UnknownQuestion(LlmprepError):
    def __init__(self, qid: str):
        super().__init__(f"unknown question id {qid!r} (see `llmprep list`)")
        self.qid = qid


class HistoryError(LlmprepError):
    """The history database cannot be used (corrupt, newer schema, unwritable)."""
