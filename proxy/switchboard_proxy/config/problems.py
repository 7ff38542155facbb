"""Problems found while loading or compiling resources, reported as a list, never just the first one.

A `ConfigProblem` names what is wrong precisely enough to act on: the resource's kind and name, the
dotted field path inside it (`spec.targets[1].endpoint`) and a sentence. Loading adds the file it came
from. The CLI prints them, the operator turns them into status conditions, the proxy refuses a config
that has any.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with one resource (or with a config file as a whole when `kind` is empty)."""

    kind: str
    name: str
    field_path: str
    message: str
    file: str = ""
    reason: str = (
        "Invalid"  # CamelCase, for status conditions: Invalid, RefNotFound, RefNotReady, Conflict...
    )

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        what = f"{self.kind}/{self.name}" if self.kind else "config"
        field = f" {self.field_path}:" if self.field_path else ""
        return f"{where}{what}:{field} {self.message}"

    @property
    def resource(self) -> tuple[str, str]:
        """The (kind, name) this problem belongs to."""
        return (self.kind, self.name)


class ConfigError(ValueError):
    """Raised when a config cannot be used; carries every problem found."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        summary = "; ".join(str(p) for p in self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"{len(self.problems)} problem(s): {summary}{more}")


def format_field_path(location: Iterable[object]) -> str:
    """A pydantic error location such as ('spec', 'targets', 1, 'weight') as `spec.targets[1].weight`."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path
