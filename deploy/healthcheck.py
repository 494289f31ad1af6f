"""The image's HEALTHCHECK: exit 0 when this container's service answers /readyz with 200.

/readyz is 200 when NATS is connected, the streams exist and the database is migrated;
503 (with which check failed) otherwise. Standard library only: the slim image has no curl.
"""

import os
import sys
import urllib.error
import urllib.request

url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/readyz"
try:
    with urllib.request.urlopen(url, timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except urllib.error.HTTPError as exc:
    print(f"not ready: {exc.code} {exc.read()[:500]!r}")
except OSError as exc:
    print(f"not answering: {exc}")
sys.exit(1)
