"""Composition root of orders."""

from __future__ import annotations

from dataclasses import dataclass

from services.orders.adapters.payments import SimulatedGateway
from services.orders.adapters.tables import OrdersOutbox, metadata
from services.orders.domain.referral import CommissionRule
from services.orders.entrypoints import referrals, subscribers
from services.orders.service_layer.amendments import Amendments
from services.orders.service_layer.catalog import Catalog
from services.orders.service_layer.checkout import Checkout
from services.orders.service_layer.payments import Payments
from services.orders.service_layer.photos import Photos
from services.orders.service_layer.pickup_points import PickupPoints
from services.orders.service_layer.promoters import Promoters
from services.orders.service_layer.stock_ticker import StockTicker
from services.orders.service_layer.sweeper import Sweeper
from services.orders.settings import OrdersSettings
from shared.objects import PRODUCT_PHOTOS
from shared.outbox import Outbox
from shared.runtime import Infrastructure


@dataclass
class OrdersApp:
    settings: OrdersSettings
    infra: Infrastructure
    catalog: Catalog
    photos: Photos
    checkout: Checkout
    payments: Payments
    sweeper: Sweeper
    ticker: StockTicker
    outbox: Outbox
    gateway: SimulatedGateway
    amendments: Amendments | None = None
    promoters: Promoters | None = None
    pickup_points: PickupPoints = None  # type: ignore[assignment]  # set by build()

    async def _started(self) -> None:
        await self.outbox.start(self.infra.publisher)
        self.ticker.start()
        self.sweeper.start()

    async def _stopping(self) -> None:
        await self.sweeper.stop()
        await self.ticker.stop()
        await self.gateway.close()
        await self.outbox.stop()


def build(settings: OrdersSettings | None = None) -> OrdersApp:
    settings = settings or OrdersSettings()
    infra = Infrastructure.build(settings, metadata)
    outbox = Outbox(OrdersOutbox, infra.sessions)
    ticker = StockTicker(infra.sessions, lambda: infra.publisher)
    rule = CommissionRule.parse(settings.commission_percent)
    gateway = SimulatedGateway(
        settings.payment_secret,
        settings.callback_url,
        delay_s=settings.sim_callback_delay_s,
        duplicate_rate=settings.sim_duplicate_rate,
    )
    checkout = Checkout(infra.sessions, outbox, ticker, referral_levels=len(rule.basis_points))
    catalog = Catalog(infra.sessions, outbox, ticker, checkout.hand_to_waitlist)
    payments = Payments(infra.sessions, outbox, gateway, rule)
    photos = Photos(
        infra.sessions,
        outbox,
        ticker,
        lambda: infra.bucket(PRODUCT_PHOTOS),
        max_bytes=settings.photo_max_bytes,
        workers=settings.photo_workers,
    )
    sweeper = Sweeper(
        infra.sessions,
        outbox,
        ticker,
        catalog,
        checkout,
        payments,
        every_s=settings.sweep_every_s,
        publisher=lambda: infra.publisher,
    )
    app = OrdersApp(
        settings, infra, catalog, photos, checkout, payments, sweeper, ticker, outbox, gateway
    )
    app.amendments = Amendments(infra.sessions, outbox, ticker, checkout)
    app.pickup_points = PickupPoints(infra.sessions)
    subscribers.register(infra.broker, checkout, app.amendments)
    app.promoters = Promoters(infra.sessions, outbox)
    referrals.register(infra.broker, app.promoters)
    infra.on_start.append(app._started)
    infra.on_stop.append(app._stopping)
    return app
