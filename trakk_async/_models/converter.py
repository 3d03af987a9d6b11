"""The one cattrs converter, and the ``structure_*`` functions that turn a decoded body into models.

This is the only module that imports cattrs. Every body is read in two steps, so that
tolerance costs nothing while nothing deviates:

1. **Fast**: cattrs' own generated hooks (``make_dict_structure_fn``, detailed validation
   off, unknown keys ignored), one per class, with strict hooks for ``str``/``int``/``bool``
   (no silent ``str(None)``) and the enums. They accept the documented shapes exactly and
   raise on anything else.
2. **Tolerant**, only for a piece the fast hooks refused (one item of a listing, one keyword
   of a report's content, one variant): :mod:`trakk_async._models.tolerant` reads it again
   from the same classes, applying the nullability policy of
   :mod:`trakk_async._models.objects`, and records deviations in the client's
   :class:`~trakk_async._models.deviations.Deviations` (or raises, in strict mode).

Every ``structure_*`` function takes the decoded body, the client's deviations and the request
path (named in warnings); a body that breaks the documented contract raises
:class:`ResponseShapeError` with the JSON path.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast, get_args, get_origin

import attrs

from trakk_async._models.content import SCHEMES, UnknownContent
from trakk_async._models.deviations import Deviations, Reading, ResponseShapeError, json_type
from trakk_async._models.envelope import response_data
from trakk_async._models.objects import (
    KeywordContent,
    Listing,
    Me,
    Page,
    ProjectSummary,
    ReportContent,
)
from trakk_async._models.shapes import (
    enum_of,
    is_array,
    is_model,
    json_keys,
    parse_date,
    split_optional,
)
from trakk_async._models.tolerant import SHAPE_ERRORS, Hook, Reader, Readers, read_root

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


def _enum_hook(enum: type[StrEnum], optional: bool) -> Hook:
    known: dict[Any, StrEnum] = {member.value: member for member in enum}

    def structure(value: Any, _: Any) -> Any:
        member = known.get(value)
        if member is not None:
            return member
        if value.__class__ is str or (optional and value is None):
            return value  # unknown values are kept as strings; None only where nullable
        raise _wrong(value, f"a {enum.__name__} string")

    return structure


def _build() -> cattrs.Converter:
    import cattrs

    conv = cattrs.Converter(detailed_validation=False, forbid_extra_keys=False)
    conv.register_structure_hook(str, _str)
    conv.register_structure_hook(int, _int)
    conv.register_structure_hook(bool, _bool)
    conv.register_structure_hook(datetime, _datetime)
    conv.register_structure_hook(date, parse_date)

    def is_enum_union(tp: Any) -> bool:
        return enum_of(split_optional(tp)[0]) is not None

    def enum_union_hook(tp: Any) -> Hook:
        inner, optional = split_optional(tp)
        return _enum_hook(cast("type[StrEnum]", enum_of(inner)), optional)

    conv.register_structure_hook_factory(is_enum_union, enum_union_hook)

    def is_simple_optional(tp: Any) -> bool:
        inner, optional = split_optional(tp)
        return optional and enum_of(inner) is None

    def optional_hook(tp: Any) -> Hook:
        inner_type = split_optional(tp)[0]
        inner = conv.get_structure_hook(inner_type)

        def structure(value: Any, _: Any) -> Any:
            return None if value is None else inner(value, inner_type)

        return structure

    conv.register_structure_hook_factory(is_simple_optional, optional_hook)

    def array_hook(tp: Any) -> Hook:
        # cattrs' own tuple hook takes any iterable: a {} where links belong became (), and
        # a string where an array of strings belongs became a tuple of its characters.
        element = get_args(tp)[0]
        return _array_hook(element, conv.get_structure_hook(element))

    conv.register_structure_hook_factory(is_array, array_hook)

    def class_hook(cls: Any) -> Hook:
        hooks = {}
        if get_origin(cls) is Listing:  # its items are a tuple[T, ...]: say which T
            hooks["items"] = conv.get_structure_hook(_tuple_of(get_args(cls)[0]))
        return _object_hook(cls, conv, hooks)

    conv.register_structure_hook_factory(is_model, class_hook)
    return conv


def _object_hook(cls: Any, conv: cattrs.Converter, hooks: dict[str, Hook] | None = None) -> Hook:
    """cattrs' generated hook of the model class ``cls``, each field read from its JSON key
    (:func:`~trakk_async._models.shapes.json_keys`; the other fields keep their default);
    ``hooks`` replace the hooks of some fields."""
    from cattrs.gen import make_dict_structure_fn, override

    hooks = hooks or {}
    keys = json_keys(cls)
    overrides = {
        field.name: (
            override(rename=keys[field.name], struct_hook=hooks.get(field.name))
            if field.name in keys
            else override(omit=True)
        )
        for field in attrs.fields(get_origin(cls) or cls)
    }
    generated = make_dict_structure_fn(
        cls,
        conv,
        _cattrs_forbid_extra_keys=False,
        _cattrs_detailed_validation=False,
        **overrides,  # type: ignore[arg-type]
    )
    name = (get_origin(cls) or cls).__name__

    def structure(value: Any, _: Any = None) -> Any:
        # The generated code only asks `key in value` and `value[key]`: a list or a string
        # would pass for an object whose fields are all optional, read as all defaults. It
        # raises instead, so that the tolerant reader decides (PHP sends [] for {}).
        if value.__class__ is not dict:
            raise _wrong(value, f"a {name} object")
        return generated(value, cls)

    return structure


def _tuple_of(element: Any) -> Any:
    return tuple[element, ...]


def _array_hook(element_type: Any, element: Hook) -> Hook:
    def structure(value: Any, _: Any) -> tuple[Any, ...]:
        if value.__class__ is not list:
            raise _wrong(value, "an array")
        return tuple([element(v, element_type) for v in value])

    return structure


@cache
def _converter() -> cattrs.Converter:
    """The converter, built (and cattrs imported) on the first structuring: an import of
    trakk_async that never structures anything (``trakk --help``) skips both."""
    return _build()


def _hook(tp: Any) -> Hook:
    """The converter's hook of ``tp`` (cattrs generates it once and caches it)."""
    return _converter().get_structure_hook(tp)


_READERS: Final = Readers(_hook)


def _object(body: Any, what: str, where: str = "$") -> dict[str, Any]:
    if body.__class__ is not dict:
        raise ResponseShapeError(f"{where}: expected {what} object, got {json_type(body)}")
    return body


def _structure(
    value: Any,
    tp: type[T],
    where: str,
    deviations: Deviations,
    endpoint: str,
    reader: Reader | None = None,
) -> T:
    """``value`` as ``tp``: its fast hook, else its tolerant reader (or ``reader``)."""
    try:
        result: T = _hook(tp)(value, tp)
        return result
    except SHAPE_ERRORS:
        pass
    if reader is None:
        reader = _READERS.of_class(tp)
    return cast("T", read_root(value, reader, where, Reading(deviations, endpoint)))


def _with_cache_time(result: T, body: dict[str, Any], deviations: Deviations, endpoint: str) -> T:
    """``result`` carrying the envelope's ``cache_refreshed_at`` (it takes no part in equality)."""
    raw = body.get("cache_refreshed_at")
    if raw is None:
        return result
    try:
        time = _datetime(raw)
    except SHAPE_ERRORS:
        model = type(result).__name__
        reading = Reading(deviations, endpoint)
        path = "$.cache_refreshed_at"
        time = _READERS.optional(raw, datetime | None, model, "cache_refreshed_at", path, reading)
        if time is None:
            return result
    return attrs.evolve(result, cache_refreshed_at=time)  # type: ignore[misc]


def structure_me(body: Any, deviations: Deviations, endpoint: str) -> Me:
    """``GET /me``: a bare object."""
    return _structure(body, Me, "$", deviations, endpoint)


def structure_single(body: Any, deviations: Deviations, endpoint: str, *, cls: type[T]) -> T:
    """``{"data": {...}, "cache_refreshed_at"?}`` into one ``cls``."""
    envelope = _object(body, "a response")
    data = _object(response_data(envelope), "a 'data'", "$.data")
    result = _structure(data, cls, "$.data", deviations, endpoint)
    if "cache_refreshed_at" in attrs.fields_dict(cls):  # type: ignore[arg-type]
        result = _with_cache_time(result, envelope, deviations, endpoint)
    return result


@lru_cache(maxsize=32)
def _listing_readers(cls: Any) -> tuple[Any, Reader]:
    listing = Listing[cls]
    items = (_hook(_tuple_of(cls)), _READERS.array_of(cls, "Listing", "items"))
    return listing, _READERS.of_class(listing, {"items": items})


def structure_listing(
    body: Any, deviations: Deviations, endpoint: str, *, cls: type[T]
) -> Listing[T]:
    """``{"data": [...], "cache_refreshed_at"?}`` into a :class:`Listing` of ``cls``.

    An item whose identity is broken raises; any other deviation stays in its item.
    """
    listing, reader = _listing_readers(cast(Any, cls))
    result: Listing[T] = _structure(body, listing, "$", deviations, endpoint, reader)
    return result


@cache
def _page_reader() -> Reader:
    items = (_hook(tuple[ProjectSummary, ...]), _READERS.array_of(ProjectSummary, "Page", "items"))
    return _READERS.of_class(Page, {"items": items})


def structure_page(body: Any, deviations: Deviations, endpoint: str) -> Page:
    """One page of ``/projects`` with its ``meta`` and ``links`` (each may be missing)."""
    return _structure(body, Page, "$", deviations, endpoint, _page_reader())


# -- content: the shape of each keyword's content depends on the report's scheme ---------


def _unknown(scheme: str | None) -> tuple[Hook, Reader]:
    """Content of a scheme the SDK does not know: kept as sent, whatever its shape."""

    def fast(value: Any, _: Any) -> Any:
        return None if value is None else UnknownContent(scheme=scheme, raw=value)

    def read(value: Any, path: str, reading: Reading) -> Any:
        return fast(value, None)

    return fast, read


def _variants(cls: type[Any], is_array: bool, field: str) -> tuple[Hook, Reader]:
    """Fast hook and tolerant reader of a keyword's ``content`` or ``html`` for one scheme."""
    tp = _tuple_of(cls) if is_array else cls
    hook, reader, _ = _READERS.parts(tp | None, "KeywordContent", field)
    return hook, reader


@lru_cache(maxsize=64)  # bounded: a server could send any number of unknown scheme names
def _content_readers(scheme: str | None) -> tuple[Hook, Reader]:
    """The fast hook and tolerant reader of a ``ReportContent`` of ``scheme``."""
    shape = SCHEMES.get(scheme) if scheme is not None else None
    if shape is None:
        content = html = _unknown(scheme)
    else:
        content = _variants(shape.content, shape.content_is_array, "content")
        html = _variants(shape.html, shape.html_is_array, "html")
    conv = _converter()
    keyword_hook = _object_hook(KeywordContent, conv, {"content": content[0], "html": html[0]})
    keyword_reader = _READERS.of_class(KeywordContent, {"content": content, "html": html})
    keywords_hook = _array_hook(KeywordContent, keyword_hook)
    keywords_reader = _READERS.array_of(
        KeywordContent, "ReportContent", "keywords", (keyword_hook, keyword_reader)
    )
    hook = _object_hook(ReportContent, conv, {"keywords": keywords_hook})
    reader = _READERS.of_class(ReportContent, {"keywords": (keywords_hook, keywords_reader)})
    return hook, reader


def structure_report_content(body: Any, deviations: Deviations, endpoint: str) -> ReportContent:
    """``/reports/{n}/content``: accepted wrapped in ``data`` or bare.

    Each keyword's content is shaped by the payload's ``content_scheme`` (see
    :data:`trakk_async._models.content.SCHEMES`); an unknown scheme keeps the raw JSON.
    """
    envelope = _object(body, "a response")
    data = response_data(envelope, bare=True)
    wrapped = data is envelope.get("data")
    scheme = data.get("content_scheme")
    hook, reader = _content_readers(scheme if scheme.__class__ is str else None)
    where = "$.data" if wrapped else "$"
    try:
        result: ReportContent = hook(data, ReportContent)
    except SHAPE_ERRORS:
        result = read_root(data, reader, where, Reading(deviations, endpoint))
    return _with_cache_time(result, envelope, deviations, endpoint)
