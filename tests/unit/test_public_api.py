"""The public API: every name that was public stays importable from where it was.

``BEFORE`` is the public surface as it stood before the package was split into layered
folders (``__all__`` of each public module at that release). Names may be added; none may
disappear or move. Each ``__all__`` is also sorted and complete, as httpx checks its own.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

import pytest

PUBLIC_MODULES = (
    "trakk_async",
    "trakk_async.ratelimit",
    "trakk_async.watch",
    "trakk_async.export",
    "trakk_async.testing",
    "trakk_async.cli",
)

BEFORE: dict[str, tuple[str, ...]] = {
    "trakk_async": (
        "APIConnectionError", "APIError", "APITimeoutError", "AgencyRef", "ApprovedStatus",
        "AuthenticationError", "BadRequestError", "BulletPoints", "BulletPointsHtml",
        "ConfigurationError", "ContentItem", "ContentLinks", "ContentScheme", "ContentSummary",
        "Country", "H1Headline", "H1HeadlineHtml", "H2SummaryBlock", "H2SummaryHtml",
        "H2TextBlock", "H2TextHtml", "H3TextBlock", "H3TextHtml", "H4TextBlock", "H4TextHtml",
        "HtmlItem", "ImageAltText", "ImageAltTextHtml", "InternalServerError",
        "InvalidResponseError", "Keyword", "KeywordContent", "Language", "LinkBlock",
        "LinkBlockLink", "Listing", "ManagedStatus", "Me", "MetaData", "MetaDataHtml",
        "MethodNotAllowedError", "NotFoundError", "NumberedPoints", "NumberedPointsHtml", "Page",
        "PageLinks", "PageMeta", "PermissionDeniedError", "Project", "ProjectLinks",
        "ProjectPager", "ProjectStatus", "ProjectSummary", "QAHtml", "QAPair", "RateLimitError",
        "RateLimitSnapshot", "RateLimiter", "RedisRateLimiter", "Report", "ReportContent",
        "ReportFailedError", "ReportStatus", "RequestAttempt", "SingleTextBlock",
        "SingleTextHtml", "Subnavigation", "SubnavigationHtml", "SubnavigationLink",
        "TokenBucketLimiter", "TokenStatus", "TrakkClient", "TrakkError", "UnknownContent",
        "UnprocessableEntityError", "User", "WaitTimeoutError", "WindowSnapshot", "__version__",
    ),
    "trakk_async.ratelimit": (
        "RateLimitSnapshot", "RateLimiter", "RedisRateLimiter", "TokenBucketLimiter",
        "WindowSnapshot",
    ),
    "trakk_async.watch": (
        "Checkpoint", "MemoryCheckpoint", "RedisCheckpoint", "ReportAdvanced", "ReportWatcher",
        "SQLiteCheckpoint", "Seen", "WatchPlan", "WatchStats",
    ),
    "trakk_async.export": ("ExportProgress", "ExportSummary", "export_projects"),
    "trakk_async.testing": (
        "DEFAULT_RATE_LIMITS", "Decision", "FakeReport", "FakeReportStatus", "FakeStats",
        "FakeTrakk", "FaultKind", "Throttle",
    ),
    "trakk_async.cli": ("cli", "main"),
}  # fmt: skip


def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


@pytest.mark.parametrize(("module", "name"), [(m, n) for m, names in BEFORE.items() for n in names])
def test_every_earlier_public_name_is_still_importable_from_its_module(
    module: str, name: str
) -> None:
    mod = _module(module)
    assert name in mod.__all__, f"{name} left {module}.__all__"
    exec(f"from {module} import {name}", {})  # the spelling users write


def _isort_style(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: SCREAMING_CASE constants, then CamelCase, then the rest.
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_all_is_sorted_and_every_name_in_it_exists(module: str) -> None:
    mod = _module(module)
    names = list(mod.__all__)
    assert names == sorted(names, key=_isort_style)
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(mod, name) is not None


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_class_or_function_of_the_package_is_in_all(module: str) -> None:
    # A class or function defined in trakk_async and bound under a public name in a public
    # module is part of the API: it must be listed (or renamed with a leading underscore).
    mod = _module(module)
    missing = [
        name
        for name, value in vars(mod).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", "").startswith("trakk_async")
        and name not in mod.__all__
    ]
    assert missing == []


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_public_names_have_docstrings(module: str) -> None:
    mod = _module(module)
    undocumented = [
        name
        for name in mod.__all__
        if (inspect.isclass(getattr(mod, name)) or inspect.isfunction(getattr(mod, name)))
        and not inspect.getdoc(getattr(mod, name))
    ]
    assert undocumented == []
