"""`make fuzz`: the fuzzing campaign of tests/fuzz/ with a seed and a request budget, and its summary.

.venv/bin/python tests/fuzz/run.py --seed 7 --requests 50000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from campaign import Tally, check_afterwards, fuzz_stack, rss_mb  # noqa: E402
from test_fuzz import campaign  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="tests/fuzz/run.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=1, help="hypothesis seed (default 1)")
    parser.add_argument("--requests", type=int, default=50_000, help="probes to send (default 50000)")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="switchboard-fuzz-") as work, fuzz_stack(Path(work)) as stack:
        tally = Tally(rss_before_mb=rss_mb(stack.proxy))
        try:
            campaign(stack, tally, count=args.requests, seed=args.seed)
            check_afterwards(stack, tally)
        finally:
            tally.rss_after_mb = tally.rss_after_mb or rss_mb(stack.proxy)
            print(tally.summary())
            print(f"seed {args.seed}, {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
