"""`ModelEndpoint.spec`: one upstream model as users write it (provider, URL, key, pricing, limits).

Read by `compiling.compile()`, which resolves the key reference and applies these defaults once; the
sidecar never sees this model, only the compiled `EndpointConfig`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .experiment_spec import Guardrails
from .spec_base import MAX_NAME_LENGTH, ResourceName, SpecModel, cel_rules, list_type

Provider = Literal["openai", "anthropic", "azure-openai"]
Capability = Literal["tools", "json", "streaming", "vision", "embeddings", "responses"]

DEFAULT_CAPABILITIES: tuple[Capability, ...] = ("tools", "json", "streaming")


class SecretKeyRef(SpecModel):
    """A key inside a Kubernetes Secret in the endpoint's namespace."""

    name: ResourceName = Field(description="Name of the Secret. Example: openai.")
    key: str = Field(
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="Key inside the Secret's data holding the API key. Example: api-key.",
    )


class ApiKeySource(SpecModel):
    """Where the endpoint's API key comes from: exactly one of `secretRef` (cluster) or `env` (local mode)."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": cel_rules(
            ("has(self.secretRef) != has(self.env)", "set exactly one of apiKey.secretRef or apiKey.env")
        )
    }

    secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="Secret holding the key; the operator copies it into Secret switchboard-credentials, "
        "never into the ConfigMap. Example: {name: openai, key: api-key}.",
    )
    env: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Environment variable of the sidecar process holding the key (local mode). "
        "Example: OPENAI_API_KEY.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> ApiKeySource:
        if (self.secret_ref is None) == (self.env is None):
            raise ValueError("set exactly one of apiKey.secretRef or apiKey.env")
        return self


class Pricing(SpecModel):
    """Price of the model in US dollars per million tokens; used for cost accounting and lowest-cost."""

    input_per_mtok: float = Field(
        default=0.0,
        ge=0,
        le=10_000,
        alias="inputPerMTok",
        description="USD per million prompt tokens. Default 0. Example: 0.05.",
    )
    output_per_mtok: float = Field(
        default=0.0,
        ge=0,
        le=10_000,
        alias="outputPerMTok",
        description="USD per million completion tokens. Default 0. Example: 0.10.",
    )
    cached_input_per_mtok: float | None = Field(
        default=None,
        ge=0,
        le=10_000,
        alias="cachedInputPerMTok",
        description="USD per million cached prompt tokens. Default: the input price. Example: 0.025.",
    )
    cache_write_per_mtok: float | None = Field(
        default=None,
        ge=0,
        le=10_000,
        alias="cacheWritePerMTok",
        description="USD per million prompt tokens written to the provider's prompt cache (Anthropic's "
        "cache_creation_input_tokens). Default: the input price. Example: 0.0625.",
    )


class EndpointLimits(SpecModel):
    """Limits for this endpoint; 0 means unlimited. Rates and budgets are shared by the sidecars of a
    namespace when they run with `--state`; concurrency and the queue are per sidecar."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": cel_rules(
            (
                "!has(self.requestsBurst) || (has(self.requestsPerMinute) && self.requestsPerMinute > 0)",
                "requestsBurst needs requestsPerMinute",
                ".requestsBurst",
            ),
            (
                "!has(self.tokensBurst) || (has(self.tokensPerMinute) && self.tokensPerMinute > 0)",
                "tokensBurst needs tokensPerMinute",
                ".tokensBurst",
            ),
        )
    }

    max_concurrency: int = Field(
        default=0,
        ge=0,
        le=100_000,
        description="Most requests in flight to this endpoint at once, per sidecar. Default 0 (unlimited). "
        "Example: 64.",
    )
    adaptive_concurrency: bool = Field(
        default=True,
        description="Find the upstream's knee from observed latency (a gradient limit that backs off on "
        "rising latency and on 429/503) and admit at most that many at once, never more than "
        "maxConcurrency; needs maxConcurrency. false: maxConcurrency is a fixed limit. Default true.",
    )
    max_queue: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="Requests that may wait for a slot per sidecar, ordered by priority then deadline; a "
        "request waits only while it can still meet its deadline. 0: no queue (refused at once). "
        "Default: twice maxConcurrency. Example: 128.",
    )
    requests_per_minute: int = Field(
        default=0,
        ge=0,
        le=10_000_000,
        description="Token-bucket request rate limit. Default 0 (unlimited). Example: 600.",
    )
    requests_burst: int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="Requests the bucket may send at once beyond the steady rate (its capacity): in any "
        "60 s at most requestsPerMinute + requestsBurst are sent. Default: requestsPerMinute. Example: 10.",
    )
    tokens_per_minute: int = Field(
        default=0,
        ge=0,
        le=1_000_000_000,
        description="Token-bucket limit on prompt plus completion tokens. Default 0 (unlimited). "
        "Example: 200000.",
    )
    tokens_burst: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000_000,
        description="Capacity of the tokens bucket. Default: tokensPerMinute. Example: 20000.",
    )

    @model_validator(mode="after")
    def _burst_needs_rate(self) -> EndpointLimits:
        if self.requests_burst is not None and not self.requests_per_minute:
            raise ValueError("requestsBurst needs requestsPerMinute")
        if self.tokens_burst is not None and not self.tokens_per_minute:
            raise ValueError("tokensBurst needs tokensPerMinute")
        return self


DURATION_PATTERN = r"^[0-9]{1,6}(s|m|h|d)$"


class Migration(SpecModel):
    """A planned move of this endpoint's traffic to its replacement, driven by the operator's clock.

    First the replacement is shadowed (mirrored, measured, never served) for `shadowFor`; then it serves
    `steps` percent of the endpoint's traffic, one step every `stepEvery`, each step gated by the
    guardrails of the replacement (any breach rolls the migration back). The whole plan must fit before
    the sunset, which still moves all traffic whatever happened to the plan.
    """

    shadow_for: str = Field(
        default="1h",
        max_length=8,
        pattern=DURATION_PATTERN,
        description="How long the replacement is only shadowed: a number and s, m, h or d (0s: no "
        "shadow phase). Default 1h. Example: 24h.",
    )
    shadow_percent: float = Field(
        default=10,
        ge=0,
        le=100,
        description="Percent of the endpoint's requests mirrored during the shadow phase. Default 10.",
    )
    steps: list[int] = Field(
        default_factory=lambda: [5, 25, 50, 100],
        min_length=1,
        max_length=20,
        description="Canary steps: percent of the endpoint's traffic the replacement serves, rising, "
        "ending at 100. Default [5, 25, 50, 100].",
        json_schema_extra=list_type("set")
        | cel_rules(
            ("self.isSorted()", "migration steps must rise"),
            ("self[self.size() - 1] == 100", "the last migration step must be 100"),
        ),
    )
    step_every: str = Field(
        default="1h",
        max_length=8,
        pattern=r"^[1-9][0-9]{0,5}(s|m|h|d)$",
        description="Time each step is held (and watched) before the next: a number and s, m, h or d. "
        "Default 1h. Example: 30m.",
    )

    guardrails: Guardrails = Field(
        default_factory=Guardrails,
        description="Limits the replacement must hold during each step (judged fleet-wide by the operator "
        "once it served minRequests in the step); a breach rolls the migration back. Default: "
        "maxErrorRate 0.05, minRequests 200.",
    )

    @field_validator("steps")
    @classmethod
    def _rising_to_100(cls, steps: list[int]) -> list[int]:
        if any(not 1 <= s <= 100 for s in steps):
            raise ValueError("migration steps are percentages from 1 to 100")
        if steps != sorted(set(steps)):
            raise ValueError("migration steps must rise")
        if steps[-1] != 100:
            raise ValueError("the last migration step must be 100")
        return steps


class Deprecation(SpecModel):
    """Schedules the endpoint's retirement: a Warning now, and after `sunset` its replacement serves."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": cel_rules(
            ("!has(self.sunset) || has(self.replacement)", "a sunset needs a replacement", ".replacement"),
            ("!has(self.migration) || has(self.sunset)", "a migration needs a sunset", ".migration"),
        )
    }

    sunset: datetime | None = Field(
        default=None,
        description="RFC 3339 time after which routes send this endpoint's traffic to `replacement`. "
        "Default: none (deprecated, still serving). Example: 2027-03-01T00:00:00Z.",
        json_schema_extra={"format": "date-time"},
    )
    replacement: ResourceName | None = Field(
        default=None,
        description="ModelEndpoint that takes this endpoint's traffic after the sunset. "
        "Example: small-fast-v2.",
    )
    message: str | None = Field(
        default=None,
        max_length=1024,
        description="Free text shown in the Deprecated condition and Event. Example: moving to v2 weights.",
    )

    migration: Migration | None = Field(
        default=None,
        description="Optional planned move to the replacement before the sunset (shadow, then canary "
        "steps); progress in status.migration. Example: {shadowFor: 24h, steps: [5, 25, 50, 100], "
        "stepEvery: 1h}.",
    )

    @model_validator(mode="after")
    def _sunset_needs_replacement(self) -> Deprecation:
        if self.sunset is not None and self.replacement is None:
            raise ValueError("a sunset needs a replacement")
        if self.migration is not None and self.sunset is None:
            raise ValueError("a migration needs a sunset")
        return self


class QualityPrior(SpecModel):
    """What is believed of the endpoint's quality before any request was measured (seeds `explore`)."""

    mean: float = Field(
        ge=0, le=1, description="Expected quality, 0..1 (a feedback score or a success rate). Example: 0.7."
    )
    weight: float = Field(
        default=20,
        gt=0,
        le=100_000,
        description="How many requests' worth of evidence the belief is worth: a larger weight needs more "
        "measurements to move. Default 20. Example: 50.",
    )


class ModelEndpointSpec(SpecModel):
    """One upstream model: where it is, how to authenticate, what it costs and what it can do."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": cel_rules(
            (
                "self.provider == 'azure-openai' || !has(self.apiVersion)",
                "apiVersion applies only to provider azure-openai",
                ".apiVersion",
            ),
        )
    }

    provider: Provider = Field(
        default="openai",
        description="Wire protocol: openai (any OpenAI-compatible server: vLLM, llama.cpp, TGI, Ollama, "
        "OpenAI), anthropic or azure-openai. Default openai.",
    )
    url: str = Field(
        min_length=1,
        max_length=2048,
        pattern=r"^https?://[^\s/$.?#][^\s]*$",
        description="Base URL of the API, up to and including the version path for OpenAI-compatible "
        "servers. Example: http://vllm-small:8000/v1.",
    )
    model: str = Field(
        min_length=1,
        max_length=256,
        description="Model id sent upstream (the deployment name for azure-openai). "
        "Example: qwen2.5-coder-1.5b.",
    )
    api_version: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="azure-openai only: the api-version query parameter. Default 2024-10-21.",
    )
    api_key: ApiKeySource | None = Field(
        default=None, description="Optional API key source; none means no Authorization header is sent."
    )
    pricing: Pricing = Field(default_factory=Pricing, description="Price per million tokens in USD.")
    context_window: int = Field(
        default=32768,
        ge=1,
        le=100_000_000,
        description="Most prompt plus completion tokens the model accepts. Default 32768. Example: 128000.",
    )
    max_output_tokens: int = Field(
        default=4096,
        ge=1,
        le=10_000_000,
        description="Most completion tokens per request. Default 4096. Example: 8192.",
    )
    capabilities: list[Capability] = Field(
        default_factory=lambda: list(DEFAULT_CAPABILITIES),
        max_length=8,
        description="What requests the model can serve: tools, json, streaming, vision, embeddings, "
        "responses (serves POST /v1/responses natively, with its server-side state; without it the "
        "sidecar translates the Responses API to chat completions). Default [tools, json, streaming].",
        json_schema_extra=list_type("set"),
    )
    limits: EndpointLimits = Field(
        default_factory=EndpointLimits, description="Concurrency and rate limits enforced by each sidecar."
    )
    deprecation: Deprecation | None = Field(
        default=None, description="Optional retirement schedule with a replacement endpoint."
    )
    quality_prior: QualityPrior | None = Field(
        default=None,
        description="Prior belief in the endpoint's quality for routes with strategy explore. Default: "
        "mean 0.5, weight 2 (knows nothing). Example: {mean: 0.7, weight: 20}.",
    )

    @model_validator(mode="after")
    def _api_version_only_for_azure(self) -> ModelEndpointSpec:
        if self.api_version is not None and self.provider != "azure-openai":
            raise ValueError("apiVersion applies only to provider azure-openai")
        return self
