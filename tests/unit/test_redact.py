"""The one redaction: a token in any escaped form, in any mix, is blanked out."""

from __future__ import annotations

import html
import json
import re
import urllib.parse
from collections.abc import Callable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from trakk_async._core.redact import PLACEHOLDER, redact

#: Characters that escape differently in JSON, HTML, URLs and reprs, and some that don't.
TOKEN_CHARS = st.sampled_from(list("aZ09_-.~|/\"'<>&%+=:;\\éß€😀"))
tokens = st.text(TOKEN_CHARS, min_size=1, max_size=24).map(lambda t: "tk" + t)

TOKEN = 'tk_live_S/E"C<R>&T|é€😀'

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
    "form": lambda t: urllib.parse.quote_plus(t),
    "str repr": lambda t: repr(t)[1:-1],
    "bytes repr": lambda t: repr(t.encode())[2:-1],
    "ascii repr": lambda t: ascii(t)[1:-1],
}


def _lower_escapes(text: str) -> str:
    # %2F -> %2f, leaving the unescaped letters of the token as they are.
    out, i = [], 0
    while i < len(text):
        if text[i] == "%":
            out.append(text[i : i + 3].lower())
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@pytest.mark.parametrize("form", list(WHOLE))
def test_every_whole_spelling_is_redacted(form: str) -> None:
    spelled = WHOLE[form](TOKEN)
    text = f"GET /me\nAuthorization: Bearer {spelled}\nHost: x"
    out = redact(text, TOKEN)
    assert out == f"GET /me\nAuthorization: Bearer {PLACEHOLDER}\nHost: x"


#: One character at a time, each in a form of its own (what "any mix" means).
CHAR_FORMS: list[Callable[[str], str]] = [
    lambda c: c,
    lambda c: json.dumps(c)[1:-1],
    lambda c: "".join(f"\\u{u:04X}" for u in _utf16(c)),
    lambda c: "".join(f"\\u{u:04x}" for u in _utf16(c)),
    lambda c: f"&#{ord(c)};",
    lambda c: f"&#x{ord(c):x};",
    lambda c: f"&#X{ord(c):04X};",
    lambda c: html.escape(c),
    lambda c: urllib.parse.quote(c, safe=""),
    lambda c: "".join(f"%{b:02x}" for b in c.encode()),
    lambda c: "".join(f"%{b:02X}" for b in c.encode()),
    lambda c: "\\" + c if not c.isalnum() else c,
]


def _utf16(char: str) -> list[int]:
    data = char.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


@given(token=tokens, data=st.data(), before=st.text(max_size=20), after=st.text(max_size=20))
def test_any_mix_of_spellings_is_redacted(
    token: str, data: st.DataObject, before: str, after: str
) -> None:
    choices = data.draw(
        st.lists(st.sampled_from(CHAR_FORMS), min_size=len(token), max_size=len(token))
    )
    spelled = "".join(form(c) for form, c in zip(choices, token, strict=True))
    out = redact(f"{before} {spelled} {after}", token)
    assert PLACEHOLDER in out
    assert spelled not in out


@given(token=tokens, text=st.text(max_size=200))
def test_text_without_the_token_is_unchanged(token: str, text: str) -> None:
    # No "t" in any spelling (and no escape at all): nothing of the token is there.
    assume(not {"t", "T", "%", "&", "\\"} & set(text))
    assert redact(text, token) == text


def test_every_secret_given_is_redacted_and_empty_ones_are_ignored() -> None:
    assert redact("user:s3cr%65t@proxy", "s3cret", "") == f"user:{PLACEHOLDER}@proxy"
    assert redact("nothing to hide", "") == "nothing to hide"


@pytest.mark.parametrize("secret", ["token", "[token]", "]ab", "k", "n]]"])
@pytest.mark.parametrize("text", ["token", "x]ab]ab]abab", "[token]]]", "kkk k", "n]]n]]]"])
def test_a_secret_the_placeholder_spells_is_gone_all_the_same(secret: str, text: str) -> None:
    assert secret not in redact(text, secret)
