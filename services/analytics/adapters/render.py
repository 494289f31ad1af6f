"""Reports and lists as CSV and as a server-rendered HTML page (inline SVG, no JS)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel

from services.analytics.domain.report import GroupReach, MinutePoint, OfferFigures, RoomReport
from shared.money import DEFAULT_CURRENCY, money
from shared.spreadsheet import safe_cell

# -- CSV -------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if value is None:
        return ""
    return value


def _cell(value: Any) -> Any:
    """A CSV cell: times in ISO 8601, lists joined with ';', text never a formula."""
    found = _plain(value)
    return safe_cell(found) if isinstance(found, str) else found


def rows_csv(rows: Sequence[BaseModel], model: type[BaseModel]) -> str:
    """One row per item, one column per field (lists joined with ';')."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    fields = list(model.model_fields)
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_cell(getattr(row, f)) for f in fields])
    return out.getvalue()


def _block(writer: Any, title: str, header: list[str], rows: Iterable[Iterable[Any]]) -> None:
    writer.writerow([f"# {title}"])
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    writer.writerow([])


SUMMARY_FIELDS = (
    "room_id",
    "title",
    "host_id",
    "started_at",
    "ended_at",
    "duration_minutes",
    "attendees",
    "unique_viewers",
    "peak_viewers",
    "watch_seconds",
    "average_watch_seconds",
    "broadcast_minutes",
    "takes",
    "reconnects",
    "broadcast_viewers",
    "broadcast_watch_minutes",
    "average_broadcast_watch_minutes",
    "broadcast_share_watched",
    "replay_url",
    "messages",
    "messages_per_minute",
    "likes",
    "paid_orders",
    "gmv_cents",
    "average_order_cents",
    "previous_room_id",
    "currency",
    "conversion_rate",
    "claims",
    "orders_placed",
    "claim_conversion",
    "expired_orders",
    "cancelled_orders",
    "fulfilled_orders",
    "units_fulfilled",
    "commission_accrued_cents",
    "commission_reversed_cents",
    "commission_cents",
    "commission_paid_out_cents",
)


def report_csv(report: RoomReport) -> str:
    """The report as CSV blocks (a '# title' line, a header, rows, a blank line)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    _block(w, "summary", ["metric", "value"], ((f, getattr(report, f)) for f in SUMMARY_FIELDS))
    f = report.funnel
    _block(
        w,
        "funnel",
        ["stage", "persons"],
        [("joined", f.joined), ("engaged", f.engaged), ("claimed", f.claimed), ("paid", f.paid)],
    )
    nr = report.new_vs_returning
    _block(
        w,
        "new vs returning",
        ["group", "persons", "buyers"],
        [("new", nr.new, nr.new_buyers), ("returning", nr.returning, nr.returning_buyers)],
    )
    tables: tuple[tuple[str, Sequence[BaseModel]], ...] = (
        ("on air", report.on_air),
        ("offers", report.offers),
        ("group buys", report.group_buys),
        ("top engagers", report.top_engagers),
        ("top buyers", report.top_buyers),
        ("top referrers", report.top_referrers),
        ("referrers", report.referrers),
        ("segment movement", report.segment_movement),
        ("minutes", report.minutes),
    )
    for title, items in tables:
        if items:
            fields = list(type(items[0]).model_fields)
            _block(w, title, fields, ([getattr(i, k) for k in fields] for i in items))
        else:
            _block(w, title, ["(none)"], [])
    _groups_csv(w, report.groups)
    _block(
        w,
        "red packets",
        ["packet_id", "message", "total_cents", "shares", "grabbed", "grabbed_cents", "luckiest"],
        (
            (
                p.packet_id,
                p.message,
                p.total_cents,
                p.shares,
                p.grabbed,
                p.grabbed_cents,
                p.luckiest.person_id if p.luckiest else "",
            )
            for p in report.red_packets
        ),
    )
    _block(
        w,
        "polls",
        ["poll_id", "question", "option", "votes", "winner"],
        (
            (p.poll_id, p.question, opt, votes, p.winner)
            for p in report.polls
            for opt, votes in zip(_options(p.options, len(p.votes)), p.votes, strict=True)
        ),
    )
    return out.getvalue()


GROUP_FIELDS = (
    "platform",
    "chat_id",
    "title",
    "sent",
    "edits",
    "failed",
    "binding_paused",
    "members_wrote",
    "lines",
    "claims",
    "orders_paid",
    "units_sold",
    "net_cents",
)


def _groups_csv(writer: Any, groups: Sequence[GroupReach]) -> None:
    """Reach per group, then its messages per kind and its failures per code."""
    _block(
        writer,
        "groups",
        list(GROUP_FIELDS),
        ([getattr(g, f) for f in GROUP_FIELDS] for g in groups),
    )
    _block(
        writer,
        "group messages",
        ["platform", "chat_id", "kind", "sent", "edits", "failed"],
        (
            (g.platform, g.chat_id, k.kind, k.sent, k.edits, k.failed)
            for g in groups
            for k in g.kinds
        ),
    )
    _block(
        writer,
        "group failures",
        ["platform", "chat_id", "code", "failures", "binding_paused", "detail"],
        (
            (g.platform, g.chat_id, f.code, f.failures, f.binding_paused, f.detail)
            for g in groups
            for f in g.failures
        ),
    )


def _options(options: list[str], n: int) -> list[str]:
    return [options[i] if i < len(options) else str(i) for i in range(n)]


# -- HTML ------------------------------------------------------------------------------


def _money(cents: int | None, currency: str = DEFAULT_CURRENCY) -> str:
    """¥1,234.50 in the report's currency (its sign, or "1,234.50 SGD")."""
    return "" if cents is None else money(cents, currency)


def _time(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "—"


def _share(share: float | None, digits: int = 0) -> str:
    return "—" if share is None else f"{100 * share:.{digits}f}%"


def line_chart(title: str, points: Sequence[MinutePoint], values: Sequence[int], color: str) -> str:
    """One series per minute as an inline SVG polyline, with its peak and time axis."""
    width, height, left, bottom, top = 760, 150, 44, 22, 14
    inner_w, inner_h = width - left - 8, height - bottom - top
    peak = max(values, default=0)
    n = len(values)

    def x(i: int) -> float:
        return left + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    def y(v: int) -> float:
        return top + inner_h - (inner_h * v / peak if peak else 0)

    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    area = f"{left},{top + inner_h} {line} {x(n - 1) if n else left:.1f},{top + inner_h}"
    labels = ""
    if points:
        first, last = points[0].minute, points[-1].minute
        labels = (
            f'<text x="{left}" y="{height - 6}" class="axis">{first:%H:%M}</text>'
            f'<text x="{width - 8}" y="{height - 6}" class="axis" text-anchor="end">'
            f"{last:%H:%M}</text>"
        )
    return (
        f"<figure><figcaption>{escape(title)} <small>peak {peak}</small></figcaption>"
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)} per minute">'
        f'<line x1="{left}" y1="{top + inner_h}" x2="{width - 8}" y2="{top + inner_h}" '
        f'stroke="#999"/><line x1="{left}" y1="{top}" x2="{left}" y2="{top + inner_h}" '
        f'stroke="#999"/>'
        f'<text x="{left - 4}" y="{top + 4}" class="axis" text-anchor="end">{peak}</text>'
        f'<text x="{left - 4}" y="{top + inner_h}" class="axis" text-anchor="end">0</text>'
        + (
            f'<polygon points="{area}" fill="{color}" fill-opacity="0.15"/>'
            f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2"/>'
            if n
            else ""
        )
        + labels
        + "</svg></figure>"
    )


def funnel_chart(report: RoomReport) -> str:
    f = report.funnel
    stages = [
        ("joined", f.joined),
        ("engaged", f.engaged),
        ("claimed", f.claimed),
        ("paid", f.paid),
    ]
    top = max(f.joined, 1)
    bars = []
    for i, (name, n) in enumerate(stages):
        w = 560 * n / top
        rate = f"{100 * n / f.joined:.1f}%" if f.joined else "—"
        bars.append(
            f'<text x="0" y="{i * 30 + 18}" class="axis">{name}</text>'
            f'<rect x="80" y="{i * 30 + 4}" width="{w:.1f}" height="20" fill="#d9480f"/>'
            f'<text x="{86 + w:.1f}" y="{i * 30 + 18}" class="axis">{n} ({rate})</text>'
        )
    return (
        "<figure><figcaption>Funnel</figcaption>"
        f'<svg viewBox="0 0 760 124" width="100%" role="img" aria-label="funnel">{"".join(bars)}'
        "</svg></figure>"
    )


class Html(str):
    """A table cell that is markup already (built from escaped parts), not text."""


def _td(value: Any) -> str:
    return f"<td>{value if isinstance(value, Html) else escape(str(_plain(value)))}</td>"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_td(c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body or ''}</tbody></table>"


CSS = """
body{font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;
margin:2rem auto;max-width:820px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} h2{margin-top:2rem;border-bottom:1px solid #eee}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.6rem}
.card{background:#fff4e6;border-radius:8px;padding:.6rem .8rem}
.card b{display:block;font-size:1.4rem} table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.25rem .4rem;border-bottom:1px solid #eee}
figure{margin:1rem 0} figcaption{font-weight:600} .axis{font-size:11px;fill:#666}
small{color:#666;font-weight:400}
td img{width:48px;height:48px;object-fit:cover;border-radius:4px;display:block}
"""


def _photo(o: OfferFigures) -> Html:
    """The product's thumbnail (on orders), or nothing: a report without photos reads the same."""
    if not o.photo_url:
        return Html("")
    alt = o.photo_alt or o.title or ""
    return Html(
        f'<img src="{escape(o.photo_url)}" alt="{escape(alt)}" width="48" height="48" '
        'loading="lazy" referrerpolicy="no-referrer">'
    )


def _video(r: RoomReport) -> list[str]:
    """The room's video: on air, takes, the audience's time within it, the replay link."""
    parts = ["<h2>Video</h2>"]
    if r.replay_url:
        parts.append(f'<p><a href="{escape(r.replay_url)}">Watch the replay</a></p>')
    if not r.takes:
        return [*parts, "<p>No video went on air.</p>"]
    cards = [
        ("On air", f"{r.broadcast_minutes:g} min"),
        ("Takes (reconnects)", f"{r.takes} ({r.reconnects})"),
        ("Watched on air", f"{r.broadcast_watch_minutes / 60:.1f} h"),
        ("Avg watched on air", f"{r.average_broadcast_watch_minutes:.1f} min"),
        ("Share of the broadcast", _share(r.broadcast_share_watched)),
    ]
    parts += [
        "<div class='cards'>"
        + "".join(f"<div class='card'>{escape(k)}<b>{escape(v)}</b></div>" for k, v in cards)
        + "</div>",
        _table(
            ["take", "source", "on air", "off air", "minutes", "stopped because"],
            (
                (
                    t.take,
                    t.source,
                    f"{t.started_at:%H:%M:%S}",
                    f"{t.stopped_at:%H:%M:%S}",
                    t.minutes,
                    t.stop_reason or "—",
                )
                for t in r.on_air
            ),
        ),
    ]
    return parts


def _groups(r: RoomReport) -> list[str]:
    """Reach per bound group: what the show said there, what failed, who wrote, what sold."""
    if not r.groups:
        return []

    def name(g: GroupReach) -> Html:
        title = f"<b>{escape(g.title)}</b><br>" if g.title else ""
        return Html(f"{title}<small>{escape(g.platform)} {escape(g.chat_id)}</small>")

    def kinds(g: GroupReach) -> str:
        return ", ".join(
            f"{k.kind} {k.sent}" + (f" (+{k.edits} edited)" if k.edits else "")
            for k in g.kinds
            if k.sent or k.edits
        )

    def failed(g: GroupReach) -> str:
        codes = ", ".join(f"{f.code} ×{f.failures}" for f in g.failures)
        paused = " · binding paused" if g.binding_paused else ""
        return f"{g.failed}: {codes}{paused}" if g.failed or g.failures else "0"

    return [
        "<h2>Groups</h2>",
        _table(
            ["group", "sent", "by kind", "failed", "wrote (lines)", "claims", "paid", "net"],
            (
                (
                    name(g),
                    g.sent,
                    kinds(g),
                    failed(g),
                    f"{g.members_wrote} ({g.lines})",
                    g.claims,
                    f"{g.orders_paid} ({g.units_sold} units)",
                    _money(g.net_cents, r.currency),
                )
                for g in r.groups
            ),
        ),
    ]


def _after_the_show(r: RoomReport) -> list[str]:
    """Conversion, what did not turn into money, what was handed over."""
    cards = [
        ("Conversion (buyers / viewers)", _share(r.conversion_rate, 1)),
        ("Claims → paid", f"{_share(r.claim_conversion, 1)} of {r.claims}"),
        ("Unpaid (expired)", r.expired_orders),
        ("Cancelled", r.cancelled_orders),
        ("Handed over", f"{r.fulfilled_orders} ({r.units_fulfilled} units)"),
    ]
    return [
        "<h2>After the show</h2>",
        "<div class='cards'>"
        + "".join(f"<div class='card'>{escape(k)}<b>{escape(str(v))}</b></div>" for k, v in cards)
        + "</div>",
    ]


def _referrers(r: RoomReport) -> list[str]:
    """GMV and commission per referrer: who brought what, what they earned and were paid."""
    if not r.referrers:
        return []
    totals = (
        f"<p>Commission: {escape(_money(r.commission_accrued_cents, r.currency))} accrued, "
        f"{escape(_money(r.commission_reversed_cents, r.currency))} reversed, "
        f"{escape(_money(r.commission_cents, r.currency))} net, "
        f"{escape(_money(r.commission_paid_out_cents, r.currency))} paid out.</p>"
    )
    return [
        "<h2>Referrers</h2>",
        totals,
        _table(
            ["person", "name", "buyers", "paid orders", "GMV", "accrued", "reversed", "net",
             "paid out"],
            (
                (
                    x.person_id,
                    x.display_name,
                    x.buyers,
                    x.paid_orders,
                    _money(x.gmv_cents, r.currency),
                    _money(x.commission_accrued_cents, r.currency),
                    _money(x.commission_reversed_cents, r.currency),
                    _money(x.commission_cents, r.currency),
                    _money(x.paid_out_cents, r.currency),
                )
                for x in r.referrers
            ),
        ),
    ]  # fmt: skip


def export_paths(room_id: str) -> dict[str, str]:
    """The show's exports on analytics (room ids are URL-safe)."""
    return {
        "buyers": f"/rooms/{room_id}/exports/buyers.csv",
        "engaged": f"/rooms/{room_id}/exports/engaged.csv",
    }


def _exports(r: RoomReport, base_url: str, export_key: str | None) -> list[str]:
    paths = export_paths(r.room_id)
    base = base_url.rstrip("/")
    query = f"?{urlencode({'key': export_key})}" if export_key else ""
    valid = " (these links work for an hour; open the report again for new ones)"
    return [
        "<h2>Exports</h2>",
        "<p>Beyond the top lists, for the next preview (CSV"
        + (valid if export_key else "; the host's credentials, as the console's buttons send")
        + "): "
        f'<a href="{escape(base + paths["buyers"] + query)}" download>every buyer</a> · '
        f'<a href="{escape(base + paths["engaged"] + query)}" download>engaged, did not buy</a>.'
        "</p>",
    ]


def report_html(report: RoomReport, base_url: str = "", export_key: str | None = None) -> str:
    """The report as a page; `base_url`: analytics' address, for the links to the exports,
    which carry `export_key` (the page has no credential of its own)."""
    r = report
    cards = [
        ("Peak viewers", r.peak_viewers),
        ("Unique viewers", r.unique_viewers),
        ("Attendees", r.attendees),
        ("Watch time", f"{r.watch_seconds / 3600:.1f} h"),
        ("Avg watch", f"{r.average_watch_seconds / 60:.1f} min"),
        ("Messages / min", r.messages_per_minute),
        ("GMV", _money(r.gmv_cents, r.currency)),
        ("Paid orders", r.paid_orders),
        ("Average order", _money(r.average_order_cents, r.currency)),
        ("Conversion", _share(r.conversion_rate, 1)),
        ("New / returning", f"{r.new_vs_returning.new} / {r.new_vs_returning.returning}"),
    ]
    pts = r.minutes
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Report: {escape(r.title or r.room_id)}</title><style>{CSS}</style></head>",
        "<body><main>",  # one main landmark holds the whole report (axe: region)
        f"<h1>{escape(r.title or r.room_id)}</h1>",
        f"<p>{_time(r.started_at)} → {_time(r.ended_at)} · {r.duration_minutes:g} min · "
        f"room {escape(r.room_id)} · host {escape(r.host_id or '—')}</p>",
        "<div class='cards'>"
        + "".join(f"<div class='card'>{escape(k)}<b>{escape(str(v))}</b></div>" for k, v in cards)
        + "</div>",
        *_after_the_show(r),
        *_video(r),
        "<h2>Minute by minute</h2>",
        line_chart("Viewers", pts, [p.viewers for p in pts], "#1c7ed6"),
        line_chart("Messages", pts, [p.messages for p in pts], "#37b24d"),
        line_chart("Orders placed", pts, [p.orders for p in pts], "#d9480f"),
        funnel_chart(r),
        "<h2>Offers</h2>",
        _table(
            [
                "photo",
                "offer",
                "kind",
                "price",
                "stock",
                "sold",
                "sell-through",
                "sold out after",
                "net",
            ],
            (
                (
                    _photo(o),
                    o.title or o.offer_id,
                    o.kind,
                    _money(o.price_cents, r.currency),
                    o.stock,
                    o.units_sold,
                    f"{100 * o.sell_through:.0f}%" if o.sell_through is not None else "",
                    f"{o.seconds_to_sell_out:.0f} s" if o.seconds_to_sell_out is not None else "",
                    _money(o.net_cents, r.currency),
                )
                for o in r.offers
            ),
        ),
    ]
    if r.group_buys:
        parts += [
            "<h2>Group buys</h2>",
            _table(
                ["offer", "outcome", "buyers", "minimum", "price"],
                (
                    (
                        g.title or g.offer_id,
                        g.outcome,
                        g.buyers,
                        g.minimum,
                        _money(g.price_cents, r.currency),
                    )
                    for g in r.group_buys
                ),
            ),
        ]
    parts += _groups(r)
    parts += [
        "<h2>Red packets</h2>",
        _table(
            ["message", "total", "shares", "grabbed", "luckiest"],
            (
                (
                    p.message,
                    _money(p.total_cents, r.currency),
                    p.shares,
                    f"{p.grabbed} ({_money(p.grabbed_cents, r.currency)})",
                    f"{p.luckiest.display_name or p.luckiest.person_id} "
                    f"{_money(p.luckiest_cents, r.currency)}"
                    if p.luckiest
                    else "",
                )
                for p in r.red_packets
            ),
        ),
        "<h2>Polls</h2>",
        "".join(
            f"<p><b>{escape(p.question or p.poll_id)}</b> — winner: {escape(p.winner or '—')}</p>"
            + _table(
                ["option", "votes"], zip(_options(p.options, len(p.votes)), p.votes, strict=True)
            )
            for p in r.polls
        )
        or "<p>—</p>",
    ]
    for title, ranked, unit in (
        ("Top engagers", r.top_engagers, "score"),
        ("Top buyers", r.top_buyers, "spend"),
        ("Top referrers", r.top_referrers, "buyers brought"),
    ):
        parts += [
            f"<h2>{title}</h2>",
            _table(
                ["person", "name", unit],
                (
                    (
                        x.person_id,
                        x.display_name,
                        _money(x.value, r.currency) if unit == "spend" else x.value,
                    )
                    for x in ranked
                ),
            ),
        ]
    parts += _referrers(r)
    parts += _exports(r, base_url, export_key)
    parts += [
        "<h2>Segment movement since the last show</h2>",
        f"<p>Previous show: {escape(r.previous_room_id or '—')}</p>",
        _table(
            ["from", "to", "persons"],
            ((m.from_tier, m.to_tier, m.persons) for m in r.segment_movement),
        ),
        "</main></body></html>",
    ]
    return "".join(parts)
