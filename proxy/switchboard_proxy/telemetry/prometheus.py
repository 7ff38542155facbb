"""A small Prometheus HTTP API client: instant and range queries, answered as plain lists.

The only reader of fleet metrics, for the operator (`--prometheus-url`) and `switchboard report`.
Anything that keeps an answer from coming (unreachable, a timeout, an error status, a body of another
shape) is `PrometheusUnavailable`, which the operator writes into status instead of acting on missing
figures, and the CLI prints with what to check.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .measuring import Labels, Vector

Matrix = list[tuple[Labels, list[tuple[float, float]]]]


class PrometheusUnavailable(RuntimeError):
    """Prometheus could not answer; the message says why."""


class Prometheus:
    """Queries against one Prometheus (or any server of its HTTP API, e.g. Thanos, Mimir)."""

    def __init__(self, url: str, *, timeout_seconds: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_seconds = timeout_seconds

    def vector(self, expression: str) -> Vector:
        """The instant vector of `expression` now."""
        data = self._get("query", {"query": expression}, expect="vector")
        return [(sample.get("metric", {}), float(sample["value"][1])) for sample in data.get("result", [])]

    def matrix(self, expression: str, *, start: float, end: float, step_seconds: float) -> Matrix:
        """The range query of `expression`: each series' labels and its (epoch seconds, value) points."""
        params = {"query": expression, "start": f"{start:.3f}", "end": f"{end:.3f}"}
        data = self._get("query_range", {**params, "step": f"{step_seconds:g}"}, expect="matrix")
        return [
            (series.get("metric", {}), [(float(t), float(v)) for t, v in series.get("values", [])])
            for series in data.get("result", [])
        ]

    def _get(self, path: str, params: dict[str, str], *, expect: str) -> dict[str, Any]:
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(
                f"{self.url}/api/v1/{path}?{query}", timeout=self.timeout_seconds
            ) as response:
                body: Any = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise PrometheusUnavailable(f"{self.url} answered {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise PrometheusUnavailable(f"{self.url} unreachable: {type(exc).__name__}: {exc}") from None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or body.get("status") != "success" or data.get("resultType") != expect:
            raise PrometheusUnavailable(f"{self.url} gave no {expect} for {params['query']!r}")
        return data
