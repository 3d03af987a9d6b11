"""The one redaction: a token in any escaped form, in any mix, is blanked out."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.leaks import CHAR_FORMS, WHOLE, leaks, spelled, tokens
from trakk_async._core.redact import PLACEHOLDER, redact

TOKEN = 'tk_live_S/E"C<R>&T|é€😀'


@pytest.mark.parametrize("form", list(WHOLE))
def test_every_whole_spelling_is_redacted(form: str) -> None:
    spelled = WHOLE[form](TOKEN)
    text = f"GET /me\nAuthorization: Bearer {spelled}\nHost: x"
    out = redact(text, TOKEN)
    assert out == f"GET /me\nAuthorization: Bearer {PLACEHOLDER}\nHost: x"


@given(token=tokens, data=st.data(), before=st.text(max_size=20), after=st.text(max_size=20))
def test_any_mix_of_spellings_is_redacted(
    token: str, data: st.DataObject, before: str, after: str
) -> None:
    text = data.draw(spelled(token))
    assert leaks(text, token)  # the test's own decoder sees it...
    out = redact(f"{before} {text} {after}", token)
    assert PLACEHOLDER in out
    assert not leaks(out.replace(before, "").replace(after, ""), token)  # ...and then not


def test_each_character_form_differs_from_the_others() -> None:
    # The mix above is only as strong as its forms: they must really spell differently.
    assert len({form("/") for form in CHAR_FORMS}) >= 8


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
