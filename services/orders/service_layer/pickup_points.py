"""Pickup points a host runs, the rooms they serve, and the address a buyer used last.

A point is never deleted: retiring it stops it being offered, and the orders already
there keep it (the desk still hands them over). Which points a room's buyers see:
`domain.fulfilment.serves` (active, serving the room, run by a seller of the room).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.tables import BuyerAddressRow, OfferRow, PickupPointRow
from services.orders.domain.fulfilment import ADMIN, clean_text, serves
from services.orders.service_layer.catalog import Forbidden, NotFound
from shared.events import new_id, utcnow


@dataclass(frozen=True)
class PointDraft:
    name: str
    address: str
    hours: str = ""
    contact: str = ""
    room_ids: tuple[str, ...] = ()


FIELDS = ("name", "address", "hours", "contact")


def _rooms(room_ids: tuple[str, ...] | list[str]) -> list[str]:
    return list(dict.fromkeys(room_ids))  # in the host's order, once each


class PickupPoints:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, owner: str, draft: PointDraft) -> PickupPointRow:
        row = PickupPointRow(
            id=f"pp_{new_id()[:12]}",
            owner=owner,
            name=clean_text(draft.name),
            address=clean_text(draft.address),
            hours=clean_text(draft.hours),
            contact=clean_text(draft.contact),
            room_ids=_rooms(draft.room_ids),
        )
        async with self._sessions() as session:
            session.add(row)
            await session.commit()
            await session.refresh(row)
        return row

    async def owned(
        self,
        owner: str,
        is_admin: bool,
        room_id: str | None = None,
        include_retired: bool = False,
    ) -> list[PickupPointRow]:
        """The host's points (the admin: everyone's), oldest first."""
        query = select(PickupPointRow).order_by(
            col(PickupPointRow.created_at), col(PickupPointRow.id)
        )
        if not is_admin:
            query = query.where(col(PickupPointRow.owner) == owner)
        if not include_retired:
            query = query.where(col(PickupPointRow.retired_at).is_(None))
        async with self._sessions() as session:
            rows = list(await session.exec(query))
        return [row for row in rows if room_id is None or room_id in row.room_ids]

    async def get(self, point_id: str) -> PickupPointRow:
        async with self._sessions() as session:
            row = await session.get(PickupPointRow, point_id)
        if row is None:
            raise NotFound(f"no pickup point {point_id}")
        return row

    async def edit(
        self, point_id: str, owner: str, is_admin: bool, changes: dict[str, object]
    ) -> PickupPointRow:
        async with self._sessions() as session:
            row = await self._own(session, point_id, owner, is_admin)
            for field in FIELDS:
                value = changes.get(field)
                if isinstance(value, str):
                    setattr(row, field, clean_text(value))
            rooms = changes.get("room_ids")
            if isinstance(rooms, list | tuple):
                row.room_ids = _rooms([str(r) for r in rooms])
            session.add(row)
            await session.commit()
            await session.refresh(row)
        return row

    async def retire(self, point_id: str, owner: str, is_admin: bool) -> PickupPointRow:
        """Stop offering the point (again: nothing changes, the first time stays)."""
        async with self._sessions() as session:
            row = await self._own(session, point_id, owner, is_admin)
            if row.retired_at is None:
                row.retired_at = utcnow()
                session.add(row)
                await session.commit()
                await session.refresh(row)
        return row

    async def for_room(self, room_id: str) -> list[PickupPointRow]:
        """What a room's buyers may choose: its sellers' active points serving it."""
        async with self._sessions() as session:
            sellers = set(
                await session.exec(
                    select(OfferRow.owner).where(col(OfferRow.room_id) == room_id).distinct()
                )
            )
            rows = await session.exec(
                select(PickupPointRow)
                .where(col(PickupPointRow.retired_at).is_(None))
                .order_by(col(PickupPointRow.created_at), col(PickupPointRow.id))
            )
            return [
                row
                for row in rows
                if any(
                    serves(row.owner, row.room_ids, False, room_id, seller)
                    for seller in (sellers | {ADMIN})
                )
            ]

    async def last_address(self, customer_id: str) -> str | None:
        async with self._sessions() as session:
            row = await session.get(BuyerAddressRow, customer_id)
        return row.address if row else None

    @staticmethod
    async def _own(
        session: AsyncSession, point_id: str, owner: str, is_admin: bool
    ) -> PickupPointRow:
        row = await session.get(PickupPointRow, point_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no pickup point {point_id}")
        if not is_admin and row.owner != owner:
            raise Forbidden("another host's pickup point")
        return row
