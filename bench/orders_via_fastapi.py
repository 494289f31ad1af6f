"""The orders service with its checkout solved by FastAPI instead of read by hand: the
reference `python -m bench.orders_flash_sale --compare-fastapi` measures the hand-read
route against (decision "one checkout path"). Never served outside the benchmark.

The same endpoint (`http.checkout`), included as an ordinary FastAPI route after the
other routers, as it was before it was read by hand."""

from __future__ import annotations

from services.orders.bootstrap import build
from services.orders.entrypoints import http
from services.orders.main import create_app
from services.orders.settings import OrdersSettings
from shared.api import api_router
from shared.logs import configure_logging
from shared.runtime import serve

settings = OrdersSettings()
configure_logging("orders", settings.log_level)
app = create_app(build(settings))
app.router.routes.remove(http.checkout_route)
solved = api_router()
route = http.checkout_route
solved.add_api_route(
    route.path,
    route.endpoint,
    methods=["POST"],
    status_code=route.status_code,
    response_model=route.response_model,
    tags=list(route.tags),
    responses=route.responses,
)
app.include_router(solved)
serve(app, settings)
