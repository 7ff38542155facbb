"""A small Prometheus HTTP API client: instant queries, answered as (labels, value) vectors.

The operator's only reader of fleet metrics (`--prometheus-url`). Anything that keeps an answer from
coming (unreachable, a timeout, an error status, a body that is not a vector) is `PrometheusUnavailable`,
which the fleet loop writes into status instead of acting on missing figures.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .measuring import Vector


class PrometheusUnavailable(RuntimeError):
    """Prometheus could not answer; the message says why."""


class Prometheus:
    """Instant queries against one Prometheus (or any server of its HTTP API, e.g. Thanos, Mimir)."""

    def __init__(self, url: str, *, timeout_seconds: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_seconds = timeout_seconds

    def vector(self, expression: str) -> Vector:
        """The instant vector of `expression` now."""
        query = urllib.parse.urlencode({"query": expression})
        try:
            with urllib.request.urlopen(
                f"{self.url}/api/v1/query?{query}", timeout=self.timeout_seconds
            ) as response:
                body: Any = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise PrometheusUnavailable(f"{self.url} answered {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise PrometheusUnavailable(f"{self.url} unreachable: {type(exc).__name__}: {exc}") from None
        data = body.get("data") if isinstance(body, dict) else None
        if (
            body.get("status") != "success"
            or not isinstance(data, dict)
            or data.get("resultType") != "vector"
        ):
            raise PrometheusUnavailable(f"{self.url} gave no vector for {expression!r}")
        return [(sample.get("metric", {}), float(sample["value"][1])) for sample in data.get("result", [])]
