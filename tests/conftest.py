"""Shared test fixtures. Every test has a timeout (pyproject: ``timeout``)."""
