"""Assemble Secret `switchboard-credentials` from the Secrets endpoints reference (pure).

Each endpoint with `apiKey.secretRef` gets one key in the credentials Secret, named after the endpoint
(what the compiled config's `api_key.name` points at), holding the referenced value. Values are copied as
the API returns them (base64) and never decoded, logged or put into the ConfigMap. A missing Secret or key
is a problem on the endpoint (ResolvedRefs=False), so the endpoint is left out rather than served keyless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from switchboard_proxy.config import ConfigProblem, ModelEndpoint


@dataclass(frozen=True)
class Credentials:
    """The credentials Secret's data and the problems found assembling it."""

    data: dict[str, str]
    problems: list[ConfigProblem]


def referenced_secrets(endpoints: Sequence[ModelEndpoint]) -> set[str]:
    """Names of the Secrets the endpoints read their keys from."""
    return {e.spec.api_key.secret_ref.name for e in endpoints if e.spec.api_key and e.spec.api_key.secret_ref}


def assemble(endpoints: Sequence[ModelEndpoint], secrets: Mapping[str, Mapping[str, str]]) -> Credentials:
    """Credentials data (endpoint name -> base64 key) from `secrets` (name -> base64 data)."""
    data: dict[str, str] = {}
    problems: list[ConfigProblem] = []
    for endpoint in endpoints:
        source = endpoint.spec.api_key
        if source is None or source.secret_ref is None:
            continue
        ref = source.secret_ref
        secret = secrets.get(ref.name)
        if secret is None:
            problems.append(
                ConfigProblem(
                    "ModelEndpoint",
                    endpoint.name,
                    "spec.apiKey.secretRef.name",
                    f"Secret '{ref.name}' not found",
                    reason="SecretNotFound",
                )
            )
        elif ref.key not in secret:
            problems.append(
                ConfigProblem(
                    "ModelEndpoint",
                    endpoint.name,
                    "spec.apiKey.secretRef.key",
                    f"Secret '{ref.name}' has no key '{ref.key}'",
                    reason="SecretKeyNotFound",
                )
            )
        else:
            data[endpoint.name] = secret[ref.key]
    return Credentials(data=dict(sorted(data.items())), problems=problems)
