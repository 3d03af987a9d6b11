"""Reference-shaped payloads (``trakk-api-reference.md``), one JSON file per response.

``load("me")`` returns a fresh decoded copy, so a test may mutate it freely.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

_HERE: Final = Path(__file__).parent

#: Each content scheme of the reference with its number of content variants per keyword
#: (array schemes) or None (object schemes).
CONTENT_VARIANTS: Final[dict[str, int | None]] = {
    "metadata": 3,
    "h1_headlines": 3,
    "h2_text_blocks": 3,
    "h3_text_blocks": 3,
    "h4_text_blocks": 6,
    "qa_block": 4,
    "link_blocks": 2,
    "single_text_block": None,
    "h2_summary_block": None,
    "subnavigation": None,
    "bullet_points": None,
    "numbered_points": None,
    "image_alt_text": None,
}

#: The samples of the non-content endpoints.
ENDPOINT_SAMPLES: Final = (
    "me",
    "projects_page",
    "project_detail",
    "reports",
    "report_latest",
    "keywords",
    "countries",
    "languages",
    "users",
)


def load(name: str) -> Any:
    """The decoded sample ``tests/samples/<name>.json``."""
    return json.loads((_HERE / f"{name}.json").read_text(encoding="utf-8"))


def content(scheme: str) -> Any:
    """The ``/content`` sample of ``scheme``."""
    return load(f"content_{scheme}")
