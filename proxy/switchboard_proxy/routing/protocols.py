"""Which APIs an endpoint serves: natively, or through translation, and in which API it is then called.

Pure, over the compiled config. An endpoint speaks its protocol's APIs natively (OpenAI-compatible
servers: chat, completions, embeddings, and the Responses API when they declare the `responses`
capability; Anthropic: Messages). The sidecar translates the rest of the generative APIs:

    caller API   OpenAI-compatible endpoint       Anthropic endpoint
    chat         native                           -> Messages
    messages     -> chat completions              native
    responses    native with `responses`, else    -> Messages (through the chat shape)
                 -> chat completions
    completions  native                           not served
    embeddings   native                           not served

An embedding model (capability `embeddings` and no generative one) serves embeddings only.
`wire_api()` is what the executor sends on: the caller's API, or the one it is translated into.
"""

from __future__ import annotations

from switchboard_proxy.config import EndpointConfig

from .request import Api

# The APIs each wire protocol serves without translation (the Responses API needs its capability).
PROTOCOL_APIS: dict[str, frozenset[Api]] = {
    "openai": frozenset({"chat", "completions", "embeddings"}),
    "azure-openai": frozenset({"chat", "completions", "embeddings"}),
    "anthropic": frozenset({"messages"}),
}
# Caller API -> the API an endpoint of this protocol is called in instead.
TRANSLATIONS: dict[str, dict[Api, Api]] = {
    "openai": {"messages": "chat", "responses": "chat"},
    "azure-openai": {"messages": "chat", "responses": "chat"},
    "anthropic": {"chat": "messages", "responses": "messages"},
}
# An endpoint that declares `embeddings` and no generation capability is an embedding model.
GENERATION_CAPABILITIES = frozenset({"tools", "json", "streaming", "vision", "responses"})
EMBEDDINGS_ONLY: frozenset[Api] = frozenset({"embeddings"})
RESPONSES_NATIVE: frozenset[Api] = frozenset({"responses"})


def is_embedding_model(endpoint: EndpointConfig) -> bool:
    capabilities = endpoint.capabilities
    return "embeddings" in capabilities and not GENERATION_CAPABILITIES.intersection(capabilities)


def native_apis(endpoint: EndpointConfig) -> frozenset[Api]:
    """The APIs `endpoint` serves without translation."""
    if is_embedding_model(endpoint):
        return PROTOCOL_APIS[endpoint.provider] & EMBEDDINGS_ONLY
    apis = PROTOCOL_APIS[endpoint.provider]
    if "responses" in endpoint.capabilities and endpoint.provider != "anthropic":
        return apis | RESPONSES_NATIVE
    return apis


def apis_of(endpoint: EndpointConfig) -> frozenset[Api]:
    """Every API `endpoint` can serve, natively or through translation."""
    native = native_apis(endpoint)
    if is_embedding_model(endpoint):
        return native
    return native | frozenset(TRANSLATIONS[endpoint.provider])


def serves(endpoint: EndpointConfig, api: Api) -> bool:
    """Can `endpoint` serve `api` (natively or translated)? The planner asks this for every candidate."""
    provider = endpoint.provider
    if api not in PROTOCOL_APIS[provider] and api not in TRANSLATIONS[provider]:
        return False
    if is_embedding_model(endpoint):
        return api == "embeddings"
    return True


def wire_api(api: Api, endpoint: EndpointConfig) -> Api:
    """The API `endpoint` is called in for a request of `api` (itself when served natively)."""
    if api in PROTOCOL_APIS[endpoint.provider]:
        return api
    if api == "responses" and "responses" in endpoint.capabilities and endpoint.provider != "anthropic":
        return api
    return TRANSLATIONS[endpoint.provider].get(api, api)
