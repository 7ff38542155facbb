"""`helm test`: does an injected pod answer? Runs as the app container of a labelled pod (Python standard
library only).

Checks that the webhook injected the sidecar (OPENAI_BASE_URL is set), that the sidecar's admin port says
it is ready, and that its model API lists the test route.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def routes() -> list[str]:
    base = os.environ["OPENAI_BASE_URL"].rstrip("/")
    status, body = get(f"{base}/models")
    return [m["id"] for m in json.loads(body)["data"]] if status == 200 else []


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--route", required=True)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    if "OPENAI_BASE_URL" not in os.environ:
        print("FAIL: no OPENAI_BASE_URL: the webhook did not inject this pod")
        return 1
    print(f"ok: injected, OPENAI_BASE_URL={os.environ['OPENAI_BASE_URL']}")
    deadline, seen = time.monotonic() + args.timeout, "nothing yet"
    while time.monotonic() < deadline:
        try:
            ready, _ = get("http://127.0.0.1:8788/readyz")
            served = routes()
        except (OSError, ValueError, KeyError) as error:
            seen = f"{type(error).__name__}: {error}"
        else:
            if ready == 200 and args.route in served:
                print(f"ok: the sidecar is ready and serves route {args.route}")
                return 0
            seen = f"/readyz {ready}, routes {served}"
        time.sleep(1)
    print(f"FAIL: the sidecar did not serve route {args.route} within {args.timeout:.0f}s: {seen}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
