from services.analytics.bootstrap import build
from services.analytics.main import create_app
from services.analytics.settings import AnalyticsSettings
from shared.logs import configure_logging
from shared.runtime import serve

settings = AnalyticsSettings()
configure_logging("analytics", settings.log_level)
serve(create_app(build(settings)), settings)
