"""The weekly insight report of a store: headline numbers, the largest changes against the previous week,
peak hours, hours over the customers-per-staff target and the zones whose dwell moved most; HTML, or PDF.

The figures come from ops/serve/insights.py (the dashboard's own measures, so the report and the pages
agree) over the ISO week's local Monday-to-Monday window and the week before. The HTML is one
self-contained file (inline CSS and SVG, no script), so Chromium's headless print-to-PDF renders it as
it is; `html_to_pdf` runs Debian's chromium for that.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import msgspec

from ops.serve import insights
from ops.serve.config import Targets

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
PDF_TIMEOUT_S = 120.0


class ReportError(RuntimeError):
    """A report that could not be rendered (no Chromium, or Chromium failed); the message says why."""


class Headline(msgspec.Struct):
    """One headline measure this week and the week before; change_pct None when the week before is 0."""

    name: str
    unit: str
    value: float | None
    previous: float | None
    change_pct: float | None


class PeakHour(msgspec.Struct):
    hour: str  # local start of the hour, ISO 8601 with offset
    visits: int


class ZoneChange(msgspec.Struct):
    zone_id: str
    median_s: float
    previous_median_s: float
    change_s: float
    stays: int


class WeeklyReport(msgspec.Struct):
    store_id: str
    week: str
    time_zone: str
    week_start: str
    week_end: str
    headlines: list[Headline]
    largest_changes: list[Headline]
    visits_per_day: list[float]
    previous_visits_per_day: list[float]
    peak_hours: list[PeakHour]
    visits_by_hour_of_day: list[float]  # local hour 0-23, summed over the week
    staff_over_target: list[insights.StaffHour]
    customers_per_staff_target: float
    target_wait_s: float
    dwell_rose: list[ZoneChange]
    dwell_fell: list[ZoneChange]


def _change(value: float | None, previous: float | None) -> float | None:
    if value is None or previous is None or previous == 0:
        return None
    return round(100.0 * (value - previous) / previous, 1)


def _measures(query: insights.Query, store_id: str, window: insights.Window, targets: Targets) -> dict[str, Any]:
    trends = insights.trends(query, store_id, window, "1d")
    journeys = insights.journeys(query, store_id, window)
    zones = insights.zones(query, store_id, window)
    queue = insights.queue_staffing(query, store_id, window, "1d", target_wait_s=targets.wait_s,
                                    customers_per_staff_target=targets.customers_per_staff)  # fmt: skip
    peaks = [p for p in trends.occupancy_peak if p is not None]
    shares = [q.share_over_target for q in queue.queues if q.share_over_target is not None]
    values: dict[str, tuple[str, float | None]] = {
        "Visits": ("visits", float(trends.visits_total)),
        **{f"Entries at {d.line_id}": ("people", float(d.entries_total)) for d in trends.doors},
        "POS transactions": ("transactions", float(journeys.funnel.transactions)),
        "Conversion": ("% of visits", None if journeys.funnel.conversion is None else
                       round(100 * journeys.funnel.conversion, 2)),
        "Peak occupancy": ("people", max(peaks) if peaks else None),
        "Queue samples over the target wait": ("%", round(100 * max(shares), 2) if shares else None),
        **{f"Visits to {z.zone_id}": ("visits", float(z.visits)) for z in zones.zones},
        **{f"Median dwell in {z.zone_id}": ("s", z.median_s) for z in zones.zones},
    }  # fmt: skip
    return {"values": values, "trends": trends, "zones": zones, "queue": queue}


def weekly(query: insights.Query, store_id: str, week: str, window: insights.Window, targets: Targets) -> WeeklyReport:
    """The report of ISO week `week` (its local window `window`) against the week before."""
    tz = window.tz
    this = _measures(query, store_id, window, targets)
    before = _measures(query, store_id, window.shifted_days(7), targets)
    values, previous = this["values"], before["values"]
    rows = []
    for name, (unit, value) in values.items():
        before_value = previous.get(name, (unit, None))[1]
        rows.append(Headline(name, unit, value, before_value, _change(value, before_value)))
    head_names = ("Visits", "POS transactions", "Conversion", "Peak occupancy", "Queue samples over the target wait")
    headlines = [r for r in rows if r.name in head_names or r.name.startswith("Entries at ")]
    changes = sorted((r for r in rows if r.change_pct is not None), key=lambda r: (-abs(r.change_pct or 0), r.name))
    hourly = insights.trends(query, store_id, window, "1h")
    by_hour_of_day = [0.0] * 24
    for start, n in zip(hourly.buckets, hourly.visits, strict=True):
        by_hour_of_day[int(start[11:13])] += n
    peak = sorted(
        ((n, b) for b, n in zip(hourly.buckets, hourly.visits, strict=True) if n > 0), key=lambda x: (-x[0], x[1])
    )
    zones_now = {z.zone_id: z for z in this["zones"].zones}
    zones_before = {z.zone_id: z for z in before["zones"].zones}
    moved = [ZoneChange(z, zones_now[z].median_s, zones_before[z].median_s,
                        round(zones_now[z].median_s - zones_before[z].median_s, 2), zones_now[z].stays)
             for z in sorted(zones_now.keys() & zones_before.keys())]  # fmt: skip
    staff = insights.staff_hours(query, store_id, window, targets.customers_per_staff)
    return WeeklyReport(
        store_id=store_id,
        week=week,
        time_zone=tz.key,
        week_start=insights.local_iso(window.from_ns, tz),
        week_end=insights.local_iso(window.to_ns, tz),
        headlines=headlines,
        largest_changes=changes[:8],
        visits_per_day=this["trends"].visits,
        previous_visits_per_day=before["trends"].visits,
        peak_hours=[PeakHour(b, int(n)) for n, b in peak[:5]],
        visits_by_hour_of_day=by_hour_of_day,
        staff_over_target=[h for h in staff if h.over_target],
        customers_per_staff_target=targets.customers_per_staff,
        target_wait_s=targets.wait_s,
        dwell_rose=sorted((m for m in moved if m.change_s > 0), key=lambda m: (-m.change_s, m.zone_id))[:5],
        dwell_fell=sorted((m for m in moved if m.change_s < 0), key=lambda m: (m.change_s, m.zone_id))[:5],
    )


# ---- rendering --------------------------------------------------------------------------------------------


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return f"{text} {unit}".strip()


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f} %"


def _bars(labels: list[str], series: list[tuple[str, list[float], str]], unit: str) -> str:
    """Grouped vertical bars as inline SVG, the y axis labelled with `unit`."""
    width, height, left, bottom = 640, 220, 48, 28
    top = max([1.0, *(v for _, values, _ in series for v in values)])
    group = (width - left) / max(1, len(labels))
    bar = group * 0.8 / max(1, len(series))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 20}" role="img" '
        f'aria-label="{html.escape(unit)} per {len(labels)} buckets">',
        f'<text x="4" y="12" font-size="11">{html.escape(unit)}</text>',
        f'<text x="4" y="{height - bottom + 4}" font-size="11">0</text>',
        f'<text x="4" y="30" font-size="11">{_num(top)}</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#888"/>',
    ]
    for i, label in enumerate(labels):
        x0 = left + i * group + group * 0.1
        for j, (_, values, colour) in enumerate(series):
            h = (height - bottom - 26) * (values[i] / top if i < len(values) else 0)
            parts.append(f'<rect x="{x0 + j * bar:.1f}" y="{height - bottom - h:.1f}" width="{bar * 0.95:.1f}" '
                         f'height="{h:.1f}" fill="{colour}"/>')  # fmt: skip
        parts.append(f'<text x="{x0:.1f}" y="{height - bottom + 14}" font-size="10">{html.escape(label)}</text>')
    for j, (name, _, colour) in enumerate(series):
        parts.append(
            f'<rect x="{left + 160 * j}" y="{height + 6}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + 160 * j + 14}" y="{height + 15}" font-size="11">{html.escape(name)}</text>'
        )
    return "".join(parts) + "</svg>"


def _table(caption: str, headers: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f"<h2>{html.escape(caption)}</h2><p>{html.escape(empty)}</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<h2>{html.escape(caption)}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: WeeklyReport) -> str:
    """The report as one self-contained HTML page (print-ready, A4)."""
    r = report
    tiles = "".join(
        f'<div class="tile" data-measure="{html.escape(h.name)}"><div class="name">{html.escape(h.name)}</div>'
        f'<div class="value">{_num(h.value, h.unit)}</div><div class="note">week before {_num(h.previous, h.unit)} '
        f"({_pct(h.change_pct)})</div></div>"
        for h in r.headlines
    )
    days = [f"{_WEEKDAYS[i]}" for i in range(len(r.visits_per_day))]
    chart = _bars(days, [("this week", r.visits_per_day, "#2e86c1"), ("week before", r.previous_visits_per_day,
                                                                         "#aab7c4")], "visits per day")  # fmt: skip
    hours = _bars([f"{h:02d}" for h in range(24)], [("visits started in the hour", r.visits_by_hour_of_day, "#2e86c1")],
                  "visits per local hour of day, week total")  # fmt: skip
    changes = _table("Largest changes against the week before", ["measure", "this week", "week before", "change"],
                     [[c.name, _num(c.value, c.unit), _num(c.previous, c.unit), _pct(c.change_pct)]
                      for c in r.largest_changes], "No measure to compare: the week before has no data.")  # fmt: skip
    peaks = _table(
        "Peak hours",
        ["hour (local)", "visits"],
        [[p.hour[:16].replace("T", " "), _num(p.visits)] for p in r.peak_hours],
        "No visits this week.",
    )
    staff = _table(
        f"Hours over {_num(r.customers_per_staff_target)} customers per member of staff",
        ["hour (local)", "customers", "staff present (mean)", "customers per staff"],
        [
            [h.hour[:16].replace("T", " "), _num(h.customers), _num(h.staff), _num(h.customers_per_staff)]
            for h in r.staff_over_target
        ],
        "No hour exceeded the target.",
    )
    rose = _table(
        "Zones whose median dwell rose most",
        ["zone", "this week (s)", "week before (s)", "change (s)"],
        [[z.zone_id, _num(z.median_s), _num(z.previous_median_s), f"{z.change_s:+.1f}"] for z in r.dwell_rose],
        "No zone's dwell rose.",
    )
    fell = _table(
        "Zones whose median dwell fell most",
        ["zone", "this week (s)", "week before (s)", "change (s)"],
        [[z.zone_id, _num(z.median_s), _num(z.previous_median_s), f"{z.change_s:+.1f}"] for z in r.dwell_fell],
        "No zone's dwell fell.",
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(r.store_id)} · {html.escape(r.week)} · footfall</title>
<style>
@page {{ size: A4; margin: 14mm; }}
body {{ font-family: "DejaVu Sans", system-ui, sans-serif; color: #1d2731; font-size: 12px; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }} h2 {{ font-size: 15px; margin: 18px 0 6px; break-after: avoid; }}
.tiles {{ display: grid; grid-template-columns: repeat(3, 1fr); gap: 8px; }}
.tile {{ border: 1px solid #d5dbe1; border-radius: 6px; padding: 8px; }}
.tile .name {{ color: #52606d; }} .tile .value {{ font-size: 20px; font-weight: 600; }}
.tile .note {{ color: #52606d; font-size: 11px; }}
table {{ border-collapse: collapse; width: 100%; break-inside: avoid; }}
th, td {{ border-bottom: 1px solid #e1e5ea; padding: 3px 6px; text-align: left; }}
.meta {{ color: #52606d; }}
</style></head><body>
<h1>Weekly insight report: {html.escape(r.store_id)}, {html.escape(r.week)}</h1>
<p class="meta">{html.escape(r.week_start[:10])} to {html.escape(r.week_end[:10])} (exclusive), times in
{html.escape(r.time_zone)}; compared with the week before. Target wait {_num(r.target_wait_s, "s")},
at most {_num(r.customers_per_staff_target)} customers per member of staff an hour.</p>
<h2>Headline numbers</h2><div class="tiles">{tiles}</div>
<h2>Visits per day</h2>{chart}
{changes}
{peaks}
<h2>Visits by hour of day</h2>{hours}
{staff}
{rose}
{fell}
</body></html>"""


def chromium_path() -> str:
    """The Chromium to print with: $FOOTFALL_CHROMIUM, else `chromium` on PATH; ReportError if neither."""
    found = os.environ.get("FOOTFALL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise ReportError("PDF needs Chromium: install Debian's chromium (make browser) or set FOOTFALL_CHROMIUM")
    return found


# The flags a sandboxed machine without a network needs: no sandbox as root, no GPU, no background connections.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]  # fmt: skip


def html_to_pdf(page: str) -> bytes:
    """The PDF of an HTML page, printed by headless Chromium (A4, no header or footer)."""
    chromium = chromium_path()
    with tempfile.TemporaryDirectory(prefix="footfall-report-") as tmp:
        source, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        source.write_text(page, encoding="utf-8")
        # No network, no profile of anyone's: a fresh user-data-dir, background connections off.
        command = [chromium, "--headless", *CHROMIUM_ARGS, f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer",
                   f"--print-to-pdf={out}", source.as_uri()]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, timeout=PDF_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise ReportError(f"Chromium did not print the report within {PDF_TIMEOUT_S:.0f} s") from None
        if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            tail = done.stderr.decode(errors="replace")[-500:]
            raise ReportError(f"Chromium could not print the report (exit {done.returncode}): {tail}")
        return out.read_bytes()
