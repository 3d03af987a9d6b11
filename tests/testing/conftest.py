"""The plugin's fixtures, also when the ``pytest11`` entry point is not installed."""

from __future__ import annotations

from trakk_async.testing.pytest_plugin import fake_trakk, trakk_client

__all__ = ["fake_trakk", "trakk_client"]
