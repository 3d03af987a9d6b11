"""How the model classes are read: their JSON keys, optional and enum annotations, dates.

Shared by the fast hooks (``converter``) and the tolerant reader, so that
each of these rules is written once.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

import attrs

from trakk_async._models.objects import Listing, Page

__all__ = [
    "enum_of",
    "has_required",
    "is_array",
    "is_model",
    "json_keys",
    "parse_date",
    "split_optional",
]


def parse_date(value: Any, _: Any = None) -> date:
    """A JSON date (``2026-02-20``; a full timestamp gives its date); also a fast hook."""
    if value.__class__ is str and len(value) > 10:
        return datetime.fromisoformat(value).date()
    return date.fromisoformat(value)


def split_optional(tp: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; any other type -> ``(type, False)``."""
    if get_origin(tp) in (Union, UnionType):
        args = get_args(tp)
        if NoneType in args:
            rest = tuple(a for a in args if a is not NoneType)
            return (rest[0] if len(rest) == 1 else Union[rest]), True  # noqa: UP007
    return tp, False


def enum_of(tp: Any) -> type[StrEnum] | None:
    """The enum of an ``SomeEnum | str`` annotation (how unknown values stay strings)."""
    if get_origin(tp) in (Union, UnionType):
        args = get_args(tp)
        enums = [a for a in args if isinstance(a, type) and issubclass(a, StrEnum)]
        if len(enums) == 1 and set(args) == {enums[0], str}:
            return enums[0]
    return None


def is_array(tp: Any) -> bool:
    """Whether ``tp`` is ``tuple[X, ...]``, how the model classes type a JSON array."""
    return get_origin(tp) is tuple and get_args(tp)[1:] == (...,)


def is_model(tp: Any) -> bool:
    """Whether ``tp`` is one of the attrs model classes (``Listing[Report]`` included)."""
    return attrs.has(get_origin(tp) or tp)


def json_keys(cls: Any) -> dict[str, str]:
    """Each field's JSON key, for the fields read from the object itself.

    ``from_`` is read from ``from``; a :class:`Page`'s or :class:`Listing`'s ``items`` from
    ``data``; ``cache_refreshed_at`` of a single resource sits beside ``data`` in the envelope,
    so it is not read from the object (the converter sets it).
    """
    origin = get_origin(cls) or cls
    envelope = origin in (Page, Listing)
    keys: dict[str, str] = {}
    for field in attrs.fields(origin):
        if field.name == "cache_refreshed_at" and not envelope:
            continue
        keys[field.name] = "data" if envelope and field.name == "items" else field.name.rstrip("_")
    return keys


def has_required(cls: Any) -> bool:
    """Whether ``cls`` has a required field (one without a default): its identity."""
    return any(f.default is attrs.NOTHING for f in attrs.fields(get_origin(cls) or cls))
