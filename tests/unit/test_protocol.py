"""The sans-I/O protocol: arguments, URLs, error mapping, retry policy. No event loop."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trakk_async._core.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    InternalServerError,
    InvalidResponseError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from trakk_async._protocol import core as p


def keep(text: str) -> str:
    """A redaction with no secret to blank out."""
    return text


def envelope(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})


@pytest.mark.parametrize("value", [0, -1, True, False, "42", "42/../users", 4.0, None])
def test_check_id_refuses_non_positive_ints(value: object) -> None:
    with pytest.raises(ValueError, match="project_id must be a positive int"):
        p.check_id(value, "project_id")


@given(st.integers(min_value=1, max_value=2**40))
def test_check_id_accepts_positive_ints(value: int) -> None:
    assert p.check_id(value) == value


@pytest.mark.parametrize("value", [0, 27, -3, 100, True, "5", 5.0])
def test_report_number_outside_1_to_26_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="1 to 26"):
        p.check_report_number(value)


@pytest.mark.parametrize("value", [1, 13, 26])
def test_report_number_inside_range(value: int) -> None:
    assert p.check_report_number(value) == value


@pytest.mark.parametrize("value", [0, 101, -5, True, "50"])
def test_per_page_outside_1_to_100_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="per_page"):
        p.check_per_page(value)


def test_project_list_params_builds_query() -> None:
    params = p.project_list_params(status="active", search="bäckerei &co", agency_id=7, per_page=50)
    assert params == {
        "per_page": "50",
        "status": "active",
        "search": "bäckerei &co",
        "agency_id": "7",
    }
    url = p.build_url("https://x.test/api/v1", "/projects", params)
    assert url == (
        "https://x.test/api/v1/projects?per_page=50&status=active"
        "&search=b%C3%A4ckerei%20%26co&agency_id=7"
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"status": ""}, "status"),
        ({"search": "  "}, "search"),
        ({"agency_id": "3"}, "agency_id"),
        ({"per_page": 0}, "per_page"),
    ],
)
def test_project_list_params_refuses_bad_filters(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"status": None, "search": None, "agency_id": None, "per_page": 100}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        p.project_list_params(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://admin.trakk.ai/api/v1/", "https://admin.trakk.ai/api/v1"),
        ("http://127.0.0.1:8080/api/v1", "http://127.0.0.1:8080/api/v1"),
        ("http://localhost:9/api/v1", "http://localhost:9/api/v1"),
        ("http://[::1]:9/api/v1", "http://[::1]:9/api/v1"),
        ("http://127.4.5.6/api/v1", "http://127.4.5.6/api/v1"),
    ],
)
def test_base_url_accepted(url: str, expected: str) -> None:
    assert p.normalize_base_url(url) == expected


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://admin.trakk.ai/api/v1", "plain http"),
        ("http://10.0.0.1/api/v1", "plain http"),
        ("ftp://admin.trakk.ai", "http"),
        ("admin.trakk.ai/api/v1", "http"),
        ("https://user:pw@admin.trakk.ai/api/v1", "credentials"),
        ("https://admin.trakk.ai/api/v1?x=1", "query"),
        ("", "non-empty"),
    ],
)
def test_base_url_refused(url: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        p.normalize_base_url(url)


def test_same_origin() -> None:
    assert p.same_origin("https://a.test/x", "https://a.test/y?z")
    assert not p.same_origin("https://a.test/x", "https://b.test/x")
    assert not p.same_origin("https://a.test/x", "http://a.test/x")
    assert not p.same_origin("https://a.test/x", "https://a.test:8443/x")


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "bad_request", BadRequestError),
        (401, "unauthenticated", AuthenticationError),
        (403, "forbidden", PermissionDeniedError),
        (404, "not_found", NotFoundError),
        (405, "method_not_allowed", MethodNotAllowedError),
        (422, "validation_error", UnprocessableEntityError),
        (429, "rate_limit_exceeded", RateLimitError),
        (500, "server_error", InternalServerError),
        (503, "server_error", InternalServerError),
    ],
)
def test_error_table(status: int, code: str, cls: type[APIError]) -> None:
    err = p.error_for_status(status, {}, envelope(code, "Nope."), "/projects/1", redact=keep)
    assert type(err) is cls
    assert (err.status, err.code, err.message, err.path) == (status, code, "Nope.", "/projects/1")
    assert str(err) == f"HTTP {status} {code} on GET /projects/1: Nope."


def test_unlisted_4xx_is_a_plain_api_error() -> None:
    err = p.error_for_status(418, {}, envelope("teapot", "short and stout"), "/me", redact=keep)
    assert type(err) is APIError
    assert err.status == 418


def test_html_error_body_is_quoted_briefly() -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head><body>" + b"x" * 5000 + b"</body>"
    err = p.error_for_status(502, {}, html, "/me", redact=keep)
    assert isinstance(err, InternalServerError)
    assert err.code is None
    assert "502 Bad Gateway" in err.message
    assert len(err.message) < 200


def test_429_carries_retry_after_and_reset() -> None:
    headers = {"Retry-After": "17", "X-RateLimit-Reset": "1780000000"}
    body = envelope("rate_limit_exceeded", "Slow down.")
    err = p.error_for_status(429, headers, body, "/me", redact=keep)
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 17.0
    assert err.reset_at == datetime.fromtimestamp(1780000000, UTC)
    assert "retry after 17s" in str(err)


def test_retry_after_as_http_date() -> None:
    now = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
    assert p.parse_retry_after("Tue, 24 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert p.parse_retry_after("Tue, 24 Nov 2026 11:00:00 GMT", now=now) == 0.0
    assert p.parse_retry_after("soon", now=now) is None
    assert p.parse_retry_after(None) is None
    assert p.parse_retry_after("nan") is None


def test_reset_parsing_tolerates_garbage() -> None:
    assert p.parse_reset("not-a-number") is None
    assert p.parse_reset(None) is None


@pytest.mark.parametrize(
    ("body", "detail"),
    [(b"", "empty body"), (b'{"data": [1, 2', "not valid JSON"), (b"<html>", "not valid JSON")],
)
def test_decode_json_failures(body: bytes, detail: str) -> None:
    with pytest.raises(InvalidResponseError, match=detail) as info:
        p.decode_json(200, body, "/me", keep)
    assert info.value.status == 200
    assert info.value.excerpt == body.decode()


def test_excerpt_is_short_and_single_line() -> None:
    text = p.excerpt(b"line one\n\n   line two " + b"z" * 1000, keep)
    assert text.startswith("line one line two")
    assert len(text) == p.EXCERPT_CHARS + 3


class TestRetryPolicy:
    policy = p.RetryPolicy(max_retries=3, backoff_base=0.5, backoff_cap=8.0, max_retry_after=60)

    @pytest.mark.parametrize(
        "error",
        [
            APIConnectionError("reset"),
            APITimeoutError("slow"),
            InternalServerError("boom", status=500),
            InternalServerError("bad gateway", status=502),
            RateLimitError("slow down", retry_after=None),
            InvalidResponseError("body is not valid JSON", status=200, truncated=True),
        ],
    )
    def test_retryable(self, error: Exception) -> None:
        assert p.is_retryable(error)
        assert self.policy.delay(error, 0, lambda: 1.0) == 0.5

    @pytest.mark.parametrize(
        "error",
        [
            BadRequestError("x", status=400),
            AuthenticationError("x", status=401),
            PermissionDeniedError("x", status=403),
            NotFoundError("x", status=404),
            MethodNotAllowedError("x", status=405),
            UnprocessableEntityError("x", status=422),
            InvalidResponseError("$.data: expected a list", status=200),
            ValueError("not ours"),
        ],
    )
    def test_never_retried(self, error: Exception) -> None:
        assert not p.is_retryable(error)
        assert self.policy.delay(error, 0, lambda: 1.0) is None

    def test_full_jitter_exponential_and_capped(self) -> None:
        err = APIConnectionError("x")
        assert [self.policy.delay(err, n, lambda: 1.0) for n in range(3)] == [0.5, 1.0, 2.0]
        big = p.RetryPolicy(max_retries=10)
        assert big.delay(err, 9, lambda: 1.0) == 8.0
        assert big.delay(err, 9, lambda: 0.25) == 2.0
        assert self.policy.delay(err, 3, lambda: 1.0) is None

    def test_retry_after_is_a_floor(self) -> None:
        err = RateLimitError("x", retry_after=5.0)
        assert self.policy.delay(err, 0, lambda: 1.0) == 5.0

    def test_retry_after_past_the_cap_goes_to_the_caller(self) -> None:
        err = RateLimitError("x", retry_after=3599.0)
        assert self.policy.delay(err, 0, lambda: 1.0) is None

    def test_zero_retries(self) -> None:
        assert p.RetryPolicy(max_retries=0).delay(APIConnectionError("x"), 0, lambda: 1.0) is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://admin.trakk.ai/api/v1/", "https://admin.trakk.ai/api/v1"),
        ("https://bücher.example/api/v1", "https://xn--bcher-kva.example/api/v1"),
        ("https://proxy.example/a%20b/v1", "https://proxy.example/a%20b/v1"),
    ],
)
def test_base_url_is_encoded_once_so_requests_can_skip_it(given: str, expected: str) -> None:
    assert p.normalize_base_url(given) == expected


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)


@given(value=json_values, indent=st.booleans(), data=st.data())
def test_a_document_cut_anywhere_is_truncated_and_retried(
    value: object, indent: bool, data: st.DataObject
) -> None:
    document = orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0)
    body = document[: data.draw(st.integers(0, len(document) - 1))]
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    else:
        return  # "12" of "123": a prefix that is a document of its own
    error = p.undecodable(200, body, "/me", keep)
    assert error.truncated, error.detail
    assert p.is_retryable(error)


@given(
    value=json_values,
    junk=st.sampled_from([b"\xef\xbb\xbf", b"Warning: x in y.php\n", b"<html>", b"\xff", b"\x00"]),
    data=st.data(),
)
def test_garbage_in_front_of_a_document_is_never_retried(
    value: object, junk: bytes, data: st.DataObject
) -> None:
    document = junk + orjson.dumps(value)
    body = document[: data.draw(st.integers(len(junk), len(document)))]
    error = p.undecodable(200, body, "/me", keep)
    assert not error.truncated, error.detail
    assert not p.is_retryable(error)


def test_id_bounds() -> None:
    assert p.check_id(p.MAX_ID) == 2**63 - 1
    with pytest.raises(ValueError, match="up to 2\\*\\*63-1, got a huge int"):
        p.check_id(10**400)


@pytest.mark.parametrize(
    ("spaces", "position"),
    # (4100, 106): the secret starts 10 characters before the end of the window looked
    # at, and collapsing the spaces brings that start within the excerpt.
    [(0, 50), (0, 110), (100, 4000), (4100, 106), (4100, 80), (20000, 10), (0, 4300)],
)
def test_an_excerpt_never_shows_part_of_a_secret(spaces: int, position: int) -> None:
    secret = "tk_live_0123456789abcdefghij"
    body = b" " * spaces + b"x" * position + secret.encode() + b"y" * 100_000

    def redact(text: str) -> str:
        return text.replace(secret, "[token]")

    quoted = p.excerpt(body, redact)
    assert "tk_live_0" not in quoted
    assert len(quoted) <= p.EXCERPT_CHARS + 3
    assert quoted.endswith("...")
