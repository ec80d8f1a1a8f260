"""The service's domain layer: actions and queries on one contract, below the views.

Every write function expects to run inside the request's transaction and starts by locking
the contract row, so writes on one contract are serialised and never interleave.
"""
