"""trakk_async: the async Python SDK for the Trakk Agency API v1.

::

    import asyncio
    from trakk_async import TrakkClient

    async def main() -> None:
        async with TrakkClient() as client:          # token from TRAKK_API_TOKEN
            async for project in client.projects.list(status="active"):
                print(project.id, project.name)

    asyncio.run(main())

Everything public is importable from here; the submodules ``trakk_async.ratelimit``,
``trakk_async.watch``, ``trakk_async.export`` and ``trakk_async.testing`` hold the larger
features.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trakk_async._client.client import RequestAttempt, TrakkClient
from trakk_async._client.pager import ProjectPager
from trakk_async._core.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CheckpointError,
    ConfigurationError,
    DestinationBusyError,
    InternalServerError,
    InvalidResponseError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ReportFailedError,
    ResponseTooLargeError,
    TrakkError,
    UnprocessableEntityError,
    WaitTimeoutError,
)
from trakk_async._models.content import (
    BulletPoints,
    BulletPointsHtml,
    ContentItem,
    ContentScheme,
    H1Headline,
    H1HeadlineHtml,
    H2SummaryBlock,
    H2SummaryHtml,
    H2TextBlock,
    H2TextHtml,
    H3TextBlock,
    H3TextHtml,
    H4TextBlock,
    H4TextHtml,
    HtmlItem,
    ImageAltText,
    ImageAltTextHtml,
    LinkBlock,
    LinkBlockLink,
    MetaData,
    MetaDataHtml,
    NumberedPoints,
    NumberedPointsHtml,
    QAHtml,
    QAPair,
    SingleTextBlock,
    SingleTextHtml,
    Subnavigation,
    SubnavigationHtml,
    SubnavigationLink,
    UnknownContent,
)
from trakk_async._models.objects import (
    AgencyRef,
    ApprovedStatus,
    ContentLinks,
    ContentSummary,
    Country,
    Keyword,
    KeywordContent,
    Language,
    Listing,
    ManagedStatus,
    Me,
    Page,
    PageLinks,
    PageMeta,
    Project,
    ProjectLinks,
    ProjectStatus,
    ProjectSummary,
    Report,
    ReportContent,
    ReportStatus,
    TokenStatus,
    User,
)
from trakk_async.ratelimit import RateLimiter, RateLimitSnapshot, TokenBucketLimiter, WindowSnapshot

if TYPE_CHECKING:
    from trakk_async.ratelimit._redis import RedisRateLimiter

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AgencyRef",
    "ApprovedStatus",
    "AuthenticationError",
    "BadRequestError",
    "BulletPoints",
    "BulletPointsHtml",
    "CheckpointError",
    "ConfigurationError",
    "ContentItem",
    "ContentLinks",
    "ContentScheme",
    "ContentSummary",
    "Country",
    "DestinationBusyError",
    "H1Headline",
    "H1HeadlineHtml",
    "H2SummaryBlock",
    "H2SummaryHtml",
    "H2TextBlock",
    "H2TextHtml",
    "H3TextBlock",
    "H3TextHtml",
    "H4TextBlock",
    "H4TextHtml",
    "HtmlItem",
    "ImageAltText",
    "ImageAltTextHtml",
    "InternalServerError",
    "InvalidResponseError",
    "Keyword",
    "KeywordContent",
    "Language",
    "LinkBlock",
    "LinkBlockLink",
    "Listing",
    "ManagedStatus",
    "Me",
    "MetaData",
    "MetaDataHtml",
    "MethodNotAllowedError",
    "NotFoundError",
    "NumberedPoints",
    "NumberedPointsHtml",
    "Page",
    "PageLinks",
    "PageMeta",
    "PermissionDeniedError",
    "Project",
    "ProjectLinks",
    "ProjectPager",
    "ProjectStatus",
    "ProjectSummary",
    "QAHtml",
    "QAPair",
    "RateLimitError",
    "RateLimitSnapshot",
    "RateLimiter",
    "RedisRateLimiter",
    "Report",
    "ReportContent",
    "ReportFailedError",
    "ReportStatus",
    "RequestAttempt",
    "ResponseTooLargeError",
    "SingleTextBlock",
    "SingleTextHtml",
    "Subnavigation",
    "SubnavigationHtml",
    "SubnavigationLink",
    "TokenBucketLimiter",
    "TokenStatus",
    "TrakkClient",
    "TrakkError",
    "UnknownContent",
    "UnprocessableEntityError",
    "User",
    "WaitTimeoutError",
    "WindowSnapshot",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # RedisRateLimiter imports redis, an optional dependency: only when asked for.
    if name == "RedisRateLimiter":
        from trakk_async.ratelimit._redis import RedisRateLimiter

        return RedisRateLimiter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
