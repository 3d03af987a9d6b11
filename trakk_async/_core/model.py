"""The base class of the frozen attrs value classes: what every one shares, written once."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["Model"]

_KEYS: dict[type[Any], Callable[[Any], Any]] = {}


def _key(cls: type[Any]) -> Callable[[Any], Any]:
    """A function giving the values of ``cls``'s fields that take part in equality."""
    key = _KEYS.get(cls)
    if key is None:
        names = [field.name for field in attrs.fields(cls) if field.eq]
        key = _KEYS[cls] = operator.attrgetter(*names) if names else (lambda _: ())
    return key


class Model:
    """Base of the frozen attrs classes (``@attrs.frozen(kw_only=True, repr=False, eq=False)``).

    ``__repr__``, ``__eq__`` and ``__hash__`` written once for all of them, with attrs'
    semantics: the repr ``Me(id=3, name='...')``, equality of two instances of the same
    class whose fields are equal (fields declared ``eq=False`` left out), a hash that
    agrees with it. attrs would generate the three per class, which is half of what
    creating a class costs, and the ~60 classes are created at import.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        cls = type(self)
        fields = ", ".join(
            f"{field.name}={getattr(self, field.name)!r}"
            for field in getattr(cls, "__attrs_attrs__", ())
            if field.repr
        )
        return f"{cls.__qualname__}({fields})"

    def __eq__(self, other: object) -> bool:
        cls = self.__class__
        if other.__class__ is not cls:
            return NotImplemented
        key = _key(cls)
        result: bool = key(self) == key(other)
        return result

    def __hash__(self) -> int:
        cls = self.__class__
        return hash((cls, _key(cls)(self)))
