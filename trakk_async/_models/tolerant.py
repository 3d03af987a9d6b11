"""Reading what the fast hooks refused: field by field, from the model classes, with JSON paths.

The converter structures every piece of a body with the cattrs hooks first; they accept the
documented shapes exactly. Only a piece they refuse (one project of a page, one keyword of a
report's content, one variant of a keyword) is read again here, following the policy written
in :mod:`trakk_async._models.objects` (required = a field without a default):

* a required field that is missing, null or unreadable raises :class:`ResponseShapeError`
  naming its path (``$.data[3].id: required field missing``);
* an optional field that is missing or null, ``""`` for a date or date-time, or ``[]`` for an
  object, gets its default; ``10.0`` for an int is read as ``10``; any other value that cannot
  be read as the field's type gets its default and is recorded as a deviation;
* an array element that cannot be read is left out and recorded, unless its class has
  required fields (a project, report, keyword, user, content keyword): an item without its
  identity raises.

Each nested value is tried with its fast hook first, so one bad field costs the re-reading of
its own object only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final, get_args, get_origin, get_type_hints

import attrs

from trakk_async._models.deviations import Reading, ResponseShapeError, json_type
from trakk_async._models.shapes import (
    enum_of,
    has_required,
    is_array,
    is_model,
    json_keys,
    parse_date,
    split_optional,
)

__all__ = ["SHAPE_ERRORS", "Hook", "Reader", "Readers", "read_root"]

Hook = Callable[[Any, Any], Any]
"""A fast hook: ``hook(value, type)`` returns the structured value or raises."""

Reader = Callable[[Any, str, Reading], Any]
"""A tolerant reader: ``read(value, path, reading)`` for a value that is not None; returns the
structured value or ``_ABSENT``, or raises ``_Unreadable`` (or ResponseShapeError)."""

#: What a fast hook raises on a value it does not accept.
SHAPE_ERRORS: Final = (KeyError, TypeError, ValueError, AttributeError, IndexError)

_MISSING: Final = object()
_ABSENT: Final = object()  # a value that means "nothing here": "" for a date, [] for an object
_DEFAULT: Final = object()  # the field keeps its default


class _Unreadable(Exception):
    """The value cannot be read as the type; ``expected`` says what it should have been."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def read_root(value: Any, reader: Reader, path: str, reading: Reading) -> Any:
    """Read a value that must be there (a body, its ``data``), or raise with ``path``."""
    try:
        got = reader(value, path, reading)
    except _Unreadable as exc:
        raise ResponseShapeError(
            f"{path}: expected {exc.expected}, got {json_type(value)}"
        ) from None
    if got is _ABSENT:
        raise ResponseShapeError(f"{path}: expected an object, got an empty {json_type(value)}")
    return got


# -- scalar readers (never given None: the field logic handles null) --------------------


def _read_int(value: Any, path: str, reading: Reading) -> Any:
    if value.__class__ is int:
        return value
    if value.__class__ is float and value.is_integer():
        return int(value)
    raise _Unreadable("an integer")


def _read_str(value: Any, path: str, reading: Reading) -> Any:
    if value.__class__ is str:
        return value
    raise _Unreadable("a string")


def _read_bool(value: Any, path: str, reading: Reading) -> Any:
    if value.__class__ is bool:
        return value
    raise _Unreadable("a boolean")


def _time_reader(parse: Callable[[str], Any], expected: str) -> Reader:
    def read(value: Any, path: str, reading: Reading) -> Any:
        if value.__class__ is str:
            if not value.strip():
                return _ABSENT
            try:
                return parse(value)
            except ValueError:
                pass
        raise _Unreadable(expected)

    return read


def _enum_reader(enum: type[StrEnum]) -> Reader:
    known = {member.value: member for member in enum}

    def read(value: Any, path: str, reading: Reading) -> Any:
        if value.__class__ is str:
            return known.get(value, value)  # a value the SDK does not know stays a str
        raise _Unreadable(f"a {enum.__name__} string")

    return read


def _as_is(value: Any, path: str, reading: Reading) -> Any:
    return value


_SCALARS: Final[dict[Any, tuple[Reader, str]]] = {
    int: (_read_int, "an integer"),
    str: (_read_str, "a string"),
    bool: (_read_bool, "a boolean"),
    date: (_time_reader(parse_date, "a date"), "a date"),
    datetime: (_time_reader(datetime.fromisoformat, "a date-time"), "a date-time"),
}


# -- fields, objects, arrays ------------------------------------------------------------


class _Field:
    """How to read one field of a model class."""

    __slots__ = ("expected", "fast", "key", "model", "name", "read", "required", "type")

    def __init__(
        self,
        *,
        name: str,
        key: str,
        model: str,
        required: bool,
        type: Any,
        fast: Hook,
        read: Reader,
        expected: str,
    ) -> None:
        self.name = name
        self.key = key
        self.model = model
        self.required = required
        self.type = type
        # An array reader tries the fast hook on each element itself: trying it on the
        # whole array first would only repeat the work that already failed.
        self.fast = None if isinstance(read, _ArrayReader) else fast
        self.read = read
        self.expected = expected

    def value(self, raw: Any, path: str, reading: Reading) -> Any:
        """The field's value from ``raw`` (``_MISSING`` when the key is absent), or
        ``_DEFAULT``; ``path`` is the field's own JSON path."""
        if raw is _MISSING or raw is None:
            if self.required:
                state = "missing" if raw is _MISSING else "null"
                raise ResponseShapeError(f"{path}: required field is {state}")
            return _DEFAULT
        if self.fast is not None:
            try:
                return self.fast(raw, self.type)
            except SHAPE_ERRORS:
                pass
        try:
            got = self.read(raw, path, reading)
        except _Unreadable as exc:
            if self.required:
                raise ResponseShapeError(
                    f"{path}: expected {exc.expected}, got {json_type(raw)}"
                ) from None
            reading.deviation(self.model, self.name, path, exc.expected, raw, "read as None")
            return _DEFAULT
        if got is _ABSENT:
            if self.required:
                raise ResponseShapeError(
                    f"{path}: expected {self.expected}, got an empty {json_type(raw)}"
                )
            return _DEFAULT
        return got


def _object_reader(cls: Any, fields: list[_Field]) -> Reader:
    def read(value: Any, path: str, reading: Reading) -> Any:
        if value.__class__ is not dict:
            if value.__class__ is list and not value:
                return _ABSENT  # PHP's [] for an empty object
            raise _Unreadable("an object")
        kwargs: dict[str, Any] = {}
        for field in fields:
            got = field.value(value.get(field.key, _MISSING), f"{path}.{field.key}", reading)
            if got is not _DEFAULT:
                kwargs[field.name] = got
        return cls(**kwargs)

    return read


class _ArrayReader:
    """Reads an array element by element, each with its fast hook first.

    An element that cannot be read is left out and recorded, unless its class has required
    fields: then the call raises.
    """

    __slots__ = ("element", "expected", "fast", "field", "identity", "model", "read")

    def __init__(
        self, element: Any, fast: Hook, read: Reader, expected: str, model: str, field: str
    ) -> None:
        self.element = element
        self.fast = fast
        self.read = read
        self.expected = expected
        self.model = model
        self.field = field
        self.identity = is_model(element) and has_required(element)

    def __call__(self, value: Any, path: str, reading: Reading) -> Any:
        if value.__class__ is not list:
            raise _Unreadable("an array")
        out: list[Any] = []
        for index, item in enumerate(value):
            if item is not None:
                try:
                    out.append(self.fast(item, self.element))
                    continue
                except SHAPE_ERRORS:
                    pass
            here = f"{path}[{index}]"
            what = self.expected
            try:
                got = _ABSENT if item is None else self.read(item, here, reading)
            except _Unreadable as exc:
                got, what = _ABSENT, exc.expected
            if got is not _ABSENT:
                out.append(got)
            elif self.identity:
                raise ResponseShapeError(f"{here}: expected {what}, got {json_type(item)}")
            else:
                reading.deviation(self.model, self.field, here, what, item, "left out of the array")
        return tuple(out)


class Readers:
    """The tolerant readers of the model classes, built on first use around the fast hooks.

    ``hook_for(type)`` gives the converter's fast hook of a type; ``overrides`` replace how
    some fields are read (a keyword's content depends on its report's scheme).
    """

    def __init__(self, hook_for: Callable[[Any], Hook]) -> None:
        self._hook_for = hook_for
        self._classes: dict[Any, Reader] = {}

    def of_class(
        self, cls: Any, overrides: Mapping[str, tuple[Hook, Reader]] | None = None
    ) -> Reader:
        """The reader of an attrs class (cached unless ``overrides`` are given)."""
        if overrides is None and cls in self._classes:
            return self._classes[cls]
        origin = get_origin(cls) or cls
        hints = get_type_hints(origin)
        required = {f.name for f in attrs.fields(origin) if f.default is attrs.NOTHING}
        fields: list[_Field] = []
        for name, key in json_keys(cls).items():
            tp = hints[name]
            if overrides and name in overrides:
                fast, read = overrides[name]
                expected = "a value"
            else:
                fast, read, expected = self.parts(tp, origin.__name__, name)
            fields.append(
                _Field(
                    name=name,
                    key=key,
                    model=origin.__name__,
                    required=name in required,
                    type=tp,
                    fast=fast,
                    read=read,
                    expected=expected,
                )
            )
        reader = _object_reader(cls, fields)
        if overrides is None:
            self._classes[cls] = reader
        return reader

    def array_of(
        self,
        element: Any,
        model: str,
        field: str,
        element_parts: tuple[Hook, Reader] | None = None,
    ) -> Reader:
        """The reader of an array of ``element`` held by ``model.field``; ``element_parts``
        replaces the element's own fast hook and reader."""
        if element_parts is None:
            fast, read, expected = self.parts(element, model, field)
        else:
            (fast, read), expected = element_parts, "an object"
        return _ArrayReader(element, fast, read, expected, model, field)

    def parts(self, tp: Any, model: str, field: str) -> tuple[Hook, Reader, str]:
        """The fast hook, the tolerant reader and a description of a value of type ``tp``."""
        inner = split_optional(tp)[0]
        enum = enum_of(inner)
        if inner in _SCALARS:
            read, expected = _SCALARS[inner]
        elif enum is not None:
            read, expected = _enum_reader(enum), f"a {enum.__name__} string"
        elif is_array(inner):
            read, expected = self.array_of(get_args(inner)[0], model, field), "an array"
        elif is_model(inner):
            read, expected = self.of_class(inner), "an object"
        elif inner is Any:
            read, expected = _as_is, "a value"
        else:
            raise TypeError(f"{model}.{field}: no tolerant reader for {tp!r}")
        return self._hook_for(tp), read, expected

    def optional(
        self, raw: Any, tp: Any, model: str, field: str, path: str, reading: Reading
    ) -> Any:
        """``raw`` read as the optional field ``model.field`` of type ``tp`` (None when it
        cannot be, recorded as a deviation)."""
        fast, read, expected = self.parts(tp, model, field)
        spec = _Field(
            name=field,
            key=field,
            model=model,
            required=False,
            type=tp,
            fast=fast,
            read=read,
            expected=expected,
        )
        got = spec.value(raw, path, reading)
        return None if got is _DEFAULT else got
