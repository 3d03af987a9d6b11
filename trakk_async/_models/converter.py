"""The one cattrs converter that turns decoded JSON into the SDK's attrs models.

This is the only module that imports cattrs. Two converters are built from one recipe:

* the **fast** one structures every response: hooks generated once per class with detailed
  validation off, strict hooks for ``str``/``int``/``bool`` (no silent ``str(None)``),
  dict lookups for the enums;
* when the fast one fails, the **detailed** one structures the same body again only to
  say *where* it is wrong (``$.data[3].status: ...``); the caller gets a
  :class:`ResponseShapeError` with that readable message.

Forward compatibility: unknown fields are ignored, and an enum value the SDK does not know
is kept as its ``str``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from enum import StrEnum
from functools import cache, lru_cache
from itertools import repeat
from types import NoneType, UnionType
from typing import TYPE_CHECKING, Any, Final, TypeVar, Union, get_args, get_origin

import attrs

from trakk_async._models.content import SCHEMES, ContentScheme, UnknownContent
from trakk_async._models.objects import (
    ApprovedStatus,
    ContentLinks,
    ContentSummary,
    KeywordContent,
    Listing,
    ManagedStatus,
    Me,
    Page,
    PageLinks,
    PageMeta,
    ProjectStatus,
    ProjectSummary,
    ReportContent,
    ReportStatus,
    TokenStatus,
    User,
)
from trakk_async._models.structgen import make_structure_fn, parse_date

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "ResponseShapeError",
    "structure_listing",
    "structure_me",
    "structure_page",
    "structure_report_content",
    "structure_single",
]

T = TypeVar("T")

_ENUMS: Final = (ProjectStatus, ReportStatus, ApprovedStatus, ManagedStatus, TokenStatus)
_ENUMS_AND_SCHEME: Final = (*_ENUMS, ContentScheme)
_SHAPE_ERRORS: Final = (
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
    ExceptionGroup,  # cattrs' BaseValidationError, without importing cattrs for it
)


class ResponseShapeError(ValueError):
    """A decoded body does not have the shape the reference promises.

    The client turns it into :class:`~trakk_async.InvalidResponseError`.
    """


def _wrong(value: Any, expected: str) -> ValueError:
    return ValueError(f"expected {expected}, got {type(value).__name__}")


def _str(value: Any, _: Any = None) -> str:
    if value.__class__ is str:
        return value
    raise _wrong(value, "a string")


def _int(value: Any, _: Any = None) -> int:
    if value.__class__ is int:
        return value
    raise _wrong(value, "an integer")


def _bool(value: Any, _: Any = None) -> bool:
    if value.__class__ is bool:
        return value
    raise _wrong(value, "a boolean")


def _datetime(value: Any, _: Any = None) -> datetime:
    return datetime.fromisoformat(value)


def _enum_hook(enum: type[StrEnum], optional: bool) -> Callable[[Any, Any], Any]:
    known: dict[Any, StrEnum] = {member.value: member for member in enum}
    get = known.get

    def structure(value: Any, _: Any) -> Any:
        member = get(value)
        if member is not None:
            return member
        if value.__class__ is str or (optional and value is None):
            return value  # unknown values are kept as strings; None only where nullable
        raise _wrong(value, f"a {enum.__name__} string")

    return structure


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    if get_origin(tp) in (Union, UnionType):
        return get_args(tp)
    return None


def _build(*, fast: bool) -> cattrs.Converter:
    import cattrs

    conv = cattrs.Converter(detailed_validation=not fast, forbid_extra_keys=False)
    conv.register_structure_hook(str, _str)
    conv.register_structure_hook(int, _int)
    conv.register_structure_hook(bool, _bool)
    conv.register_structure_hook(datetime, _datetime)
    conv.register_structure_hook(date, parse_date)

    def is_enum_union(tp: Any) -> bool:
        args = _union_args(tp)
        return args is not None and str in args and any(a in _ENUMS_AND_SCHEME for a in args)

    def enum_union_hook(tp: Any) -> Callable[[Any, Any], Any]:
        args = _union_args(tp) or ()
        enum = next(a for a in args if a in _ENUMS_AND_SCHEME)
        return _enum_hook(enum, NoneType in args)

    conv.register_structure_hook_factory(is_enum_union, enum_union_hook)

    def is_simple_optional(tp: Any) -> bool:
        args = _union_args(tp)
        return args is not None and len(args) == 2 and NoneType in args

    def optional_hook(tp: Any) -> Callable[[Any, Any], Any]:
        inner_type = next(a for a in _union_args(tp) or () if a is not NoneType)
        inner = conv.get_structure_hook(inner_type)

        def structure(value: Any, _: Any) -> Any:
            return None if value is None else inner(value, inner_type)

        return structure

    conv.register_structure_hook_factory(is_simple_optional, optional_hook)

    def is_str_tuple(tp: Any) -> bool:
        return get_origin(tp) is tuple and get_args(tp) in ((str, ...), (int, ...))

    def tuple_hook(tp: Any) -> Callable[[Any, Any], Any]:
        element = _str if get_args(tp)[0] is str else _int

        def structure(value: Any, _: Any) -> tuple[Any, ...]:
            if value.__class__ is not list:
                raise _wrong(value, "an array")
            return tuple([element(v) for v in value])

        return structure

    conv.register_structure_hook_factory(is_str_tuple, tuple_hook)

    def is_object_tuple(tp: Any) -> bool:
        args = get_args(tp)
        return get_origin(tp) is tuple and len(args) == 2 and args[1] is ... and attrs.has(args[0])

    def object_tuple_hook(tp: Any) -> Callable[[Any, Any], Any]:
        # cattrs' own tuple hook takes any iterable: a {} where links belong became ().
        element_type = get_args(tp)[0]
        element = conv.get_structure_hook(element_type)

        def structure(value: Any, _: Any) -> tuple[Any, ...]:
            if value.__class__ is not list:
                raise _wrong(value, "an array")
            return tuple([element(v, element_type) for v in value])

        return structure

    if fast:
        conv.register_structure_hook_factory(is_object_tuple, object_tuple_hook)
        conv.register_structure_hook_factory(
            attrs.has, lambda cls: make_structure_fn(cls, conv.get_structure_hook)
        )
        return conv
    from cattrs.gen import make_dict_structure_fn, override

    conv.register_structure_hook(
        PageMeta,
        make_dict_structure_fn(
            PageMeta, conv, from_=override(rename="from"), _cattrs_detailed_validation=True
        ),
    )
    return conv


@cache
def _fast() -> cattrs.Converter:
    """The fast converter, built (and cattrs imported) on the first structuring: an
    import of trakk_async that never structures anything (``trakk --help``) skips both."""
    return _build(fast=True)


@cache
def _detailed() -> cattrs.Converter:
    """The detailed converter, built on the first bad payload (it only explains errors)."""
    return _build(fast=False)


def _explain(body: Any, cls: Any, exc: BaseException, where: str) -> ResponseShapeError:
    """The readable error for a body the fast path could not structure."""
    import cattrs

    try:
        _detailed().structure(body, cls)
    except cattrs.BaseValidationError as detailed:
        messages = cattrs.transform_error(detailed, path=where)
        return ResponseShapeError("; ".join(messages[:3]))
    except _SHAPE_ERRORS as other:
        return ResponseShapeError(f"{where}: {other}")
    return ResponseShapeError(f"{where}: {exc}")


_HOOKS: dict[Any, Callable[[Any, Any], Any]] = {}


def _hook(cls: type[T]) -> Callable[[Any, Any], T]:
    # Cached: cattrs' dispatch costs ~0.1 us a call, a dict hit a third of that.
    hook = _HOOKS.get(cls)
    if hook is None:
        hook = _HOOKS[cls] = _fast().get_structure_hook(cls)
    return hook


def _object(body: Any, what: str, where: str = "$") -> dict[str, Any]:
    if body.__class__ is not dict:
        raise ResponseShapeError(f"{where}: expected {what} object, got {type(body).__name__}")
    return body


def _cache_time(body: Mapping[str, Any]) -> datetime | None:
    raw = body.get("cache_refreshed_at")
    if raw is None:
        return None
    try:
        return _datetime(raw)
    except _SHAPE_ERRORS as exc:
        raise ResponseShapeError(f"$.cache_refreshed_at: {exc}") from None


def _structure(data: Any, cls: type[T], where: str) -> T:
    try:
        return _hook(cls)(data, cls)
    except _SHAPE_ERRORS as exc:
        raise _explain(data, cls, exc, where) from None


def structure_me(body: Any) -> Me:
    """``GET /me``: a bare object."""
    try:
        return _hook(Me)(body, Me)  # checks that body is an object too
    except _SHAPE_ERRORS as exc:
        raise _explain(_object(body, "a token"), Me, exc, "$") from None


def structure_single(body: Any, *, cls: type[T]) -> T:
    """``{"data": {...}, "cache_refreshed_at"?}`` into one ``cls``."""
    data = _object(_object(body, "a response").get("data"), "a 'data'", "$.data")
    if _has_cache(cls):
        # The time sits next to "data"; the model carries it (it takes no part in equality).
        data = {**data, "cache_refreshed_at": body.get("cache_refreshed_at")}
    return _structure(data, cls, "$.data")


_HAS_CACHE_FIELD: dict[type[Any], bool] = {}


def _has_cache(cls: type[Any]) -> bool:
    """Whether ``cls`` carries ``cache_refreshed_at`` (looked up once per class)."""
    known = _HAS_CACHE_FIELD.get(cls)
    if known is None:
        fields = getattr(cls, "__attrs_attrs__", ())
        known = _HAS_CACHE_FIELD[cls] = any(a.name == "cache_refreshed_at" for a in fields)
    return known


def _items(body: Any, cls: type[T]) -> tuple[T, ...]:
    data = _object(body, "a response").get("data")
    if data.__class__ is not list:
        raise ResponseShapeError(f"$.data: expected an array, got {type(data).__name__}")
    hook = _hook(cls)
    try:
        return tuple(map(hook, data, repeat(cls)))
    except _SHAPE_ERRORS as exc:
        for index, item in enumerate(data):
            try:
                hook(item, cls)
            except _SHAPE_ERRORS:
                raise _explain(item, cls, exc, f"$.data[{index}]") from None
        raise ResponseShapeError(f"$.data: {exc}") from None


def structure_listing(body: Any, *, cls: type[T]) -> Listing[T]:
    """``{"data": [...], "cache_refreshed_at"?}`` into a :class:`Listing` of ``cls``."""
    return Listing(items=_items(body, cls), cache_refreshed_at=_cache_time(body))


def structure_page(body: Any) -> Page:
    """One page of ``/projects`` with its ``meta`` and ``links`` (each may be missing)."""
    items = _items(body, ProjectSummary)
    meta = body.get("meta")
    links = body.get("links")
    return Page(
        items=items,
        meta=None if meta is None else _structure(meta, PageMeta, "$.meta"),
        links=None if links is None else _structure(links, PageLinks, "$.links"),
        cache_refreshed_at=_cache_time(body),
    )


# Class hooks are generated on first use (through _hook), not at import.
_SCHEME_HOOK: Final = _enum_hook(ContentScheme, False)
_STR_TUPLE: Final = tuple[str, ...]
_PROJECT_STATUS: Final = _enum_hook(ProjectStatus, False)
_REPORT_STATUS: Final = _enum_hook(ReportStatus, False)
_APPROVED: Final = _enum_hook(ApprovedStatus, True)
_MANAGED: Final = _enum_hook(ManagedStatus, True)


def _shaper(cls: type[Any], is_array: bool, scheme: str) -> Callable[[Any], Any]:
    hook = _hook(cls)
    if is_array:

        def array(value: Any) -> tuple[Any, ...]:
            if value.__class__ is not list:
                raise _wrong(value, f"a {scheme} array")
            return tuple([hook(v, cls) for v in value])

        return array

    def single(value: Any) -> Any:
        return hook(value, cls)

    return single


def _unknown(scheme: str) -> Callable[[Any], Any]:
    return lambda value: UnknownContent(scheme=scheme, raw=value)


@lru_cache(maxsize=64)  # bounded: a server could send any number of unknown scheme names
def _shapers(scheme: str) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """Content and html structuring for one scheme, generated on its first payload."""
    shape = SCHEMES.get(scheme)
    if shape is None:
        return _unknown(scheme), _unknown(scheme)
    return (
        _shaper(shape.content, shape.content_is_array, scheme),
        _shaper(shape.html, shape.html_is_array, scheme),
    )


def _optional_user(value: Any) -> User | None:
    return None if value is None else _hook(User)(value, User)


def _optional_date(value: Any) -> date | None:
    return None if value is None else parse_date(value)


def _keyword(raw: Any, content_of: Callable[[Any], Any], html_of: Callable[[Any], Any]) -> Any:
    content = raw.get("content")
    html = raw.get("html")
    return KeywordContent(
        keyword_id=_int(raw["keyword_id"]),
        keyword=_str(raw["keyword"]),
        keyword_url=_str(raw["keyword_url"]),
        has_content=_bool(raw["has_content"]),
        content=None if content is None else content_of(content),
        html=None if html is None else html_of(html),
    )


def structure_report_content(body: Any) -> ReportContent:
    """``/reports/{n}/content``: accepted wrapped in ``data`` or bare.

    Each keyword's content is shaped by the payload's ``content_scheme`` (see
    :data:`trakk_async._content.SCHEMES`); an unknown scheme keeps the raw JSON.
    """
    outer = _object(body, "a response")
    data = outer["data"] if outer.get("data").__class__ is dict else outer
    try:
        scheme = _SCHEME_HOOK(data["content_scheme"], None)
        content_of, html_of = _shapers(str(scheme))
        keywords_raw = data["keywords"]
        if keywords_raw.__class__ is not list:
            raise _wrong(keywords_raw, "a keywords array")
        keywords: list[KeywordContent] = []
        for index, raw in enumerate(keywords_raw):
            try:
                keywords.append(_keyword(raw, content_of, html_of))
            except _SHAPE_ERRORS as exc:
                raise ResponseShapeError(
                    f"$.keywords[{index}] ({scheme}): {_describe(exc)}"
                ) from None
        return ReportContent(
            report_number=_int(data["report_number"]),
            report_id=_int(data["report_id"]),
            report_name=None if data.get("report_name") is None else _str(data["report_name"]),
            content_scheme=scheme,
            content_scheme_fields=_hook(_STR_TUPLE)(data["content_scheme_fields"], _STR_TUPLE),
            links=_hook(ContentLinks)(data["links"], ContentLinks),
            project_id=_int(data["project_id"]),
            project_domain=_str(data["project_domain"]),
            project_status=_PROJECT_STATUS(data["project_status"], None),
            is_generated=_bool(data["is_generated"]),
            generation_status=_REPORT_STATUS(data["generation_status"], None),
            approved_status=_APPROVED(data.get("approved_status"), None),
            approved_by=_optional_user(data.get("approved_by")),
            managed_status=_MANAGED(data.get("managed_status"), None),
            managed_by=_optional_user(data.get("managed_by")),
            date_to_create_texts=_optional_date(data.get("date_to_create_texts")),
            date_to_send_to_client=_optional_date(data.get("date_to_send_to_client")),
            summary=_hook(ContentSummary)(data["summary"], ContentSummary),
            keywords=tuple(keywords),
            cache_refreshed_at=_cache_time(outer),
        )
    except ResponseShapeError:
        raise
    except _SHAPE_ERRORS as exc:
        raise ResponseShapeError(f"$ (report content): {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"required field {exc.args[0]!r} missing"
    return str(exc) or type(exc).__name__
