"""``GET /policy``: the effective policy matrix as one self-contained HTML page.

For security reviewers: readable on screen and on paper (print CSS, letters
as well as colours), no script, no external asset, no build step. Every cell
names, and links to, each policy that decides it, listed at the end of the
page with its ``@id``, ``@cite``, effect and file name (never a directory:
responses carry no file paths). Each data category has a row of its own
(``#category-USAGE``): the schema's field descriptions link there from
GraphiQL's docs.

The matrix comes from `gateway.authz.matrix.compute_matrix`, i.e. from Cedar,
never from a table kept here. Rendering is pure; the route caches the page.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from html import escape

from gateway.authz.classify import LEGEND, MARKETING_NOTE, PUBLISHED_NOTE
from gateway.authz.decide import Authorizer
from gateway.authz.matrix import Cell, Matrix, PolicyInfo, compute_matrix
from gateway.authz.model import Category, Purpose, Regime
from gateway.trusted.review import Reviewed

REGIME_TEXT = {
    Regime.OPT_OUT: "opt_out: the FCC's 2002 rules (opt-out approval suffices for communications-related marketing)",
    Regime.OPT_IN: "opt_in: the attorneys general's position (every marketing use needs opt-in; O behaves as I)",
}

# What each category holds (SPEC 5), for the category rows.
CATEGORY_MEANING = {
    Category.PUBLIC: "ids, enum tags, pagination: always readable",
    Category.SUBSCRIBER_LIST: "published name, listed number, service address: not CPNI, and only what is published",
    Category.CONTACT: "email, non-published numbers, billing address",
    Category.SERVICE: "which services and plans (CPNI)",
    Category.CONFIGURATION: "technical configuration (CPNI)",
    Category.USAGE: "call detail and data usage (CPNI)",
    Category.LOCATION: "where a device was (CPNI needing express approval)",
    Category.BILLING: "invoices, balance, payments (CPNI)",
    Category.PAYMENT: "payment instrument, last four digits only",
    Category.CONSENT: "the customer's CPNI approvals and notices",
}

# One background per letter; the letter is always printed too, so the page
# reads in black and white and for colour-blind reviewers.
COLOURS = {
    "A": "#cdebc5",
    "S": "#e3efb8",
    "T": "#c9def5",
    "O": "#fbdcae",
    "I": "#fff0a3",
    "X": "#e4d3f3",
    "D": "#f3c5c5",
    "?": "#ff9ee0",
}


class PolicyPage:
    """``GET /policy`` for one loaded policy: rendered once, off the event loop.

    The render is seconds of Cedar work; the first request waits for it and
    later ones reuse it (a new policy builds a new Authorizer and page).
    """

    def __init__(
        self,
        authorizer: Authorizer,
        operations: Callable[[Matrix], list[Reviewed]] | None = None,
        trusted_mode: str | None = None,
    ) -> None:
        """``operations``: the registered operations reviewed against the matrix (the Operations tab)."""
        self.authorizer = authorizer
        self.operations = operations
        self.trusted_mode = trusted_mode
        self._html: dict[str | None, str] = {}
        self._lock = asyncio.Lock()

    async def html(self, tab: str | None = None) -> str:
        """The whole page, or (``tab="operations"``) its Operations tab on its own."""
        tab = tab if tab == "operations" and self.operations is not None else None
        async with self._lock:
            if tab not in self._html:
                self._html[tab] = await asyncio.to_thread(self._render, tab)
            return self._html[tab]


    def _render(self, tab: str | None) -> str:
        matrix = compute_matrix(self.authorizer)
        operations = self.operations(matrix) if self.operations is not None else None
        return render_matrix_page(matrix, operations=operations, trusted_mode=self.trusted_mode, tab=tab)


def render_policy_page(authorizer: Authorizer, *, now: datetime | None = None) -> str:
    """The page for the policy `authorizer` enforces (about a second or two of Cedar work)."""
    return render_matrix_page(compute_matrix(authorizer), now=now)


def render_matrix_page(
    matrix: Matrix,
    *,
    now: datetime | None = None,
    operations: list[Reviewed] | None = None,
    trusted_mode: str | None = None,
    tab: str | None = None,
) -> str:
    """The page for an already computed matrix (with ``operations``: the Operations section too).

    ``tab="operations"``: the Operations tab (``/policy?tab=operations``): the header, the legend and
    the registered operations, instead of the matrix tables and policies.
    """
    anchors = _anchors(matrix.policies)
    numbers = {info.id: n for n, info in enumerate(_in_source_order(matrix.policies), start=1)}
    # PUBLIC (ids, enum tags) is not customer data: a column only if it ever differs from A.
    every = matrix.cells + matrix.purpose_cells
    public_varies = any(x.letter != "A" for x in every if x.category is Category.PUBLIC)
    shown = [c for c in Category if c is not Category.PUBLIC or public_varies]
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")

    def td(cell: Cell, label: str) -> str:
        refs = "".join(
            f'<a href="#{anchors[pid]}" title="{escape(pid)}"><span class="num">{numbers[pid]}</span> {escape(pid)}</a>'
            for pid in sorted(cell.policy_ids, key=lambda p: numbers.get(p, 0))
            if pid in anchors
        )
        meaning = LEGEND.get(cell.letter, "")
        published = (
            '<sup class="pub" title="published listings only">P</sup>' if cell.published_only else ""
        )
        ids = ", ".join(cell.policy_ids) or "no permit (default deny)"
        return (
            f'<td class="c c-{_letter_class(cell.letter)}" title="{escape(label)}: {escape(cell.label)} = '
            f'{escape(meaning)}{"; published listings only" if cell.published_only else ""}; decided by '
            f'{escape(ids)}"><b>{escape(cell.letter)}</b>{published}<span class="refs">{refs}</span></td>'
        )

    head = "".join(f"<th>{_breakable(c.value)}</th>" for c in shown)
    by_purpose = "".join(
        f"<tr><th>{escape(p.value)}</th><td class=rep>{escape(_division(matrix.purpose_cell(p, Category.PUBLIC)))}"
        "</td>" + "".join(td(matrix.purpose_cell(p, c), f"{p.value} / {c.value}") for c in shown) + "</tr>"
        for p in Purpose
    )
    rows = _rows(matrix.cells)
    by_division = "".join(
        "<tr" + (' class="first"' if first else "") + ">"
        + (f'<th rowspan="{span}">{escape(d)}</th>' if first else "")
        + f"<td>{escape(p.value)}</td>"
        + "".join(td(matrix.cell(d, p, c), f"{d} / {p.value} / {c.value}") for c in shown)
        + "</tr>"
        for d, p, first, span in rows
    )
    purpose_head = "".join(f"<th>{_breakable(p.value)}</th>" for p in Purpose)
    by_category = "".join(
        f'<tr id="category-{c.value}"><th>{escape(c.value)}</th><td class=rep>{escape(CATEGORY_MEANING[c])}</td>'
        + "".join(td(matrix.purpose_cell(p, c), f"{c.value} / {p.value}") for p in Purpose)
        + "</tr>"
        for c in Category
    )
    public_note = "" if Category.PUBLIC in shown else "<p>PUBLIC (ids, enum tags, pagination) is A in every row.</p>"
    legend = f"""<section id="legend"><h2>Legend</h2><dl>{_legend({x.letter for x in every})}</dl>
<p>{escape(MARKETING_NOTE)} {escape(PUBLISHED_NOTE)} Each cell names, and links to, the policies that
decide it at some combination of customer facts (a forbid always wins).</p>
{public_note}</section>"""
    tables = f"""<section id="by-purpose"><h2>By purpose</h2>
<table><thead><tr><th>purpose</th><th>representative division</th>{head}</tr></thead>
<tbody>{by_purpose}</tbody></table></section>
<section id="by-division"><h2>By division</h2>
<table><thead><tr><th>division</th><th>purpose</th>{head}</tr></thead>
<tbody>{by_division}</tbody></table></section>
<section id="by-category"><h2>By category</h2>
<p>One row per data category (the schema's field descriptions link here), one column per purpose, as in
the table by purpose.</p>
<table><thead><tr><th>category</th><th>what it holds</th>{purpose_head}</tr></thead>
<tbody>{by_category}</tbody></table></section>"""
    ops = _operations(operations, trusted_mode) if operations is not None else ""
    policies = f'<section id="policies"><h2>Policies</h2>{_policies(matrix.policies, anchors, numbers)}</section>'
    if tab == "operations" and operations is not None:
        nav = '<nav><a href="/policy">Whole matrix</a> <a href="#legend">Legend</a> <a href="#operations">Operations</a></nav>'
        body = f"{legend}\n{ops}"
    else:
        operations_links = ' <a href="?tab=operations">Operations</a>' if operations is not None else ""
        nav = (
            '<nav><a href="#legend">Legend</a> <a href="#by-purpose">By purpose</a> <a href="#by-division">By division</a>'
            f' <a href="#by-category">By category</a>{operations_links} <a href="#policies">Policies</a></nav>'
        )
        body = f"{legend}\n{tables}\n{policies}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CPNI policy matrix ({escape(matrix.regime.value)})</title>
<style>{_css()}</style></head>
<body>
<header><h1>CPNI policy matrix</h1>
<p class="regime">Regime <strong>{escape(REGIME_TEXT[matrix.regime])}</strong></p>
<p>What each division may read, for each purpose it may declare, computed by evaluating the Cedar policies
over every combination of customer facts. {len(matrix.policies)} policies; computed {escape(when)}.</p>
{nav}</header>
{body}
</body></html>
"""


TRUSTED_TEXT = {
    "enforce": "enforced: any other document is refused (OPERATION_NOT_REGISTERED) and the refusal audited",
    "log": "logged: other documents run, and their audit events are marked UNREGISTERED",
    "off": "off: every document within the limits runs",
}


def _operations(reviewed: list[Reviewed], mode: str | None) -> str:
    """The Operations tab: per division, what each registered operation reads and what each purpose gets."""
    intro = (
        "<p>What each division <em>does</em> ask for: the operations registered in <code>policies/operations/"
        "</code>, the data categories each can read, and the letter of the matrix for each purpose the division "
        "may declare.</p>"
    )
    if mode is not None:
        intro += f'<p class="regime">Trusted documents <strong>{escape(TRUSTED_TEXT.get(mode, mode))}</strong></p>'
    if not reviewed:
        return f'<section id="operations"><h2>Operations</h2>{intro}<p>No operation is registered.</p></section>'
    parts: list[str] = []
    division = None
    for r in reviewed:
        doc = r.document
        if doc.division != division:
            division = doc.division
            parts.append(f'<h3 id="operations-{escape(division)}">{escape(division)}</h3>')
        names = ", ".join(o or "(anonymous)" for o in doc.operations)
        head = "".join(f"<th>{_breakable(c.value)}</th>" for c in r.categories)
        rows = "".join(
            f"<tr><th>{escape(p.value)}</th>"
            + "".join(
                f'<td class="c c-{_letter_class(label[0])}" title="{escape(doc.division)} / {escape(p.value)} / '
                f'{escape(c.value)}: {escape(label)} = {escape(LEGEND.get(label[0], ""))}"><b>{escape(label)}</b></td>'
                for c, label in row.items()
            )
            + "</tr>"
            for p, row in r.outcomes.items()
        )
        table = (
            f"<table><thead><tr><th>purpose</th>{head}</tr></thead><tbody>{rows}</tbody></table>"
            if r.categories and r.outcomes
            else "<p>Reads no categorized field.</p>"
        )
        parts.append(
            f'<article class="op"><h4>{escape(doc.name)} <span class="cite">{escape(names)}</span></h4>'
            f'<p class="cite">{escape(_file_name(doc.file))} &middot; <code>{escape(doc.id)}</code></p>{table}'
            f"<details><summary>document</summary><pre>{escape(doc.text)}</pre></details></article>"
        )
    return f'<section id="operations"><h2>Operations</h2>{intro}{"".join(parts)}</section>'


def _legend(used: set[str]) -> str:
    """Every letter of SPEC 6.2's legend; `?` only when some cell needs it."""
    return "".join(
        f'<div><dt class="c c-{_letter_class(letter)}">{escape(letter)}</dt><dd>{escape(meaning)}</dd></div>'
        for letter, meaning in LEGEND.items()
        if letter != "?" or "?" in used
    )


def _policies(policies: Iterable[PolicyInfo], anchors: dict[str, str], numbers: dict[str, int]) -> str:
    return "".join(
        f'<article id="{anchors[info.id]}"><h3><span class="num">{numbers[info.id]}</span> {escape(info.id)} '
        f'<span class="effect {escape(info.effect)}">{escape(info.effect)}</span></h3>'
        f'<p class="cite">{escape(info.cite)} &middot; {escape(_file_name(info.file))}, line {info.line}</p>'
        f"<pre>{escape(info.text)}</pre></article>"
        for info in _in_source_order(policies)
    )


def _in_source_order(policies: Iterable[PolicyInfo]) -> list[PolicyInfo]:
    return sorted(policies, key=lambda i: (_file_name(i.file), i.line, i.id))


def _anchors(policies: Iterable[PolicyInfo]) -> dict[str, str]:
    """A valid, unique HTML id per policy id."""
    anchors: dict[str, str] = {}
    for info in policies:
        base = "policy-" + re.sub(r"[^A-Za-z0-9_.-]", "-", info.id)
        anchor, n = base, 1
        while anchor in anchors.values():
            n += 1
            anchor = f"{base}-{n}"
        anchors[info.id] = anchor
    return anchors


def _rows(cells: Iterable[Cell]) -> list[tuple[str, Purpose, bool, int]]:
    """(division, purpose, first row of the division, rows of the division), registry order."""
    seen: dict[tuple[str, Purpose], None] = {}
    for c in cells:
        seen.setdefault((c.division, c.purpose), None)
    spans: dict[str, int] = {}
    for division, _ in seen:
        spans[division] = spans.get(division, 0) + 1
    rows: list[tuple[str, Purpose, bool, int]] = []
    for division, purpose in seen:
        first = not rows or rows[-1][0] != division
        rows.append((division, purpose, first, spans[division]))
    return rows


def _division(cell: Cell) -> str:
    return cell.division or "(none declares it: a carrier division)"


def _file_name(path: str) -> str:
    return re.split(r"[\\/]", path)[-1]


def _breakable(name: str) -> str:
    """Long category names may wrap after an underscore in narrow columns."""
    return "_<wbr>".join(escape(part) for part in name.split("_"))


def _letter_class(letter: str) -> str:
    return "Q" if letter == "?" else escape(letter)


def _css() -> str:
    colours = "".join(f".c-{_letter_class(k)}{{background:{v}}}" for k, v in COLOURS.items())
    return (
        "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1b1b;margin:1.5rem;"
        "-webkit-print-color-adjust:exact;print-color-adjust:exact}"
        "h1{margin:0 0 .3rem}h2{margin:1.6rem 0 .6rem;border-bottom:2px solid #444}"
        ".regime strong{background:#eef;padding:.1rem .4rem;border-radius:3px}"
        "nav a{margin-right:1rem}"
        "dl{display:grid;grid-template-columns:repeat(auto-fill,minmax(22rem,1fr));gap:.3rem 1rem;margin:0}"
        "dl div{display:flex;align-items:baseline;gap:.5rem}dd{margin:0}"
        "dt.c{min-width:1.6rem;text-align:center;font-weight:bold;padding:.1rem .3rem;border:1px solid #999}"
        "table{border-collapse:collapse;margin-bottom:1rem}"
        "th,td{border:1px solid #999;padding:.2rem .35rem;vertical-align:top;text-align:left}"
        "thead th{background:#333;color:#fff;font-size:12px;font-weight:600}"
        "tbody th{background:#f2f2f2;white-space:nowrap}td.rep{font-size:12px;color:#444}"
        "td.c{min-width:3.2rem;max-width:9rem;text-align:center}td.c b{font-size:16px}"
        ".refs{font-size:10px}.refs a{display:block;color:#333;margin:.1rem 0;overflow-wrap:anywhere;text-align:left}"
        ".refs .num{color:#666}sup.pub{font-weight:bold;font-size:11px}tr:target th{background:#fffbe0}"
        "tr.first td,tr.first th{border-top:2px solid #333}"
        "article{border-left:4px solid #999;padding:.1rem .8rem;margin:.8rem 0}"
        "article h3{margin:.3rem 0;font-size:15px}.num{display:inline-block;min-width:1.6rem;color:#555}"
        ".effect{font-size:11px;padding:0 .3rem;border-radius:3px;text-transform:uppercase}"
        ".effect.permit{background:#cdebc5}.effect.forbid{background:#f3c5c5}"
        "article:target{background:#fffbe0}.cite{margin:.2rem 0;color:#444}"
        "pre{background:#f6f6f6;padding:.5rem;white-space:pre-wrap;font-size:12px;margin:.3rem 0}"
        + colours
        + "@page{size:A4 landscape;margin:10mm}"
        "@media print{body{margin:0;font-size:10px}nav{display:none}a{color:inherit;text-decoration:none}"
        "thead{display:table-header-group}tr,article{break-inside:avoid}"
        "#by-division,#by-category,#policies{break-before:page}td.c b{font-size:12px}.refs{font-size:8px}"
        "pre{font-size:9px}}"
    )
