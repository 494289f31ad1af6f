#!/bin/sh
# The image's entry point: one image, four services.
#   <image> live | orders | ingest | analytics     or SERVICE=live and no argument
#   <image> python -m services.ingest.replay --since 2h     any other command runs as given
set -eu
if [ "$#" -gt 0 ]; then
  service="$1"
else
  service="${SERVICE:-}"
fi
case "$service" in
  ingest | live | orders | analytics)
    exec python -m "services.$service"
    ;;
esac
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
echo "usage: give the service as the argument or in SERVICE: ingest, live, orders or analytics" >&2
exit 64
