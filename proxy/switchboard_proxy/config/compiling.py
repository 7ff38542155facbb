"""`compile(resources) -> RouterConfig`: the one pure function shared by operator, CLI and local mode.

It resolves references (targets, chains, policies, shadows, replacements), rejects what the schema could
not (unknown names, replacement cycles, a second default route, a task type or model name claimed twice),
applies every default once, moves the traffic of endpoints past their sunset to their replacement, and
stamps a content-hash `version`.

`compile_leniently()` is the operator's variant: a resource with a problem is left out (and so is anything
that depends on it) and the rest compiles, so one bad route never takes a namespace down. `compile()` is
the strict one: any problem raises `ConfigError` with all of them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .model import DEFAULT_VARIANT, RouteConfig, RouterConfig
from .policy_spec import FallbackPolicySpec
from .problems import ConfigError, ConfigProblem
from .references import ReferenceIndex, check_endpoints, check_policies, check_routes
from .resolving import DEFAULT_POLICY, resolve_endpoint, resolve_route
from .resources import ModelRoute, Resources

__all__ = ["DEFAULT_VARIANT", "Compilation", "compile", "compile_leniently"]


@dataclass(frozen=True)
class Compilation:
    """A compiled config plus the problems of the resources that were left out of it."""

    config: RouterConfig
    problems: tuple[ConfigProblem, ...]

    def problems_of(self, kind: str, name: str) -> list[ConfigProblem]:
        """Problems of one resource (empty when it compiled cleanly)."""
        return [p for p in self.problems if p.kind == kind and p.name == name]


def compile(resources: Resources, *, now: datetime | None = None) -> RouterConfig:
    """Compile strictly: raise `ConfigError` listing every problem, or return the config."""
    compilation = compile_leniently(resources, now=now)
    if compilation.problems:
        raise ConfigError(compilation.problems)
    return compilation.config


def compile_leniently(
    resources: Resources, *, now: datetime | None = None, rejected: Sequence[ConfigProblem] = ()
) -> Compilation:
    """Compile what is valid, leave out resources with problems (and their dependants), report them all.

    `now` decides which sunsets have passed; None means "no sunset has passed yet" so that the result
    depends on the resources alone. `rejected` are problems the caller found (the operator: a Secret that
    does not exist, an object the models refused); the resources they name are left out like any other.
    """
    index = ReferenceIndex.of(resources, broken=frozenset(p.resource for p in rejected))
    problems: list[ConfigProblem] = [*index.duplicates, *rejected]
    usable_endpoints = check_endpoints(index, problems)
    usable_policies = check_policies(index, usable_endpoints, problems)
    usable_routes = check_routes(index, usable_endpoints, usable_policies, problems)
    accepted_routes = _settle_conflicts(usable_routes, index, problems)

    moment = now if now is not None else datetime.min.replace(tzinfo=UTC)
    policies = {name: index.policies[name].spec for name in usable_policies}
    routes = {
        route.name: resolve_route(route, policies=policies, index=index, usable=usable_endpoints, now=moment)
        for route in accepted_routes
    }
    policy_users = _policies_by_endpoint(routes.values(), policies)
    endpoints = {
        name: resolve_endpoint(index.endpoints[name], policies=policy_users.get(name, []))
        for name in sorted(usable_endpoints)
    }
    body = {
        "namespace": resources.namespace,
        "endpoints": endpoints,
        "routes": dict(sorted(routes.items())),
        "default_route": next((r.name for r in routes.values() if r.is_default), ""),
        "task_routes": {t: r.name for r in routes.values() for t in r.task_types},
        "model_routes": {**{m: r.name for r in routes.values() for m in r.models}, **{n: n for n in routes}},
    }
    config = RouterConfig.model_validate({**body, "version": ""})
    config = config.model_copy(update={"version": content_version(config)})
    return Compilation(config=config, problems=tuple(sorted(problems, key=_problem_order)))


def content_version(config: RouterConfig) -> str:
    """A short content hash of everything in the config except the version itself."""
    payload = config.model_dump(mode="json", exclude={"version"})
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _settle_conflicts(
    routes: list[ModelRoute], index: ReferenceIndex, problems: list[ConfigProblem]
) -> list[ModelRoute]:
    """Oldest route wins a contested default flag, task type or model name; the newer one is refused.

    Oldest-wins is what Gateway API does with conflicting routes: an existing, working route is never
    taken over by a newer one applied by mistake.
    """
    accepted: list[ModelRoute] = []
    claimed_tasks: dict[str, str] = {}
    claimed_models: dict[str, str] = {}
    default_owner = ""
    for route in sorted(routes, key=_age_order):
        conflicts = list(_conflicts_of(route, index, claimed_tasks, claimed_models, default_owner))
        if conflicts:
            problems.extend(conflicts)
            continue
        accepted.append(route)
        claimed_tasks.update({t: route.name for t in route.spec.match.task_types})
        claimed_models.update({m: route.name for m in route.spec.match.models})
        default_owner = route.name if route.spec.default else default_owner
    return accepted


def _conflicts_of(
    route: ModelRoute,
    index: ReferenceIndex,
    claimed_tasks: dict[str, str],
    claimed_models: dict[str, str],
    default_owner: str,
) -> Iterable[ConfigProblem]:
    def problem(path: str, message: str) -> ConfigProblem:
        return ConfigProblem("ModelRoute", route.name, path, message, reason="Conflict")

    if route.spec.default and default_owner:
        yield problem("spec.default", f"ModelRoute '{default_owner}' is already the default route")
    for i, task in enumerate(route.spec.match.task_types):
        if task in claimed_tasks:
            yield problem(
                f"spec.match.taskTypes[{i}]",
                f"task type '{task}' is already served by ModelRoute '{claimed_tasks[task]}'",
            )
    for i, model in enumerate(route.spec.match.models):
        if model in index.routes and model != route.name:
            yield problem(f"spec.match.models[{i}]", f"'{model}' is the name of another ModelRoute")
        elif model in claimed_models:
            yield problem(
                f"spec.match.models[{i}]",
                f"model '{model}' is already served by ModelRoute '{claimed_models[model]}'",
            )


def _age_order(route: ModelRoute) -> tuple[datetime, str]:
    created = route.metadata.creation_timestamp or datetime.min.replace(tzinfo=UTC)
    return (created, route.name)


def _problem_order(problem: ConfigProblem) -> tuple[str, str, str, str]:
    return (problem.kind, problem.name, problem.field_path, problem.message)


def _policies_by_endpoint(
    routes: Iterable[RouteConfig], policies: dict[str, FallbackPolicySpec]
) -> dict[str, list[FallbackPolicySpec]]:
    """Which policies govern each endpoint, so its shared breaker can take the most protective setting."""
    users: dict[str, list[FallbackPolicySpec]] = {}
    for route in routes:
        for variant in route.variants:
            spec = policies.get(variant.policy.name, DEFAULT_POLICY)
            for name in [t.endpoint for t in variant.targets] + list(variant.policy.chain):
                users.setdefault(name, []).append(spec)
    return users
