"""How the tests look for a leaked token: its spellings, and everything an error reaches.

Written independently of ``trakk_async._core.redact``: spellings come from real encoders
(json, html, urllib, repr) and leaks are found by *decoding* text, not by the SDK's regex.
"""

from __future__ import annotations

import html
import json
import logging
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from hypothesis import strategies as st

#: Characters that escape differently in JSON, HTML, URLs and reprs, and some that don't.
TOKEN_CHARS = list("aZ09_-.~|/\"'<>&%+=:;\\éß€😀")

#: Tokens as the property tests draw them: long enough never to occur by chance in a
#: message, made of characters that each escape in their own way.
tokens = st.text(st.sampled_from(TOKEN_CHARS), min_size=8, max_size=40).map(lambda t: "tk" + t)


def _lower_escapes(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), text)


def _utf16(char: str) -> list[int]:
    data = char.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


#: Whole-token spellings, each produced by a real encoder rather than by hand.
WHOLE: dict[str, Callable[[str], str]] = {
    "as is": lambda t: t,
    "json": lambda t: json.dumps(t, ensure_ascii=False)[1:-1],
    "json ascii": lambda t: json.dumps(t)[1:-1],
    "php json": lambda t: json.dumps(t)[1:-1].replace("/", "\\/"),
    "json upper hex": lambda t: re.sub(
        r"\\u(....)", lambda m: "\\u" + m[1].upper(), json.dumps(t)[1:-1]
    ),
    "html": html.escape,
    "html decimal": lambda t: "".join(f"&#{ord(c)};" for c in t),
    "html hex": lambda t: "".join(f"&#x{ord(c):X};" for c in t),
    "html xmlcharref": lambda t: t.encode("ascii", "xmlcharrefreplace").decode(),
    "percent": lambda t: urllib.parse.quote(t, safe=""),
    "percent lower": lambda t: _lower_escapes(urllib.parse.quote(t, safe="")),
    "form": urllib.parse.quote_plus,
    "str repr": lambda t: repr(t)[1:-1],
    "bytes repr": lambda t: repr(t.encode())[2:-1],
    "ascii repr": lambda t: ascii(t)[1:-1],
}

#: One character at a time, each in a form of its own (what "any mix" means).
CHAR_FORMS: list[Callable[[str], str]] = [
    lambda c: c,
    lambda c: json.dumps(c)[1:-1],
    lambda c: "".join(f"\\u{u:04X}" for u in _utf16(c)),
    lambda c: "".join(f"\\u{u:04x}" for u in _utf16(c)),
    lambda c: f"&#{ord(c)};",
    lambda c: f"&#x{ord(c):x};",
    lambda c: f"&#X{ord(c):04X};",
    html.escape,
    lambda c: urllib.parse.quote(c, safe=""),
    lambda c: "".join(f"%{b:02x}" for b in c.encode()),
    lambda c: "".join(f"%{b:02X}" for b in c.encode()),
    lambda c: "\\" + c if not c.isalnum() else c,
]


@st.composite
def spelled(draw: st.DrawFn, token: str) -> str:
    """``token`` in one whole spelling, or in a random mix of per-character spellings."""
    if draw(st.booleans()):
        return WHOLE[draw(st.sampled_from(sorted(WHOLE)))](token)
    out = []
    for char in token:
        form = draw(st.sampled_from(CHAR_FORMS))
        # A bare backslash before an escape (\ then \u003A) reads as an escaped one: no
        # encoder writes that, and no decoder could tell what was meant.
        out.append("\\\\" if char == "\\" and form(char) == "\\" else form(char))
    return "".join(out)


# -------------------------------------------------------------------- finding a leak


_BACKSLASHED = re.compile(
    r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2}|[^A-Za-z0-9\s])|%u([0-9a-fA-F]{4})"
)


def _unbackslash(text: str, *, x_is_byte: bool) -> str:
    """Undo backslash escapes in one left-to-right pass (so ``\\\\u0041`` stays ``\\u0041``)."""

    def one(match: re.Match[str]) -> str:
        escape, js = match[1], match[2]
        if js is not None:
            return chr(int(js, 16))
        if escape[0] in "uU":
            return chr(int(escape[1:], 16))
        if escape[0] == "x":  # \xe9: a character in a str repr, a byte in a bytes repr
            return "%" + escape[1:] if x_is_byte else chr(int(escape[1:], 16))
        return escape

    decoded = _BACKSLASHED.sub(one, text)
    # Surrogate halves (\ud83d\ude00) become one character.
    return decoded.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


_DECODERS: list[Callable[[str], str]] = [
    lambda t: _unbackslash(t, x_is_byte=False),
    lambda t: _unbackslash(t, x_is_byte=True),
    html.unescape,
    lambda t: urllib.parse.unquote(t, errors="replace"),
    lambda t: urllib.parse.unquote(t, encoding="latin-1"),
]


def _decoded(text: str) -> set[str]:
    """``text`` with its escape syntaxes undone, up to three, in every order.

    Every step is optional and the order matters: a token with ``&amp;`` or ``%41`` in it
    must not be decoded, and a backslash in HTML-escaped text is not an escape.
    """
    seen = {text}
    layer = {text}
    for _ in range(3):  # backslash, HTML and percent escapes, mixed in one token
        layer = {decode(t) for t in layer for decode in _DECODERS} - seen
        seen |= layer
    return seen


def leaks(text: str, token: str) -> bool:
    """Whether ``text`` holds ``token`` as is or in any (mix of) escaped spellings."""
    return any(token in decoded for decoded in _decoded(text))


def reachable_texts(root: object) -> Iterator[str]:
    """Every text reachable from ``root`` the way an error tracker would walk it.

    For an exception: ``str``, ``repr``, ``args``, ``__cause__``, ``__context__``,
    ``__notes__``, attributes (``__dict__`` and slots, ``request_info`` and ``headers``
    included) and, recursively, whatever those hold (mappings, sequences, objects).
    """
    seen: set[int] = set()
    stack: list[Any] = [root]
    while stack:
        obj = stack.pop()
        if obj is None or isinstance(obj, bool | int | float) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            yield obj
            continue
        if isinstance(obj, bytes | bytearray):
            yield bytes(obj).decode("utf-8", "replace")
            yield repr(obj)
            continue
        yield repr(obj)
        if isinstance(obj, BaseException):
            yield str(obj)
            stack += [obj.__cause__, obj.__context__, *obj.args]
            stack += getattr(obj, "__notes__", [])
            stack += [getattr(obj, "request_info", None), getattr(obj, "headers", None)]
            if isinstance(obj, BaseExceptionGroup):
                stack += list(obj.exceptions)
        if isinstance(obj, Mapping):
            stack += [*obj.keys(), *obj.values()]
        elif isinstance(obj, list | tuple | set | frozenset):
            stack += list(obj)
        if hasattr(obj, "__dict__") and not isinstance(obj, type):
            stack += list(vars(obj).values())
        for cls in type(obj).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                stack.append(getattr(obj, slot, None))


def leaked_from(root: object, token: str) -> list[str]:
    """The texts reachable from ``root`` that hold ``token`` (empty: no leak)."""
    return [text for text in reachable_texts(root) if leaks(text, token)]


class RecordAll(logging.Handler):
    """Keeps every log record of every logger, at every level, formatted."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))
        self.texts.append(repr(record.args))


class capture_all_logs:
    """Route every logger's records, DEBUG and up, to a :class:`RecordAll` for a while."""

    def __enter__(self) -> RecordAll:
        self.handler = RecordAll()
        root = logging.getLogger()
        self.level = root.level
        root.addHandler(self.handler)
        root.setLevel(logging.DEBUG)
        return self.handler

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self.level)
