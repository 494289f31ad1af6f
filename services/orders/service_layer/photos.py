"""A product's photos: checked and made into sizes once at upload, stored by content in
PRODUCT_PHOTOS, put in the host's order, described (alt text), removed.

Every change reaches the rooms: each open offer of the product gets an `OfferUpdated`
with the photos as they now are, through the outbox, in the transaction of the change.

The objects are named by their content, so two rows may name the same ones (the same
picture on two products). An object is deleted when the last row naming it goes; an
upload and a removal of the same bytes may cross, so each side checks again after the
other could have acted (`_keep` and `_release`): a row never ends up naming nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from sqlalchemy import func, or_, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.tables import OfferRow, ProductPhotoRow, ProductRow
from services.orders.domain.offers import OfferStatus
from services.orders.domain.photos import MAX_PHOTOS, PhotoRefused, refusal
from services.orders.service_layer.catalog import (
    Conflict,
    Forbidden,
    NotFound,
    offer_updated,
    product_photos,
)
from services.orders.service_layer.stock_ticker import StockTicker
from shared import images
from shared.events import new_id
from shared.objects import Objects
from shared.outbox import Outbox

log = logging.getLogger("qunlive.orders.photos")


class PhotosFull(Conflict):
    pass


class PhotoOrderMismatch(Conflict):
    pass


class Photos:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        ticker: StockTicker,
        bucket: Callable[[], Objects],
        *,
        max_bytes: int,
        workers: int = 2,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._ticker = ticker
        self._bucket = bucket
        self._objects: Objects | None = None
        self.max_bytes = max_bytes
        # Decoding a 40-megapixel picture takes a few hundred MB and a core for a second:
        # this many at a time, the others wait their turn.
        self._workers = asyncio.Semaphore(workers)

    @property
    def objects(self) -> Objects:
        if self._objects is None:
            self._objects = self._bucket()
        return self._objects

    # ---- reading --------------------------------------------------------------------

    async def of_product(
        self, product_id: str, owner: str, is_admin: bool
    ) -> list[ProductPhotoRow]:
        async with self._sessions() as session:
            await self._owned(session, product_id, owner, is_admin)
            return (await product_photos(session, [product_id])).get(product_id, [])

    async def of_products(self, product_ids: Iterable[str]) -> dict[str, list[ProductPhotoRow]]:
        async with self._sessions() as session:
            return await product_photos(session, product_ids)

    # ---- changing -------------------------------------------------------------------

    async def add(
        self, product_id: str, owner: str, is_admin: bool, data: bytes, alt: str = ""
    ) -> list[ProductPhotoRow]:
        """Check the upload, store its sizes, append it to the product's photos."""
        async with self._sessions() as session:  # refuse early what needs no decoding
            await self._owned(session, product_id, owner, is_admin)
            await self._room_for_one_more(session, product_id)
        if not data:
            raise PhotoRefused("image_empty", "the file is empty")
        if len(data) > self.max_bytes:
            raise PhotoRefused(
                "image_too_large", f"the file is {len(data)} bytes; the limit is {self.max_bytes}"
            )
        async with self._workers:
            try:
                picture = await asyncio.to_thread(images.prepare, data, self.max_bytes)
            except images.BadImage as exc:
                raise refusal(exc) from None
        stored = {
            size: await self.objects.put(picture.sizes[size], images.EXTENSION, images.CONTENT_TYPE)
            for size in images.SIZES
        }
        names = [s.name for s in stored.values()]
        try:
            async with self._sessions() as session:
                await self._lock(session, product_id)
                await self._room_for_one_more(session, product_id)
                photos = await self._photos(session, product_id)
                row = ProductPhotoRow(
                    id=f"pho_{new_id()[:12]}",
                    product_id=product_id,
                    position=len(photos),
                    alt=alt,
                    thumb=stored["thumb"].name,
                    card=stored["card"].name,
                    full=stored["full"].name,
                    width=picture.width,
                    height=picture.height,
                )
                session.add(row)
                photos.append(row)
                changed = await self._announce(session, product_id, photos)
                await session.commit()
        except BaseException:
            await self._release(names)  # nothing names them now, unless another row does
            raise
        # A removal of the same bytes may have released them between our put and commit.
        await self._keep({s.name: picture.sizes[size] for size, s in stored.items()})
        self._announced(changed)
        return photos

    async def reorder(
        self, product_id: str, owner: str, is_admin: bool, photo_ids: list[str]
    ) -> list[ProductPhotoRow]:
        """Put the photos in this order: the list names each of the product's photos once."""
        async with self._sessions() as session:
            await self._owned(session, product_id, owner, is_admin)
            await self._lock(session, product_id)
            photos = await self._photos(session, product_id)
            by_id = {p.id: p for p in photos}
            if len(photo_ids) != len(by_id) or set(photo_ids) != set(by_id):
                await session.rollback()
                raise PhotoOrderMismatch(
                    f"name each of the product's {len(by_id)} photos once, in the order wanted "
                    f"(now: {', '.join(by_id) or 'none'})"
                )
            ordered = [by_id[i] for i in photo_ids]
            self._renumber(session, ordered)
            changed = await self._announce(session, product_id, ordered)
            await session.commit()
        self._announced(changed)
        return ordered

    async def describe(
        self, product_id: str, photo_id: str, owner: str, is_admin: bool, alt: str
    ) -> list[ProductPhotoRow]:
        """Set a photo's alt text (what screen readers say)."""
        async with self._sessions() as session:
            await self._owned(session, product_id, owner, is_admin)
            await self._lock(session, product_id)
            photos = await self._photos(session, product_id)
            photo = self._find(photos, photo_id)
            photo.alt = alt
            session.add(photo)
            changed = await self._announce(session, product_id, photos)
            await session.commit()
        self._announced(changed)
        return photos

    async def remove(
        self, product_id: str, photo_id: str, owner: str, is_admin: bool
    ) -> list[ProductPhotoRow]:
        """Remove a photo; its objects go unless another photo names them."""
        async with self._sessions() as session:
            await self._owned(session, product_id, owner, is_admin)
            await self._lock(session, product_id)
            photos = await self._photos(session, product_id)
            photo = self._find(photos, photo_id)
            names = [photo.thumb, photo.card, photo.full]
            await session.delete(photo)
            rest = [p for p in photos if p.id != photo_id]
            self._renumber(session, rest)
            changed = await self._announce(session, product_id, rest)
            await session.commit()
        self._announced(changed)
        await self._release(names)
        return rest

    # ---- the parts ------------------------------------------------------------------

    async def _owned(
        self, session: AsyncSession, product_id: str, owner: str, is_admin: bool
    ) -> ProductRow:
        product = await session.get(ProductRow, product_id)
        if product is None:
            raise NotFound(f"no product {product_id}")
        if not (is_admin or product.owner == owner):
            raise Forbidden("not your product")
        return product

    @staticmethod
    async def _lock(session: AsyncSession, product_id: str) -> None:
        """Changes to one product's photos one at a time (two uploads cannot both be the
        tenth): an UPDATE that changes nothing takes the product row's lock on PostgreSQL,
        and the database's write lock on SQLite, until commit."""
        locked = await session.exec(
            update(ProductRow)
            .where(col(ProductRow.id) == product_id)
            .values(title=ProductRow.title)
        )
        if locked.rowcount == 0:
            await session.rollback()
            raise NotFound(f"no product {product_id}")

    @staticmethod
    async def _photos(session: AsyncSession, product_id: str) -> list[ProductPhotoRow]:
        return (await product_photos(session, [product_id])).get(product_id, [])

    @staticmethod
    async def _room_for_one_more(session: AsyncSession, product_id: str) -> None:
        count = (
            await session.exec(
                select(func.count())
                .select_from(ProductPhotoRow)
                .where(ProductPhotoRow.product_id == product_id)
            )
        ).one()
        if count >= MAX_PHOTOS:
            await session.rollback()
            raise PhotosFull(f"a product has at most {MAX_PHOTOS} photos: remove one first")

    @staticmethod
    def _find(photos: list[ProductPhotoRow], photo_id: str) -> ProductPhotoRow:
        for photo in photos:
            if photo.id == photo_id:
                return photo
        raise NotFound(f"no photo {photo_id} on this product")

    @staticmethod
    def _renumber(session: AsyncSession, photos: list[ProductPhotoRow]) -> None:
        for position, photo in enumerate(photos):
            if photo.position != position:
                photo.position = position
                session.add(photo)

    async def _announce(
        self, session: AsyncSession, product_id: str, photos: list[ProductPhotoRow]
    ) -> list[str]:
        """An OfferUpdated for each open offer of the product (a scheduled one says its
        photos when it opens); the offer ids."""
        offers = (
            await session.exec(
                select(OfferRow).where(
                    OfferRow.product_id == product_id, OfferRow.status == OfferStatus.OPEN.value
                )
            )
        ).all()
        for offer in offers:
            self._outbox.add(session, offer_updated(offer, photos))
        return [offer.id for offer in offers]

    def _announced(self, offer_ids: list[str]) -> None:
        if not offer_ids:
            return
        self._outbox.notify()
        for offer_id in offer_ids:
            # `left` in the event was read in our transaction: the ticker says the latest.
            self._ticker.mark(offer_id)

    async def _named(self, name: str) -> bool:
        async with self._sessions() as session:
            found = await session.exec(
                select(ProductPhotoRow.id)
                .where(
                    or_(
                        col(ProductPhotoRow.thumb) == name,
                        col(ProductPhotoRow.card) == name,
                        col(ProductPhotoRow.full) == name,
                    )
                )
                .limit(1)
            )
            return found.first() is not None

    async def _release(self, names: list[str]) -> None:
        """Delete the objects no photo names. An upload of the same bytes may commit its
        row while we delete: after the delete we look again, and put the bytes back."""
        for name in dict.fromkeys(names):
            try:
                if await self._named(name):
                    continue
                data = await self.objects.read(name)
                if data is None:
                    continue
                await self.objects.delete(name)
                if await self._named(name):
                    await self._put(name, data)
            except Exception:  # the photo is gone either way; an orphan object is harmless
                log.warning("could not release a photo object", extra={"object": name})

    async def _keep(self, stored: dict[str, bytes]) -> None:
        """After our row is committed: each object it names is there (put back if a
        removal of the same bytes deleted it meanwhile; a no-op otherwise)."""
        for name, data in stored.items():
            if await self.objects.head(name) is None:
                await self._put(name, data)

    async def _put(self, name: str, data: bytes) -> None:
        await self.objects.put(data, images.EXTENSION, images.CONTENT_TYPE)
