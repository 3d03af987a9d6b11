"""Blanking a secret out of text, in every form a server, a proxy or a library may echo it.

The one place that knows how a token can be spelled once it has left the client: as is,
JSON-escaped (``\\/``, ``\\u002F``, surrogate pairs), backslash-escaped by a ``repr``
(``\\'``, ``\\xe9``, ``\\U0001f600``), HTML-escaped (``&sol;``, ``&#47;``, ``&#x2f;``),
or percent-encoded (``%2F``, ``%2f``, ``%u00E9``), in any mix, character by character.
Every text the SDK quotes from the outside world (a body excerpt, an error envelope's
message, an aiohttp message) goes through :func:`redact` before it is stored anywhere.
"""

from __future__ import annotations

import functools
import html.entities
import re
from typing import Final

__all__ = ["PLACEHOLDER", "redact"]

#: What stands where a secret was.
PLACEHOLDER: Final = "[token]"


def redact(text: str, *secrets: str) -> str:
    """``text`` with every occurrence of each of ``secrets`` replaced by ``[token]``.

    An occurrence is the secret spelled character by character in any of the forms listed
    in this module's docstring (forms may be mixed within one occurrence). Empty secrets
    are ignored.
    """
    for secret in secrets:
        if not secret:
            continue
        pattern = _pattern(secret)
        text = pattern.sub(PLACEHOLDER, text)
        # Rare: the placeholder spells (part of) the secret itself, as the secret "token"
        # or "]ab" (in "[token]ab") would. Then deleting until nothing matches: each pass
        # shortens the text, and what is left cannot spell the secret.
        while pattern.search(text):
            text = pattern.sub("", text)
    return text


@functools.lru_cache(maxsize=32)
def _pattern(secret: str) -> re.Pattern[str]:
    return re.compile("".join(_spellings(char) for char in secret))


def _hex(value: int, digits: int) -> str:
    # Hex digits in either case: %2f and %2F, \u00e9 and \u00E9 are the same escape.
    return f"(?i:{value:0{digits}x})"


def _spellings(char: str) -> str:
    """A regex group matching ``char`` in every escaped form this module knows."""
    point = ord(char)
    forms = [re.escape(char)]
    if not char.isalnum():
        forms.append(r"\\" + re.escape(char))  # JSON's \/ and \", a repr's \' and \\
    if point < 0x10000:
        forms.append(r"\\u" + _hex(point, 4))  # JSON, JavaScript, a str repr
        forms.append("%u" + _hex(point, 4))  # JavaScript's escape()
    else:
        high, low = divmod(point - 0x10000, 0x400)
        forms.append(r"\\u" + _hex(0xD800 + high, 4) + r"\\u" + _hex(0xDC00 + low, 4))
        forms.append(r"\\U" + _hex(point, 8))
    if point < 0x100:
        forms.append(r"\\x" + _hex(point, 2))  # a str repr
        if point >= 0x80:
            forms.append("%" + _hex(point, 2))  # Latin-1 percent-encoding
    # Percent-encoding (or a bytes repr) of each UTF-8 byte.
    forms.append("".join(r"(?:%|\\x)" + _hex(byte, 2) for byte in char.encode()))
    # HTML character references: decimal, hex, and every named entity for the character.
    forms.append(f"&#0*{point};?")
    forms.append("&#[xX]0*" + _hex(point, 1) + ";?")
    forms.extend(re.escape("&" + name) for name in _entity_names().get(char, ()))
    return "(?:" + "|".join(forms) + ")"


@functools.cache
def _entity_names() -> dict[str, tuple[str, ...]]:
    """Character -> the names of the HTML5 named references that stand for it alone."""
    names: dict[str, list[str]] = {}
    for name, value in html.entities.html5.items():
        if len(value) == 1:
            names.setdefault(value, []).append(name)
    # Longest first: "&amp;" must win over its legacy prefix "&amp".
    return {char: tuple(sorted(group, key=len, reverse=True)) for char, group in names.items()}
