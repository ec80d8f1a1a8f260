"""The HTTP surface: the Cornice services (:mod:`.views`, one module per resource),
the request schemas and validators, the presenters that shape the answers, and the
OpenAPI document (:mod:`.openapi`)."""
