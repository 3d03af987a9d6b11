"""Realistic texts and the keyword content of every content scheme.

Everything here is a pure function of a :class:`random.Random`, so the world can
regenerate the same content for the same ``(seed, project, report, keyword)`` on every
request instead of storing it.
"""

from __future__ import annotations

import html
import random
from typing import Any, Final

Json = dict[str, Any]

FIRST_NAMES: Final = (
    "Anna", "Mads", "Sofie", "Lukas", "Emma", "Jonas", "Ida", "Oliver", "Clara", "Noah",
    "Freja", "William", "Laura", "Victor", "Maja", "Elias", "Nora", "Oscar", "Julie", "Felix",
)  # fmt: skip
SURNAMES: Final = (
    "Hansen", "Jensen", "Nielsen", "Larsen", "Andersen", "Pedersen", "Berg", "Holm",
    "Lindqvist", "Schmidt", "Meyer", "Keller", "Brandt", "Kowalski", "Moreau", "Fischer",
)  # fmt: skip
CITIES: Final = (
    "Copenhagen", "Aarhus", "Odense", "Aalborg", "Malmo", "Hamburg", "Berlin", "Oslo",
    "Bergen", "Gothenburg", "Munich", "Vienna", "Zurich", "Rotterdam", "Leeds", "Bristol",
)  # fmt: skip
#: trade -> (company word, keyword phrases)
TRADES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "plumbing": (
        "Plumbing",
        ("emergency plumber", "blocked drain", "boiler repair", "bathroom renovation",
         "leak detection", "water heater installation"),
    ),
    "roofing": (
        "Roofing",
        ("roof repair", "new roof cost", "flat roof", "gutter cleaning", "roof inspection",
         "skylight installation"),
    ),
    "dental": (
        "Dental Clinic",
        ("dentist", "teeth whitening", "dental implants", "emergency dentist",
         "invisible braces", "dental hygienist"),
    ),
    "law": (
        "Law Firm",
        ("divorce lawyer", "employment lawyer", "property lawyer", "free legal advice",
         "business lawyer", "inheritance lawyer"),
    ),
    "electric": (
        "Electric",
        ("electrician", "ev charger installation", "fuse box replacement",
         "smart home installation", "outdoor lighting", "electrical inspection"),
    ),
    "garden": (
        "Garden Design",
        ("garden designer", "landscaping", "hedge trimming", "lawn care", "patio installation",
         "tree felling"),
    ),
    "fitness": (
        "Fitness",
        ("personal trainer", "gym membership", "yoga classes", "pilates studio", "crossfit",
         "weight loss program"),
    ),
    "cleaning": (
        "Cleaning",
        ("office cleaning", "window cleaning", "carpet cleaning", "end of tenancy cleaning",
         "deep cleaning", "house cleaning"),
    ),
    "auto": (
        "Auto Service",
        ("car service", "tyre change", "mot test", "brake repair", "car air conditioning",
         "windscreen repair"),
    ),
    "bakery": (
        "Bakery",
        ("sourdough bread", "wedding cake", "birthday cake", "gluten free bakery",
         "cinnamon buns", "bakery near me"),
    ),
}  # fmt: skip
AGENCY_NAMES: Final = (
    "Digipartner Agency", "Nordlys Marketing", "Bright Harbour Digital", "Klar SEO",
    "Bluefjord Media", "Summit Search", "Lumen Growth", "Oakridge Online",
    "Pixelpoint Agency", "Northwind Performance",
)  # fmt: skip
ROLES: Final = ("Account Manager", "SEO Specialist", "Content Lead", "Agency Admin")
INTERNAL_ROLES: Final = ("Trakk Support", "Content Editor")
TLDS: Final = ("dk", "com", "se", "de", "no", "co.uk", "nl")

_SENTENCES: Final = (
    "Looking for {kw} in {city}? {company} has helped local customers for over {years} years.",
    "Our certified team handles everything from small jobs to complete projects, always at a "
    "fixed price agreed up front.",
    "We answer every enquiry within one working day and can usually start the same week.",
    "Customers across {city} rate our {trade} work {rating} out of 5 for quality and tidiness.",
    "Get a free, no-obligation quote today and hear how we can help with {kw}.",
    "Every job comes with a written guarantee, so you know exactly what you are paying for.",
    "We use quality materials from trusted suppliers and explain each step before we begin.",
    "Whether it is a private home or a business, {company} plans the work around your day.",
    "Book online in two minutes or call us for straight answers from a real expert.",
    "Transparent prices, no hidden fees and friendly people who turn up on time.",
)
_HEADINGS: Final = (
    "{Kw} in {city}",
    "Why choose {company} for {kw}",
    "What does {kw} cost?",
    "Fast and reliable {kw}",
    "{Kw}: how it works",
    "Your local experts in {kw}",
    "Get started with {kw} today",
)
_QUESTIONS: Final = (
    "How much does {kw} cost in {city}?",
    "How quickly can you start on {kw}?",
    "Do you offer a guarantee on {trade} work?",
    "Which areas around {city} do you cover?",
    "Can I get a free quote for {kw}?",
    "Do I need to be at home while you work?",
)
_BULLETS: Final = (
    "Fixed prices agreed before work starts",
    "Certified and insured specialists",
    "Free, no-obligation quotes",
    "Same-week appointments across {city}",
    "Written guarantee on every job",
    "Tidy work and clean-up included",
    "Friendly advice from real experts",
)


def _fill(template: str, ctx: dict[str, str], rng: random.Random) -> str:
    return template.format(
        **ctx, years=rng.randint(5, 40), rating=rng.choice(("4.7", "4.8", "4.9"))
    )


def _text(ctx: dict[str, str], rng: random.Random, sentences: int = 3) -> str:
    first = _fill(_SENTENCES[0], ctx, rng)
    rest = rng.sample(_SENTENCES[1:], sentences - 1)
    return " ".join([first, *(_fill(s, ctx, rng) for s in rest)])


def _heading(ctx: dict[str, str], rng: random.Random) -> str:
    return _fill(rng.choice(_HEADINGS), ctx, rng)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _heading_and_text(tag: str, ctx: dict[str, str], rng: random.Random) -> tuple[Json, Json]:
    head, text = _heading(ctx, rng), _text(ctx, rng)
    content = {tag: head, "text": text}
    return content, {f"{tag}_and_text": f"<{tag}>{_e(head)}</{tag}><p>{_e(text)}</p>"}


#: scheme -> (content_scheme_fields, variants or None for object schemes)
SCHEMES: Final[dict[str, tuple[tuple[str, ...], int | None]]] = {
    "metadata": (("meta_title", "meta_description"), 3),
    "h1_headlines": (("h1",), 3),
    "h2_text_blocks": (("h2", "text"), 3),
    "h3_text_blocks": (("h3", "text"), 3),
    "h4_text_blocks": (("h4", "text"), 6),
    "qa_block": (("question", "answer"), 4),
    "link_blocks": (("h2", "text", "links"), 2),
    "single_text_block": (("text",), None),
    "h2_summary_block": (("h2", "texts"), None),
    "subnavigation": (("links",), None),
    "bullet_points": (("h2", "text", "bullet_points"), None),
    "numbered_points": (("h2", "text", "numbered_points"), None),
    "image_alt_text": (("search_terms", "alt_texts"), None),
}

#: Schemes the reference does not list: the realistic profile's ``content.scheme.unknown``
#: gives a few reports one, shaped like the object schemes (a newer Trakk's report type).
UNDOCUMENTED_SCHEMES: Final[dict[str, tuple[tuple[str, ...], int | None]]] = {
    "comparison_table": (("h2", "rows"), None),
}

#: report_number -> (report type name, content scheme), from the reference's mapping table.
REPORT_TYPES: Final[dict[int, tuple[str, str]]] = {}
for _numbers, _name, _scheme in (
    ((1,), "SEO Text", "single_text_block"),
    ((2, 19), "Meta data", "metadata"),
    ((3,), "H1 Headlines", "h1_headlines"),
    ((4, 13, 16), "H2 + Text", "h2_text_blocks"),
    ((5, 7, 14, 17, 26), "H3 + Text", "h3_text_blocks"),
    ((6, 10, 23, 25), "Q&A", "qa_block"),
    ((8,), "Images + alt-texts", "image_alt_text"),
    ((9,), "Text + internal links", "link_blocks"),
    ((11, 24), "H2 + Summary", "h2_summary_block"),
    ((12,), "Subnavigation", "subnavigation"),
    ((15, 18, 21), "H4 + Text", "h4_text_blocks"),
    ((20,), "Bullet Points", "bullet_points"),
    ((22,), "Numbered Points", "numbered_points"),
):
    for _i, _n in enumerate(_numbers, start=1):
        REPORT_TYPES[_n] = (_name if len(_numbers) == 1 else f"{_name} {_i}", _scheme)


def scheme_fields(scheme: str) -> list[str]:
    """The ``content_scheme_fields`` of a scheme, documented or not."""
    known = SCHEMES.get(scheme) or UNDOCUMENTED_SCHEMES[scheme]
    return list(known[0])


def scheme_of(report_number: int) -> str:
    """The content scheme of a report number (1-26)."""
    return REPORT_TYPES[report_number][1]


def report_name(report_number: int) -> str:
    """``"H3 + Text 3"`` for report 14, as in the reference's example."""
    return REPORT_TYPES[report_number][0]


def keyword_content(
    scheme: str,
    rng: random.Random,
    *,
    keyword: str,
    company: str,
    city: str,
    trade: str,
    domain: str,
    siblings: list[tuple[str, str]],
) -> tuple[Json | list[Json], Json | list[Json]]:
    """``(content, html)`` of one keyword in one report, shaped by ``scheme``.

    ``siblings`` are the project's other ``(keyword, url)`` pairs, used for links.
    """
    ctx = {
        "kw": keyword,
        "Kw": keyword[:1].upper() + keyword[1:],
        "city": city,
        "company": company,
        "trade": trade,
    }
    variants = (SCHEMES.get(scheme) or UNDOCUMENTED_SCHEMES[scheme])[1]
    if scheme == "metadata":
        contents: list[Json] = []
        htmls: list[Json] = []
        for _ in range(variants or 0):
            title = f"{_heading(ctx, rng)} | {company}"
            desc = _text(ctx, rng, 2)
            contents.append({"meta_title": title, "meta_description": desc})
            htmls.append(
                {
                    "meta_title": f"<title>{_e(title)}</title>",
                    "meta_description": f'<meta name="description" content="{_e(desc)}">',
                }
            )
        return contents, htmls
    if scheme == "h1_headlines":
        heads = [_heading(ctx, rng) for _ in range(variants or 0)]
        return [{"h1": h} for h in heads], [{"h1": f"<h1>{_e(h)}</h1>"} for h in heads]
    if scheme in ("h2_text_blocks", "h3_text_blocks", "h4_text_blocks"):
        pairs = [_heading_and_text(scheme[:2], ctx, rng) for _ in range(variants or 0)]
        return [c for c, _ in pairs], [h for _, h in pairs]
    if scheme == "qa_block":
        qas = [
            {"question": _fill(q, ctx, rng), "answer": _text(ctx, rng, 2)}
            for q in rng.sample(_QUESTIONS, variants or 0)
        ]
        rendered = "".join(f"<h3>{_e(qa['question'])}</h3><p>{_e(qa['answer'])}</p>" for qa in qas)
        return qas, {"qa": f'<div class="qa">{rendered}</div>'}
    if scheme == "link_blocks":
        contents, htmls = [], []
        for _ in range(variants or 0):
            block, block_html = _heading_and_text("h2", ctx, rng)
            picks = rng.sample(siblings, min(len(siblings), 3))
            block["links"] = [{"anchor_text": kw, "url": url} for kw, url in picks]
            contents.append(block)
            htmls.append(block_html)
        return contents, htmls
    if scheme == "single_text_block":
        text = _text(ctx, rng, 4)
        return {"text": text}, {"text": f"<p>{_e(text)}</p>"}
    if scheme == "h2_summary_block":
        head = _heading(ctx, rng)
        texts = [_text(ctx, rng, 2), _text(ctx, rng, 2)]
        return {"h2": head, "texts": texts}, {
            "texts": [f"<h2>{_e(head)}</h2><p>{_e(texts[0])}</p>", f"<p>{_e(texts[1])}</p>"]
        }
    if scheme == "subnavigation":
        picks = rng.sample(siblings, min(len(siblings), 5))
        anchors = "".join(f'<a href="{_e(url)}">{_e(kw)}</a>' for kw, url in picks)
        return {"links": [{"keyword": kw, "url": url} for kw, url in picks]}, {
            "subnavigation": f'<div class="subnavigation">{anchors}</div>'
        }
    if scheme in ("bullet_points", "numbered_points"):
        head, text = _heading(ctx, rng), _text(ctx, rng, 2)
        points = [_fill(b, ctx, rng) for b in rng.sample(_BULLETS, rng.randint(3, 5))]
        tag = "ul" if scheme == "bullet_points" else "ol"
        items = "".join(f"<li>{_e(p)}</li>" for p in points)
        return {"h2": head, "text": text, scheme: points}, {
            scheme: f"<h2>{_e(head)}</h2><p>{_e(text)}</p><{tag}>{items}</{tag}>"
        }
    if scheme == "image_alt_text":
        terms = [keyword, f"{keyword} {city.lower()}"]
        alts = [
            f"{ctx['Kw']} by {company} in {city}",
            f"Our team at work on {keyword}",
            f"Before and after: {keyword} for a customer in {city}",
            f"{company} specialist explaining {keyword}",
        ]
        slug = keyword.replace(" ", "-")
        imgs = [
            f'<img src="https://{domain}/images/{slug}-{i}.jpg" alt="{_e(alt)}">'
            for i, alt in enumerate(alts, start=1)
        ]
        return {"search_terms": terms, "alt_texts": alts}, {"alt_texts": imgs}
    if scheme == "comparison_table":
        head = _heading(ctx, rng)
        rows = [
            {"label": "Price from", "value": f"{rng.randint(40, 400)} EUR"},
            {"label": "Response time", "value": f"{rng.randint(1, 48)} hours"},
            {"label": "Guarantee", "value": f"{rng.choice((1, 2, 5))} years"},
        ]
        cells = "".join(
            f"<tr><th>{_e(r['label'])}</th><td>{_e(r['value'])}</td></tr>" for r in rows
        )
        return {"h2": head, "rows": rows}, {
            "comparison_table": f"<h2>{_e(head)}</h2><table>{cells}</table>"
        }
    raise ValueError(f"unknown content scheme {scheme!r}")
