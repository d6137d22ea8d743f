"""API Lambda cold start: importing the handler and answering the first request, against a bare
FastAPI + Mangum app doing the same, measured side by side in fresh interpreters."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile

RUNS = 7

BASELINE = """
import time; t = time.perf_counter()
from fastapi import FastAPI
from mangum import Mangum
app = FastAPI()
@app.get("/api/v1/health")
def health() -> dict[str, str]:
    return {"status": "healthy"}
handler = Mangum(app, lifespan="off")
t_import = time.perf_counter() - t
handler(EVENT, Ctx())
print(t_import, time.perf_counter() - t)
"""

HUB = """
import time; t = time.perf_counter()
from evalhub_api.handler import handler
t_import = time.perf_counter() - t
handler(EVENT, Ctx())
print(t_import, time.perf_counter() - t)
"""

EVENT = """
class Ctx:
    function_name = "bench"; memory_limit_in_mb = 512; aws_request_id = "r-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
EVENT = {
    "version": "2.0", "routeKey": "$default", "rawPath": "/api/v1/health", "rawQueryString": "",
    "headers": {"host": "x"}, "isBase64Encoded": False,
    "requestContext": {"http": {"method": "GET", "path": "/api/v1/health", "protocol": "HTTP/1.1",
                                "sourceIp": "127.0.0.1", "userAgent": "bench"}, "stage": "$default"},
}
"""


def measure(code: str, env: dict[str, str]) -> tuple[float, float]:
    imports, firsts = [], []
    for _ in range(RUNS):
        stdout = subprocess.run(
            [sys.executable, "-c", EVENT + code], capture_output=True, text=True, env=env, check=True
        ).stdout
        out = stdout.strip().splitlines()[-1].split()  # the handler logs JSON lines before it
        imports.append(float(out[0]))
        firsts.append(float(out[1]))
    return statistics.median(imports), statistics.median(firsts)


def run() -> None:
    import os

    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "EVALHUB_HOME": home}
        base_import, base_first = measure(BASELINE, env)
        hub_import, hub_first = measure(HUB, env)
    print(
        f"import handler module   : hub {hub_import * 1000:7.1f} ms  bare FastAPI+Mangum {base_import * 1000:7.1f} ms"
    )
    print(
        f"import + first request  : hub {hub_first * 1000:7.1f} ms  bare FastAPI+Mangum {base_first * 1000:7.1f} ms"
    )
    print(f"ratio (import)          : {hub_import / base_import:.2f}x")
    print(
        f"ratio (import + first)  : {hub_first / base_first:.2f}x   (median of {RUNS} fresh interpreters each)"
    )
