"""Tests of the Python client, ``backfeed_api.client``, against a live server."""
