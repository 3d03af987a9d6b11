"""What a resource namespace needs of its client, as a Protocol.

The namespaces (``client.projects`` ...) are built by :class:`TrakkClient` and send every
request through its retry loop. Typing them against this Protocol rather than against
``TrakkClient`` keeps the imports of ``_client`` one-way (client -> resources -> here):
import-linter's "acyclic" contract counts imports under ``TYPE_CHECKING`` too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from trakk_async._core.timing import Sleep
from trakk_async._models.deviations import Deviations

T = TypeVar("T")


class Requester(Protocol):
    """The client as its resource namespaces see it (:class:`TrakkClient` is one)."""

    @property
    def _sleep(self) -> Sleep:
        """How the client waits (``asyncio.sleep`` unless a test injects one)."""
        ...

    def _ensure_open(self) -> None:
        """Raise ``RuntimeError`` if the client is closed."""
        ...

    async def _get(
        self,
        path: str,
        structure: Callable[[Any, Deviations, str], T],
        params: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
    ) -> T:
        """GET ``path`` through the limiter and the retry policy; structure the body."""
        ...
