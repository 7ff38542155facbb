"""switchboard-proxy under pyinstrument, profiling only between SIGUSR1 and SIGUSR2.

`python -m pyinstrument -m switchboard_proxy.main` would profile the whole life of the process, and
start-up (imports, config compilation) would crowd out the request path in a short benchmark. This
wrapper runs the same `main()` with the same flags, starts sampling on SIGUSR1 (sent once the sidecar is
warm and the load starts) and on SIGUSR2 stops and saves the session to the file named first.

    python bench/profiled_proxy.py SESSION_FILE --resources DIR --port PORT ...
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from pyinstrument import Profiler

from switchboard_proxy.main import main

INTERVAL_S = 0.001  # pyinstrument's default; 10 s of load make a session of ~15 MB


def run(session_file: str, argv: list[str]) -> int:
    # async_mode="disabled": sample the whole main thread (every request), not one task's await chain.
    profiler = Profiler(interval=INTERVAL_S, async_mode="disabled")

    def start(signum: int, frame: FrameType | None) -> None:
        if not profiler.is_running:
            profiler.start()

    def stop(signum: int, frame: FrameType | None) -> None:
        if profiler.is_running:
            partial = session_file + ".partial"
            profiler.stop().save(partial)
            os.replace(partial, session_file)  # whoever waits for the file sees it whole

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    return main(argv)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], sys.argv[2:]))
