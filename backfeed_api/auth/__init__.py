"""Who the caller is and what it may do: bearer tokens and password hashes
(:mod:`.credentials`), and the Pyramid security policy with the permissions the views
declare (:mod:`.policy`).

It sits below the domain, which hashes a new user's password and checks one at login
with it (logging in locks and counts in the contract's transaction: a domain action,
:mod:`backfeed_api.domain.logins`); it names the served contract in type hints only.
"""
