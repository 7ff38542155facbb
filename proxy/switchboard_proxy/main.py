"""`switchboard-proxy`: the sidecar's entry point (flags -> settings -> serve)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence

from .server.app import serve
from .settings import ProxySettings, settings_from_args


def configure_logging(level: str) -> None:
    """Plain lines on stderr; the access log (server/access_log.py) writes JSON lines to stdout itself."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").disabled = True


def run(settings: ProxySettings) -> None:
    """Serve on uvloop where it is installed (Linux): a faster event loop for the hot path."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        asyncio.run(serve(settings))
        return
    uvloop.run(serve(settings))


def main(argv: Sequence[str] | None = None) -> int:
    settings = settings_from_args(argv)
    configure_logging(settings.log_level)
    try:
        run(settings)
    except OSError as exc:
        logging.getLogger("switchboard.proxy").error("cannot start: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
