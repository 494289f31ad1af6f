from services.orders.bootstrap import build
from services.orders.main import create_app
from services.orders.settings import OrdersSettings
from shared.logs import configure_logging
from shared.runtime import serve

settings = OrdersSettings()
configure_logging("orders", settings.log_level)
serve(create_app(build(settings)), settings)
