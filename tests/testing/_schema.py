"""The three spec files' field lists as data, and a checker for JSON against them.

What the documentation promises, and therefore what the fake must keep in BOTH profiles:

* ``Never(spec)``: identity fields and the fields documented as never null (a report's
  ``id``, ``project_id``, ``report_number``, ``status``, ``sent``; a listing item's ``id``,
  ``name``, ``status``, ``keyword_count`` and both ``links``): never null, never missing,
  never another JSON type.
* ``Opt(spec)``: documented as nullable.
* a plain spec: the documentation gives no nullability. The tidy profile sends it
  non-null and exactly typed; the realistic profile may send null, and an integral float
  (``10.0``) for an integer.
* ``Enum(values)``: the documented values; the realistic profile may send others (the
  reference says values are added without notice).

``check(..., realistic=True)`` also accepts fields the reference does not list and returns
what it saw of each kind, so a test can assert the realistic profile really is realistic.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import attrs


@attrs.frozen
class Opt:
    """A field documented as nullable."""

    spec: Any


@attrs.frozen
class Never:
    """An identity field or one documented as never null: exact in every profile."""

    spec: Any


@attrs.frozen
class Pattern:
    """A string matching a regular expression."""

    regex: str


@attrs.frozen
class Enum:
    """A string from a documented set."""

    values: frozenset[str]


DATE = Pattern(r"\d{4}-\d{2}-\d{2}")
DATETIME = Pattern(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
URL = Pattern(r"https?://\S+")
PATH = Pattern(r"/api/v1/\S+")

PROJECT_STATUS = Enum(
    frozenset(
        {"active", "pending", "pending - in progress", "paused", "ended", "termination pending"}
    )
)
REPORT_STATUS = Enum(frozenset({"pending", "running", "completed", "failed"}))
APPROVED_STATUS = Enum(frozenset({"waiting", "on-hold", "approved", "blocked"}))
MANAGED_STATUS = Enum(frozenset({"in-progress", "on-hold", "completed", "waiting-on-client"}))
TOKEN_STATUS = Enum(frozenset({"active", "disabled"}))

LABELLED = {"id": Never(int), "label": str}
AGENCY_REF = {"id": Never(int), "name": str}
USER = {"id": Never(int), "name": str, "role": str, "agency": Opt(AGENCY_REF)}
ME = {
    "id": Never(int),
    "name": str,
    "agency_id": Opt(int),
    "status": TOKEN_STATUS,
    "abilities": [str],
}
PROJECT_ITEM = {
    "id": Never(int),
    "name": Never(str),
    "status": Never(PROJECT_STATUS),
    "keyword_count": Never(int),
    "latest_report_generated_at": Opt(DATETIME),
    "latest_report_id": Opt(int),
    "latest_report_number": Opt(int),
    "latest_report_status": Opt(REPORT_STATUS),
    "links": Never({"latest_report": Never(PATH), "last_generated_report": Never(PATH)}),
}
PROJECT = {
    **PROJECT_ITEM,
    "company_name": str,
    "domain": str,
    "created_at": DATETIME,
    "country": LABELLED,
    "text_language": LABELLED,
    "report_language": LABELLED,
    "managing_user": USER,
    "created_by": USER,
    "contact_email": str,
    "client_emails": [str],
    "cc_email": str,
    "receives_monthly_reports": bool,
    "agency": str,
    "plan": str,
    "gsc_status": str,
}
REPORT = {
    "id": Never(int),
    "project_id": Never(int),
    "report_number": Never(int),
    "report_name": Opt(str),
    "status": Never(REPORT_STATUS),
    "date_to_create_texts": Opt(DATE),
    "date_to_send_to_client": Opt(DATE),
    "sent": Never(bool),
    "approved_status": Opt(APPROVED_STATUS),
    "approved_by": Opt(USER),
    "managed_status": Opt(MANAGED_STATUS),
    "managed_by": Opt(USER),
    "pdf_link": Opt(URL),
    "web_link": Opt(URL),
}
KEYWORD = {
    "id": Never(int),
    "keyword": str,
    "url": URL,
    "create_date": DATE,
    "latest_position": int,
    "status_200": bool,
    "content_count": int,
    "content_action_ids": [Never(int)],
}
KEYWORD_CONTENT = {
    "keyword_id": Never(int),
    "keyword": str,
    "keyword_url": URL,
    "has_content": bool,
    "content": Opt(Any),
    "html": Opt(Any),
}
CONTENT = {
    "report_number": Never(int),
    "report_id": Never(int),
    "report_name": Opt(str),
    "content_scheme": str,
    "content_scheme_fields": [str],
    "links": {"project_website": URL, "report_web": Opt(URL), "report_pdf": Opt(URL)},
    "project_id": Never(int),
    "project_domain": str,
    "project_status": PROJECT_STATUS,
    "is_generated": bool,
    "generation_status": REPORT_STATUS,
    "approved_status": Opt(APPROVED_STATUS),
    "approved_by": Opt(USER),
    "managed_status": Opt(MANAGED_STATUS),
    "managed_by": Opt(USER),
    "date_to_create_texts": Opt(DATE),
    "date_to_send_to_client": Opt(DATE),
    "summary": {"keyword_count": int, "keywords_with_content": int},
    "keywords": [KEYWORD_CONTENT],
}
ERROR = {"error": {"code": str, "message": str}}

META = {"meta_title": str, "meta_description": str}
#: scheme -> (variants of an array scheme or None, one content item, html) per the reference.
SCHEME_SHAPES: dict[str, tuple[int | None, Any, Any]] = {
    "metadata": (3, META, [META]),
    "h1_headlines": (3, {"h1": str}, [{"h1": str}]),
    "h2_text_blocks": (3, {"h2": str, "text": str}, [{"h2_and_text": str}]),
    "h3_text_blocks": (3, {"h3": str, "text": str}, [{"h3_and_text": str}]),
    "h4_text_blocks": (6, {"h4": str, "text": str}, [{"h4_and_text": str}]),
    "qa_block": (4, {"question": str, "answer": str}, {"qa": str}),
    "link_blocks": (
        2,
        {"h2": str, "text": str, "links": [{"anchor_text": str, "url": URL}]},
        [{"h2_and_text": str}],
    ),
    "single_text_block": (None, {"text": str}, {"text": str}),
    "h2_summary_block": (None, {"h2": str, "texts": [str]}, {"texts": [str]}),
    "subnavigation": (None, {"links": [{"keyword": str, "url": URL}]}, {"subnavigation": str}),
    "bullet_points": (
        None,
        {"h2": str, "text": str, "bullet_points": [str]},
        {"bullet_points": str},
    ),
    "numbered_points": (
        None,
        {"h2": str, "text": str, "numbered_points": [str]},
        {"numbered_points": str},
    ),
    "image_alt_text": (None, {"search_terms": [str], "alt_texts": [str]}, {"alt_texts": [str]}),
}  # fmt: skip
#: Laravel's paginator ``meta``: the notes' four fields, and what Laravel always adds.
PAGE_META = {
    "current_page": Never(int),
    "per_page": Never(int),
    "total": Never(int),
    "last_page": Never(int),
    "from": Opt(int),
    "to": Opt(int),
    "path": URL,
    "links": [{"url": Opt(URL), "label": str, "active": bool}],
}
PAGE_LINKS = {"first": URL, "last": URL, "prev": Opt(URL), "next": Opt(URL)}
#: What the realistic profile adds to the happy path ("empty list" happens in both).
VARIATION_KINDS = frozenset(
    {
        "null",
        "empty string",
        "integral float",
        "extra field",
        "undocumented enum value",
        "[] for an object",
    }
)
DOCUMENTED_SCHEMES = frozenset(SCHEME_SHAPES)


@attrs.define
class Seen:
    """What a realistic check met beyond the happy path, by kind and JSON path."""

    counts: Counter[str] = attrs.Factory(Counter)
    paths: list[str] = attrs.Factory(list)

    def add(self, kind: str, path: str) -> None:
        self.counts[kind] += 1
        self.paths.append(f"{kind} {path}")

    def variations(self) -> int:
        """How many departures from the happy path were seen so far."""
        return sum(n for kind, n in self.counts.items() if kind in VARIATION_KINDS)


_INDEX = re.compile(r"\[\d+\]")


def check(
    value: object,
    spec: Any,
    path: str = "$",
    *,
    realistic: bool = False,
    seen: Seen | None = None,
    exact: bool = False,
) -> Seen:
    """Assert ``value`` is what ``spec`` documents; see the module docstring.

    Tidy (``realistic=False``): exactly the fields of ``spec``, non-null unless ``Opt``,
    exact JSON types, documented enum values. Realistic: fields beyond ``spec`` allowed,
    plain fields may be null, integers may be integral floats, enums may hold other values;
    ``Never`` fields stay exact. Returns what it met (nulls, floats, extra fields, ...).
    """
    seen = seen if seen is not None else Seen()
    lenient = realistic and not exact
    if spec is Any:
        return seen
    if isinstance(spec, Never):
        assert value is not None, f"{path} is documented never null"
        return check(value, spec.spec, path, realistic=realistic, seen=seen, exact=True)
    if isinstance(spec, Opt):
        if value is not None:
            check(value, spec.spec, path, realistic=realistic, seen=seen, exact=exact)
        return seen
    if value is None:
        assert lenient, f"{path} is null but not nullable here"
        seen.add("null", path)
        return seen
    if isinstance(spec, Enum):
        assert isinstance(value, str), f"{path}: expected a string, got {value!r}"
        if value not in spec.values:
            assert realistic, f"{path}: {value!r} is not one of {sorted(spec.values)}"
            seen.add("undocumented enum value", f"{path}={value}")
    elif isinstance(spec, Pattern):
        assert isinstance(value, str), f"{path}: expected a string, got {value!r}"
        if value == "" and lenient:
            seen.add("empty string", path)
        else:
            assert re.fullmatch(spec.regex, value), f"{path}: {value!r} !~ {spec.regex}"
    elif isinstance(spec, dict):
        if value == [] and lenient:
            seen.add("[] for an object", path)
            return seen
        assert isinstance(value, dict), f"{path}: expected an object, got {value!r}"
        missing = set(spec) - set(value)
        assert not missing, f"{path}: missing fields {sorted(missing)}"
        extra = set(value) - set(spec)
        if extra:
            assert realistic, f"{path}: fields {sorted(extra)} are not in the reference"
            for name in sorted(extra):
                seen.add("extra field", f"{path}.{name}")
        for name, field_spec in spec.items():
            check(value[name], field_spec, f"{path}.{name}", realistic=realistic, seen=seen)
    elif isinstance(spec, list):
        assert isinstance(value, list), f"{path}: expected an array, got {value!r}"
        if not value:
            seen.add("empty list", path)
        for i, item in enumerate(value):
            check(item, spec[0], f"{path}[{i}]", realistic=realistic, seen=seen, exact=exact)
    elif spec is int:
        if lenient and isinstance(value, float) and value.is_integer():
            seen.add("integral float", path)
        else:
            assert type(value) is int, f"{path}: expected an integer, got {value!r}"
    elif spec is str:
        assert isinstance(value, str), f"{path}: expected a string, got {value!r}"
        if value == "":
            seen.add("empty string", path)
    else:
        assert isinstance(value, spec), f"{path}: expected {spec.__name__}, got {value!r}"
    return seen


def generic(path: str) -> str:
    """``$.data[3].links`` -> ``$.data[].links``: a path without its indexes."""
    return _INDEX.sub("[]", path)
