"""Typed content variants for each of the reference's 13 content schemes.

A report's ``content_scheme`` (never its report number) decides which classes a keyword's
``content`` and ``html`` are made of; :data:`SCHEMES` is that table. Array schemes give a
tuple of variants, object schemes one object; ``qa_block`` gives a tuple of
:class:`QAPair` and one :class:`QAHtml`; ``link_blocks`` keeps its links in content only.
A scheme this SDK does not know gives :class:`UnknownContent` holding the raw JSON.

Every field of a variant is optional (``str | None``, arrays ``tuple[...]`` defaulting to
``()``): the documentation promises none of them, see the policy in
:mod:`trakk_async._models.objects`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

import attrs

from trakk_async._core.model import Model

__all__ = [
    "SCHEMES",
    "BulletPoints",
    "BulletPointsHtml",
    "ContentItem",
    "ContentScheme",
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
    "LinkBlock",
    "LinkBlockLink",
    "MetaData",
    "MetaDataHtml",
    "NumberedPoints",
    "NumberedPointsHtml",
    "QAHtml",
    "QAPair",
    "SchemeShape",
    "SingleTextBlock",
    "SingleTextHtml",
    "Subnavigation",
    "SubnavigationHtml",
    "SubnavigationLink",
    "UnknownContent",
]


class ContentScheme(StrEnum):
    """The ``content_scheme`` identifiers of the reference."""

    METADATA = "metadata"
    H1_HEADLINES = "h1_headlines"
    H2_TEXT_BLOCKS = "h2_text_blocks"
    H3_TEXT_BLOCKS = "h3_text_blocks"
    H4_TEXT_BLOCKS = "h4_text_blocks"
    QA_BLOCK = "qa_block"
    LINK_BLOCKS = "link_blocks"
    SINGLE_TEXT_BLOCK = "single_text_block"
    H2_SUMMARY_BLOCK = "h2_summary_block"
    SUBNAVIGATION = "subnavigation"
    BULLET_POINTS = "bullet_points"
    NUMBERED_POINTS = "numbered_points"
    IMAGE_ALT_TEXT = "image_alt_text"


# Array schemes ----------------------------------------------------------------------


@attrs.frozen(kw_only=True, repr=False, eq=False)
class MetaData(Model):
    """``metadata`` variant (3 per keyword): a meta title and description."""

    meta_title: str | None = None
    meta_description: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class MetaDataHtml(Model):
    """``metadata`` html variant."""

    meta_title: str | None = None
    meta_description: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class H1Headline(Model):
    """``h1_headlines`` variant (3 per keyword)."""

    h1: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class H1HeadlineHtml(Model):
    """``h1_headlines`` html variant."""

    h1: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class H2TextBlock(Model):
    """``h2_text_blocks`` variant (3 per keyword): a heading and its text."""

    h2: str | None = None
    text: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class H2TextHtml(Model):
    """Rendered heading and text (``h2_text_blocks`` and ``link_blocks`` html)."""

    h2_and_text: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class H3TextBlock(Model):
    """``h3_text_blocks`` variant (3 per keyword)."""

    h3: str | None = None
    text: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class H3TextHtml(Model):
    """``h3_text_blocks`` html variant."""

    h3_and_text: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class H4TextBlock(Model):
    """``h4_text_blocks`` variant (6 per keyword)."""

    h4: str | None = None
    text: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class H4TextHtml(Model):
    """``h4_text_blocks`` html variant."""

    h4_and_text: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class QAPair(Model):
    """One of the 4 question/answer pairs of a ``qa_block``."""

    question: str | None = None
    answer: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class QAHtml(Model):
    """The single rendered html object of a ``qa_block``."""

    qa: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class LinkBlockLink(Model):
    """A link of a ``link_blocks`` variant (not present in its html)."""

    anchor_text: str | None = None
    url: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class LinkBlock(Model):
    """``link_blocks`` variant (2 per keyword): heading, text and links to wire up."""

    h2: str | None = None
    text: str | None = None
    links: tuple[LinkBlockLink, ...] = ()


# Object schemes ---------------------------------------------------------------------


@attrs.frozen(kw_only=True, repr=False, eq=False)
class SingleTextBlock(Model):
    """``single_text_block`` content."""

    text: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class SingleTextHtml(Model):
    """``single_text_block`` html."""

    text: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class H2SummaryBlock(Model):
    """``h2_summary_block`` content: a heading and two texts."""

    h2: str | None = None
    texts: tuple[str, ...] = ()


@attrs.frozen(kw_only=True, repr=False, eq=False)
class H2SummaryHtml(Model):
    """``h2_summary_block`` html: the two texts rendered."""

    texts: tuple[str, ...] = ()


@attrs.frozen(kw_only=True, repr=False, eq=False)
class SubnavigationLink(Model):
    """A link of a ``subnavigation`` block."""

    keyword: str | None = None
    url: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Subnavigation(Model):
    """``subnavigation`` content: links to other keyword pages."""

    links: tuple[SubnavigationLink, ...] = ()


@attrs.frozen(kw_only=True, repr=False, eq=False)
class SubnavigationHtml(Model):
    """``subnavigation`` html: one rendered ``<div>``."""

    subnavigation: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class BulletPoints(Model):
    """``bullet_points`` content."""

    h2: str | None = None
    text: str | None = None
    bullet_points: tuple[str, ...] = ()


@attrs.frozen(kw_only=True, repr=False, eq=False)
class BulletPointsHtml(Model):
    """``bullet_points`` html: one rendered heading and ``<ul>``."""

    bullet_points: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class NumberedPoints(Model):
    """``numbered_points`` content."""

    h2: str | None = None
    text: str | None = None
    numbered_points: tuple[str, ...] = ()


@attrs.frozen(kw_only=True, repr=False, eq=False)
class NumberedPointsHtml(Model):
    """``numbered_points`` html: one rendered heading and ``<ol>``."""

    numbered_points: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ImageAltText(Model):
    """``image_alt_text`` content: two search terms and four alt texts."""

    search_terms: tuple[str, ...] = ()
    alt_texts: tuple[str, ...] = ()


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ImageAltTextHtml(Model):
    """``image_alt_text`` html: four rendered ``<img>`` tags."""

    alt_texts: tuple[str, ...] = ()


@attrs.frozen(kw_only=True, repr=False, eq=False)
class UnknownContent(Model):
    """Content of a scheme this SDK version does not know: the JSON as the server sent it.

    ``scheme`` is the payload's ``content_scheme``, None when the server sent none.
    """

    scheme: str | None
    raw: Any


ContentItem = (
    MetaData
    | H1Headline
    | H2TextBlock
    | H3TextBlock
    | H4TextBlock
    | QAPair
    | LinkBlock
    | SingleTextBlock
    | H2SummaryBlock
    | Subnavigation
    | BulletPoints
    | NumberedPoints
    | ImageAltText
    | UnknownContent
)
"""Any content variant (the element type of ``KeywordContent.content``)."""

HtmlItem = (
    MetaDataHtml
    | H1HeadlineHtml
    | H2TextHtml
    | H3TextHtml
    | H4TextHtml
    | QAHtml
    | SingleTextHtml
    | H2SummaryHtml
    | SubnavigationHtml
    | BulletPointsHtml
    | NumberedPointsHtml
    | ImageAltTextHtml
    | UnknownContent
)
"""Any html variant (the element type of ``KeywordContent.html``)."""


@attrs.frozen
class SchemeShape:
    """How one scheme's content and html are shaped: classes, and array or object."""

    content: type[Any]
    html: type[Any]
    content_is_array: bool
    html_is_array: bool
    variants: int | None
    """The reference's number of variants (array schemes), None for object schemes."""


SCHEMES: Final[dict[str, SchemeShape]] = {
    ContentScheme.METADATA: SchemeShape(MetaData, MetaDataHtml, True, True, 3),
    ContentScheme.H1_HEADLINES: SchemeShape(H1Headline, H1HeadlineHtml, True, True, 3),
    ContentScheme.H2_TEXT_BLOCKS: SchemeShape(H2TextBlock, H2TextHtml, True, True, 3),
    ContentScheme.H3_TEXT_BLOCKS: SchemeShape(H3TextBlock, H3TextHtml, True, True, 3),
    ContentScheme.H4_TEXT_BLOCKS: SchemeShape(H4TextBlock, H4TextHtml, True, True, 6),
    ContentScheme.QA_BLOCK: SchemeShape(QAPair, QAHtml, True, False, 4),
    ContentScheme.LINK_BLOCKS: SchemeShape(LinkBlock, H2TextHtml, True, True, 2),
    ContentScheme.SINGLE_TEXT_BLOCK: SchemeShape(
        SingleTextBlock, SingleTextHtml, False, False, None
    ),
    ContentScheme.H2_SUMMARY_BLOCK: SchemeShape(H2SummaryBlock, H2SummaryHtml, False, False, None),
    ContentScheme.SUBNAVIGATION: SchemeShape(Subnavigation, SubnavigationHtml, False, False, None),
    ContentScheme.BULLET_POINTS: SchemeShape(BulletPoints, BulletPointsHtml, False, False, None),
    ContentScheme.NUMBERED_POINTS: SchemeShape(
        NumberedPoints, NumberedPointsHtml, False, False, None
    ),
    ContentScheme.IMAGE_ALT_TEXT: SchemeShape(ImageAltText, ImageAltTextHtml, False, False, None),
}
"""Every known scheme's shape, keyed by its ``content_scheme`` string."""
