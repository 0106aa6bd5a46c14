"""Terminal input for interactive sessions: a prompt_toolkit line editor (wide characters, cursor
movement and backspace work in Chinese) and `:edit` in $VISUAL / $EDITOR.

Imported only when stdin and stdout are terminals: prompt_toolkit costs ~140 ms to import.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile

from .errors import LlmprepError
from .quiz import AnswerInput, Interrupted, classify, split_answer


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class PromptReader:
    """Multi-line answers with prompt_toolkit; single-key rating prompt.

    Enter on a last line holding only `.` (or :skip, :quit, :edit) ends the answer; Ctrl-D submits
    what was typed (on an empty answer it ends the session); Ctrl-C keeps the text for a draft.
    """

    interactive = True

    def __init__(self, monotonic=None, toolbar_hint: str = ""):
        import time

        self._monotonic = monotonic or time.monotonic
        self.toolbar_hint = toolbar_hint

    def read_answer(self, default: str = "", started: float | None = None, time_limit: float | None = None) -> AnswerInput:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.key_binding import KeyBindings

        kb = KeyBindings()
        partial: dict[str, str] = {}

        @kb.add("enter")
        def _enter(event):
            buf = event.current_buffer
            doc = buf.document
            on_last_line = doc.cursor_position_row == doc.line_count - 1
            if on_last_line and classify(doc.current_line):
                buf.validate_and_handle()
            else:
                buf.insert_text("\n")

        @kb.add("c-d")
        def _ctrl_d(event):
            buf = event.current_buffer
            if buf.text.strip():
                buf.validate_and_handle()
            else:
                event.app.exit(exception=EOFError())

        @kb.add("c-c")
        def _ctrl_c(event):
            partial["text"] = event.current_buffer.text
            event.app.exit(exception=KeyboardInterrupt())

        toolbar = None
        refresh = None
        if time_limit is not None:
            t0 = started if started is not None else self._monotonic()

            def toolbar():
                spent = self._monotonic() - t0
                left = time_limit - spent
                state = f"-{_clock(left)}" if left >= 0 else f"+{_clock(-left)} !"
                return f" ⏱ {_clock(spent)} / {_clock(time_limit)} ({state})   {self.toolbar_hint}"

            refresh = 1.0
        session = PromptSession(
            multiline=True, key_bindings=kb, prompt_continuation=lambda width, line_no, wrap: "… ".rjust(width),
            bottom_toolbar=toolbar, refresh_interval=refresh, enable_history_search=False,
        )
        try:
            text = session.prompt("› ", default=default)
        except EOFError:
            return AnswerInput("", "eof")
        except KeyboardInterrupt:
            raise Interrupted(partial.get("text", "")) from None
        return split_answer(text)

    def read_rating(self, prompt: str) -> str:
        """One key: Enter (accept), 1–4, d. Other keys are ignored; Ctrl-C interrupts."""
        from prompt_toolkit import PromptSession
        from prompt_toolkit.key_binding import KeyBindings

        kb = KeyBindings()

        def choose(key: str, shown: str):
            def handler(event):
                event.current_buffer.insert_text(shown)
                event.app.exit(result=key)

            return handler

        for key in "1234":
            kb.add(key)(choose(key, key))
        kb.add("d")(choose("d", "d"))
        kb.add("D")(choose("d", "d"))
        kb.add("enter")(choose("", ""))
        kb.add("c-d")(choose("", ""))

        @kb.add("c-c")
        def _ctrl_c(event):
            event.app.exit(exception=KeyboardInterrupt())

        @kb.add("<any>")
        def _ignore(event):
            pass

        try:
            return PromptSession(key_bindings=kb).prompt(prompt)
        except EOFError:
            return ""


def edit_text(text: str) -> str:
    """Open the answer so far in $VISUAL / $EDITOR and return what was saved."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        raise LlmprepError("set $VISUAL or $EDITOR to use :edit")
    fd, path = tempfile.mkstemp(prefix="llmprep-answer-", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + ("\n" if text and not text.endswith("\n") else ""))
        try:
            rc = subprocess.run([*shlex.split(editor), path]).returncode
        except OSError as exc:
            raise LlmprepError(f"cannot run editor {editor!r}: {exc.strerror or exc}") from None
        if rc != 0:
            raise LlmprepError(f"editor {editor!r} exited with status {rc}; answer unchanged")
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().rstrip("\n")
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
