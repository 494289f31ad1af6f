"""Offers and their rules: flash sale, group buy, pre-sale. Plain Python, no framework."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import pairwise

MAX_UNITS = 10_000_000  # a sanity bound on stock, far above any real drop
MAX_PRICE_CENTS = 100_000_000  # 1,000,000.00 per unit
MAX_QUANTITY = 99


class OfferKind(StrEnum):
    FLASH_SALE = "flash_sale"
    GROUP_BUY = "group_buy"
    PRE_SALE = "pre_sale"


class OfferStatus(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"


class InvalidOffer(ValueError):
    pass


@dataclass(frozen=True)
class Tier:
    """From `min_buyers` committed buyers on, each pays `price_cents`."""

    min_buyers: int
    price_cents: int


@dataclass(frozen=True)
class OfferTerms:
    kind: OfferKind
    price_cents: int
    stock: int
    per_buyer_limit: int
    tiers: tuple[Tier, ...] = ()
    min_group: int = 0
    deposit_cents: int = 0
    balance_from: datetime | None = None
    balance_until: datetime | None = None

    def validate(self) -> OfferTerms:
        if not 0 <= self.price_cents <= MAX_PRICE_CENTS:
            raise InvalidOffer("price must be between 0 and 1,000,000.00")
        if not 0 <= self.stock <= MAX_UNITS:
            raise InvalidOffer(f"stock must be between 0 and {MAX_UNITS:,}")
        if not 1 <= self.per_buyer_limit <= MAX_QUANTITY:
            raise InvalidOffer(f"per-buyer limit must be between 1 and {MAX_QUANTITY}")
        if self.kind == OfferKind.GROUP_BUY:
            validate_tiers(self.tiers)
            if self.min_group < 1:
                raise InvalidOffer("a group buy needs a minimum group size of at least 1")
        if self.kind == OfferKind.PRE_SALE:
            if not 0 < self.deposit_cents < self.price_cents:
                raise InvalidOffer("a pre-sale deposit is more than 0 and less than the price")
            if not (self.balance_from and self.balance_until):
                raise InvalidOffer("a pre-sale needs its balance window")
            if self.balance_from >= self.balance_until:
                raise InvalidOffer("the balance window must end after it starts")
        return self


def validate_tiers(tiers: tuple[Tier, ...]) -> None:
    if not tiers:
        raise InvalidOffer("a group buy needs price tiers")
    if tiers[0].min_buyers != 1:
        raise InvalidOffer("the first tier starts at 1 buyer")
    for lower, higher in pairwise(tiers):
        if higher.min_buyers <= lower.min_buyers:
            raise InvalidOffer("tiers must be ordered by number of buyers")
        if higher.price_cents >= lower.price_cents:
            raise InvalidOffer("a bigger group must pay a lower price")
    if any(not 0 <= t.price_cents <= MAX_PRICE_CENTS for t in tiers):
        raise InvalidOffer("tier prices must be between 0 and 1,000,000.00")


def tier_for(tiers: tuple[Tier, ...], buyers: int) -> Tier:
    """The tier that `buyers` committed buyers have reached (the first tier below 1)."""
    reached = tiers[0]
    for tier in tiers:
        if buyers >= tier.min_buyers:
            reached = tier
    return reached


def next_tier_at(tiers: tuple[Tier, ...], buyers: int) -> int | None:
    return next((t.min_buyers for t in tiers if t.min_buyers > buyers), None)


@dataclass(frozen=True)
class Refusal:
    reason: str  # a ClaimRejected reason
    message: str


def check_claim(
    *,
    status: OfferStatus,
    quantity: int,
    per_buyer_limit: int,
    already_bought: int,
    variant: str | None,
    variants: tuple[str, ...],
) -> Refusal | None:
    """What is wrong with this claim before any stock is touched, or None."""
    if status == OfferStatus.SCHEDULED:
        return Refusal("not_open", "This offer has not opened yet.")
    if status == OfferStatus.CLOSED:
        return Refusal("closed", "This offer has closed.")
    if not 1 <= quantity <= MAX_QUANTITY:
        return Refusal("invalid", f"Quantity must be between 1 and {MAX_QUANTITY}.")
    if variants and variant is None:
        return Refusal("invalid", f"Pick one of: {', '.join(variants)}.")
    if variant is not None and variant not in variants:
        choices = ", ".join(variants) or "none"
        return Refusal("invalid", f"No variant {variant!r}; choices: {choices}.")
    if already_bought + quantity > per_buyer_limit:
        left = max(per_buyer_limit - already_bought, 0)
        return Refusal(
            "limit_reached", f"Limit {per_buyer_limit} per buyer; you can take {left} more."
        )
    return None


def sold_out(already_waiting: bool) -> Refusal:
    """Not enough left: the buyer waits for released units, in one place per offer."""
    if already_waiting:
        return Refusal(
            "sold_out_waitlisted",
            "Sold out: you are already on the waitlist (one place per buyer) and will be "
            "offered a unit when one is released.",
        )
    return Refusal(
        "sold_out_waitlisted",
        "Sold out: you are on the waitlist and will be offered any unit released.",
    )


def may_serve_from_waitlist(*, holding: int, quantity: int, per_buyer_limit: int) -> bool:
    """A waiting place is served only within the per-buyer limit, counting what the buyer
    holds now (bought meanwhile, or the limit lowered since they joined)."""
    return holding + quantity <= per_buyer_limit


def check_amend(
    *,
    status: OfferStatus,
    held: int,
    quantity: int,
    per_buyer_limit: int,
    holding: int,
    left: int,
) -> Refusal | None:
    """Whether an unpaid order of `held` units may hold `quantity` instead (its buyer edited
    the line that placed it). Fewer units always may (they go back to the sale); more only
    while the offer is open, within the per-buyer limit counting all the buyer `holding`s,
    and from the units `left` (an amendment never waits on the waitlist)."""
    stays = f"your order stays at {held}."
    if not 1 <= quantity <= MAX_QUANTITY:
        return Refusal("not_amended", f"Quantity must be between 1 and {MAX_QUANTITY}: {stays}")
    if quantity == held:
        return Refusal("not_amended", f"Your order is for {held} already.")
    more = quantity - held
    if more < 0:
        return None
    if status != OfferStatus.OPEN:
        return Refusal("not_amended", f"This offer is not on sale now: {stays}")
    if holding + more > per_buyer_limit:
        return Refusal("not_amended", f"Limit {per_buyer_limit} per buyer: {stays}")
    if left < more:
        return Refusal("not_amended", f"Only {left} more left: {stays}")
    return None


# ---- per-variant stock (docs/decisions/0038-variant-stock.md) ------------------------------


def split_stock(
    variants: tuple[str, ...], variant_stock: dict[str, int], stock: int | None
) -> tuple[dict[str, int], int]:
    """The host's split of an offer's stock per variant, checked: every key one of the
    product's `variants` (already normalised), every variant named, each 0..MAX_UNITS, and
    `stock`, if given, their sum. Returns the split in the product's order and the stock."""
    if not variants:
        raise InvalidOffer("this product has no variants to split the stock between")
    unknown = [v for v in variant_stock if v not in variants]
    if unknown:
        raise InvalidOffer(f"no variant {unknown[0]!r}; choices: {', '.join(variants)}")
    missing = [v for v in variants if v not in variant_stock]
    if missing:
        raise InvalidOffer(f"variant_stock must name every variant; missing: {', '.join(missing)}")
    if any(not 0 <= n <= MAX_UNITS for n in variant_stock.values()):
        raise InvalidOffer(f"each variant's stock must be between 0 and {MAX_UNITS:,}")
    total = sum(variant_stock.values())
    if stock is not None and stock != total:
        raise InvalidOffer(f"stock ({stock}) must be the sum of variant_stock ({total})")
    if total > MAX_UNITS:
        raise InvalidOffer(f"stock must be between 0 and {MAX_UNITS:,}")
    return {v: variant_stock[v] for v in variants}, total


def units_left(left: int, variant_left: dict[str, int], variant: str | None) -> int:
    """Units a claim for `variant` can take now: the variant's own when the stock is split,
    else the offer's."""
    if variant_left and variant is not None:
        return min(variant_left.get(variant, 0), left)
    return left


def take(variant_left: dict[str, int], variant: str | None, quantity: int) -> dict[str, int]:
    """The split after `quantity` of `variant` is held (a negative quantity gives back).
    A new dict (the row's JSON column is replaced, never changed in place); unchanged when
    the stock is not split."""
    if not variant_left or variant is None or variant not in variant_left:
        return variant_left
    after = variant_left[variant] - quantity
    if after < 0:
        raise ValueError(f"variant {variant} would go below zero")
    return {**variant_left, variant: after}


def resplit(
    committed: dict[str, int],
    variant_stock: dict[str, int],
) -> dict[str, int]:
    """The new split's units left, when the host sets `variant_stock` on a live offer:
    a variant's stock cannot go below what is held or sold of it (`committed`)."""
    for variant, stock in variant_stock.items():
        if stock < committed.get(variant, 0):
            raise StockBelowCommitted(
                f"stock of {variant} cannot go below {committed[variant]} (held or sold)"
            )
    return {v: n - committed.get(v, 0) for v, n in variant_stock.items()}


class StockBelowCommitted(ValueError):
    """The host asked for less of a variant than buyers hold or bought."""


@dataclass(frozen=True)
class VariantStock:
    name: str
    left: int | None  # None: the variants share the offer's units
    sold_out: bool


def variant_views(
    variants: tuple[str, ...] | list[str], variant_left: dict[str, int], left: int
) -> list[VariantStock]:
    """Every variant of the product, in its order, with what is left of it."""
    if not variant_left:
        return [VariantStock(v, None, left == 0) for v in variants]
    return [VariantStock(v, variant_left.get(v, 0), variant_left.get(v, 0) == 0) for v in variants]
