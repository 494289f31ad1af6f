import asyncio
import logging

from services.live.media.supervisor import MediaConfig, serve
from services.live.settings import LiveSettings
from shared.logs import configure_logging

settings = LiveSettings()
configure_logging("media", settings.log_level)
logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per poll of live
asyncio.run(serve(MediaConfig.from_settings(settings)))
