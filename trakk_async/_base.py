"""The base class of the frozen attrs value classes: what every one shares, written once."""

from __future__ import annotations

__all__ = ["Model"]


class Model:
    """Base of the frozen attrs classes (``@attrs.frozen(kw_only=True, repr=False)``).

    One ``__repr__`` for all of them, in attrs' own format (``Me(id=3, name='...')``):
    generating one per class is a third of what creating an attrs class costs, and the
    ~60 classes are created at import.
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
