"""A small parser for Logstash's pipeline configuration language (enough for real pipelines).

Grammar (Logstash's own, minus the rarely used ``=~`` regex literals in conditions, which are kept
as raw text)::

    config    := section*
    section   := ("input" | "filter" | "output") "{" statement* "}"
    statement := plugin | "if" COND "{" statement* "}" ("else" "if" COND "{" ... "}")* ("else" "{" ... "}")?
    plugin    := NAME "{" (NAME "=>" value)* "}"
    value     := STRING | NUMBER | BAREWORD | "[" value ("," value)* "]" | "{" (key "=>" value)* "}" | plugin

Comments run from ``#`` to the end of the line. The result is a flat list of :class:`Plugin` with the
section and the chain of conditions each one sits under, which is what the agreement tests compare
with :mod:`shopstream.realtime.spec`. Test-only: the package never reads a .conf file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SECTIONS = ("input", "filter", "output")


class LogstashConfigError(ValueError):
    """The text is not valid Logstash configuration (message names line and column)."""


@dataclass
class Plugin:
    section: str
    name: str
    settings: dict[str, Any]
    conditions: tuple[str, ...] = ()
    line: int = 0

    @property
    def id(self) -> str | None:
        value = self.settings.get("id")
        return value if isinstance(value, str) else None


@dataclass
class PluginValue:
    """A plugin used as a value (``codec => plain { ... }``)."""

    name: str
    settings: dict[str, Any] = field(default_factory=dict)


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.plugins: list[Plugin] = []

    # --- lexing helpers --------------------------------------------------------------------------
    def _where(self) -> str:
        line = self.s.count("\n", 0, self.i) + 1
        col = self.i - (self.s.rfind("\n", 0, self.i) + 1) + 1
        return f"line {line}, column {col}"

    def _line(self) -> int:
        return self.s.count("\n", 0, self.i) + 1

    def _error(self, msg: str) -> LogstashConfigError:
        return LogstashConfigError(f"{self._where()}: {msg}")

    def _skip(self) -> None:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c.isspace():
                self.i += 1
            elif c == "#":
                nl = self.s.find("\n", self.i)
                self.i = len(self.s) if nl < 0 else nl + 1
            else:
                return

    def _peek(self) -> str:
        self._skip()
        return self.s[self.i] if self.i < len(self.s) else ""

    def _expect(self, token: str) -> None:
        self._skip()
        if not self.s.startswith(token, self.i):
            raise self._error(f"expected {token!r}")
        self.i += len(token)

    def _bareword(self) -> str:
        self._skip()
        start = self.i
        while self.i < len(self.s) and (self.s[self.i].isalnum() or self.s[self.i] in "_-@.:/"):
            self.i += 1
        if start == self.i:
            raise self._error("expected a name")
        return self.s[start : self.i]

    def _string(self) -> str:
        quote = self.s[self.i]
        self.i += 1
        out = []
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\" and self.i + 1 < len(self.s) and self.s[self.i + 1] == quote:
                out.append(quote)
                self.i += 2
                continue
            if c == quote:
                self.i += 1
                return "".join(out)
            out.append(c)
            self.i += 1
        raise self._error("unterminated string")

    # --- grammar ----------------------------------------------------------------------------------
    def parse(self) -> list[Plugin]:
        while self._peek():
            name = self._bareword()
            if name not in SECTIONS:
                raise self._error(f"expected input, filter or output, got {name!r}")
            self._expect("{")
            self._statements(name, ())
            self._expect("}")
        return self.plugins

    def _statements(self, section: str, conds: tuple[str, ...]) -> None:
        while self._peek() not in ("}", ""):
            start = self.i
            word = self._bareword()
            if word == "if":
                self._branches(section, conds)
            elif word == "else":
                self.i = start
                raise self._error("'else' without 'if'")
            else:
                line = self._line()
                settings = self._settings()
                self.plugins.append(Plugin(section, word, settings, conds, line))

    def _condition(self) -> str:
        self._skip()
        start = self.i
        depth = 0
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in "\"'":
                self._string()
                continue
            if c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
            elif c == "{" and depth == 0:
                return " ".join(self.s[start : self.i].split())
            self.i += 1
        raise self._error("condition without a block")

    def _branches(self, section: str, conds: tuple[str, ...]) -> None:
        cond = self._condition()
        negated = [f"not ({cond})"]
        self._expect("{")
        self._statements(section, (*conds, cond))
        self._expect("}")
        while True:
            save = self.i
            self._skip()
            if not self.s.startswith("else", self.i):
                self.i = save
                return
            self.i += len("else")
            if self._peek() == "{":
                self._expect("{")
                self._statements(section, (*conds, *negated))
                self._expect("}")
                return
            word = self._bareword()
            if word != "if":
                raise self._error("expected 'if' or '{' after 'else'")
            cond = self._condition()
            self._expect("{")
            self._statements(section, (*conds, *negated, cond))
            self._expect("}")
            negated.append(f"not ({cond})")

    def _settings(self) -> dict[str, Any]:
        self._expect("{")
        out: dict[str, Any] = {}
        while self._peek() != "}":
            if not self._peek():
                raise self._error("unterminated plugin block")
            key = self._key()
            self._expect("=>")
            value = self._value()
            if key in out:
                raise self._error(f"setting {key!r} given twice")
            out[key] = value
        self._expect("}")
        return out

    def _key(self) -> str:
        c = self._peek()
        return self._string() if c in "\"'" else self._bareword()

    def _value(self) -> Any:
        c = self._peek()
        if c in "\"'":
            return self._string()
        if c == "[":
            self.i += 1
            items = []
            while self._peek() != "]":
                items.append(self._value())
                if self._peek() == ",":
                    self.i += 1
            self.i += 1
            return items
        if c == "{":
            return self._settings()
        word = self._bareword()
        if self._peek() == "{":
            return PluginValue(word, self._settings())
        if word in ("true", "false"):
            return word == "true"
        try:
            return int(word)
        except ValueError:
            pass
        try:
            return float(word)
        except ValueError:
            return word


def parse(text: str) -> list[Plugin]:
    """Parse a pipeline configuration into its plugins (raises LogstashConfigError)."""
    return _Parser(text).parse()


def all_ids(plugins: list[Plugin]) -> list[str | None]:
    """Every plugin id, codecs included (None where a plugin has none)."""
    out: list[str | None] = []
    for p in plugins:
        out.append(p.id)
        for value in p.settings.values():
            if isinstance(value, PluginValue):
                vid = value.settings.get("id")
                out.append(vid if isinstance(vid, str) else None)
    return out
