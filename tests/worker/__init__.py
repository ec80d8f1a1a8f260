"""Tests of the background jobs: webhook deliveries to real receivers."""
