"""Azure OpenAI: the OpenAI wire format with a deployment path, an api-version and the api-key header."""

from __future__ import annotations

from urllib.parse import quote

from switchboard_proxy.config import EndpointConfig

from .base import Call, Prepared, common_headers
from .openai_format import PATHS, rewrite_body


def prepare(endpoint: EndpointConfig, call: Call, key: str) -> Prepared:
    payload, add_usage = rewrite_body(endpoint, call)
    version = quote(endpoint.api_version, safe="")
    if call.api == "responses":  # not under a deployment: the deployment is the body's `model`
        url = f"{endpoint.url}/openai/responses?api-version={version}"
    else:
        deployment = quote(endpoint.model, safe="")
        url = f"{endpoint.url}/openai/deployments/{deployment}{PATHS[call.api]}?api-version={version}"
    headers = common_headers(call)
    if key:
        headers["api-key"] = key
    return Prepared(url=url, headers=headers, payload=payload, add_usage=add_usage)
