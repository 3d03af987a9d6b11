"""The reference's field lists as data, and a checker for JSON against them."""

from __future__ import annotations

import re
from typing import Any

import attrs


@attrs.frozen
class Opt:
    """A nullable field."""

    spec: Any


@attrs.frozen
class Pattern:
    """A string matching a regular expression."""

    regex: str


DATE = Pattern(r"\d{4}-\d{2}-\d{2}")
DATETIME = Pattern(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
URL = Pattern(r"https?://\S+")

LABELLED = {"id": int, "label": str}
USER = {"id": int, "name": str, "role": str, "agency": Opt({"id": int, "name": str})}
ME = {"id": int, "name": str, "agency_id": Opt(int), "status": str, "abilities": [str]}
PROJECT_ITEM = {
    "id": int,
    "name": str,
    "status": str,
    "keyword_count": int,
    "latest_report_generated_at": Opt(DATETIME),
    "latest_report_id": Opt(int),
    "latest_report_number": Opt(int),
    "latest_report_status": Opt(str),
    "links": {"latest_report": Opt(URL)},
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
    "id": int,
    "project_id": int,
    "report_number": int,
    "report_name": Opt(str),
    "status": str,
    "date_to_create_texts": Opt(DATE),
    "date_to_send_to_client": Opt(DATE),
    "sent": bool,
    "approved_status": Opt(str),
    "approved_by": Opt(USER),
    "managed_status": Opt(str),
    "managed_by": Opt(USER),
    "pdf_link": Opt(URL),
    "web_link": Opt(URL),
}
KEYWORD = {
    "id": int,
    "keyword": str,
    "url": URL,
    "create_date": DATE,
    "latest_position": int,
    "status_200": bool,
    "content_count": int,
    "content_action_ids": [int],
}
KEYWORD_CONTENT = {
    "keyword_id": int,
    "keyword": str,
    "keyword_url": URL,
    "has_content": bool,
    "content": Opt(Any),
    "html": Opt(Any),
}
CONTENT = {
    "report_number": int,
    "report_id": int,
    "report_name": Opt(str),
    "content_scheme": str,
    "content_scheme_fields": [str],
    "links": {"project_website": URL, "report_web": Opt(URL), "report_pdf": Opt(URL)},
    "project_id": int,
    "project_domain": str,
    "project_status": str,
    "is_generated": bool,
    "generation_status": str,
    "approved_status": Opt(str),
    "approved_by": Opt(USER),
    "managed_status": Opt(str),
    "managed_by": Opt(USER),
    "date_to_create_texts": Opt(DATE),
    "date_to_send_to_client": Opt(DATE),
    "summary": {"keyword_count": int, "keywords_with_content": int},
    "keywords": [KEYWORD_CONTENT],
}
ERROR = {"error": {"code": str, "message": str}}

PROJECT_STATUSES = {
    "active",
    "pending",
    "pending - in progress",
    "paused",
    "ended",
    "termination pending",
}
REPORT_STATUSES = {"pending", "running", "completed", "failed"}
APPROVED_STATUSES = {"waiting", "on-hold", "approved", None}
MANAGED_STATUSES = {"in-progress", "on-hold", "completed", "waiting-on-client", None}


def check(value: object, spec: Any, path: str = "$") -> None:
    """Assert ``value`` has exactly the fields of ``spec``, with their JSON types."""
    if spec is Any:
        return
    if isinstance(spec, Opt):
        if value is not None:
            check(value, spec.spec, path)
        return
    assert value is not None, f"{path} is null but not nullable"
    if isinstance(spec, Pattern):
        assert isinstance(value, str), f"{path}: expected a string, got {value!r}"
        assert re.fullmatch(spec.regex, value), f"{path}: {value!r} !~ {spec.regex}"
    elif isinstance(spec, dict):
        assert isinstance(value, dict), f"{path}: expected an object, got {value!r}"
        assert set(value) == set(spec), f"{path}: fields {sorted(value)} != {sorted(spec)}"
        for name, field_spec in spec.items():
            check(value[name], field_spec, f"{path}.{name}")
    elif isinstance(spec, list):
        assert isinstance(value, list), f"{path}: expected an array, got {value!r}"
        for i, item in enumerate(value):
            check(item, spec[0], f"{path}[{i}]")
    elif spec is int:
        assert isinstance(value, int), f"{path}: expected an integer, got {value!r}"
        assert not isinstance(value, bool), f"{path}: expected an integer, got {value!r}"
    else:
        assert isinstance(value, spec), f"{path}: expected {spec.__name__}, got {value!r}"


def check_report_enums(report: dict[str, Any]) -> None:
    assert report["status"] in REPORT_STATUSES
    assert report["approved_status"] in APPROVED_STATUSES
    assert report["managed_status"] in MANAGED_STATUSES
    assert 1 <= report["report_number"] <= 26
