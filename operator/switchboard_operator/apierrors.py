"""The two ways an API call fails that callers handle: `KubeUnavailable` (the API server could not answer:
try again later) and `KubeConflict` (the object changed since it was read: read it again).

`kube` raises them; the modules that must not know the Kubernetes client (webhook_tls, upkeep) catch
them from here.
"""

from __future__ import annotations


class KubeUnavailable(RuntimeError):
    """The API server could not answer now; try again later."""


class KubeConflict(RuntimeError):
    """Someone else changed the object since we read it (409): read it again."""
