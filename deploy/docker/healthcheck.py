"""Container healthcheck: GET /readyz on the local gunicorn (port 8000, or argv[1]); exit 0
only on 200.

Sends the first name in ALLOWED_HOSTS as Host: production lists host names only, so a probe
with Host 127.0.0.1 would be refused (400 DisallowedHost) before /readyz ran.
"""

import http.client
import os
import sys


def main() -> int:
    first = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip()
    # "*" (development) is no host name; ".example.gov.cn" allows example.gov.cn itself.
    host = first.lstrip(".") if first not in ("", "*") else "localhost"
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000  # gunicorn --bind 0.0.0.0:8000
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=4)
    try:
        connection.request("GET", "/readyz", headers={"Host": host})
        response = connection.getresponse()
        body = response.read(2000).decode(errors="replace")
    except OSError as exc:
        sys.stderr.write(f"readyz unreachable: {exc}\n")
        return 1
    finally:
        connection.close()
    if response.status != 200:
        sys.stderr.write(f"readyz {response.status}: {body}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
