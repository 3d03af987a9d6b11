"""What a client does when a response deviates from the documented shapes: count and warn once,
or raise (strict mode).

A *deviation* is a value of an optional field that cannot be read as the field's type (a
number where a string belongs, a date that is not a date, an array element that is not an
object ...): the SDK reads it as None (an array element: leaves it out) and records it here.
Values the documentation allows are not deviations: null or missing optional fields,
``""`` for a date, ``[]`` for an object, ``10.0`` for an int, unknown fields and enum values.
A broken *required* field is not a deviation either: it always raises.
"""

from __future__ import annotations

import logging
from typing import Any, Final

__all__ = ["Deviations", "Reading", "ResponseShapeError", "json_type"]

logger = logging.getLogger("trakk_async")

_JSON_TYPES: Final[dict[type[Any], str]] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type (``"string"``, ``"object"`` ...)."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _a(type_name: str) -> str:
    if type_name == "null":
        return type_name
    return f"{'an' if type_name[0] in 'aeiou' else 'a'} {type_name}"


class ResponseShapeError(ValueError):
    """A decoded body does not have the shape the reference promises.

    The client turns it into :class:`~trakk_async.InvalidResponseError`. Its message names
    the JSON path and types only, never a value from the body.
    """


class Deviations:
    """One client's deviations: counted per ``"Model.field"``, logged once each, or raised.

    ``strict=True`` raises :class:`ResponseShapeError` at the first deviation instead.
    """

    __slots__ = ("_counts", "strict")

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self._counts: dict[str, int] = {}

    def counts(self) -> dict[str, int]:
        """A copy of the counts, keyed ``"Model.field"``."""
        return dict(self._counts)

    def record(
        self,
        *,
        endpoint: str,
        model: str,
        field: str,
        path: str,
        expected: str,
        seen: Any,
        outcome: str,
    ) -> None:
        """Count one deviation at ``path`` (``seen`` is the value, never quoted), or raise."""
        if self.strict:
            raise ResponseShapeError(
                f"{path}: expected {expected}, got {json_type(seen)} (strict mode)"
            )
        key = f"{model}.{field}"
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if count == 1:
            logger.warning(
                "GET %s: %s holds %s where %s belongs; %s (further deviations of %s on this "
                "client are only counted, in TrakkClient.deviations)",
                endpoint,
                path,
                _a(json_type(seen)),
                expected,
                outcome,
                key,
            )


class Reading:
    """One response being read tolerantly: the client's :class:`Deviations` and the endpoint."""

    __slots__ = ("deviations", "endpoint")

    def __init__(self, deviations: Deviations, endpoint: str) -> None:
        self.deviations = deviations
        self.endpoint = endpoint

    def deviation(
        self, model: str, field: str, path: str, expected: str, seen: Any, outcome: str
    ) -> None:
        """Record that ``model.field`` at ``path`` held ``seen`` instead of ``expected``."""
        self.deviations.record(
            endpoint=self.endpoint,
            model=model,
            field=field,
            path=path,
            expected=expected,
            seen=seen,
            outcome=outcome,
        )
