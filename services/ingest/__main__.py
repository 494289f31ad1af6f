from services.ingest.bootstrap import build
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from shared.logs import configure_logging
from shared.runtime import serve

settings = IngestSettings()
configure_logging("ingest", settings.log_level)
serve(create_app(build(settings)), settings)
