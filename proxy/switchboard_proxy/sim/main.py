"""`switchboard-sim` entry point: flags → settings → one aiohttp site per port → run until SIGTERM/SIGINT.

Where it sits: the console script. Everything it starts is built by `settings.build_settings` and
`app.build_app`; this module owns only the process lifecycle (event loop, signals, startup lines).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence

from aiohttp import web

from switchboard_proxy.sim.app import build_app, build_state
from switchboard_proxy.sim.profiles import FAULTS, FIELD_TYPES, Profile, profile_to_dict
from switchboard_proxy.sim.settings import SettingsError, SimSettings, build_settings

# Hung requests (fault "hang") would otherwise hold shutdown for aiohttp's default 60 s.
SHUTDOWN_TIMEOUT_S = 0.5

EPILOG = f"""\
profile fields (--model NAME:key=value,..., a config file, or PUT /sim/models/NAME):
  {", ".join(FIELD_TYPES)}
faults: {", ".join(FAULTS)}

examples:
  switchboard-sim --model small:ttft_ms=20,tokens_per_second=500 --model large:ttft_ms=200
  switchboard-sim --model small --listen small=9101 --model large --listen large=9102
  switchboard-sim --model flaky:fault=error-503,fail_count=2 --model slow:fault=hang
  switchboard-sim --config sim.yaml      # {{models: {{small: {{ttft_ms: 20}}}}, listen: {{small: 9101}}}}
  switchboard-sim --any-model            # any model name is served by the "default" profile
  switchboard-sim --model busy:capacity=20,ttft_ms=100    # a knee: past 20 at once, requests queue
  switchboard-sim --model paced:requests_per_minute=60    # 429 + Retry-After + x-ratelimit-* past 60/min

control API (on every port):
  GET /sim/models   PUT /sim/models/NAME {{"fault": "rate-limited"}}   DELETE /sim/models/NAME
  POST /sim/reset   GET /sim/stats   GET /sim/requests?model=NAME&limit=N   GET /healthz
  (stats per model: requests, outcomes, inflight, max_inflight, max_generating, and max_in_window:
  the most requests received in any sliding window of window_s seconds)
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="switchboard-sim",
        description="Simulated OpenAI-, Azure OpenAI- and Anthropic-compatible model server "
        "with latency, token-rate and fault profiles.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=9100, help="main port, serving every model (default: 9100)"
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME[:key=value,...]",
        help="define a model profile (repeatable)",
    )
    parser.add_argument("--config", metavar="FILE", help="YAML or JSON file with models and listen ports")
    parser.add_argument(
        "--listen",
        action="append",
        default=[],
        metavar="NAME=PORT",
        help="extra port where every request is served by model NAME (repeatable)",
    )
    parser.add_argument(
        "--any-model", action="store_true", help='serve unknown model names with the "default" profile'
    )
    parser.add_argument("--access-log", action="store_true", help="log every request (off for benchmarks)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until SIGTERM or SIGINT; exit 2 on bad flags, 1 when a port cannot be bound."""
    args = parse_args(argv)
    server = SimSettings(host=args.host, port=args.port, access_log=args.access_log)
    try:
        settings = build_settings(
            server,
            model_options=args.model,
            listen_options=args.listen,
            config_path=args.config,
            any_model=args.any_model,
        )
    except SettingsError as exc:
        print(f"switchboard-sim: {exc}", file=sys.stderr)
        return 2
    if settings.access_log:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(serve(settings))
    except OSError as exc:
        print(f"switchboard-sim: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    # uvloop roughly doubles requests per second, which matters when the sim is a benchmark upstream.
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


async def serve(settings: SimSettings) -> None:
    """Start one site per port, print where, and wait for SIGTERM/SIGINT; then stop cleanly."""
    state = build_state(settings)
    ports = [("", settings.port), *((name, port) for name, port in settings.listen.items())]
    runners: list[web.AppRunner] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        for pinned, port in ports:
            runner = web.AppRunner(
                build_app(settings, state=state, pinned_model=pinned),
                # A client that goes away cancels its handler: hung and slow requests do not pile up.
                handler_cancellation=True,
                access_log=logging.getLogger("aiohttp.access") if settings.access_log else None,
                shutdown_timeout=SHUTDOWN_TIMEOUT_S,
            )
            await runner.setup()
            runners.append(runner)
            # A deep backlog: load tests open hundreds of connections at once.
            await web.TCPSite(runner, settings.host, port, backlog=2048).start()
            _print_listening(runner, settings=settings, pinned=pinned)
        defaults = profile_to_dict(Profile())
        for name, profile in settings.profiles.items():
            changed = {k: v for k, v in profile_to_dict(profile).items() if v != defaults[k]}
            print(f"switchboard-sim: model {name} {changed or '(defaults)'}", flush=True)
        await stop.wait()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


def _print_listening(runner: web.AppRunner, *, settings: SimSettings, pinned: str) -> None:
    models = pinned or ", ".join(settings.profiles) or "(none)"
    for address in runner.addresses:
        host, port = address[0], address[1]
        kind = "pinned model" if pinned else "models"
        print(f"switchboard-sim: listening on http://{host}:{port} ({kind}: {models})", flush=True)
