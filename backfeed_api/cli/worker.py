"""``backfeed worker <ini>``: deliver webhooks (and the other background jobs) until stopped."""

from __future__ import annotations

import argparse
import signal
import threading

from .appconfig import add_ini_argument, load_settings


def register(subparsers) -> None:
    """Add the ``worker`` subcommand."""
    parser = subparsers.add_parser(
        "worker",
        help="deliver webhooks and run the other background jobs",
        description="Run the background jobs (webhook deliveries first) of the deployment "
        "of INI until SIGINT or SIGTERM. Several workers may run at once on PostgreSQL: "
        "they share the work.",
    )
    add_ini_argument(parser)
    parser.add_argument(
        "--threads",
        type=int,
        help="webhook deliveries made at once (default: backfeed.worker.threads); the "
        "replays run on backfeed.worker.replay_threads threads of their own",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Wire the database as the web service does, then run the jobs until a signal."""
    from pyramid.config import Configurator

    from ..worker import context_for
    from ..worker.runner import start_worker

    settings = load_settings(args.ini)
    settings["backfeed.worker.in_process"] = "false"
    with Configurator(settings=settings) as config:
        config.include("backfeed_api.clock")
        config.include("backfeed_api.models")
        config.include("backfeed_api.worker")
    context = context_for(config.registry, config.get_settings())
    stopped = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stopped.set())
    events = context.events
    threads = start_worker(
        context, args.threads or events.worker_threads, events.worker_replay_threads
    )
    print(f"backfeed worker: {len(threads)} thread(s) running; stop with SIGTERM", flush=True)
    while not stopped.wait(1.0):
        pass
    context.stopping.set()
    for thread in threads:
        thread.join(timeout=context.events.timeout_seconds * 3)
    return 0
