"""The ``fake_trakk`` and ``trakk_client`` pytest fixtures, under the package's name.

trakk-async installs them as a ``pytest11`` plugin (the top-level module
``_trakk_async_pytestplugin``, which imports nothing of the SDK until a test uses them), so
an installed package needs nothing more. Name this module where the entry point is not
installed, e.g. a checkout on ``sys.path``: ``pytest -p trakk_async.testing.pytest_plugin``
or ``pytest_plugins = ["trakk_async.testing.pytest_plugin"]`` in a root ``conftest.py``.
Naming it as well as having the entry point is harmless: the plugin registers once.
"""

from __future__ import annotations

import pytest

import _trakk_async_pytestplugin as _plugin
from _trakk_async_pytestplugin import FIXTURE_PROJECTS, FIXTURE_RATE_LIMITS

__all__ = ["FIXTURE_PROJECTS", "FIXTURE_RATE_LIMITS"]


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # Registering the real plugin here runs its own pytest_addoption (a historic hook).
    if not pluginmanager.is_registered(_plugin):
        pluginmanager.register(_plugin, "trakk_async")
