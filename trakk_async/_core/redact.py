"""Blanking a secret out of text, in every form a server, a proxy or a library may echo it.

The one place that knows how a token can be spelled once it has left the client. Rather
than listing spellings, it *decodes* the text the ways it may have been encoded and looks
for the token in each reading, remembering which characters of the original text every
decoded character came from:

- backslash escapes: JSON and JavaScript (``\\/``, ``\\"``, ``\\u002F``, surrogate pairs),
  a ``repr`` (``\\'``, ``\\\\``, ``\\xe9``, ``\\U0001f600``, a bytes repr's ``\\xc3\\xa9``);
- percent-encoding, upper or lower case, of UTF-8 (or Latin-1) bytes, and ``%u00E9``;
- HTML character references: named (``&sol;``, ``&amp;``, legacy ``&amp``), decimal and
  hex (``&#47;``, ``&#x2F;``, leading zeros, with or without the ``;``).

Each reading undoes one syntax everywhere in the text; readings of readings go three
deep, in every order. So any mix (one character JSON-escaped, the next percent-encoded)
and escapes that went through a second encoding (``\\\\u002F`` in a repr of JSON,
``%5Cu002F`` in a URL, ``%252F``, ``&amp;#47;``) are found too. Every text the SDK quotes
from the outside world (a body excerpt, an error envelope's message, an aiohttp message)
goes through :func:`redact` before it is stored anywhere.
"""

from __future__ import annotations

import functools
import html.entities
import re
from collections.abc import Callable, Iterator
from typing import Final

__all__ = ["PLACEHOLDER", "redact"]

#: What stands where a secret was.
PLACEHOLDER: Final = "[token]"

#: Readings of readings: enough for a mix of all three syntaxes, each escaped once more.
_DEPTH: Final = 3
_INTRODUCERS: Final = ("\\", "%", "&")

#: A reading of a text: the decoded text, and for each of its characters where it came
#: from in the original text (start and end offsets).
_Reading = tuple[str, list[int], list[int]]
#: One decoded escape: its code point, or its byte (for \xHH and %HH, which may be one byte
#: of a UTF-8 sequence), or a UTF-16 unit (\uXXXX, which may be half a surrogate pair).
_Unit = tuple[str, int]


def redact(text: str, *secrets: str) -> str:
    """``text`` with every spelling of each of ``secrets`` replaced by ``[token]``.

    A spelling is the secret as is or in any (mix of) the escaped forms listed in this
    module's docstring. Empty secrets are ignored. The result holds no spelling of any
    secret, even where the placeholder itself would spell one (a secret such as
    ``"token"``): then those parts are deleted instead.
    """
    for secret in secrets:
        if not secret:
            continue
        spans = _spellings(text, secret)
        if spans:
            text = _replace(text, spans, PLACEHOLDER)
            # Each pass shortens the text, so this ends; what is left spells nothing.
            while spans := _spellings(text, secret):
                text = _replace(text, spans, "")
    return text


def _spellings(text: str, secret: str) -> list[tuple[int, int]]:
    """The spans of ``text`` that spell ``secret``, in the original text's offsets."""
    spans = _find(text, secret, None)
    if not any(intro in text for intro in _INTRODUCERS):
        return spans
    readings: list[_Reading] = [(text, list(range(len(text))), list(range(1, len(text) + 1)))]
    seen = {text}
    for _ in range(_DEPTH):
        deeper = []
        for reading in readings:
            for decode in _DECODERS:
                decoded = decode(reading)
                if decoded is not None and decoded[0] not in seen:
                    seen.add(decoded[0])
                    deeper.append(decoded)
                    spans += _find(decoded[0], secret, decoded)
        readings = deeper
    return spans


def _find(view: str, secret: str, reading: _Reading | None) -> list[tuple[int, int]]:
    spans = []
    at = view.find(secret)
    while at >= 0:
        end = at + len(secret)
        spans.append((at, end) if reading is None else (reading[1][at], reading[2][end - 1]))
        at = view.find(secret, at + 1)
    return spans


def _replace(text: str, spans: list[tuple[int, int]], placeholder: str) -> str:
    out, pos = [], 0
    for start, end in sorted(spans):
        if end <= pos:
            continue  # inside a span already replaced
        out.append(text[pos:start] if start > pos else "")
        if start >= pos:
            out.append(placeholder)
        pos = end
    out.append(text[pos:])
    return "".join(out)


# --------------------------------------------------------------------------- decoding


def _decoder(
    pattern: re.Pattern[str], unit: Callable[[re.Match[str]], tuple[_Unit, int] | None]
) -> Callable[[_Reading], _Reading | None]:
    """A reading that undoes one escape syntax (``pattern``) everywhere in a text.

    ``unit`` turns a match into a decoded unit and the offset where it ends (HTML's legacy
    names end before what the pattern took), or None if the match is not an escape.
    """

    def decode(reading: _Reading) -> _Reading | None:
        view, starts, ends = reading
        if not pattern.search(view):
            return None
        pieces: list[str] = []
        new_starts: list[int] = []
        new_ends: list[int] = []
        run: list[tuple[_Unit, int, int]] = []  # escapes next to each other

        def literal(a: int, b: int) -> None:
            pieces.append(view[a:b])
            new_starts.extend(starts[a:b])
            new_ends.extend(ends[a:b])

        def flush() -> None:
            for char, first, last in _characters(run):
                pieces.append(char)
                new_starts.append(starts[first])
                new_ends.append(ends[last - 1])
            run.clear()

        pos = 0
        while (match := pattern.search(view, pos)) is not None:
            decoded = unit(match)
            if decoded is None:  # "&foo;" that names no character: plain text
                flush()
                literal(pos, match.end())
                pos = match.end()
                continue
            if match.start() > pos:
                flush()
                literal(pos, match.start())
            run.append((decoded[0], match.start(), decoded[1]))
            pos = decoded[1]
        flush()
        literal(pos, len(view))
        return "".join(pieces), new_starts, new_ends

    return decode


def _characters(run: list[tuple[_Unit, int, int]]) -> Iterator[tuple[str, int, int]]:
    """Adjacent escapes as characters: UTF-8 byte sequences and surrogate pairs joined."""
    i = 0
    while i < len(run):
        (kind, value), first, last = run[i]
        step = 1
        if kind == "byte":
            size = 2 if 0xC2 <= value <= 0xDF else 3 if 0xE0 <= value <= 0xEF else 4
            group = run[i : i + size]
            if value >= 0xC2 and len(group) == size and all(u[0][0] == "byte" for u in group):
                try:
                    char = bytes(u[0][1] for u in group).decode("utf-8")
                except UnicodeDecodeError:
                    char = chr(value)  # a Latin-1 byte (or a str repr's \xe9)
                else:
                    step, last = size, group[-1][2]
            else:
                char = chr(value)
        elif kind == "utf16" and 0xD800 <= value < 0xDC00 and i + 1 < len(run):
            (next_kind, low), _, next_last = run[i + 1]
            if next_kind == "utf16" and 0xDC00 <= low < 0xE000:
                char = chr(0x10000 + (value - 0xD800) * 0x400 + (low - 0xDC00))
                step, last = 2, next_last
            else:
                char = chr(value)
        else:
            char = chr(value) if value <= 0x10FFFF else "\ufffd"
        yield char, first, last
        i += step


_BACKSLASHED: Final = re.compile(
    r"\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|x([0-9a-fA-F]{2})|([^A-Za-z0-9\s]))"
)


def _backslash_unit(match: re.Match[str]) -> tuple[_Unit, int]:
    utf16, wide, byte, punctuation = match.groups()
    if utf16 is not None:
        return ("utf16", int(utf16, 16)), match.end()
    if wide is not None:
        return ("code", int(wide, 16)), match.end()
    if byte is not None:
        return ("byte", int(byte, 16)), match.end()
    return ("code", ord(punctuation)), match.end()


_PERCENT_ENCODED: Final = re.compile(r"%(?:[uU]([0-9a-fA-F]{4})|([0-9a-fA-F]{2}))")


def _percent_unit(match: re.Match[str]) -> tuple[_Unit, int]:
    utf16, byte = match.groups()
    if utf16 is not None:
        return ("utf16", int(utf16, 16)), match.end()
    return ("byte", int(byte, 16)), match.end()


_HTML_REFERENCE: Final = re.compile(
    r"&(?:#([0-9]{1,8});?|#[xX]([0-9a-fA-F]{1,8});?|([A-Za-z][A-Za-z0-9]{0,40});?)"
)


def _html_unit(match: re.Match[str]) -> tuple[_Unit, int] | None:
    decimal, hexadecimal, name = match.groups()
    if decimal is not None:
        return ("code", int(decimal)), match.end()
    if hexadecimal is not None:
        return ("code", int(hexadecimal, 16)), match.end()
    entities = html.entities.html5
    if match[0].endswith(";") and len(entities.get(name + ";", "")) == 1:
        return ("code", ord(entities[name + ";"])), match.end()
    # A legacy reference without ";" (&amp, &eacute): the longest name that is one.
    for size in range(min(len(name), _longest_legacy_name()), 1, -1):
        value = entities.get(name[:size], "")
        if len(value) == 1:
            return ("code", ord(value)), match.start() + 1 + size
    return None


@functools.cache
def _longest_legacy_name() -> int:
    return max(len(name) for name in html.entities.html5 if not name.endswith(";"))


_DECODERS: Final = (
    _decoder(_BACKSLASHED, _backslash_unit),
    _decoder(_PERCENT_ENCODED, _percent_unit),
    _decoder(_HTML_REFERENCE, _html_unit),
)
