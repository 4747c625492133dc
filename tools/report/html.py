"""``report/index.html``: the whole report on one page, drawn from a :class:`~tools.report.content.Report`.

One section per notebook in the notebooks' order: its headline numbers as tables, then its figures
and written observations in the notebook's cell order. Figures are linked relatively
(``figures/<section>/<name>.png``), formulas are inline SVG, styles are inline: the page needs
nothing but the report folder, and no network.
"""
from __future__ import annotations

import html
from pathlib import Path

from tools.report.content import SUBTITLE, TITLE, Deliverable, Report, Section
from tools.report.tables import Table, format_seconds, headline_tables
from tools.report.markdown import to_html

STYLE = """
:root { --ink:#1f2328; --muted:#59636e; --line:#d8dee4; --accent:#0072B2; --paper:#ffffff;
        --bg:#f4f5f7; --stripe:#f6f8fa; --warn:#9a6700; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:16px/1.6 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
header.masthead { margin-bottom: 1.5rem; }
header.masthead h1 { font-size: 2.1rem; margin: 0; letter-spacing: -0.02em; }
header.masthead .subtitle { font-size: 1.1rem; color: var(--muted); margin: .2rem 0 .8rem; }
.meta { color: var(--muted); font-size: .9rem; margin: .2rem 0; }
.warning { color: var(--warn); font-weight: 600; }
.card { background: var(--paper); border: 1px solid var(--line); border-radius: 10px;
        padding: 1.4rem 1.8rem; margin: 1.4rem 0; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
h2 { font-size: 1.55rem; margin: 0 0 .3rem; letter-spacing: -0.01em; }
h2 .num { display:inline-block; min-width: 2.2em; color: var(--accent); font-variant-numeric: tabular-nums; }
h3 { font-size: 1.15rem; margin: 1.6rem 0 .5rem; }
h4, h5, h6 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
code, pre { font-family: ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size: .88em; }
code { background: var(--stripe); padding: .1em .35em; border-radius: 4px; }
pre { background: var(--stripe); padding: .8rem 1rem; border-radius: 6px; overflow-x: auto; }
pre code { background: none; padding: 0; }
table { border-collapse: collapse; margin: .6rem 0 1.2rem; font-size: .93rem;
        font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: .35rem; }
th, td { padding: .32rem .8rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); font-weight: 600; }
tbody tr:nth-child(even) { background: var(--stripe); }
td.num, th.num { text-align: right; }
td.num, td.seq { white-space: nowrap; }
table.wide { font-size: .82rem; } table.wide th, table.wide td { padding: .3rem .45rem; }
.table-wrap { overflow-x: auto; }
figure { margin: 1.4rem 0; text-align: center; }
figure img { max-width: 100%; max-height: 85vh; width: auto; height: auto; border-radius: 4px; }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .35rem; }
.observation { border-left: 3px solid var(--accent); padding: .1rem 0 .1rem 1rem; margin: 1.2rem 0; }
.observation > :first-child { margin-top: .2rem; }
img.math { display: inline-block; }
.math-block { text-align: center; margin: .8rem 0; }
.deliverable pre { max-height: 12em; }
footer { color: var(--muted); font-size: .85rem; text-align: center; margin-top: 2.5rem; }
"""


WIDE_TABLE_COLUMNS = 7  # more columns than this: smaller type so that a sweep table fits the page
DOT = " \u00b7 "


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def table_html(table: Table) -> str:
    sequences = table.sequences or [False] * len(table.header)

    def cells(tag: str, values: list[str]) -> str:
        html = []
        for value, numeric, sequence in zip(values, table.numeric, sequences):
            classes = [name for name, on in (("num", numeric), ("seq", sequence and tag == "td")) if on]
            attribute = f' class="{" ".join(classes)}"' if classes else ""
            html.append(f"<{tag}{attribute}>{_e(value)}</{tag}>")
        return "".join(html)
    caption = f"<caption>{_e(table.title)}</caption>" if table.title else ""
    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in table.rows)
    wide = ' class="wide"' if len(table.header) > WIDE_TABLE_COLUMNS else ""
    return (f'<div class="table-wrap"><table{wide}>{caption}<thead><tr>{cells("th", table.header)}</tr>'
            f"</thead><tbody>{body}</tbody></table></div>")


def _section_number(section: Section) -> str:
    prefix = section.name.split("_", 1)[0]
    return prefix if prefix.isdigit() and not section.title.startswith(prefix) else ""


def _section_html(section: Section) -> str:
    tables = headline_tables(section.metrics)
    number = _section_number(section)
    parts = [f'<section class="card" id="{_e(section.name)}">',
             f'<h2><span class="num">{_e(number)}</span>{_e(section.title)}</h2>' if number
             else f"<h2>{_e(section.title)}</h2>"]
    links = []
    if section.notebook:
        links = [f"<code>{_e(section.notebook)}</code>", f"ran in {format_seconds(section.seconds)}",
                 f'<a href="notebooks/{_e(section.name)}.html">executed notebook</a>',
                 f'<a href="notebooks/{_e(section.name)}.ipynb">.ipynb</a>']
    parts.append(f'<p class="meta">{DOT.join(links)}</p>' if links else "")
    if tables:
        parts.append("<h3>Headline numbers</h3>")
        parts += [table_html(t) for t in tables]
    for item in section.items:
        if item.kind == "figure":
            # loaded eagerly: a lazy image is blank when the page is printed or captured whole
            parts.append(f'<figure><img src="{_e(item.path)}" alt="{_e(item.alt or item.caption)}">'
                         f"<figcaption>{_e(item.caption)}</figcaption></figure>")
        else:
            parts.append(f'<div class="observation">{to_html(item.markdown)}</div>')
    if not tables and not section.items:
        parts.append('<p class="meta">This notebook handed nothing over to the report; '
                     "see its executed copy.</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _contents_html(report: Report) -> str:
    rows = "".join(
        f'<tr><td><a href="#{_e(s.name)}">{_e(s.title)}</a></td><td><code>{_e(s.name)}</code></td>'
        f'<td class="num">{format_seconds(s.seconds)}</td></tr>' for s in report.sections)
    total = f'<tr><td colspan="2"><strong>whole build</strong> ({report.jobs} at a time)</td>' \
            f'<td class="num"><strong>{format_seconds(report.total_seconds)}</strong></td></tr>'
    return ('<section class="card" id="contents"><h2>Contents</h2><table><thead><tr><th>section</th>'
            f'<th>notebook</th><th class="num">run time</th></tr></thead><tbody>{rows}{total}'
            "</tbody></table></section>")


def _size(n_bytes: int) -> str:
    return f"{n_bytes} B" if n_bytes < 1024 else f"{n_bytes / 1024:.1f} kB"


def _deliverables_html(deliverables: list[Deliverable]) -> str:
    if not deliverables:
        return ""
    parts = ['<section class="card" id="deliverables"><h2>Deliverables</h2>']
    for item in deliverables:
        lines = "binary file" if item.line_count is None else f"{item.line_count} lines"
        preview = ""
        if item.preview:
            more = "\n\u2026" if item.line_count and item.line_count > len(item.preview) else ""
            preview = f"<pre>{_e(chr(10).join(item.preview))}{more}</pre>"
        parts.append(f'<div class="deliverable"><p><a href="{_e(item.name)}"><code>{_e(item.name)}</code></a>'
                     f' <span class="meta">{lines}, {_size(item.size)}</span></p>{preview}</div>')
    parts.append("</section>")
    return "\n".join(parts)


def render_index(report: Report) -> str:
    """The page as a string."""
    env = report.environment
    meta = (f"Generated {_e(report.generated_text)} by <code>make report</code> in {format_seconds(report.total_seconds)} \u00b7 "
            f"Python {_e(env['python'])} \u00b7 torch {_e(env['torch'])} \u00b7 {_e(env['platform'])} \u00b7 "
            f"{env['cpu_count']} CPUs")
    partial = "" if report.complete else (
        '<p class="warning">Partial report: only the notebooks chosen with <code>--only</code> ran.</p>')
    warnings = "".join(f'<p class="warning">{_e(w)}</p>' for w in report.warnings)
    sections = "\n".join(_section_html(s) for s in report.sections)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(TITLE)}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<header class="masthead">
<h1>{_e(TITLE)}</h1>
<p class="subtitle">{_e(SUBTITLE)}</p>
<p class="meta">{meta}</p>
<p class="meta">Also as <a href="report.pdf">PDF</a>; every number in
<a href="metrics.json"><code>metrics.json</code></a>.</p>
{partial}{warnings}
</header>
{_contents_html(report)}
{_deliverables_html(report.deliverables)}
{sections}
<footer>Generated by <code>make report</code> (<code>python -m tools.report</code>); do not edit,
rebuild instead.</footer>
</main>
</body>
</html>
"""


def write_index(report: Report, path: Path) -> None:
    path.write_text(render_index(report), encoding="utf-8")
