"""The report page as HTML: one self-contained document, no script, nothing from another host.

Every value from the data is escaped; images are data URIs; links are in-page anchors, and one
same-host link to the API's CSV export of every row (followed only when clicked).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from bqat.measures import Measure
from bqat.report_charts import histogram_svg, shares_svg

if TYPE_CHECKING:
    from bqat.report import ReportContent

SHOWN_OUTLIERS = 50
SHOWN_EXCLUDED = 20
SHOWN_GROUPS = 100
SHOWN_NAMES = 12  # per duplicate group
SHOWN_ERRORS = 200

STYLE = """
#bqat-report { font-family: system-ui, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: #1d2433; margin: 24px 24px 8px; font-size: 14px; line-height: 1.45; }
#bqat-report h1 { font-size: 24px; margin: 0 0 4px; }
#bqat-report h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #d8dde6;
  padding-bottom: 4px; }
#bqat-report .sub { color: #5b6475; margin: 0 0 12px; }
#bqat-report nav a { margin-right: 14px; color: #1b5fc1; text-decoration: none; }
#bqat-report .cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
#bqat-report .card { border: 1px solid #d8dde6; border-radius: 6px; padding: 10px 16px;
  min-width: 130px; background: #f7f9fc; }
#bqat-report .card b { display: block; font-size: 22px; }
#bqat-report table { border-collapse: collapse; width: 100%; margin: 6px 0; }
#bqat-report th, #bqat-report td { border-bottom: 1px solid #e6e9ef; padding: 4px 8px;
  text-align: left; vertical-align: top; }
#bqat-report th { background: #f0f3f8; font-weight: 600; }
#bqat-report .num { float: right; font-variant-numeric: tabular-nums; }
#bqat-report img { border-radius: 3px; display: block; }
#bqat-report .thumbs { display: flex; gap: 6px; flex-wrap: wrap; }
#bqat-report .none { color: #8a93a3; font-style: italic; }
#bqat-report code { font-size: 13px; }
#bqat-report .panels { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr));
  gap: 14px; }
#bqat-report .panel { border: 1px solid #e6e9ef; border-radius: 6px; padding: 8px 10px; }
#bqat-report .panel h3 { font-size: 14px; margin: 0 0 2px; }
#bqat-report .panel p { margin: 0 0 6px; color: #5b6475; font-size: 12px; }
#bqat-report .chart { display: block; font-size: 10px; fill: #5b6475; }
#bqat-report .chart rect { fill: #3d7bd9; }
#bqat-report .chart .axis { stroke: #aab2c0; }
#bqat-report .banner { border: 1px solid #d9a400; background: #fff6d6; border-radius: 6px;
  padding: 10px 14px; margin: 12px 0; font-weight: 600; }
#bqat-report .fail { color: #b3261e; font-weight: 600; }
#bqat-report .unknown { color: #8a6d00; font-weight: 600; }
#bqat-report .pass { color: #1e7b34; font-weight: 600; }
"""


@dataclass(frozen=True)
class Deviation:
    """How far one value of an outlier lies from the dataset's median, in interquartile ranges."""

    column: str
    value: Any
    median: float
    iqrs: float


def render_page(content: ReportContent, version: str) -> str:
    """The whole report page."""
    title = f"bqat report · {content.info.dataset_id}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="UTF-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<div id="bqat-report">{_sections(content, version)}</div></body></html>\n'
    )


def _sections(content: ReportContent, version: str) -> str:
    info = content.info
    outliers = (content.outliers or {}).get("outliers", [])
    exact = [g for g in content.duplicates if g.kind == "exact"]
    near = [g for g in content.duplicates if g.kind == "near"]
    verdicts = content.verdicts
    cards: list[tuple[str, object]] = [
        ("samples assessed", info.rows),
        *(
            [(f"{v} · {verdicts.profile.name}", n) for v, n in verdicts.counts.items()]
            if verdicts
            else []
        ),
        ("errors", info.errors),
        ("outliers", len(outliers) if content.outliers else "not run"),
        ("exact duplicate groups", len(exact)),
        ("near-duplicate groups", len(near)),
    ]
    return "".join(
        [
            f"<h1>Quality report · {escape(info.dataset_id)}</h1>",
            f'<p class="sub">{escape(info.modality)} samples · dataset created '
            f"{info.created:%Y-%m-%d %H:%M} UTC · report generated "
            f"{content.generated_at:%Y-%m-%d %H:%M} UTC by bqat {escape(version)}</p>",
            "<nav>"
            + "".join(
                f'<a href="#{anchor}">{label}</a>'
                for anchor, label in (
                    ("bqat-verdicts", "Verdicts"),
                    ("bqat-samples", "Worst samples"),
                    ("bqat-outliers", "Outliers"),
                    ("bqat-duplicates", "Duplicates"),
                    ("bqat-errors", "Errors"),
                    ("bqat-columns", "Columns"),
                    ("bqat-distributions", "Distributions"),
                )
            )
            + "</nav>",
            '<div class="cards">'
            + "".join(f'<div class="card"><b>{v}</b>{escape(k)}</div>' for k, v in cards)
            + "</div>",
            _changes_text(content.history),
            _warning_banner(content.warning),
            _verdicts_section(content),
            _worst_section(content),
            _outliers_section(content),
            _duplicates_section(content),
            _errors_section(content),
            _columns_section(content),
            _distributions_section(content),
        ]
    )


def _changes_text(history: list[dict[str, Any]]) -> str:
    """What the latest scan, import or deletion changed, against the snapshot before it."""
    if not history:
        return ""
    last = history[-1]
    counts = ", ".join(f"{last[k]} {k}" for k in ("added", "changed", "removed"))
    since = f"since snapshot {history[-2]['snapshot']}" if len(history) > 1 else "first snapshot"
    return (
        f'<p class="sub">Latest snapshot {last["snapshot"]} ({escape(last["time"][:16])} UTC, '
        f"{since}): {counts} rows; earlier states: <code>as_of=</code> and "
        "GET /scan/{id}/history.</p>"
    )


def _warning_banner(warning: str | None) -> str:
    if warning is None:
        return ""
    return f'<div class="banner" id="bqat-warning" role="alert">{escape(warning)}</div>'


def _verdicts_section(content: ReportContent) -> str:
    """Counts per verdict and, per component of the default profile, its threshold, where the
    value comes from, and how many rows fail it or lack its value."""
    head = '<h2 id="bqat-verdicts">Verdicts</h2>'
    verdicts = content.verdicts
    if verdicts is None:
        return head + '<p class="none">No quality profile is declared for this modality.</p>'
    profile = verdicts.profile
    thresholds = {t.measure: t for t in profile.thresholds}
    rows = [
        [
            f"<code>{escape(name)}</code>",
            escape(thresholds[name].describe()),
            _num(failing),
            _num(missing),
            escape(thresholds[name].source),
        ]
        for name, (failing, missing) in verdicts.components.items()
    ]
    counts = " · ".join(f'<span class="{v}">{n} {v}</span>' for v, n in verdicts.counts.items())
    dataset = content.info.dataset_id
    return (
        head + f"<p>Profile <b>{escape(profile.title)}</b> (<code>{escape(profile.name)}</code>, "
        f"the {escape(profile.modality)} default): {escape(profile.description)}</p>"
        + f"<p>{counts}. A sample passes when every component passes, fails when one fails, "
        "and is unknown when none fails but a value is missing (no face found, a measure "
        "that could not be computed). Verdicts are computed from the stored values when read, "
        "never stored.</p>"
        + _table(["component", "passes when", "failing", "unknown (null)", "source"], rows)
        + '<p class="sub">Every profile and its sources: GET /quality-profiles?modality='
        f"{escape(profile.modality)}; the rows of one verdict: GET /scan/{escape(dataset)}"
        f"/profiles?profile={escape(profile.name)}&amp;verdict=fail, or "
        f"<code>bqat verdicts {escape(dataset)} --verdict fail</code>.</p>"
    )


def _worst_section(content: ReportContent) -> str:
    """The worst samples with thumbnails, their verdict and failed components, and the link to
    the CSV export of every row with its verdict."""
    head = '<h2 id="bqat-samples">Worst samples</h2>'
    verdicts = content.verdicts
    if verdicts is None:
        return head + '<p class="none">No quality profile is declared for this modality.</p>'
    dataset = content.info.dataset_id
    export = f"/scan/{dataset}/profiles?format=csv&profile={verdicts.profile.name}"
    link = (
        f'<p>Every row with its verdict: <a href="{escape(export)}">CSV export</a> '
        f"(GET {escape(export)}).</p>"
    )
    if not verdicts.worst:
        return head + '<p class="none">No sample has been assessed yet.</p>' + link
    by = verdicts.worst_by
    if by is None:
        intro = (
            f"The {len(verdicts.worst)} worst samples by verdict ({escape(content.info.modality)} "
            "has no overall quality score): failing samples first, the most failed components "
            "first."
        )
    else:
        intro = (
            f"The {len(verdicts.worst)} worst samples by <code>{escape(by)}</code>, worst first "
            "(samples without a value last)."
        )
    rows = [
        [
            _num(w.rank),
            _thumb(content.thumbnails.get(w.file)),
            f"<code>{escape(w.file)}</code>",
            *([_num(w.value)] if by else []),
            f'<span class="{w.verdict}">{w.verdict}</span>',
            "<br>".join(
                [f"<code>{escape(c)}</code>" for c in w.failed]
                + [f"<code>{escape(c)}</code> null" for c in w.unknown]
            ),
        ]
        for w in verdicts.worst
    ]
    headers = ["rank", "sample", "file", *([by] if by else []), "verdict", "failed components"]
    return head + f"<p>{intro}</p>" + _table(headers, rows) + link


def _distributions_section(content: ReportContent) -> str:
    """A panel per measure holding values: the profile's score and the measures its components
    read first, then the other measures with a better direction (the quality measures a reader
    looks at), then the others (pixel coordinates, labels), each group in record order."""
    head = '<h2 id="bqat-distributions">Distributions</h2>'
    lead = {name: rank for rank, name in enumerate(content.lead)}
    ordered = sorted(
        content.measures,
        key=lambda m: (lead.get(m.name, len(lead)), m.direction == "none"),
    )
    panels = [_panel(m, content) for m in ordered]
    drawn = [p for p in panels if p]
    if not drawn:
        return head + '<p class="none">No measure holds a value yet: nothing to draw.</p>'
    return (
        head + f'<p class="sub">Every stored row ({content.info.rows}); each panel says what the '
        "measure is, its unit and which way is better.</p>"
        + f'<div class="panels">{"".join(drawn)}</div>'
    )


def _panel(measure: Measure, content: ReportContent) -> str:
    chart = content.histograms.get(measure.name)
    if chart is not None:
        stats = " · ".join(f"{k} {v:.4g}" for k, v in chart.quantiles.items())
        missing = f" · {chart.missing} without a value" if chart.missing else ""
        drawing, detail = histogram_svg(chart), stats + missing
    elif content.shares.get(measure.name):
        drawing, detail = shares_svg(content.shares[measure.name]), ""
    else:
        return ""
    return (
        f'<div class="panel" id="panel-{escape(measure.name)}">'
        f"<h3><code>{escape(measure.name)}</code></h3><p>{escape(caption(measure))}</p>"
        f"{drawing}<p>{escape(detail)}</p></div>"
    )


def _outliers_section(content: ReportContent) -> str:
    head = '<h2 id="bqat-outliers">Outliers</h2>'
    result = content.outliers
    if result is None:
        return head + '<p class="none">No outlier detection has run on this dataset yet.</p>'
    flagged = result["outliers"]
    intro = (
        f"<p>Detector <b>{escape(result['detector'])}</b> on {len(result['columns'])} "
        f"robust-scaled columns; the {result['contamination']:.0%} highest scores of "
        f"{result['rows']} rows are flagged ({len(flagged)}). Rows missing a value are not "
        f"scored ({len(result['excluded'])}).</p>"
    )
    if result.get("note"):
        intro += f'<p class="none">{escape(result["note"])}</p>'
    rows = [
        [
            _num(o["rank"]),
            _thumb(content.thumbnails.get(o["file"])),
            f"<code>{escape(o['file'])}</code>",
            _num(o["score"]),
            "<br>".join(
                f"{escape(d.column)} = {escape(_value(d.value))} (median {d.median:.4g}, "
                f"{d.iqrs:+.1f} IQR)"
                for d in content.deviations.get(o["file"], [])
            ),
        ]
        for o in flagged[:SHOWN_OUTLIERS]
    ]
    table = _table(["rank", "sample", "file", "score", "most unusual values"], rows)
    more = _more(len(flagged), SHOWN_OUTLIERS, "outliers", "GET /scan/{id}/outliers")
    excluded = result["excluded"][:SHOWN_EXCLUDED]
    missing = (
        "<p>Not scored (missing values):</p>"
        + _table(
            ["file", "reason"],
            [[f"<code>{escape(e['file'])}</code>", escape(e["reason"])] for e in excluded],
        )
        + _more(len(result["excluded"]), SHOWN_EXCLUDED, "rows", "GET /scan/{id}/outliers")
        if excluded
        else ""
    )
    return head + intro + (table if rows else "") + more + missing


def _duplicates_section(content: ReportContent) -> str:
    head = (
        '<h2 id="bqat-duplicates">Duplicates</h2><p>Exact: files with the same content '
        "(sha256). Near: images whose 64-bit perceptual hashes differ in a few bits "
        "(re-encoded, resized or retouched copies); distance is the largest difference in bits "
        "between two members.</p>"
    )
    groups = content.duplicates
    if not groups:
        return head + '<p class="none">No duplicates found.</p>'
    rows = [
        [
            escape(group.kind),
            _num(group.distance),
            _num(len(group.files)),
            '<div class="thumbs">'
            + "".join(
                _thumb(content.thumbnails[f], 64) for f in group.files if f in content.thumbnails
            )
            + "</div>",
            "<br>".join(f"<code>{escape(f)}</code>" for f in group.files[:SHOWN_NAMES])
            + (
                f"<br>and {len(group.files) - SHOWN_NAMES} more"
                if len(group.files) > SHOWN_NAMES
                else ""
            ),
        ]
        for group in groups[:SHOWN_GROUPS]
    ]
    table = _table(["kind", "distance", "files", "samples", "names"], rows)
    return head + table + _more(len(groups), SHOWN_GROUPS, "groups", "GET /scan/{id}/duplicates")


def _errors_section(content: ReportContent) -> str:
    head = '<h2 id="bqat-errors">Errors</h2>'
    errors = content.errors
    if not errors:
        files = '<p class="none">Every file was assessed.</p>'
    else:
        rows = [
            [f"<code>{escape(e['file'])}</code>", escape(e["reason"])]
            for e in errors[:SHOWN_ERRORS]
        ]
        files = (
            f"<p>{_count(len(errors), 'file')} could not be assessed.</p>"
            + _table(["file", "reason"], rows)
            + _more(len(errors), SHOWN_ERRORS, "errors", "GET /scan/{id}/errors")
        )
    return head + files + _failures_text(content)


def _failures_text(content: ReportContent) -> str:
    """The measures that could not be computed on some assessed files (`measure_errors`)."""
    if not content.failures:
        return '<p class="none">Every measure was computed on every assessed file.</p>'
    rows = [
        [
            f"<code>{escape(name)}</code>",
            _num(failed.count),
            f"<code>{escape(failed.first_file)}</code>: {escape(failed.first_reason)}",
        ]
        for name, failed in sorted(content.failures.items(), key=lambda item: -item[1].count)
    ]
    return (
        f"<p>{_count(len(content.failures), 'measure')} could not be computed on some files "
        "(their value is null and the row's <code>measure_errors</code> says why):</p>"
        + _table(["measure", "files", "first reason"], rows)
    )


def _columns_section(content: ReportContent) -> str:
    rows = [
        [
            f"<code>{escape(measure.name)}</code>",
            escape(measure.description),
            escape(measure.unit or ""),
            escape(range_text(measure.range)),
            escape(direction_text(measure)),
            _num(content.counts.get(measure.name)),
            _num(failed.count if (failed := content.failures.get(measure.name)) else 0),
            escape(_spread_text(measure.name, content)),
        ]
        for measure in content.measures
    ]
    return (
        '<h2 id="bqat-columns">Columns</h2><p>Every declared measure, with its values over all '
        "stored rows: <i>count</i> rows hold a value, <i>failed</i> rows could not compute it.</p>"
        + _table(
            ["column", "description", "unit", "range", "better", "count", "failed", "values"], rows
        )
    )


def _spread_text(column: str, content: ReportContent) -> str:
    if column in content.shares:
        return " · ".join(f"{label} {share:.0%}" for label, share in content.shares[column])
    chart = content.histograms.get(column)
    if chart is None:
        return ""
    median = chart.quantiles["median"]
    return f"min {_value(chart.low)} · median {_value(median)} · max {_value(chart.high)}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _thumb(uri: str | None, side: int = 112) -> str:
    if uri is None:
        return '<span class="none">file changed or gone</span>'
    return f'<img src="{uri}" alt="" style="max-width:{side}px;max-height:{side}px">'


def _num(value: object) -> str:
    return f'<span class="num">{escape(_value(value))}</span>'


def _value(value: object) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def range_text(declared: tuple[float | None, float | None] | None) -> str:
    """A declared range as text, '' when open on both sides."""
    low, high = declared or (None, None)
    if low is None and high is None:
        return ""
    return f"{'-∞' if low is None else f'{low:g}'} to {'∞' if high is None else f'{high:g}'}"


def direction_text(measure: Measure) -> str:
    return measure.direction.replace("_", " ") if measure.direction != "none" else ""


def caption(measure: Measure) -> str:
    """What a measure is, its unit, range and which way is better, in one sentence or three."""
    parts = [measure.description]
    if measure.unit:
        parts.append(f"Unit: {measure.unit}.")
    if measure.range is not None:
        parts.append(f"Range: {range_text(measure.range)}.")
    if direction_text(measure):
        parts.append(direction_text(measure).capitalize() + ".")
    return " ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _more(total: int, shown: int, what: str, route: str) -> str:
    if total <= shown:
        return ""
    return f'<p class="sub">{total - shown} more {what}: {escape(route)}.</p>'
