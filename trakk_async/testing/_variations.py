"""The realistic profile: the mess real Laravel servers send, as one readable table.

Trakk's reference asks integrations to be defensive ("ignore unknown fields", enum values
and fields may be added, only identity fields can be relied on). A fake that always sends
the documented happy path hides every place a client is not. So by default the fake
varies a few percent of its objects, each by the rules of :data:`VARIATION_RULES`:

* nulls in optional fields, empty strings and empty lists;
* PHP's ``[]`` where an empty object is meant (``json_encode`` of an empty array);
* fields the reference does not list;
* enum values the reference does not list;
* integral floats (``10.0``) for integers;
* a content scheme no SDK knows yet, with a plausible shape.

What never varies: identity fields (ids, ``report_number``, ``project_id``, ``keyword_id``,
``report_id``) and the fields Trakk documents as never null (a report's ``id``,
``project_id``, ``report_number``, ``status``, ``sent``; a listing item's ``id``, ``name``,
``status``, ``keyword_count`` and both ``links``). They are never null, missing or of
another JSON type; ``status`` may carry an undocumented value, since the reference says
enum values are added without notice.

Whether a rule hits an object is a pure function of ``(seed, rule, object)``, so an
object looks the same on every request, in the listing and in its detail, and a varied
value is the one the world's semantics use (a project's undocumented status is what the
``status`` filter matches; a report's undocumented status is a not-completed status for
the calendar rules). ``tidy=True`` turns every rule off.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Final

import attrs

from trakk_async.testing._content import Json

#: A change to one object's JSON; returns True when it changed something.
Change = Callable[[Json], bool]


@attrs.frozen(kw_only=True)
class VariationRule:
    """One way the realistic profile departs from the reference's happy path.

    Attributes:
        name: ``"<kind>.<field>.<what>"``, e.g. ``"keyword.latest_position.null"``.
        kind: the object it varies: ``project``, ``report``, ``content``, ``keyword``,
            ``keyword_content``, ``user``, ``country``, ``language`` or ``token``.
        share: the fraction of the objects it applies to that it hits. Rules on projects,
            users and lookups also hit at least one object the first agency's token sees,
            so even a small world shows every one of them.
        endpoints: where the varied object is served.
        example: what the varied JSON looks like.
    """

    name: str
    kind: str
    share: float
    endpoints: str
    example: str
    change: Change | None = attrs.field(default=None, repr=False)
    """None: the world applies the rule while it generates (a content scheme, which
    decides the shape of everything generated after it)."""


@attrs.frozen(kw_only=True)
class Variation:
    """One object that a rule varies, as :meth:`FakeTrakk.variations` lists them.

    ``object_id`` is the object's id (for ``keyword_content``: ``"<report_id>:<keyword_id>"``);
    ``project_id`` is the project it belongs to (None for users, lookups and tokens).
    """

    rule: str
    kind: str
    object_id: int | str
    project_id: int | None


def _null(field: str) -> Change:
    def change(obj: Json) -> bool:
        if obj.get(field) is None:
            return False
        obj[field] = None
        return True

    return change


def _value(field: str, value: Any, *, replaces: frozenset[Any] | None = None) -> Change:
    """Set ``field`` to ``value`` where it is present, non-null (and one of ``replaces``)."""

    def change(obj: Json) -> bool:
        current = obj.get(field)
        if current is None or current == value:
            return False
        if replaces is not None and current not in replaces:
            return False
        obj[field] = value
        return True

    return change


def _float(*fields: str) -> Change:
    def change(obj: Json) -> bool:
        changed = False
        for field in fields:
            value = obj.get(field)
            if type(value) is int:
                obj[field] = float(value)
                changed = True
        return changed

    return change


def _extra(**fields: Any) -> Change:
    def change(obj: Json) -> bool:
        missing = {name: value for name, value in fields.items() if name not in obj}
        obj.update(missing)
        return bool(missing)

    return change


def _both(*changes: Change) -> Change:
    def change(obj: Json) -> bool:
        results = [c(obj) for c in changes]  # every change runs, not just up to the first
        return any(results)

    return change


def _slug_code(obj: Json) -> bool:
    label = obj.get("label")
    if not isinstance(label, str):
        return False
    if "slug" in obj:
        return False
    obj["slug"] = label.lower().replace(" ", "-")
    return True


def _html_php_array(obj: Json) -> bool:
    # An object scheme's rendered html that came out empty: PHP encodes [] not {}.
    if not obj.get("has_content") or not isinstance(obj.get("html"), dict):
        return False
    obj["html"] = []
    return True


def _summary_floats(obj: Json) -> bool:
    summary = obj.get("summary")
    return isinstance(summary, dict) and _float("keyword_count", "keywords_with_content")(summary)


_R = VariationRule
_LISTING = "/projects, /projects/{id}"
_REPORTS = "/reports, /reports/latest, /reports/last-generated, /content, /projects"
UNDOCUMENTED_PROJECT_STATUS: Final = "on hold"
"""The project status of the realistic profile the reference does not list."""
UNKNOWN_SCHEME: Final = "comparison_table"
"""The content scheme of the realistic profile that no SDK knows (see ``_content``)."""

#: Every rule of the realistic profile. The README's table is this table.
VARIATION_RULES: Final[tuple[VariationRule, ...]] = (
    # -- projects: listing and detail (and ``project_status`` on /content) ------------------
    _R(name="project.status.undocumented", kind="project", share=0.03, endpoints=_LISTING,
       example=f'"status": "{UNDOCUMENTED_PROJECT_STATUS}" (the status filter accepts it)',
       change=_value("status", UNDOCUMENTED_PROJECT_STATUS)),
    _R(name="project.plan.null", kind="project", share=0.06, endpoints="/projects/{id}",
       example='"plan": null', change=_null("plan")),
    _R(name="project.country.null", kind="project", share=0.03, endpoints="/projects/{id}",
       example='"country": null', change=_null("country")),
    _R(name="project.managing_user.null", kind="project", share=0.04,
       endpoints="/projects/{id}", example='"managing_user": null',
       change=_null("managing_user")),
    _R(name="project.cc_email.null", kind="project", share=0.10, endpoints="/projects/{id}",
       example='"cc_email": null', change=_null("cc_email")),
    _R(name="project.contact_email.empty", kind="project", share=0.04,
       endpoints="/projects/{id}", example='"contact_email": ""',
       change=_value("contact_email", "")),
    _R(name="project.client_emails.empty", kind="project", share=0.05,
       endpoints="/projects/{id}", example='"client_emails": []',
       change=_value("client_emails", [])),
    _R(name="project.gsc_status.null", kind="project", share=0.04, endpoints="/projects/{id}",
       example='"gsc_status": null', change=_null("gsc_status")),
    _R(name="project.extra_fields", kind="project", share=0.06, endpoints=_LISTING,
       example='"timezone": "Europe/Copenhagen"',
       change=_extra(timezone="Europe/Copenhagen")),
    _R(name="project.settings.php_empty_array", kind="project", share=0.04,
       endpoints=_LISTING, example='"settings": [] (an empty object, PHP-encoded)',
       change=_extra(settings=[])),
    # -- reports: wherever a report is served (the listing shows the same status) --------
    _R(name="report.status.undocumented", kind="report", share=0.30, endpoints=_REPORTS,
       example='"status": "queued" for a pending report (not completed for /latest)',
       change=_value("status", "queued", replaces=frozenset({"pending"}))),
    _R(name="report.approved_status.undocumented", kind="report", share=0.15,
       endpoints=_REPORTS, example='"approved_status": "needs-review" instead of "waiting"',
       change=_value("approved_status", "needs-review", replaces=frozenset({"waiting"}))),
    _R(name="report.managed_status.undocumented", kind="report", share=0.03,
       endpoints=_REPORTS, example='"managed_status": "paused"',
       change=_value("managed_status", "paused")),
    _R(name="report.report_name.null", kind="report", share=0.03, endpoints=_REPORTS,
       example='"report_name": null', change=_null("report_name")),
    _R(name="report.date_to_send_to_client.null", kind="report", share=0.04,
       endpoints=_REPORTS, example='"date_to_send_to_client": null',
       change=_null("date_to_send_to_client")),
    _R(name="report.approved_by.null", kind="report", share=0.04, endpoints=_REPORTS,
       example='"approved_status": "approved", "approved_by": null (user deleted)',
       change=_null("approved_by")),
    _R(name="report.pdf_link.null", kind="report", share=0.04, endpoints=_REPORTS,
       example='"pdf_link": null on a completed report (PDF not rendered yet)',
       change=_null("pdf_link")),
    _R(name="report.extra_fields", kind="report", share=0.05, endpoints=_REPORTS,
       example='"type": "regular"', change=_extra(type="regular")),
    _R(name="report.meta.php_empty_array", kind="report", share=0.03, endpoints=_REPORTS,
       example='"meta": [] (an empty object, PHP-encoded)', change=_extra(meta=[])),
    # -- content ---------------------------------------------------------------------------
    _R(name="content.scheme.unknown", kind="content", share=0.04,
       endpoints="/reports/{n}/content",
       example=f'"content_scheme": "{UNKNOWN_SCHEME}", content {{h2, rows: [{{label, value}}]}}'),
    _R(name="content.summary.float", kind="content", share=0.04,
       endpoints="/reports/{n}/content", example='"summary": {"keyword_count": 12.0, ...}',
       change=_summary_floats),
    _R(name="content.extra_fields", kind="content", share=0.06,
       endpoints="/reports/{n}/content", example='"template_version": 3',
       change=_extra(template_version=3)),
    _R(name="keyword_content.html.php_empty_array", kind="keyword_content", share=0.02,
       endpoints="/reports/{n}/content",
       example='"has_content": true, "html": [] (object scheme, nothing rendered)',
       change=_html_php_array),
    _R(name="keyword_content.extra_fields", kind="keyword_content", share=0.05,
       endpoints="/reports/{n}/content", example='"word_count": 230',
       change=_extra(word_count=230)),
    # -- keywords (``keyword_url`` on /content follows ``url``) ---------------------------
    _R(name="keyword.latest_position.null", kind="keyword", share=0.10,
       endpoints="/keywords", example='"latest_position": null (not ranked yet)',
       change=_null("latest_position")),
    _R(name="keyword.latest_position.float", kind="keyword", share=0.04,
       endpoints="/keywords", example='"latest_position": 14.0',
       change=_float("latest_position")),
    _R(name="keyword.content_count.float", kind="keyword", share=0.03, endpoints="/keywords",
       example='"content_count": 3.0', change=_float("content_count")),
    _R(name="keyword.status_200.null", kind="keyword", share=0.03, endpoints="/keywords",
       example='"status_200": null (not checked yet)', change=_null("status_200")),
    _R(name="keyword.url.empty", kind="keyword", share=0.02,
       endpoints="/keywords, /reports/{n}/content", example='"url": "", "keyword_url": ""',
       change=_both(_value("url", ""), _value("keyword_url", ""))),
    _R(name="keyword.extra_fields", kind="keyword", share=0.06, endpoints="/keywords",
       example='"search_volume": 320', change=_extra(search_volume=320)),
    # -- users (also where they are embedded), lookups, the token --------------------------
    _R(name="user.role.empty", kind="user", share=0.10,
       endpoints="/users, /projects/{id}, reports", example='"role": ""',
       change=_value("role", "")),
    _R(name="user.extra_fields", kind="user", share=0.20,
       endpoints="/users, /projects/{id}, reports", example='"avatar_url": null',
       change=_extra(avatar_url=None)),
    _R(name="country.extra_fields", kind="country", share=0.25,
       endpoints="/countries, /projects/{id}", example='"slug": "united-kingdom"',
       change=_slug_code),
    _R(name="language.extra_fields", kind="language", share=0.25,
       endpoints="/languages, /projects/{id}", example='"slug": "danish"',
       change=_slug_code),
    _R(name="token.extra_fields", kind="token", share=1.0, endpoints="/me",
       example='"expires_at": null', change=_extra(expires_at=None)),
)  # fmt: skip

RULES_BY_NAME: Final = {rule.name: rule for rule in VARIATION_RULES}
KINDS: Final = frozenset(rule.kind for rule in VARIATION_RULES)


def _share(seed: int, rule: str, key: object) -> float:
    digest = hashlib.blake2b(f"{seed}:{rule}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**64


class Variations:
    """Which rules hit which objects of one world (none when ``enabled`` is false)."""

    def __init__(self, seed: int, *, enabled: bool) -> None:
        self.seed = seed
        self.enabled = enabled
        self._by_kind: dict[str, tuple[VariationRule, ...]] = {
            kind: tuple(r for r in VARIATION_RULES if r.kind == kind) for kind in KINDS
        }
        self._cache: dict[tuple[str, object], tuple[VariationRule, ...]] = {}
        self._forced: dict[str, object] = {}

    def ensure(self, kind: str, keys: list[object]) -> None:
        """Make each rule of ``kind`` hit at least one of ``keys`` (the one closest to its
        share when none does by chance). Call before serving anything."""
        if not self.enabled or not keys:
            return
        for rule in self._by_kind[kind]:
            closest = keys[0]
            for key in keys:
                share = _share(self.seed, rule.name, key)
                if share < rule.share:
                    break
                if share < _share(self.seed, rule.name, closest):
                    closest = key
            else:
                self._forced[rule.name] = closest

    def rules_for(self, kind: str, key: object) -> tuple[VariationRule, ...]:
        """The rules that hit the object ``key`` of ``kind`` (stable for a seed)."""
        if not self.enabled:
            return ()
        cached = self._cache.get((kind, key))
        if cached is None:
            cached = tuple(
                r
                for r in self._by_kind[kind]
                if _share(self.seed, r.name, key) < r.share or self._forced.get(r.name) == key
            )
            self._cache[(kind, key)] = cached
        return cached

    def hits(self, rule: str, key: object) -> bool:
        """Whether ``rule`` hits the object ``key`` (for rules applied while generating)."""
        found = RULES_BY_NAME[rule]
        return found in self.rules_for(found.kind, key)

    def apply(self, kind: str, key: object, obj: Json, *, only: str | None = None) -> list[str]:
        """Vary ``obj`` (the JSON of the object ``key``) in place; returns the rules applied.

        ``only`` applies that one rule, where another object mirrors one field (a keyword's
        ``url`` is the ``keyword_url`` of its content).
        """
        applied = []
        for rule in self.rules_for(kind, key):
            if only is not None and rule.name != only:
                continue
            if rule.change is not None and rule.change(obj):
                applied.append(rule.name)
        return applied
