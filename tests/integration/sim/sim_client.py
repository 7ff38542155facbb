"""Client side of the sim's integration tests: the running simulator's URLs and its control API.

A plain module rather than part of conftest.py, so test modules can import `Sim` and `API_KEY` without
importing a conftest by name (which is ambiguous when several folders have one).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import anthropic
import openai

from support.processes import Process

API_KEY = "sk-sim-secret-0123456789"


@dataclass
class Sim:
    """The running simulator: its URLs and a client for the `/sim/*` control API."""

    process: Process
    base_url: str
    pinned_url: str

    def call(
        self, method: str, path: str, *, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """One HTTP request; returns (status, parsed JSON body) whatever the status."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def put_model(self, name: str, **fields: Any) -> dict[str, Any]:
        status, body = self.call("PUT", f"/sim/models/{name}", body=fields)
        assert status == 200, body
        return dict(body)

    def stats(self, name: str) -> dict[str, Any]:
        status, body = self.call("GET", "/sim/stats")
        assert status == 200, body
        return dict(body["models"][name])

    def requests(self, *, model: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        query = f"?limit={limit}" + (f"&model={model}" if model else "")
        status, body = self.call("GET", "/sim/requests" + query)
        assert status == 200, body
        return list(body["requests"])

    def openai(
        self, *, timeout: float = 10.0, api_key: str = "unused", pinned: bool = False
    ) -> openai.OpenAI:
        # max_retries=0: a fault must surface as the SDK's exception, not be retried away.
        base = self.pinned_url if pinned else self.base_url
        return openai.OpenAI(base_url=base + "/v1", api_key=api_key, max_retries=0, timeout=timeout)

    def anthropic(self, *, api_key: str = "unused") -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=self.base_url, api_key=api_key, max_retries=0, timeout=10.0)
