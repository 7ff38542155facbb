"""`helm test`, second pod: does an injected pod answer? Runs as the app container of a labelled pod.

Checks that the webhook injected the sidecar (OPENAI_BASE_URL is set), that the sidecar's admin port says
it is ready, and that its model API lists the route the first pod created; then deletes that route and
its endpoint (the garbage collector removes the ConfigMap they compiled into).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

from kube_api import delete_test_resources


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


def wait_for_route(route: str, timeout: float) -> str:
    deadline, seen = time.monotonic() + timeout, "nothing yet"
    while time.monotonic() < deadline:
        try:
            ready, _ = get("http://127.0.0.1:8788/readyz")
            served = routes()
        except (OSError, ValueError, KeyError) as error:
            seen = f"{type(error).__name__}: {error}"
        else:
            if ready == 200 and route in served:
                return ""
            seen = f"/readyz {ready}, routes {served}"
        time.sleep(1)
    return seen


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    if "OPENAI_BASE_URL" not in os.environ:
        print("FAIL: no OPENAI_BASE_URL: the webhook did not inject this pod")
        return 1
    print(f"ok: injected, OPENAI_BASE_URL={os.environ['OPENAI_BASE_URL']}")
    seen = wait_for_route(args.name, args.timeout)
    if seen:
        print(f"FAIL: the sidecar did not serve route {args.name} within {args.timeout:.0f}s: {seen}")
        return 1
    print(f"ok: the sidecar is ready and serves route {args.name}")
    delete_test_resources(args.namespace, args.name)
    print("ok: test endpoint and route deleted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
