"""The host's side: products with variants, offers, opening, closing and editing them.
What an offer says to the rooms (its terms and its product's photos) is written here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.tables import OfferRow, OrderRow, ProductPhotoRow, ProductRow
from services.orders.domain.offers import (
    InvalidOffer,
    OfferKind,
    OfferStatus,
    OfferTerms,
    StockBelowCommitted,
    Tier,
    resplit,
    split_stock,
    tier_for,
    validate_tiers,
)
from services.orders.service_layer.stock_ticker import StockTicker
from shared.events import OfferClosed, OfferOpened, OfferUpdated, new_id
from shared.events.media import ImageSizes
from shared.outbox import Outbox
from shared.variants import normalize_variant

# Gives free units of a locked offer to its waitlist inside the caller's transaction.
WaitlistHandOver = Callable[[AsyncSession, OfferRow], Awaitable[int]]


class NotFound(LookupError):
    pass


class Forbidden(PermissionError):
    pass


class Conflict(ValueError):
    pass


def photo_sizes(row: ProductPhotoRow) -> ImageSizes:
    return ImageSizes(
        thumb=row.thumb,
        card=row.card,
        full=row.full,
        width=row.width,
        height=row.height,
        alt=row.alt,
    )


async def product_photos(
    session: AsyncSession, product_ids: Iterable[str]
) -> dict[str, list[ProductPhotoRow]]:
    """Each product's photos in the host's order (a product without any: absent)."""
    ids = list(dict.fromkeys(product_ids))
    found: dict[str, list[ProductPhotoRow]] = {}
    if not ids:
        return found
    rows = await session.exec(
        select(ProductPhotoRow)
        .where(col(ProductPhotoRow.product_id).in_(ids))
        .order_by(col(ProductPhotoRow.product_id), col(ProductPhotoRow.position))
    )
    for row in rows:
        found.setdefault(row.product_id, []).append(row)
    return found


def current_price(offer: OfferRow) -> int:
    """What a unit costs now: a group buy's price is the tier its buyers have reached."""
    if offer.kind == OfferKind.GROUP_BUY and offer.tiers:
        tiers = tuple(Tier(int(a), int(b)) for a, b in offer.tiers)
        return tier_for(tiers, offer.buyers).price_cents
    return offer.price_cents


# An order whose units count against its variant's stock: held (awaiting payment, a pre-sale
# deposit paid) or sold (paid, and paid then refunded: refunded goods are not restocked).
COMMITTED = ("awaiting_payment", "deposit_paid", "paid", "refunded")


def normalize_split(variant_stock: dict[str, int]) -> dict[str, int]:
    """The host's keys in the products' spelling ("x-large" is "XL"); two keys that are one
    variant are refused."""
    split: dict[str, int] = {}
    for raw, units in variant_stock.items():
        name = normalize_variant(raw)
        if not name or name in split:
            raise InvalidOffer(f"variant_stock names {raw!r} twice or not at all")
        split[name] = units
    return split


def offer_updated(
    offer: OfferRow, photos: list[ProductPhotoRow], variants: list[str] | None = None
) -> OfferUpdated:
    """The offer as rooms should now show it: its terms and its product's photos.
    The price is the current one (a group buy's reached tier), as GroupTierReached said."""
    return OfferUpdated(
        variants=list(variants or []),
        variant_left=dict(offer.variant_left),
        room_id=offer.room_id,
        offer_id=offer.id,
        price_cents=current_price(offer),
        stock=offer.stock,
        left=offer.left,
        per_buyer_limit=offer.per_buyer_limit,
        ends_at=offer.ends_at,
        photos=[photo_sizes(p) for p in photos],
    )


@dataclass(frozen=True)
class OfferDraft:
    room_id: str
    product_id: str
    kind: OfferKind
    price_cents: int
    stock: int | None  # None: the sum of variant_stock
    per_buyer_limit: int
    title: str | None = None
    opens_at: datetime | None = None
    ends_at: datetime | None = None
    pay_within_s: int = 900
    tiers: tuple[Tier, ...] = ()
    min_group: int = 0
    deposit_cents: int = 0
    balance_from: datetime | None = None
    balance_until: datetime | None = None
    forfeit_deposit: bool = True
    variant_stock: dict[str, int] | None = None  # the stock split per variant, if it is


class Catalog:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        ticker: StockTicker,
        waitlist: WaitlistHandOver,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._ticker = ticker
        self._waitlist = waitlist

    async def add_product(self, owner: str, title: str, variants: list[str]) -> ProductRow:
        # "XL", "x-large" and "xlarge" are one variant; keep the first spelling's order.
        normalised = list(dict.fromkeys(normalize_variant(v) for v in variants if v.strip()))
        product = ProductRow(
            id=f"prod_{new_id()[:12]}", owner=owner, title=title, variants=normalised
        )
        async with self._sessions() as session:
            session.add(product)
            await session.commit()
        return product

    async def product(self, product_id: str) -> ProductRow:
        async with self._sessions() as session:
            product = await session.get(ProductRow, product_id)
        if product is None:
            raise NotFound(product_id)
        return product

    async def create_offer(self, owner: str, is_admin: bool, draft: OfferDraft) -> OfferRow:
        product = await self.product(draft.product_id)
        if not (is_admin or product.owner == owner):
            raise Forbidden("not your product")
        variant_left: dict[str, int] = {}
        if draft.variant_stock is not None:
            variant_left, stock = split_stock(
                tuple(product.variants), normalize_split(draft.variant_stock), draft.stock
            )
            draft = replace(draft, stock=stock)
        if draft.stock is None:
            raise InvalidOffer("an offer needs its stock (or variant_stock)")
        stock = draft.stock
        price = (
            draft.tiers[0].price_cents
            if draft.kind == OfferKind.GROUP_BUY and draft.tiers
            else draft.price_cents
        )
        OfferTerms(
            kind=draft.kind,
            price_cents=price,
            stock=stock,
            per_buyer_limit=draft.per_buyer_limit,
            tiers=draft.tiers,
            min_group=draft.min_group,
            deposit_cents=draft.deposit_cents,
            balance_from=draft.balance_from,
            balance_until=draft.balance_until,
        ).validate()
        if draft.kind == OfferKind.GROUP_BUY and draft.ends_at is None:
            raise InvalidOffer("a group buy needs a deadline (ends_at)")
        if draft.opens_at and draft.ends_at and draft.ends_at <= draft.opens_at:
            raise InvalidOffer("an offer must end after it opens")
        offer = OfferRow(
            id=f"off_{new_id()[:12]}",
            room_id=draft.room_id,
            product_id=product.id,
            owner=owner,
            kind=draft.kind,
            title=draft.title or product.title,
            price_cents=price,
            stock=stock,
            left=stock,
            variant_left=variant_left,
            per_buyer_limit=draft.per_buyer_limit,
            pay_within_s=draft.pay_within_s,
            opens_at=draft.opens_at,
            ends_at=draft.ends_at,
            tiers=[[t.min_buyers, t.price_cents] for t in draft.tiers],
            min_group=draft.min_group,
            deposit_cents=draft.deposit_cents,
            balance_from=draft.balance_from,
            balance_until=draft.balance_until,
            forfeit_deposit=draft.forfeit_deposit,
        )
        async with self._sessions() as session:
            session.add(offer)
            await session.commit()
        return offer

    async def offer(self, offer_id: str) -> OfferRow:
        async with self._sessions() as session:
            offer = await session.get(OfferRow, offer_id)
        if offer is None:
            raise NotFound(offer_id)
        return offer

    async def _owned(self, offer_id: str, owner: str, is_admin: bool) -> OfferRow:
        offer = await self.offer(offer_id)
        if not (is_admin or offer.owner == owner):
            raise Forbidden("not your offer")
        return offer

    async def open(self, offer_id: str, owner: str = "", is_admin: bool = True) -> OfferRow:
        await self._owned(offer_id, owner, is_admin)
        return await self._transition(offer_id, OfferStatus.SCHEDULED, OfferStatus.OPEN)

    async def close(self, offer_id: str, owner: str = "", is_admin: bool = True) -> OfferRow:
        await self._owned(offer_id, owner, is_admin)
        return await self._transition(offer_id, OfferStatus.OPEN, OfferStatus.CLOSED)

    async def _transition(self, offer_id: str, before: OfferStatus, after: OfferStatus) -> OfferRow:
        """A conditional state change: of two replicas (or timer and host) exactly one wins."""
        async with self._sessions() as session:
            changed = await session.exec(
                update(OfferRow)
                .where(col(OfferRow.id) == offer_id, col(OfferRow.status) == before.value)
                .values(status=after.value)
            )
            offer = await session.get(OfferRow, offer_id)
            assert offer is not None
            if changed.rowcount == 0:
                current = offer.status  # read before the rollback expires the row
                await session.rollback()
                if current == after:
                    return await self.offer(offer_id)  # already done: idempotent
                raise Conflict(f"offer is {current}, cannot become {after}")
            if after == OfferStatus.OPEN:
                photos = (await product_photos(session, [offer.product_id])).get(
                    offer.product_id, []
                )
                product = await session.get(ProductRow, offer.product_id)
                self._outbox.add(
                    session,
                    OfferOpened(
                        variants=list(product.variants if product else []),
                        variant_left=dict(offer.variant_left),
                        room_id=offer.room_id,
                        offer_id=offer.id,
                        kind=offer.kind,
                        title=offer.title,
                        price_cents=offer.price_cents,
                        stock=offer.stock,
                        per_buyer_limit=offer.per_buyer_limit,
                        ends_at=offer.ends_at,
                        photos=[photo_sizes(p) for p in photos],
                    ),
                )
            else:
                self._outbox.add(session, OfferClosed(room_id=offer.room_id, offer_id=offer.id))
            await session.commit()
        self._outbox.notify()
        return offer

    async def edit(
        self,
        offer_id: str,
        owner: str,
        is_admin: bool,
        *,
        price_cents: int | None,
        stock: int | None,
        per_buyer_limit: int | None,
        ends_at: datetime | None,
        tiers: tuple[Tier, ...] | None = None,
        variant_stock: dict[str, int] | None = None,
    ) -> OfferRow:
        """Edit terms, live or not. Stock can shrink only down to what is held or sold."""
        await self._owned(offer_id, owner, is_admin)
        async with self._sessions() as session:
            # Lock the row first (same lock checkout takes), then validate against fresh numbers.
            await session.exec(
                update(OfferRow)
                .where(col(OfferRow.id) == offer_id)
                .values(version=OfferRow.version + 1)
            )
            offer = await session.get(OfferRow, offer_id, populate_existing=True)
            assert offer is not None
            if offer.status == OfferStatus.CLOSED:
                await session.rollback()
                raise Conflict("a closed offer cannot be edited")
            product = await session.get(ProductRow, offer.product_id)
            variants = list(product.variants if product else [])
            if variant_stock is not None:
                try:
                    await self._resplit(session, offer, variants, variant_stock, stock)
                except (InvalidOffer, Conflict):
                    await session.rollback()
                    raise
                await self._waitlist(session, offer)  # more of a variant: its waitlist first
            elif stock is not None and offer.variant_left and stock != offer.stock:
                await session.rollback()
                raise InvalidOffer("this offer's stock is split per variant: set variant_stock")
            elif stock is not None:
                committed = offer.held + offer.sold
                if stock < committed:
                    await session.rollback()
                    raise Conflict(f"stock cannot go below {committed} (held or sold)")
                OfferTerms(
                    kind=OfferKind(offer.kind), price_cents=0, stock=stock, per_buyer_limit=1
                ).validate()
                offer.left, offer.stock = stock - committed, stock
                await self._waitlist(session, offer)  # more stock: the waitlist first
            if price_cents is not None:
                if offer.kind == OfferKind.PRE_SALE and price_cents <= offer.deposit_cents:
                    await session.rollback()
                    raise InvalidOffer("the price must stay above the deposit")
                OfferTerms(
                    kind=OfferKind.FLASH_SALE, price_cents=price_cents, stock=0, per_buyer_limit=1
                ).validate()
                offer.price_cents = price_cents
            if per_buyer_limit is not None:
                OfferTerms(
                    kind=OfferKind.FLASH_SALE,
                    price_cents=0,
                    stock=0,
                    per_buyer_limit=per_buyer_limit,
                ).validate()
                offer.per_buyer_limit = per_buyer_limit
            if tiers is not None:
                validate_tiers(tiers)
                offer.tiers = [[t.min_buyers, t.price_cents] for t in tiers]
            if ends_at is not None:
                offer.ends_at = ends_at
            session.add(offer)
            photos = await product_photos(session, [offer.product_id])
            self._outbox.add(
                session, offer_updated(offer, photos.get(offer.product_id, []), variants)
            )
            await session.commit()
        self._outbox.notify()
        self._ticker.mark(offer_id)
        return offer

    async def _resplit(
        self,
        session: AsyncSession,
        offer: OfferRow,
        variants: list[str],
        variant_stock: dict[str, int],
        stock: int | None,
    ) -> None:
        """Set the locked offer's stock per variant: no variant below what is held or sold
        of it (409); the offer's stock becomes their sum (`stock`, if given, must be it)."""
        split, total = split_stock(tuple(variants), normalize_split(variant_stock), stock)
        rows = await session.exec(
            select(OrderRow.variant, func.sum(OrderRow.quantity))
            .where(OrderRow.offer_id == offer.id, col(OrderRow.status).in_(COMMITTED))
            .group_by(col(OrderRow.variant))
        )
        committed = {str(variant): int(units) for variant, units in rows.all()}
        try:
            variant_left = resplit(committed, split)
        except StockBelowCommitted as exc:
            raise Conflict(str(exc)) from None
        held_or_sold = offer.held + offer.sold
        if total - held_or_sold != sum(variant_left.values()):
            # Orders without one of these variants hold units: the split cannot add up.
            raise Conflict("this offer's orders do not add up per variant: cannot split it")
        offer.variant_left, offer.stock, offer.left = variant_left, total, total - held_or_sold
