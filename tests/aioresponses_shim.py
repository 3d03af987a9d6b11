"""Make aioresponses 0.7.9 work with aiohttp >= 3.14.

aiohttp 3.14 added a required keyword argument ``stream_writer`` to
``ClientResponse.__init__``; aioresponses 0.7.9 (the newest release) builds its fake
responses without it and fails with ``ClientResponse.__init__() missing 1 required
keyword-only argument: 'stream_writer'`` (aioresponses issue #289, fix in open PR #288).
We cannot pin aiohttp below 3.14 (3.14.0 carries a security fix), so the test suite
swaps in a ``ClientResponse`` subclass that supplies a stand-in writer when aioresponses
leaves it out. ``tests/unit/test_aioresponses_shim.py`` fails as soon as upstream no longer
needs this, so it gets removed then.
"""

from __future__ import annotations

import inspect
from typing import Any
from unittest import mock

import aioresponses.core
from aiohttp import ClientResponse

UPSTREAM_CLIENT_RESPONSE = getattr(aioresponses.core, "ClientResponse")  # noqa: B009 (not re-exported)


def shim_needed() -> bool:
    """Whether aiohttp's ClientResponse requires an argument aioresponses does not pass."""
    params = inspect.signature(ClientResponse.__init__).parameters
    return "stream_writer" in params and params["stream_writer"].default is inspect.Parameter.empty


class _CompatClientResponse(ClientResponse):
    """A ClientResponse whose ``stream_writer`` defaults to a do-nothing stand-in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "stream_writer" not in kwargs:
            kwargs["stream_writer"] = mock.Mock(output_size=0)
        super().__init__(*args, **kwargs)


def install() -> None:
    """Point aioresponses at the compatible response class (idempotent)."""
    if shim_needed():
        setattr(aioresponses.core, "ClientResponse", _CompatClientResponse)  # noqa: B010
