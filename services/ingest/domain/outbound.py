"""What the show says in a bound group: the host's settings per binding.

Which kinds go out (each switchable), in which language, with which of the host's own
texts; the partner who runs the group (its links carry ?ref= for referral attribution).
Rendering (templates) and planning (event -> SendToGroup per binding) build on this.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from shared.events.ingest import OUTBOUND_KINDS, OutboundKind

Language = Literal["en", "zh"]
# On unless the host turns them off; welcome @-mentions only where the group's rules want
# them (a busy group does not want a line per newcomer).
DEFAULT_KINDS: dict[str, bool] = {kind: kind != "welcome" for kind in OUTBOUND_KINDS}


class OutboundSettings(BaseModel):
    kinds: dict[OutboundKind, Annotated[bool, Field(strict=True)]] = Field(
        default_factory=lambda: dict(DEFAULT_KINDS),  # type: ignore[arg-type]
        description="Which messages go to this group; a kind left out keeps its default.",
    )
    language: Language = "en"
    templates: dict[OutboundKind, str] = Field(
        default_factory=dict,
        description="The host's own text per kind ({placeholders} as in GET "
        "/outbound/templates); a kind left out uses the default text of the language.",
    )
    referrer_id: str | None = Field(
        default=None,
        max_length=140,
        description="The partner who runs this group: the group's room links carry ?ref=.",
    )
    whatsapp_template: str | None = Field(
        default=None,
        max_length=512,
        description="An approved WhatsApp template (name) for messages outside the "
        "24-hour window; its one body parameter is the message's text.",
    )

    def wants(self, kind: str) -> bool:
        return self.kinds.get(kind, DEFAULT_KINDS.get(kind, False))  # type: ignore[call-overload]

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> OutboundSettings:
        """A binding's settings from its JSON column (None: the defaults)."""
        return cls.model_validate(stored or {})
