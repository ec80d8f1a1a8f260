"""Background work outside the requests: delivering webhooks and running replay jobs.

``backfeed worker INI`` runs them in a process of its own (as many as wanted, on
PostgreSQL), webhooks and replays on threads apart (:func:`.runner.start_worker`); with
``backfeed.worker.in_process = true`` (as in ``development.ini``) the web process runs them,
each on a thread of its own, so the quick start needs no second process.
"""

from __future__ import annotations

from pyramid.config import Configurator

from ..settings import event_settings, replay_settings
from .runner import WorkerContext, start_worker


def context_for(registry, settings: dict) -> WorkerContext:
    """The jobs' context in a process whose registry has the database wired."""
    return WorkerContext(
        session_factory=registry["dbsession_factory"],
        clock=lambda: registry["clock"](),  # looked up each time: tests replace it
        events=event_settings(settings),
        settings=settings,
        signal=registry["event_signal"],
    )


def includeme(config: Configurator) -> None:
    """Read the event and replay settings (a wrong value stops the service at start-up)
    and, with ``backfeed.worker.in_process``, start each job on a thread of its own once
    the application is made (its context is ``registry["worker_context"]``, whose
    ``stopping`` ends them)."""
    settings = config.get_settings()
    options = event_settings(settings)
    config.registry["event_settings"] = options
    config.registry["replay_settings"] = replay_settings(settings)
    if not options.worker_in_process:
        return

    def start_in_process(_event) -> None:
        context = context_for(config.registry, settings)
        config.registry["worker_context"] = context
        start_worker(context, webhook_threads=1, replay_threads=1)

    from pyramid.events import ApplicationCreated

    config.add_subscriber(start_in_process, ApplicationCreated)
