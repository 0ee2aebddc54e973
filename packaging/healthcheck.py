"""The image's HEALTHCHECK: exit 0 when GET /readyz answers 200 (every model compiled, not stopping).

Reads the listen port and TLS (``server.tls`` or the secrets ``tls_cert`` + ``tls_key``) as the daemon
does ($YOLO_EDGE_CONFIG, default /etc/yolo-edge/config.yaml) and asks over loopback, naming an allowed
Host when allowed_hosts is set.
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.error
import urllib.request

from edge.config.settings import load_config
from edge.http.tls import tls_files


def main() -> int:
    config = load_config(os.environ.get("YOLO_EDGE_CONFIG", "/etc/yolo-edge/config.yaml"))
    server = config.server
    scheme = "https" if tls_files(config) else "http"  # server.tls, or the secrets tls_cert + tls_key
    host = "127.0.0.1" if server.host in ("0.0.0.0", "::", "") else server.host
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    request = urllib.request.Request(f"{scheme}://{host}:{server.port}/readyz")
    if server.allowed_hosts:
        request.add_header("Host", server.allowed_hosts[0].lstrip("."))
    context = ssl._create_unverified_context() if scheme == "https" else None  # our own certificate
    try:
        with urllib.request.urlopen(request, timeout=4, context=context) as answer:
            return 0 if answer.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"/readyz: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
