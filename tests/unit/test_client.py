"""TrakkClient: configuration, lifecycle, session ownership and redirects."""

from __future__ import annotations

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from tests.conftest import BASE_URL, TOKEN
from tests.unit.support import OpenLimiter, make_client, sent, url
from trakk_async import ConfigurationError, InvalidResponseError, Me, TrakkClient

ME = {"id": 3, "name": "t", "agency_id": 12, "status": "active", "abilities": ["*"]}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAKK_API_TOKEN", raising=False)
    monkeypatch.delenv("TRAKK_BASE_URL", raising=False)


async def test_token_from_the_environment(
    mock_api: aioresponses, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAKK_API_TOKEN", "env-token-123")
    mock_api.get(url("/me"), payload=ME)
    async with TrakkClient(base_url=BASE_URL, rate_limiter=OpenLimiter()) as client:
        assert isinstance(await client.me(), Me)
    ((_, _, kwargs),) = sent(mock_api)
    assert kwargs["headers"]["Authorization"] == "Bearer env-token-123"


async def test_an_explicit_token_wins_over_the_environment(
    mock_api: aioresponses, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAKK_API_TOKEN", "env-token-123")
    mock_api.get(url("/me"), payload=ME)
    async with TrakkClient(TOKEN, base_url=BASE_URL, rate_limiter=OpenLimiter()) as client:
        await client.me()
    ((_, _, kwargs),) = sent(mock_api)
    assert kwargs["headers"]["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("env", [None, ""])
def test_no_token_fails_at_construction(monkeypatch: pytest.MonkeyPatch, env: str | None) -> None:
    if env is not None:
        monkeypatch.setenv("TRAKK_API_TOKEN", env)
    with pytest.raises(ConfigurationError, match="TRAKK_API_TOKEN"):
        TrakkClient()


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("", "empty"),
        ("   ", "whitespace"),
        ("abc\r\nX-Evil: 1", "whitespace (U+000D) at position 3"),
        (42, "must be a str, got int"),
        (b"tk_bytes_0123", "must be a str, got bytes"),
        ("tk_live_0123\x00", "control or invisible character (U+0000) at its end"),
        ("tk_live\x0b0123", "(U+000B) at position 7"),
        ("\x1btk_live_0123", "(U+001B) at its start"),
        ("tk_live_0123\x7f", "(U+007F)"),
        ("tk_live\u200b0123", "(U+200B)"),
        ("tk_live_0123\n", "whitespace (U+000A) at its end"),
        (" tk_live_0123", "whitespace (U+0020) at its start"),
        ("tk_live 0123", "whitespace (U+0020)"),
        ("tk_live\u00a00123", "(U+00A0)"),
    ],
)
def test_a_malformed_token_fails_at_construction(token: object, problem: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        TrakkClient(token, base_url=BASE_URL)  # type: ignore[arg-type]
    message = str(info.value)
    assert problem in message
    if isinstance(token, str) and token.strip():
        assert token.strip() not in message  # what is wrong, never the token itself
    assert info.value.__context__ is None


@pytest.mark.parametrize(
    "token", ["tk_live_ä€😀|/+=", "1|Xb7dGkqu0Vq3fTtW1eAqZsYkYhGL3q2Ri0WQnM9S"]
)
def test_printable_tokens_are_accepted(token: str) -> None:
    TrakkClient(token, base_url=BASE_URL)


def test_base_url_default_env_and_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    assert TrakkClient(TOKEN).base_url == "https://admin.trakk.ai/api/v1"
    monkeypatch.setenv("TRAKK_BASE_URL", "https://staging.trakk.test/api/v1/")
    assert TrakkClient(TOKEN).base_url == "https://staging.trakk.test/api/v1"
    assert TrakkClient(TOKEN, base_url=BASE_URL).base_url == BASE_URL


@pytest.mark.parametrize(
    "base_url",
    [
        "http://admin.trakk.ai/api/v1",
        "http://10.0.0.5/api/v1",
        "http://127.0.0.1.example.com/api/v1",
        "ftp://admin.trakk.ai/api/v1",
        "admin.trakk.ai/api/v1",
        "https://user:pw@admin.trakk.ai/api/v1",
        "https://admin.trakk.ai/api/v1?x=1",
    ],
)
def test_unsafe_base_urls_are_refused(base_url: str) -> None:
    with pytest.raises(ConfigurationError):
        TrakkClient(TOKEN, base_url=base_url)


@pytest.mark.parametrize(
    ("base_url", "problem"),
    [
        ("https://admin.trakk.ai/api/v1  ", "whitespace (U+0020) at its end"),
        ("  https://admin.trakk.ai/api/v1", "whitespace (U+0020) at its start"),
        ("https://admin.trakk.ai/api/v1\n", "whitespace (U+000A) at its end"),
        ("https://admin.trakk.ai/api/v1\r\nX-Evil: 1", "whitespace (U+000D)"),
        ("https://admin.trakk.ai/api\tv1", "whitespace (U+0009)"),
        ("https://admin.trakk.ai/api/v1\x00", "control or invisible character (U+0000)"),
        ("https://admin.trakk.ai\x1b/api/v1", "(U+001B)"),
        ("https://admin.trakk.ai/api/v1\x7f", "(U+007F)"),
        ("https://admin.trakk.ai:99999/api/v1", "Port out of range"),
        ("https://admin.trakk.ai:abc/api/v1", "not a valid URL"),
        ("https://admin.trakk.ai:0/api/v1", "zero port"),
        ("https://admin.trakk.ai:/api/v1", "empty or zero port"),
        ("https://[::1/api/v1", "not a valid URL"),
        ("https://[zz::1]/api/v1", "not a valid URL"),
        ("https://admin_trakk.ai!/api/v1", "invalid host"),
        ("https://a..b/api/v1", "invalid host"),
        ("https://@admin.trakk.ai/api/v1", "credentials"),
        ("https://admin.trakk.ai/api/v1?", "query or fragment"),
        ("https://admin.trakk.ai/api/v1#", "query or fragment"),
        ("https:///api/v1", "with a host"),
        ("", "non-empty string"),
    ],
)
def test_a_malformed_base_url_is_refused_naming_the_problem(base_url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match="base_url") as info:
        TrakkClient(TOKEN, base_url=base_url or None) if base_url else normalize(base_url)
    assert problem in str(info.value)
    assert info.value.__context__ is None


def normalize(base_url: str) -> str:
    from trakk_async._protocol.core import normalize_base_url

    return normalize_base_url(base_url)


def test_a_base_url_from_an_env_file_with_trailing_spaces_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRAKK_BASE_URL", "https://staging.trakk.test/api/v1  ")
    with pytest.raises(ConfigurationError, match="whitespace"):
        TrakkClient(TOKEN)


def test_an_unsafe_base_url_from_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRAKK_BASE_URL", "http://admin.trakk.ai/api/v1")
    with pytest.raises(ConfigurationError, match="http://"):
        TrakkClient(TOKEN)


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:8080/api/v1",
        "http://127.9.9.9/api/v1",
        "http://localhost:9000/api/v1",
        "http://[::1]:9000/api/v1",
    ],
)
def test_plain_http_is_allowed_on_loopback(base_url: str) -> None:
    assert TrakkClient(TOKEN, base_url=base_url).base_url == base_url


@pytest.mark.parametrize(
    "kwargs", [{"timeout": 0}, {"timeout": -1}, {"timeout": True}, {"max_retries": -1}]
)
def test_bad_settings_fail_at_construction(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        TrakkClient(TOKEN, **kwargs)  # type: ignore[arg-type]


def is_closed(session: aiohttp.ClientSession) -> bool:
    return session.closed


def test_repr_has_no_token() -> None:
    client = TrakkClient(TOKEN, base_url=BASE_URL)
    assert TOKEN not in repr(client)
    assert BASE_URL in repr(client)
    assert TOKEN not in repr(client._transport)


async def test_a_borrowed_session_is_not_closed(mock_api: aioresponses) -> None:
    mock_api.get(url("/me"), payload=ME)
    async with aiohttp.ClientSession() as session:
        async with make_client(session=session) as client:
            await client.me()
        assert client.closed
        assert not session.closed


async def test_an_owned_session_is_closed(mock_api: aioresponses) -> None:
    mock_api.get(url("/me"), payload=ME)
    client = make_client()
    async with client:
        await client.me()
        session = client._transport._session
        assert session is not None
        assert not is_closed(session)
    assert is_closed(session)
    await client.aclose()  # idempotent


async def test_a_closed_client_raises_a_clear_error(mock_api: aioresponses) -> None:
    client = make_client()
    await client.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await client.me()
    with pytest.raises(RuntimeError, match="closed"):
        await client.reports.latest(42)
    with pytest.raises(RuntimeError, match="closed"):
        client.projects.list()
    with pytest.raises(RuntimeError, match="closed"):
        async with client:
            pass
    assert sent(mock_api) == []


async def test_a_redirect_on_the_same_host_is_followed(mock_api: aioresponses) -> None:
    mock_api.get(url("/me"), status=307, headers={"Location": BASE_URL + "/me/"})
    mock_api.get(url("/me/"), payload=ME)
    async with make_client() as client:
        assert isinstance(await client.me(), Me)
    requests = sent(mock_api)
    assert [str(u) for _, u, _ in requests] == [url("/me"), url("/me/")]
    assert all(k["headers"]["Authorization"] == f"Bearer {TOKEN}" for _, _, k in requests)


@pytest.mark.parametrize(
    "location",
    [
        "https://evil.example/api/v1/me",
        "//evil.example/api/v1/me",
        "http://api.trakk.test/api/v1/me",  # a downgrade to plain http
        "https://api.trakk.test:8443/api/v1/me",
    ],
)
async def test_a_redirect_to_another_origin_is_not_followed(
    mock_api: aioresponses, location: str
) -> None:
    mock_api.get(url("/me"), status=302, headers={"Location": location})
    mock_api.get(str(URL(BASE_URL).join(URL(location))), payload=ME, repeat=True)
    async with make_client() as client:
        with pytest.raises(InvalidResponseError, match="another host") as info:
            await client.me()
    assert info.value.status == 302
    assert [str(u) for _, u, _ in sent(mock_api)] == [url("/me")]


@pytest.mark.parametrize(
    "location",
    ["http://[::1", "https://api.trakk.test:99999/me", "https://api.trakk.test:x/me", "//[zz]/"],
)
async def test_a_redirect_to_a_location_yarl_cannot_parse_is_an_invalid_response(
    mock_api: aioresponses, location: str
) -> None:
    mock_api.get(url("/me"), status=302, headers={"Location": location}, repeat=True)
    async with make_client(max_retries=3) as client:
        with pytest.raises(
            InvalidResponseError, match="Location header is not a valid URL"
        ) as info:
            await client.me()
    assert info.value.status == 302
    assert info.value.__context__ is None
    assert [str(u) for _, u, _ in sent(mock_api)] == [url("/me")]  # not retried


async def test_a_redirect_loop_ends(mock_api: aioresponses) -> None:
    mock_api.get(url("/me"), status=302, headers={"Location": BASE_URL + "/me"}, repeat=True)
    async with make_client(max_retries=0) as client:
        with pytest.raises(InvalidResponseError, match="too many redirects"):
            await client.me()
    assert len(mock_api.requests[("GET", URL(url("/me")))]) == 6


@pytest.mark.parametrize("timeout", [float("nan"), 0.0, -0.5])
def test_a_timeout_that_is_not_positive_is_refused(timeout: float) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        TrakkClient(TOKEN, timeout=timeout)


async def test_the_owned_session_verifies_tls() -> None:
    client = make_client()
    try:
        session = client._transport._get_session()
        connector = session.connector
        assert isinstance(connector, aiohttp.TCPConnector)
        assert connector._ssl is True  # aiohttp's default: verify certificates and hostname
        # aiohttp's own environment lookup stays off: it would add ~/.netrc credentials for
        # Trakk's host (the transport looks the proxy up itself, see test_proxy.py).
        assert not session.trust_env
    finally:
        await client.aclose()
