"""Shared test fixtures. Every test has a timeout (pyproject: ``timeout``)."""

from tests.pg import pg_url as pg_url  # every test may ask for a PostgreSQL database of its own
from tests.receivers import hook as hook  # a real HTTP server receiving webhooks
from tests.receivers import smtp as smtp  # a real SMTP server
