"""HTTP: promoters. The host's commission ledger per promoter, payouts and their CSV; a
buyer's own invitations (`/me/invitations`)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated

from fastapi import Query, Response
from pydantic import BaseModel, Field

from services.orders.adapters.tables import PayoutRow
from services.orders.domain.promoters import LevelTotals, NothingOwed
from services.orders.entrypoints.deps import BuyerDep, HostDep, OrdersDep
from services.orders.service_layer.promoters import (
    Invitations,
    LedgerLine,
    Promoter,
    Promoters,
)
from shared.api import api_router
from shared.events.envelope import SUBJECT_TOKEN_PATTERN
from shared.problems import ApiError

router = api_router()

RoomFilter = Annotated[
    str | None,
    Query(
        pattern=SUBJECT_TOKEN_PATTERN,
        description="Only the lines of orders in this room (and who joined it).",
    ),
]


class LevelOut(BaseModel):
    level: int = Field(description="1: the promoter invited the buyer; 2: invited their inviter…")
    accrued_cents: int = Field(description="What the lines accrued when their orders were paid.")
    reversed_cents: int = Field(description="What refunds took back.")
    paid_out_cents: int = Field(description="What payouts paid on the lines.")

    @classmethod
    def of(cls, totals: LevelTotals) -> LevelOut:
        return cls(
            level=totals.level,
            accrued_cents=totals.accrued_cents,
            reversed_cents=totals.reversed_cents,
            paid_out_cents=totals.paid_out_cents,
        )


class PromoterOut(BaseModel):
    customer_id: str
    name: str = Field(description="The name they showed on an order or at a join ('' if none).")
    invitees: int = Field(description="People who joined or bought through their link.")
    orders: int = Field(description="Orders that earned them a commission (any level).")
    gmv_cents: int = Field(description="What those orders finally paid (paid - refunded).")
    levels: list[LevelOut]
    owed_cents: int = Field(
        description="Accrued - reversed - paid out: what the next payout pays; negative when "
        "a refund after a payout left them owing back."
    )

    @classmethod
    def of(cls, p: Promoter) -> PromoterOut:
        return cls(
            customer_id=p.customer_id,
            name=p.name,
            invitees=p.invitees,
            orders=p.orders,
            gmv_cents=p.gmv_cents,
            levels=[LevelOut.of(t) for t in p.levels],
            owed_cents=p.owed_cents,
        )


class LineOut(BaseModel):
    order_id: str
    room_id: str
    title: str = Field(description="The offer's title.")
    level: int
    amount_cents: int = Field(description="What the line earns now (reversed: what it was).")
    status: str = Field(description="accrued | reversed")
    paid_cents: int = Field(description="What payouts paid on it.")
    owed_cents: int = Field(description="Earned - paid: negative is owed back.")
    payout_id: str | None = Field(description="The last payout that settled it.")
    created_at: datetime

    @classmethod
    def of(cls, ll: LedgerLine) -> LineOut:
        line = ll.line
        return cls(
            order_id=line.order_id,
            room_id=ll.room_id,
            title=ll.title,
            level=line.level,
            amount_cents=line.amount_cents,
            status=line.status,
            paid_cents=line.paid_cents,
            owed_cents=line.owed_cents,
            payout_id=ll.payout_id,
            created_at=ll.created_at,
        )


class HostLineOut(LineOut):
    buyer_name: str = Field(description="The name the buyer showed when ordering.")

    @classmethod
    def of(cls, ll: LedgerLine) -> HostLineOut:
        return cls(buyer_name=ll.buyer_name, **LineOut.of(ll).model_dump())


class PayoutOut(BaseModel):
    id: str
    beneficiary: str = Field(description="The promoter paid.")
    amount_cents: int
    reference: str
    created_at: datetime

    @classmethod
    def of(cls, row: PayoutRow) -> PayoutOut:
        return cls(**row.model_dump(include=set(cls.model_fields)))


class PromoterDetailOut(BaseModel):
    promoter: PromoterOut
    lines: list[HostLineOut] = Field(description="Newest first.")
    payouts: list[PayoutOut] = Field(description="Newest first.")


class PayoutIn(BaseModel):
    reference: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"\S",
        description="How the money went (a transfer's id, 'cash at the shop').",
        examples=["WeChat transfer 4200012345"],
    )


class InviteeOut(BaseModel):
    name: str = Field(description="The name they joined (or last ordered) with; '' if none.")
    joined_at: datetime = Field(description="When they first came through the link.")
    room_id: str | None = Field(description="The room they joined (None: seen at checkout).")
    orders: int = Field(description="Orders they placed (any status).")
    paid_cents: int = Field(description="What those orders finally paid (paid - refunded).")


class InvitationsOut(BaseModel):
    invitees: list[InviteeOut] = Field(description="Who came through my link, newest first.")
    levels: list[LevelOut] = Field(description="My commissions per level.")
    owed_cents: int = Field(description="What the hosts owe me now (negative: I owe back).")
    lines: list[LineOut] = Field(description="My latest commission lines, newest first.")

    @classmethod
    def of(cls, i: Invitations) -> InvitationsOut:
        return cls(
            invitees=[
                InviteeOut(
                    name=v.name,
                    joined_at=v.joined_at,
                    room_id=v.room_id,
                    orders=v.orders,
                    paid_cents=v.paid_cents,
                )
                for v in i.invitees
            ],
            levels=[LevelOut.of(t) for t in i.levels],
            owed_cents=i.owed_cents,
            lines=[LineOut.of(ll) for ll in i.lines],
        )


def promoters_of(orders: OrdersDep) -> Promoters:
    assert orders.promoters is not None
    return orders.promoters


@router.get("/me/invitations", response_model=InvitationsOut, tags=["referral"])
async def my_invitations(orders: OrdersDep, buyer: BuyerDep) -> InvitationsOut:
    """What my invite link brought: the people who joined through it (also those who have
    not bought), their orders, my commissions per level (accrued, reversed, paid out),
    what I am owed, my latest lines. The link itself is `/r/{room_id}?ref=<customer_id>`."""
    return InvitationsOut.of(await promoters_of(orders).invitations(buyer.customer_id))


@router.get("/promoters", response_model=list[PromoterOut], tags=["referral"])
async def list_promoters(
    orders: OrdersDep, host: HostDep, room_id: RoomFilter = None
) -> list[PromoterOut]:
    """The promoters of the host's offers (the admin: every offer), most owed first: their
    invitees, orders, GMV, commissions per level and what is owed."""
    return [PromoterOut.of(p) for p in await promoters_of(orders).ledger(host.id, room_id)]


@router.get(
    "/promoters.csv",
    tags=["referral"],
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per promoter."}},
)
async def promoters_csv(orders: OrdersDep, host: HostDep, room_id: RoomFilter = None) -> Response:
    """Who to pay and how much: one row per promoter (as `GET /promoters`), amounts in the
    currency's main unit. UTF-8 with a BOM, so Excel reads Chinese names."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "customer_id",
            "name",
            "invitees",
            "orders",
            "gmv",
            "accrued",
            "reversed",
            "paid_out",
            "owed",
        ]
    )
    for p in await promoters_of(orders).ledger(host.id, room_id):
        writer.writerow(
            [
                p.customer_id,
                _cell(p.name),
                p.invitees,
                p.orders,
                _money(p.gmv_cents),
                _money(sum(t.accrued_cents for t in p.levels)),
                _money(sum(t.reversed_cents for t in p.levels)),
                _money(sum(t.paid_out_cents for t in p.levels)),
                _money(p.owed_cents),
            ]
        )
    name = f"promoters-{room_id}.csv" if room_id else "promoters.csv"
    return Response(
        out.getvalue().encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/promoters/{customer_id}", response_model=PromoterDetailOut, tags=["referral"])
async def get_promoter(customer_id: str, orders: OrdersDep, host: HostDep) -> PromoterDetailOut:
    """One promoter's ledger on the host's offers: the summary, every line (order, room,
    level, amount, status, paid, owed, payout) and the host's payouts to them."""
    detail = await promoters_of(orders).promoter(customer_id, host.id)
    return PromoterDetailOut(
        promoter=PromoterOut.of(detail.promoter),
        lines=[HostLineOut.of(ll) for ll in detail.lines],
        payouts=[PayoutOut.of(p) for p in detail.payouts],
    )


@router.post(
    "/promoters/{customer_id}/payouts",
    status_code=201,
    response_model=PayoutOut,
    tags=["referral"],
    responses={
        409: {
            "description": "`nothing_owed`: nothing is owed on the host's lines (or less "
            "than the promoter owes back after refunds); nothing changed."
        }
    },
)
async def pay_out(customer_id: str, body: PayoutIn, orders: OrdersDep, host: HostDep) -> PayoutOut:
    """Mark everything owed to the promoter on the host's lines as paid (the money moves
    outside the platform; `reference` says how). Lines a refund left owing back are taken
    off the amount. Emits `commission.paid_out` (one per room the payout touched)."""
    try:
        row = await promoters_of(orders).pay_out(customer_id, host.id, body.reference.strip())
    except NothingOwed as exc:
        raise ApiError(409, str(exc), "nothing_owed") from None
    return PayoutOut.of(row)


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _cell(text: str) -> str:
    """A name as a spreadsheet shows it, never as a formula (CSV injection)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
