"""The one reading of Trakk's response envelope: where a body's data is.

Single resources and collections come as ``{"data": ..., "cache_refreshed_at"?}``.
``/reports/{n}/content`` is documented the same way, but a bare object (its fields at the
top level) is accepted too; ``GET /me`` is always bare. Everything that reads a body (the
converter behind the client's typed calls, and the export, which keeps the raw data)
asks :func:`response_data`, so they cannot disagree on what a body holds.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["CACHE_FIELD", "response_data"]

#: The envelope member beside ``data``: when the server's cache was refreshed.
CACHE_FIELD: Final = "cache_refreshed_at"


def response_data(body: Any, *, bare: bool = False) -> Any:
    """The data of a decoded response body, or None when it has none.

    ``body`` must be a JSON object; its ``data`` member is the data. With ``bare=True``
    (``/content``) an object without an object ``data`` is taken as the data itself,
    less the envelope's ``cache_refreshed_at``. None is returned for anything else (a
    body that is not an object, a missing or null ``data``): the caller says what it
    expected.
    """
    if body.__class__ is not dict:
        return None
    data = body.get("data")
    if not bare or data.__class__ is dict:
        return data
    return {key: value for key, value in body.items() if key != CACHE_FIELD}
