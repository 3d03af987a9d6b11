"""Generated structuring functions for frozen, slotted attrs classes (the converter's hot path).

A frozen attrs ``__init__`` takes keyword arguments and sets each slot through
``object.__setattr__``: for a 9-field project that is about half of the cost of
structuring it. The function generated here for a class checks each field of the decoded
JSON object inline (exact ``str``/``int``/``bool`` classes, ``None`` only where the field is
Optional, enum strings by dict lookup), then creates the instance with ``object.__new__``
and fills its slots through their descriptors: the result is the same frozen instance
``__init__`` would build, at a fraction of the cost. The classes have no validators,
converters or ``__attrs_post_init__`` (asserted when a function is generated).

Types it does not handle inline are delegated to ``fallback(type)``, a hook from the
cattrs converter. A value that is not of the documented shape raises
``ValueError``/``TypeError``/``KeyError``: the converter then reads that object again with
:mod:`trakk_async._models.tolerant`. Why this generator rather than cattrs' own generated
hooks: benchmarks/README.md, section 1.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Final, get_args, get_origin, get_type_hints

import attrs

from trakk_async._models.shapes import enum_of, parse_date, split_optional

__all__ = ["make_structure_fn"]

Hook = Callable[[Any, Any], Any]

_MISSING: Final = object()
_counter = itertools.count()


class _Given:
    """A field whose hook is given (``hooks=``): called as is, None included."""

    def __init__(self, hook: Hook) -> None:
        self.hook = hook


def _expected(name: str, expected: str) -> Callable[[Any], ValueError]:
    def error(value: Any) -> ValueError:
        return ValueError(f"{name}: expected {expected}, got {type(value).__name__}")

    return error


def make_structure_fn(
    cls: Any,
    fallback: Callable[[Any], Hook],
    *,
    keys: dict[str, str],
    hooks: dict[str, Hook] | None = None,
) -> Hook:
    """A ``hook(obj, cls)`` that structures a JSON object into ``cls`` (see module doc).

    ``keys`` maps each field read from the object to its JSON key (the other fields keep
    their default); ``hooks`` replace the hooks of some fields.
    """
    origin = get_origin(cls) or cls
    if getattr(origin, "__attrs_post_init__", None) is not None:
        raise TypeError(f"{origin.__name__} has __attrs_post_init__; use cattrs' own hook")
    hints = get_type_hints(origin)
    hooks = hooks or {}
    names: dict[str, Any] = {"_new": object.__new__, "_cls": origin, "_MISSING": _MISSING}
    lines = [
        "def structure(o, _=None):",
        "    if o.__class__ is not dict:",
        "        raise _not_object(o)",
        "    self = _new(_cls)",
    ]
    names["_not_object"] = _expected(origin.__name__, "an object")
    for field in attrs.fields(origin):
        if field.validator is not None or field.converter is not None or not field.init:
            raise TypeError(f"{origin.__name__}.{field.name}: unsupported attrs field options")
        name = field.name
        setter = f"_set_{name}"
        names[setter] = getattr(origin, name).__set__
        if name not in keys:
            if field.default is attrs.NOTHING or isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
                raise TypeError(f"{origin.__name__}.{name}: left out but has no plain default")
            names[f"_default_{name}"] = field.default
            lines.append(f"    {setter}(self, _default_{name})")
            continue
        key = keys[name]
        tp, optional = split_optional(hints[name])
        if name in hooks:
            tp, optional = _Given(hooks[name]), False
        err = f"_err_{name}"
        if field.default is attrs.NOTHING:
            lines.append(f"    v = o[{key!r}]")
        elif field.default is None and optional:
            # Missing reads as null, which is the default: one lookup, one check.
            lines.append(f"    v = o.get({key!r})")
        else:
            default = f"_default_{name}"
            names[default] = field.default
            lines.append(f"    v = o.get({key!r}, _MISSING)")
            lines.append("    if v is _MISSING:")
            lines.append(f"        v = {default}")
            lines.append("    else:")
            lines.extend(
                "    " + line for line in _convert(tp, optional, name, err, names, fallback)
            )
            lines.append(f"    {setter}(self, v)")
            continue
        lines.extend(_convert(tp, optional, name, err, names, fallback))
        lines.append(f"    {setter}(self, v)")
    lines.append("    return self")
    # Everything the function uses is a closure variable (LOAD_DEREF), not a global lookup.
    source = "\n".join(
        [
            f"def _make({', '.join(names)}):",
            *("    " + line for line in lines),
            "    return structure",
        ]
    )
    filename = f"<trakk_async structure {origin.__name__} #{next(_counter)}>"
    namespace: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), namespace)
    function: Hook = namespace["_make"](**names)
    function.__qualname__ = function.__name__ = f"structure_{origin.__name__}"
    return function


def _convert(
    tp: Any,
    optional: bool,
    name: str,
    err: str,
    names: dict[str, Any],
    fallback: Callable[[Any], Hook],
) -> list[str]:
    """Lines that turn ``v`` (the raw value) into the field's value, or raise."""
    body: list[str]
    enum = enum_of(tp)
    if isinstance(tp, _Given):
        hook = f"_hook_{name}"
        names[hook] = tp.hook
        body = [f"v = {hook}(v, None)"]
    elif tp in (str, int, bool):
        names[err] = _expected(name, f"{'null or ' if optional else ''}{tp.__name__}")
        body = [f"if v.__class__ is not {tp.__name__}:", f"    raise {err}(v)"]
    elif enum is not None:
        table = f"_enum_{name}"
        names[table] = {member.value: member for member in enum}
        names[err] = _expected(name, f"a {enum.__name__} string")
        body = [
            f"m = {table}.get(v)",
            "if m is not None:",
            "    v = m",
            "elif v.__class__ is not str:",
            f"    raise {err}(v)",
        ]
    elif get_origin(tp) is tuple and get_args(tp) in ((str, ...), (int, ...)):
        # An array of strings (or ints): checked in one loop, no call per element.
        item = get_args(tp)[0].__name__
        names[err] = _expected(name, f"{'null or ' if optional else ''}an array of {item}s")
        body = [
            "if v.__class__ is not list:",
            f"    raise {err}(v)",
            "for x in v:",
            f"    if x.__class__ is not {item}:",
            f"        raise {err}(x)",
            "v = tuple(v)",
        ]
    elif tp is datetime:
        names["_datetime"] = datetime.fromisoformat
        body = ["v = _datetime(v)"]
    elif tp is date:
        names["_date_of"] = parse_date
        body = ["v = _date_of(v)"]
    else:
        hook = f"_hook_{name}"
        type_name = f"_type_{name}"
        names[hook] = fallback(tp)
        names[type_name] = tp
        body = [f"v = {hook}(v, {type_name})"]
    if optional:
        return ["    if v is not None:", *("        " + line for line in body)]
    return ["    " + line for line in body]
