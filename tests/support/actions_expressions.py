"""GitHub Actions expressions (``${{ ... }}``), evaluated as the runner evaluates them.

Enough of the language for a workflow's ``if:`` and ``env:`` values: literals (``'text'``,
numbers, ``true``, ``false``, ``null``), context paths (``github.ref``,
``steps.gate.outputs.verdict``), ``!``, ``==``, ``!=``, ``&&``, ``||``, parentheses, the
status functions ``always()``, ``success()``, ``failure()``, ``cancelled()``, and
``format()``, ``contains()``, ``startsWith()``, ``endsWith()``. As on GitHub:
``&&``/``||`` return one of their operands, strings compare case-insensitively, a missing
context value is ``null``, and ``false``, ``0``, ``''`` and ``null`` are falsy.
(https://docs.github.com/actions/learn-github-actions/expressions)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<operator>==|!=|&&|\|\||!|\(|\)|,)|(?P<name>[A-Za-z_][\w\-]*(?:\.[A-Za-z_][\w\-]*)*))"
)
_STATUS_FUNCTIONS = ("always", "success", "failure", "cancelled")


def evaluate(expression: str, contexts: Mapping[str, Any], status: str = "success") -> Any:
    """The value of ``expression`` (with or without ``${{ }}``) over ``contexts``.

    ``status`` is the job's state so far: ``success``, ``failure`` or ``cancelled``.
    """
    text = expression.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    parser = _Parser(_tokens(text), contexts, status)
    value = parser.disjunction()
    if parser.position != len(parser.tokens):
        raise ValueError(f"unexpected {parser.tokens[parser.position]!r} in {expression!r}")
    return value


def truthy(value: Any) -> bool:
    return value not in (False, 0, "", None)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"cannot read {text[position:]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    return left == right


class _Parser:
    """Recursive descent, lowest precedence first: ``||``, ``&&``, ``==``/``!=``, ``!``."""

    def __init__(self, tokens, contexts: Mapping[str, Any], status: str) -> None:
        self.tokens, self.contexts, self.status = tokens, contexts, status
        self.position = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ValueError("the expression ends too early")
        self.position += 1
        return token

    def disjunction(self) -> Any:
        value = self.conjunction()
        while self.peek() == ("operator", "||"):
            self.take()
            right = self.conjunction()
            value = value if truthy(value) else right
        return value

    def conjunction(self) -> Any:
        value = self.comparison()
        while self.peek() == ("operator", "&&"):
            self.take()
            right = self.comparison()
            value = right if truthy(value) else value
        return value

    def comparison(self) -> Any:
        value = self.unary()
        while self.peek() in (("operator", "=="), ("operator", "!=")):
            _, operator = self.take()
            equal = _equal(value, self.unary())
            value = equal if operator == "==" else not equal
        return value

    def unary(self) -> Any:
        if self.peek() == ("operator", "!"):
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, text = self.take()
        if (kind, text) == ("operator", "("):
            value = self.disjunction()
            if self.take() != ("operator", ")"):
                raise ValueError("missing )")
            return value
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text)
        if kind != "name":
            raise ValueError(f"unexpected {text!r}")
        if text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text]
        if self.peek() == ("operator", "("):
            return self.call(text)
        value: Any = self.contexts
        for part in text.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value

    def call(self, name: str) -> Any:
        self.take()  # (
        arguments = []
        while self.peek() != ("operator", ")"):
            arguments.append(self.disjunction())
            if self.peek() == ("operator", ","):
                self.take()
        self.take()  # )
        if name in _STATUS_FUNCTIONS:
            return name == "always" or name == self.status
        text = [str(argument).lower() for argument in arguments]
        if name == "format":
            return re.sub(r"\{(\d+)\}", lambda m: str(arguments[int(m[1]) + 1]), arguments[0])
        if name == "contains":
            return text[1] in text[0]
        if name == "startsWith":
            return text[0].startswith(text[1])
        if name == "endsWith":
            return text[0].endswith(text[1])
        raise ValueError(f"unknown function {name}()")
