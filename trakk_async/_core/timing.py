"""Time as the SDK takes it: injected, so that behaviour over hours is tested in milliseconds.

``Clock`` returns seconds (``time.monotonic`` for intervals, ``time.time`` for Unix time);
``Sleep`` waits (``asyncio.sleep``). Every class whose behaviour depends on time takes them
as parameters with these defaults.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

__all__ = ["Clock", "Sleep"]
