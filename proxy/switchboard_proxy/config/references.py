"""Reference checks of `compile()`: which resources are usable, and why the others are not.

A resource is usable when every name it mentions exists and is usable itself. Endpoints come first
(replacements, including cycles), then policies (chains), then routes (targets, policies, shadows,
variants). Each check appends `ConfigProblem`s naming the exact field and returns the usable names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from .pool_spec import Target
from .problems import ConfigProblem
from .resources import FallbackPolicy, ModelEndpoint, ModelRoute, Resources

ResourceT = TypeVar("ResourceT", ModelEndpoint, FallbackPolicy, ModelRoute)


@dataclass(frozen=True)
class ReferenceIndex:
    """Resources by kind and name; names defined twice are reported once and the first one is kept."""

    endpoints: dict[str, ModelEndpoint]
    policies: dict[str, FallbackPolicy]
    routes: dict[str, ModelRoute]
    duplicates: list[ConfigProblem] = field(default_factory=list)
    broken: frozenset[tuple[str, str]] = frozenset()  # (kind, name) that exist but were refused earlier

    @classmethod
    def of(cls, resources: Resources, *, broken: frozenset[tuple[str, str]] = frozenset()) -> ReferenceIndex:
        """Index `resources`, leaving out those named in `broken` (they exist, but are not usable)."""
        duplicates: list[ConfigProblem] = []
        return cls(
            endpoints=_by_name(
                (r for r in resources.endpoints if (r.kind, r.name) not in broken), duplicates
            ),
            policies=_by_name((r for r in resources.policies if (r.kind, r.name) not in broken), duplicates),
            routes=_by_name((r for r in resources.routes if (r.kind, r.name) not in broken), duplicates),
            duplicates=duplicates,
            broken=broken,
        )


def _by_name(items: Iterable[ResourceT], duplicates: list[ConfigProblem]) -> dict[str, ResourceT]:
    found: dict[str, ResourceT] = {}
    for item in items:
        if item.name in found:
            duplicates.append(
                ConfigProblem(
                    item.kind, item.name, "metadata.name", "defined more than once", reason="Duplicate"
                )
            )
        else:
            found[item.name] = item
    return found


def check_endpoints(index: ReferenceIndex, problems: list[ConfigProblem]) -> set[str]:
    """Endpoints whose replacement (if any) exists, is usable and does not lead back to them."""
    unusable: dict[str, str] = {}
    for name, endpoint in index.endpoints.items():
        cycle = _replacement_cycle(name, index)
        if cycle:
            unusable[name] = "replacement cycle: " + " -> ".join(cycle)
        elif (replacement := _replacement_of(endpoint)) and replacement not in index.endpoints:
            unusable[name] = "replacement " + _endpoint_problem(replacement, index)
    # An endpoint replaced by an unusable one is unusable too; follow until nothing changes.
    changed = True
    while changed:
        changed = False
        for name, endpoint in index.endpoints.items():
            replacement = _replacement_of(endpoint)
            if name not in unusable and replacement in unusable:
                unusable[name] = f"replacement ModelEndpoint '{replacement}' is not usable"
                changed = True
    for name, reason in sorted(unusable.items()):
        problems.append(reference_problem("ModelEndpoint", name, "spec.deprecation.replacement", reason))
    return set(index.endpoints) - set(unusable)


def _replacement_of(endpoint: ModelEndpoint) -> str:
    deprecation = endpoint.spec.deprecation
    return (deprecation.replacement or "") if deprecation else ""


def _replacement_cycle(start: str, index: ReferenceIndex) -> list[str]:
    """The cycle of replacements starting at `start`, or [] when the walk ends."""
    path = [start]
    current = start
    while (endpoint := index.endpoints.get(current)) and (nxt := _replacement_of(endpoint)):
        if nxt == start:
            return [*path, nxt]
        if nxt in path:
            return []  # a cycle further down; reported on its own members
        path.append(nxt)
        current = nxt
    return []


def check_policies(
    index: ReferenceIndex, usable_endpoints: set[str], problems: list[ConfigProblem]
) -> set[str]:
    """Policies whose chain names only usable endpoints."""
    usable: set[str] = set()
    for name, policy in index.policies.items():
        found = [
            reference_problem("FallbackPolicy", name, f"spec.chain[{i}]", _endpoint_problem(e, index))
            for i, e in enumerate(policy.spec.chain)
            if e not in usable_endpoints
        ]
        problems.extend(found)
        if not found:
            usable.add(name)
    return usable


def check_routes(
    index: ReferenceIndex,
    usable_endpoints: set[str],
    usable_policies: set[str],
    problems: list[ConfigProblem],
) -> list[ModelRoute]:
    """Routes whose targets, policies, shadow and variants all resolve."""
    usable: list[ModelRoute] = []
    for route in index.routes.values():
        found = list(_route_reference_problems(route, index, usable_endpoints, usable_policies))
        problems.extend(found)
        if not found:
            usable.append(route)
    return usable


def _route_reference_problems(
    route: ModelRoute, index: ReferenceIndex, endpoints: set[str], policies: set[str]
) -> Iterable[ConfigProblem]:
    spec = route.spec

    def problem(path: str, message: str) -> ConfigProblem:
        return reference_problem("ModelRoute", route.name, path, message)

    yield from (problem(p, m) for p, m in _target_problems("spec.targets", spec.targets, index, endpoints))
    if spec.fallback_policy and spec.fallback_policy not in policies:
        yield problem("spec.fallbackPolicy", _policy_problem(spec.fallback_policy, index))
    if spec.shadow and spec.shadow.endpoint not in endpoints:
        yield problem("spec.shadow.endpoint", _endpoint_problem(spec.shadow.endpoint, index))
    for i, variant in enumerate(spec.experiment.variants if spec.experiment else []):
        base = f"spec.experiment.variants[{i}]"
        targets = variant.targets or []
        yield from (problem(p, m) for p, m in _target_problems(f"{base}.targets", targets, index, endpoints))
        if variant.fallback_policy and variant.fallback_policy not in policies:
            yield problem(f"{base}.fallbackPolicy", _policy_problem(variant.fallback_policy, index))
    # Only the other route's status is read (its fleet evidence), never its own inheritance, so a chain
    # of routes inheriting from each other cannot loop; a route inheriting from itself is a mistake.
    inherit = spec.explore.inherit_from if spec.explore else None
    if inherit == route.name:
        yield problem("spec.explore.inheritFrom", "a route cannot inherit its priors from itself")
    elif inherit and inherit not in index.routes:
        yield problem("spec.explore.inheritFrom", f"ModelRoute '{inherit}' not found")


def _target_problems(
    base: str, targets: list[Target], index: ReferenceIndex, endpoints: set[str]
) -> Iterable[tuple[str, str]]:
    for i, target in enumerate(targets):
        if target.endpoint not in endpoints:
            yield f"{base}[{i}].endpoint", _endpoint_problem(target.endpoint, index)


def reference_problem(kind: str, name: str, field_path: str, message: str) -> ConfigProblem:
    """A problem with a reference; its reason says whether the target is missing, broken or circular."""
    if "cycle" in message:
        reason = "ReplacementCycle"
    elif "not usable" in message:
        reason = "RefNotReady"
    else:
        reason = "RefNotFound"
    return ConfigProblem(kind, name, field_path, message, reason=reason)


def _endpoint_problem(name: str, index: ReferenceIndex) -> str:
    if name in index.endpoints or ("ModelEndpoint", name) in index.broken:
        return f"ModelEndpoint '{name}' is not usable (see its status)"
    return f"ModelEndpoint '{name}' not found"


def _policy_problem(name: str, index: ReferenceIndex) -> str:
    if name in index.policies or ("FallbackPolicy", name) in index.broken:
        return f"FallbackPolicy '{name}' is not usable (see its status)"
    return f"FallbackPolicy '{name}' not found"
