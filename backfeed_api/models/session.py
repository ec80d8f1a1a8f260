"""The database engine and one SQLAlchemy session per request, joined to ``pyramid_tm``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import zope.sqlalchemy
from pyramid.config import Configurator
from pyramid_tm import default_commit_veto
from sqlalchemy import Engine, engine_from_config, event
from sqlalchemy.orm import Session, sessionmaker
from transaction import ThreadTransactionManager, TransactionManager

from ..settings import database_url
from .dialects import Dialect, dialect_of
from .json_text import dump_json
from .notifications import EventSignal


def _roll_back_leftovers(engine: Engine, dialect: Dialect) -> None:
    """Make every connection go back to the pool with no transaction open.

    After a COMMIT that failed, SQLAlchemy counts the transaction as ended and skips the
    rollback it otherwise does when the connection returns to the pool. PostgreSQL ends a
    transaction whose COMMIT fails, but SQLite keeps it open (a busy database, a deferred
    constraint), and so does any server the COMMIT never reached: the next request to take
    the connection would run inside it, and commit the failed request's writes with its own.
    """
    in_transaction = dialect.in_transaction

    @event.listens_for(engine, "reset")
    def _on_reset(dbapi_connection, _record, state) -> None:
        if state.transaction_was_reset and in_transaction(dbapi_connection):
            dbapi_connection.rollback()


def get_engine(settings: Mapping[str, Any], prefix: str = "sqlalchemy.") -> Engine:
    """The engine for the configured database URL (``BACKFEED_DATABASE_URL`` wins); its JSON
    columns are written by :func:`.json_text.dump_json`."""
    options = dict(settings)
    options[prefix + "url"] = database_url(settings, os.environ)
    engine = engine_from_config(options, prefix, json_serializer=dump_json)
    dialect = dialect_of(engine)
    dialect.configure(engine)
    _roll_back_leftovers(engine, dialect)
    return engine


def get_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A factory of sessions bound to ``engine``."""
    return sessionmaker(bind=engine, expire_on_commit=False)


class RequestTransactionManager(TransactionManager):
    """An explicit transaction manager that ends a transaction whose commit failed.

    The ``transaction`` package leaves such a transaction current until it is aborted, and
    ``pyramid_tm``, which expects a new manager for every request, never aborts it: the next
    ``begin`` on this manager would raise ``AlreadyInTransaction``, for every later request.
    """

    def __init__(self) -> None:
        super().__init__(explicit=True)

    def commit(self) -> None:
        """Commit the current transaction; if that fails, abort it and raise the failure."""
        try:
            super().commit()
        except BaseException:
            self.abort()
            raise


class ThreadTransactionManagers(ThreadTransactionManager):
    """One transaction manager per thread: ``pyramid_tm`` begins and ends a transaction
    around each request, and a thread serves one request at a time.

    Being the same object in every request, it lets the sessions' transaction events be
    registered once on their factory (:func:`get_tm_session_factory`) instead of on each
    request's session, which costs more than the rest of opening a session. Each request
    still finds its thread's manager with no transaction under way, also after a commit that
    failed (:class:`RequestTransactionManager`).
    """

    def __init__(self) -> None:
        self.manager = RequestTransactionManager()


def get_tm_session_factory(engine: Engine, transaction_manager) -> sessionmaker[Session]:
    """A factory of sessions whose commit and rollback follow ``transaction_manager``."""
    factory = get_session_factory(engine)
    zope.sqlalchemy.register(factory, transaction_manager=transaction_manager)
    return factory


def transaction_managers(request) -> ThreadTransactionManagers:
    """``pyramid_tm``'s manager hook: the application's per-thread transaction managers."""
    return request.registry["transaction_managers"]


def commit_veto(request, response) -> bool:
    """Whether ``pyramid_tm`` aborts the transaction: its default (abort on a 4xx or 5xx
    answer), unless the view set ``request.keep_writes``, as a refused login does so that its
    refusal is counted although the answer is a 401. A request whose view raised is always
    aborted."""
    if getattr(request, "exception", None) is not None:
        return True
    if getattr(request, "keep_writes", False):
        return False
    return default_commit_veto(request, response)


def includeme(config: Configurator) -> None:
    """Set up the engine and ``request.dbsession``, committed or aborted by ``pyramid_tm``
    (which :mod:`backfeed_api.execution` runs again on retryable errors)."""
    settings = config.get_settings()
    managers = config.registry["transaction_managers"] = ThreadTransactionManagers()
    settings["tm.manager_hook"] = "backfeed_api.models.session.transaction_managers"
    # pyramid_tm would note the user on each transaction, reading the request's credential
    # (a database lookup) before the exception views can answer a failure in JSON.
    settings["tm.annotate_user"] = False
    settings.setdefault("tm.commit_veto", "backfeed_api.models.session.commit_veto")
    config.include("pyramid_tm")

    engine = get_engine(settings)
    session_factory = get_session_factory(engine)
    config.registry["dbsession_factory"] = session_factory
    config.registry["db_engine"] = engine
    config.registry["event_signal"] = EventSignal(engine)

    tm_session_factory = get_tm_session_factory(engine, managers)

    def dbsession(request) -> Session:
        session = tm_session_factory()
        # The transaction closes it; this closes it anyway when aborting failed, so that
        # its connection, and the locks it holds, never outlive the request.
        request.add_finished_callback(lambda _request: session.close())
        return session

    config.add_request_method(dbsession, reify=True)
