"""Run a local supplier simulator.

    python -m shared.suppliers.simulator --host 127.0.0.1 --port 0 --latency-ms 200 \\
        --failure-rate 0.1 --protocol kameng|classic --mode callback|poll \\
        --key-id ID --secret SECRET [--seed N] [--force OUTCOME]

    python -m shared.suppliers.simulator --demo kameng|classic

Prints its base URL (the supplier's `api_base_url`) on start. `--demo` takes every value from
the environment (SUPPLIER_SIMULATOR_*), with the defaults the demo suppliers are seeded with.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from types import FrameType

from shared.suppliers.simulator.demo import DEMO, demo_argv
from shared.suppliers.simulator.server import OUTCOMES, Config, SimulatorServer


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m shared.suppliers.simulator")
    parser.add_argument("--demo", choices=sorted(DEMO), help="run a demo simulator from env")
    parser.add_argument("--protocol", choices=["kameng", "classic"], default="kameng")
    parser.add_argument("--mode", choices=["callback", "poll"], default="callback")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--key-id", default="")
    parser.add_argument("--secret", default="")
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument(
        "--error-rate",
        type=float,
        default=0.0,
        help="share of top-up requests answered with HTTP 503",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--tolerance", type=int, default=300, help="seconds of clock skew")
    parser.add_argument("--callback-retries", type=int, default=5)
    parser.add_argument("--callback-backoff-ms", type=int, default=500)
    parser.add_argument("--skus", default="", help="comma-separated SKU codes accepted")
    parser.add_argument("--force", choices=sorted(OUTCOMES), default=None)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if args.demo:
        args = parser.parse_args([*demo_argv(args.demo, os.environ), *argv])
    if not (args.key_id and args.secret):
        parser.error("--key-id and --secret are required (or --demo)")
    if not 0 <= args.failure_rate <= 1 or not 0 <= args.error_rate <= 1:
        parser.error("rates are between 0 and 1")
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s"
    )
    config = Config(
        protocol=args.protocol,
        mode=args.mode,
        key_id=args.key_id,
        secret=args.secret,
        latency_ms=args.latency_ms,
        failure_rate=args.failure_rate,
        error_rate=args.error_rate,
        seed=args.seed,
        tolerance=args.tolerance,
        callback_retries=args.callback_retries,
        callback_backoff_ms=args.callback_backoff_ms,
        skus=frozenset(s.strip() for s in args.skus.split(",") if s.strip()),
        force=args.force,
    )
    server = SimulatorServer((args.host, args.port), config)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(
        f"Supplier simulator ({config.protocol}, {config.mode} mode) at {server.base_url}",
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
