"""Calling the converter as the client does, and the documented variations of every response.

:func:`spots` walks a sample body alongside the model classes and lists every place a value
sits (fields and array elements), with what the policy says about it; :func:`variations`
gives the values a server may put there instead, each with the outcome the SDK owes.
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import partial
from types import NoneType, UnionType
from typing import Any, Final, Literal

import attrs

from tests import samples
from trakk_async._models import converter as conv
from trakk_async._models.content import SCHEMES
from trakk_async._models.deviations import Deviations
from trakk_async._models.objects import (
    Country,
    Keyword,
    KeywordContent,
    Language,
    Listing,
    Me,
    Page,
    Project,
    ProjectSummary,
    Report,
    ReportContent,
    User,
)

#: Arguments after the body for a response that must match the documented shapes exactly:
#: strict deviations (every deviation raises; nothing is ever recorded, so one instance is
#: shared) and a request path. ``conv.structure_page(body, *TIDY)``.
TIDY: Final = (Deviations(strict=True), "/test")


def tolerant() -> tuple[Deviations, str]:
    """Arguments for the default (tolerant) mode: a fresh counter, as a new client has."""
    return Deviations(), "/test"


Structure = Callable[[Any, Deviations, str], Any]

#: Each sample's structure function, its model and where that model sits in the body.
ENDPOINTS: Final[dict[str, tuple[Structure, Any, str | None]]] = {
    "me": (conv.structure_me, Me, None),
    "projects_page": (conv.structure_page, Page, None),
    "project_detail": (partial(conv.structure_single, cls=Project), Project, "data"),
    "reports": (partial(conv.structure_listing, cls=Report), Listing[Report], None),
    "report_latest": (partial(conv.structure_single, cls=Report), Report, "data"),
    "keywords": (partial(conv.structure_listing, cls=Keyword), Listing[Keyword], None),
    "countries": (partial(conv.structure_listing, cls=Country), Listing[Country], None),
    "languages": (partial(conv.structure_listing, cls=Language), Listing[Language], None),
    "users": (partial(conv.structure_listing, cls=User), Listing[User], None),
    **{
        f"content_{s}": (conv.structure_report_content, ReportContent, "data")
        for s in samples.CONTENT_VARIANTS
    },
}

Path = tuple[str | int, ...]
Kind = Literal["int", "str", "bool", "date", "datetime", "enum", "object", "array", "scheme"]


@dataclass(frozen=True)
class Spot:
    """A place in a body: a field of ``model`` (or an element of its array ``field``)."""

    path: Path
    model: str
    field: str
    required: bool  # breaking it must raise
    kind: Kind
    element: bool
    default: Any = None  # the field's default (for an element: its array field's)

    @property
    def key(self) -> str:
        """The deviation counter's key."""
        return f"{self.model}.{self.field}"


def _kind(tp: Any) -> Kind:
    if tp is int:
        return "int"
    if tp is str:
        return "str"
    if tp is bool:
        return "bool"
    if tp is date:
        return "date"
    if tp is datetime:
        return "datetime"
    if typing.get_origin(tp) is tuple:
        return "array"
    if attrs.has(typing.get_origin(tp) or tp):
        return "object"
    args = typing.get_args(tp)
    if any(isinstance(a, type) and issubclass(a, StrEnum) for a in args):
        return "enum"
    raise TypeError(tp)


def _inner(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, UnionType):
        rest = tuple(a for a in typing.get_args(tp) if a is not NoneType)
        if len(rest) == 1:
            return rest[0]
        # An enum union (ProjectStatus | str): keep the union without None.
        return typing.Union[rest]  # noqa: UP007
    return tp


def _required(cls: Any) -> set[str]:
    return {f.name for f in attrs.fields(cls) if f.default is attrs.NOTHING}


def _walk(cls: Any, node: dict[str, Any], path: Path, scheme: str | None) -> Iterator[Spot]:
    origin = typing.get_origin(cls) or cls
    envelope = origin in (Page, Listing)
    hints = typing.get_type_hints(origin)
    for field in attrs.fields(origin):
        name = field.name
        if name == "cache_refreshed_at" and not envelope:
            continue  # beside "data", see spots()
        key = "data" if envelope and name == "items" else name.rstrip("_")
        if key not in node:
            continue
        tp = _inner(hints[name])
        if envelope and name == "items":
            element = ProjectSummary if origin is Page else typing.get_args(cls)[0]
            tp = tuple[element, ...]  # type: ignore[valid-type]
        if origin is KeywordContent and name in ("content", "html"):
            shape = SCHEMES.get(scheme) if isinstance(scheme, str) else None
            if shape is None:
                continue  # UnknownContent: whatever the server sends is kept
            variant = shape.content if name == "content" else shape.html
            is_array = shape.content_is_array if name == "content" else shape.html_is_array
            tp = tuple[variant, ...] if is_array else variant  # type: ignore[valid-type]
        kind: Kind = "scheme" if name == "content_scheme" else _kind(tp)
        here = (*path, key)
        default = field.default
        yield Spot(here, origin.__name__, name, name in _required(origin), kind, False, default)
        value = node[key]
        if kind == "object" and isinstance(value, dict):
            yield from _walk(tp, value, here, scheme)
        elif kind == "array" and isinstance(value, list):
            element = typing.get_args(tp)[0]
            element_kind = _kind(element)
            identity = element_kind == "object" and bool(_required(element))
            for index, item in enumerate(value):
                at = (*here, index)
                yield Spot(at, origin.__name__, name, identity, element_kind, True, default)
                if element_kind == "object" and isinstance(item, dict):
                    yield from _walk(element, item, at, scheme)


def spots(name: str, body: Any) -> list[Spot]:
    """Every place a value sits in ``body``, a response of sample ``name``'s endpoint."""
    _, model, wrapper = ENDPOINTS[name]
    if wrapper is None:
        return list(_walk(model, body, (), None))
    data = body[wrapper]
    scheme = data.get("content_scheme")
    found = list(_walk(model, data, (wrapper,), scheme))
    if "cache_refreshed_at" in body:
        name = model.__name__
        found.append(
            Spot(("cache_refreshed_at",), name, "cache_refreshed_at", False, "datetime", False)
        )
    return found


DELETE: Final = object()
"""A variation: the key is left out."""

Outcome = Literal["same", "default", "deviation", "raise"]


def variations(spot: Spot, value: Any) -> list[tuple[Any, Outcome]]:
    """Values a server might send at ``spot`` instead of ``value``, each with what the SDK
    owes: ``"same"`` (read as the natural value), ``"default"`` (None, ``()``),
    ``"deviation"`` (default and one count; strict raises) or ``"raise"``."""
    if spot.kind == "scheme":
        return []  # changing it changes every keyword's shape: tested on its own
    legal: list[tuple[Any, Outcome]] = []
    if spot.kind == "int" and isinstance(value, int):
        legal.append((float(value), "same"))
    if spot.kind == "enum":
        legal.append(("a-value-added-later", "same"))
    if spot.kind == "str":
        legal.append(("", "same"))
    unreadable: list[Any] = {
        "int": ["7", True, 1.5, {}],
        "str": [7, True, {"a": 1}, ["x"]],
        "bool": ["true", 1, {}],
        "date": ["someday", 20260220, {}],
        "datetime": ["yesterday", 1774872000, []],
        "enum": [5, {}, True],
        "object": ["x", 7, [1]],
        "array": ["x", {"a": 1}, 7],
    }[spot.kind]
    if spot.element:
        broken: Outcome = "raise" if spot.required else "deviation"
        return [*legal, (None, broken), *((v, broken) for v in unreadable)]
    if spot.required:
        return [*legal, (None, "raise"), (DELETE, "raise"), *((v, "raise") for v in unreadable)]
    empty: list[tuple[Any, Outcome]] = [(None, "default"), (DELETE, "default")]
    if spot.kind in ("date", "datetime"):
        empty.append(("", "default"))
    if spot.kind == "object":
        empty.append(([], "default"))
    if spot.kind == "array":
        empty.append(([], "default"))
    return [*legal, *empty, *((v, "deviation") for v in unreadable)]


def replaced(body: Any, path: Path, value: Any) -> Any:
    """A deep copy of ``body`` with the value at ``path`` replaced (or deleted)."""
    body = copy.deepcopy(body)
    node = body
    for step in path[:-1]:
        node = node[step]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return body


def value_at(result: Any, path: Path, wrapper: str | None) -> Any:
    """The structured value at a JSON ``path`` of the body ``result`` was read from."""
    steps = path[1:] if wrapper is not None and path[:1] == (wrapper,) else path
    node = result
    for step in steps:
        if isinstance(step, int):
            node = node[step]
        elif isinstance(node, Page | Listing) and step == "data":
            node = node.items
        else:
            node = getattr(node, "from_" if step == "from" else step)
    return node


def load(name: str) -> Any:
    """A fresh copy of sample ``name``."""
    return samples.load(name)


def json_path(path: Path) -> str:
    """``("data", 3, "cc_email")`` as the SDK writes it: ``$.data[3].cc_email``."""
    return "$" + "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)


def expected_default(spot: Spot, sent: Any) -> Any:
    """What a field reads as when ``sent`` means "nothing" (or cannot be read)."""
    if spot.kind == "array" and sent == []:
        return ()
    return spot.default


def minimal(name: str) -> Any:
    """Sample ``name`` with every optional field left out (the scheme of content stays)."""
    body = load(name)
    removed: list[Spot] = []
    for spot in spots(name, body):
        if spot.required or spot.element or spot.kind == "scheme":
            continue
        if any(spot.path[: len(r.path)] == r.path for r in removed):
            continue
        body = replaced(body, spot.path, DELETE)
        removed.append(spot)
    return body
