"""Azure OpenAI: the OpenAI wire format with a deployment path, an api-version and the api-key header."""

from __future__ import annotations

from urllib.parse import quote

from switchboard_proxy.config import EndpointConfig

from .base import Call, Prepared, common_headers
from .openai_format import PATHS, rewrite_body


def prepare(endpoint: EndpointConfig, call: Call, key: str) -> Prepared:
    payload, add_usage = rewrite_body(endpoint, call)
    url = (
        f"{endpoint.url}/openai/deployments/{quote(endpoint.model, safe='')}{PATHS[call.api]}"
        f"?api-version={quote(endpoint.api_version, safe='')}"
    )
    headers = common_headers(call)
    if key:
        headers["api-key"] = key
    return Prepared(url=url, headers=headers, payload=payload, add_usage=add_usage)
