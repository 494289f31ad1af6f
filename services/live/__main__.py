from services.live.bootstrap import build
from services.live.main import create_app
from services.live.settings import LiveSettings
from shared.logs import configure_logging
from shared.runtime import serve

settings = LiveSettings()
configure_logging("live", settings.log_level)
serve(create_app(build(settings)), settings, ws_compression=settings.ws_compression)
