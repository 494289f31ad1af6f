"""The pages' dictionary (services/live/web/js/i18n.js): every text they show exists in
English and in Chinese, including one per refusal and status the contracts can produce.
Plain file checks: no browser needed."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from services.live.domain.viewers import Role
from services.live.entrypoints.pages import WEB
from shared.events import ClaimRejected, ModerationApplied

STATIC_KEY = re.compile(r"""(?:\bt\(|\bkey: )'([a-z_]+\.[a-z0-9_.]+)'""")
HTML_KEY = re.compile(r'data-i18n(?:-placeholder|-aria-label)?="([^"]+)"')
ORDER_STATUSES = ("awaiting_payment", "paid", "deposit_paid", "expired", "cancelled", "refunded")


def dictionary() -> dict[str, set[str]]:
    source = (WEB / "js" / "i18n.js").read_text()
    zh_at = source.index("\n  zh: {")
    blocks = {"en": source[:zh_at], "zh": source[zh_at:]}
    return {
        lang: set(re.findall(r"^    '([\w.]+)': ['\"]", block, re.MULTILINE))
        for lang, block in blocks.items()
    }


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in [*WEB.glob("*.html"), *(WEB / "js").glob("*.js")]:
        text = path.read_text()
        keys |= set(HTML_KEY.findall(text)) | set(STATIC_KEY.findall(text))
    return keys


def literals(model: type, field: str) -> tuple[str, ...]:
    return typing.get_args(model.model_fields[field].annotation)  # type: ignore[attr-defined]


def test_both_languages_have_the_same_texts() -> None:
    words = dictionary()
    assert words["en"], "no English texts found"
    assert words["en"] - words["zh"] == set(), "missing in Chinese"
    assert words["zh"] - words["en"] == set(), "missing in English"


def test_every_text_the_pages_use_is_in_the_dictionary() -> None:
    assert used_keys() - dictionary()["en"] == set()


def test_every_refusal_status_and_role_from_the_contracts_has_a_text() -> None:
    needed = {f"reject.{reason}" for reason in literals(ClaimRejected, "reason")}
    needed |= {f"action.{action}" for action in literals(ModerationApplied, "action")}
    needed |= {f"mod.{action}" for action in literals(ModerationApplied, "action")}
    needed |= {f"role.{role.value}" for role in Role}
    needed |= {f"order.{status}" for status in ORDER_STATUSES}
    needed |= {f"status.{status}" for status in ("scheduled", "live", "ended")}
    needed |= {f"kind.{kind}" for kind in ("flash_sale", "group_buy", "pre_sale")}
    # The websocket error codes a viewer can cause (docs/websocket-protocol.md).
    protocol = (Path(__file__).resolve().parents[2] / "docs" / "websocket-protocol.md").read_text()
    viewer_codes = {"slow_down", "muted", "already_checked_in", "already_grabbed", "poll_closed"}
    codes = set(re.findall(r"`([a-z_]+)`", protocol.split("Error codes:", 1)[1].split("##")[0]))
    assert viewer_codes <= codes
    needed |= {
        f"err.{code}" for code in codes if code.startswith("blocked_") or code in viewer_codes
    }
    assert needed - dictionary()["en"] == set()


def test_every_group_message_kind_pause_and_ledger_state_has_a_text() -> None:
    """The console's group section names each kind of message the show sends, says what it
    is, and explains each code that pauses a binding and each state a message can be in."""
    from shared.events.ingest import OUTBOUND_KINDS

    panel = (WEB / "js" / "group-panel.js").read_text()
    kinds = re.search(r"export const KINDS = \[([^\]]*)\]", panel)
    assert kinds is not None
    assert re.findall(r"'(\w+)'", kinds.group(1)) == list(OUTBOUND_KINDS)
    needed = {f"groups.{what}.{kind}" for kind in OUTBOUND_KINDS for what in ("kind", "about")}
    for name, prefix in (("PAUSE_CODES", "groups.pause"), ("LEDGER_STATES", "groups.state")):
        listed = re.search(rf"const {name} = \[([^\]]*)\]", panel)
        assert listed is not None
        needed |= {f"{prefix}.{code}" for code in re.findall(r"'(\w+)'", listed.group(1))}
    needed |= {"groups.pause.other", "bindings.hint_other"}
    needed |= {f"bindings.hint_{p}" for p in ("telegram", "whatsapp", "wecom")}
    assert needed - dictionary()["en"] == set()
