"""What every request goes through around the views: the tweens and subscribers.

Screening on the way in (:mod:`.ingress`), security headers (:mod:`.headers`), CORS
(:mod:`.cors`) and replayed POSTs (:mod:`.idempotency`); each module wires itself with
its ``includeme``.
"""
