"""One customer per person: accounts linked by evidence, links reversible.

An *account* is what events name (`web:3f2a`, `telegram:123`, `phone:+8613800000000`).
A *link* joins two accounts; a *person* is a connected group of accounts over the
active links, named by its smallest account id that is not a phone (so the name does
not depend on the order links were made, and a rebuild gives the same names).

Evidence, every piece kept (`analytics_link_evidence`):
- `declared`: a viewer joined with `external_id` = another account of theirs
  (a Telegram id they gave on the live page);
- `phone`: a viewer joined with `external_id` = `phone:...`; two accounts that gave
  the same phone are one person through that phone;
- `host_link` / `host_unlink`: a host's explicit decision (an event on the bus).

A link is active while it has evidence and the host's latest decision on it is not
"unlink". An unlink is final for automatic evidence: the same declaration seen again
does not undo it; only a later host link does. Unlinking recomputes the groups, so a
merge is undone without touching any fact (facts are kept per account).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PHONE_PREFIX = "phone:"


class InvalidLink(ValueError):
    pass


def pair(a: str, b: str) -> tuple[str, str]:
    """A link's key: the two accounts in a fixed order."""
    if a == b:
        raise InvalidLink("an account cannot be linked to itself")
    return (a, b) if a < b else (b, a)


def platform_of(account_id: str) -> str:
    return account_id.split(":", 1)[0] if ":" in account_id else "unknown"


def evidence_kind(external_id: str) -> str:
    return "phone" if external_id.startswith(PHONE_PREFIX) else "declared"


def check_account(account_id: str) -> str:
    platform, _, rest = account_id.partition(":")
    if not platform or not rest or len(account_id) > 140 or any(c.isspace() for c in account_id):
        raise InvalidLink(f"not an account id (platform:id): {account_id!r}")
    return account_id


@dataclass(frozen=True)
class LinkState:
    auto_evidence: int
    host_links: int
    decision: str | None  # the host's latest: "link", "unlink" or None

    @property
    def active(self) -> bool:
        if self.decision == "unlink":
            return False
        return self.auto_evidence > 0 or self.decision == "link"


def person_name(accounts: Iterable[str]) -> str:
    """The id of a group of accounts: its smallest non-phone account (else smallest)."""
    members = sorted(accounts)
    people = [a for a in members if not a.startswith(PHONE_PREFIX)]
    return (people or members)[0]


def groups(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Person id of every node, given the active links among them (union-find)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for node in nodes:
        find(node)
    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[str, list[str]] = {}
    for node in list(parent):
        members.setdefault(find(node), []).append(node)
    names = {root: person_name(group) for root, group in members.items()}
    return {node: names[find(node)] for node in parent}
