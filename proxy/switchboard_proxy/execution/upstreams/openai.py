"""OpenAI-compatible servers (OpenAI, vLLM, llama.cpp, TGI, Ollama): the base URL plus a path, Bearer auth."""

from __future__ import annotations

from switchboard_proxy.config import EndpointConfig

from .base import Call, Prepared, common_headers
from .openai_format import PATHS, rewrite_body


def prepare(endpoint: EndpointConfig, call: Call, key: str) -> Prepared:
    payload, add_usage = rewrite_body(endpoint, call)
    headers = common_headers(call)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if call.forwarded:
        headers.update({k: v for k, v in call.forwarded.items() if k.startswith("openai-")})
    return Prepared(url=endpoint.url + PATHS[call.api], headers=headers, payload=payload, add_usage=add_usage)
