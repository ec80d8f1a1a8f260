"""The benchmark suite of backfeed-api: ``make bench`` (``python -m bench``)."""
