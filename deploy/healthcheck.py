#!/usr/bin/env python3
"""Container health check: exit 0 when the dashboards answer "ok" on Streamlit's health
endpoint (/_stcore/health) on this container's port (PCR_PORT, default 8501), else 1."""
import os
import sys
import urllib.request

url = f"http://127.0.0.1:{os.environ.get('PCR_PORT', '8501')}/_stcore/health"
try:
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=4) as response:
        healthy = response.status == 200 and response.read().strip() == b"ok"
except OSError as error:
    print(f"pcr-healthcheck: {url}: {error}", file=sys.stderr)
    healthy = False
sys.exit(0 if healthy else 1)
