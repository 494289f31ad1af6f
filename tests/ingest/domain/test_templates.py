"""The groups' texts: defaults, the host's own, and how values are written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.ingest.domain import templates as t
from services.ingest.domain.outbound import OutboundSettings
from shared.events.ingest import OUTBOUND_KINDS

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_every_kind_has_texts_in_both_languages_using_only_its_placeholders() -> None:
    for kind in OUTBOUND_KINDS:
        for language in ("en", "zh"):
            t.validate(kind, t.DEFAULTS[kind][language])
    for state, texts in t.CLAIM_STATES.items():
        assert set(texts) == {"en", "zh"}, state


def test_an_unknown_placeholder_is_named() -> None:
    with pytest.raises(t.TemplateError, match=r"unknown placeholder \{prize\}"):
        t.validate("offer", "Only {prize} today!")


@pytest.mark.parametrize(
    "template",
    ["{title.__class__}", "{title[0]}", "{title!r}", "{title:>999999999}", "{0}", "{}"],
)
def test_only_bare_names_are_placeholders(template: str) -> None:
    with pytest.raises(t.TemplateError):
        t.validate("live", template)


def test_a_lone_brace_is_refused_and_doubled_braces_are_text() -> None:
    with pytest.raises(t.TemplateError, match="brace"):
        t.validate("live", "We are live {")
    t.validate("live", "{{live}} {title}")
    assert t.render("{{live}} {title}", {"title": "Cherries"}) == "{live} Cherries"


def test_a_template_over_3500_characters_is_refused() -> None:
    t.validate("announcement", "x" * 3500)
    with pytest.raises(t.TemplateError, match="at most 3500"):
        t.validate("announcement", "x" * 3501)


def test_the_hosts_text_wins_unless_it_is_unusable() -> None:
    own = OutboundSettings(templates={"live": "On air: {title}"}, language="zh")
    assert t.template_for(own, "live") == "On air: {title}"
    assert t.template_for(own, "offer") == t.DEFAULTS["offer"]["zh"]
    stale = OutboundSettings.model_construct(
        kinds={}, language="en", templates={"live": "{gone}"}, referrer_id=None
    )
    assert t.template_for(stale, "live") == t.DEFAULTS["live"]["en"]


def test_rendering_drops_lines_left_empty_and_missing_values_are_empty() -> None:
    text = t.render("{when} live\n{text}\n{lineup}\nSee you!", {"when": "Tomorrow", "text": ""})
    assert text == "Tomorrow live\nSee you!"


def test_money_from_cents() -> None:
    assert t.money(49900) == "¥499"
    assert t.money(4990) == "¥49.90"
    assert t.money(399_900_00) == "¥399,900"
    assert t.money(1250, "USD") == "$12.50"
    assert t.money(1250, "CHF") == "12.50 CHF"


def test_when_says_today_or_tomorrow_in_the_zone() -> None:
    now = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
    tomorrow_8pm = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
    assert t.when(tomorrow_8pm, now, SHANGHAI, "en") == "Tomorrow 20:00 (UTC+8)"
    assert t.when(tomorrow_8pm, now, SHANGHAI, "zh") == "明晚20:00"
    assert t.when(now + timedelta(hours=2), now, SHANGHAI, "zh") == "今天14:00"
    later = datetime(2026, 6, 6, 12, 0, tzinfo=UTC)
    assert t.when(later, now, SHANGHAI, "en") == "Sat 6 Jun 20:00 (UTC+8)"
    assert t.when(later, now, UTC, "zh") == "6月6日周六 12:00（UTC）"
    india = ZoneInfo("Asia/Kolkata")
    assert t.offset_label(later, india) == "UTC+5:30"


def test_time_left_in_minutes() -> None:
    assert t.within(timedelta(minutes=15, seconds=40), "en") == "15 min"
    assert t.within(timedelta(seconds=20), "zh") == "1分钟"
    assert t.within(timedelta(hours=2), "zh") == "2小时"


def test_the_waitlist_place_when_the_message_says_it() -> None:
    assert t.waitlist_place("Sold out: you are number 3 on the waitlist") == 3
    assert t.waitlist_place("已抢光，候补第12位") == 12
    assert t.waitlist_place("Sold out: you are on the waitlist.") is None


def test_the_listing_names_every_kind() -> None:
    listing = t.defaults_listing()
    assert [row["kind"] for row in listing] == list(OUTBOUND_KINDS)
    offer = next(row for row in listing if row["kind"] == "offer")
    assert "buy_link" in offer["placeholders"]  # type: ignore[operator]
