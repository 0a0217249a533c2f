"""The production recipe: nginx in front of gunicorn (see docs/production.md).

``local`` runs the same files on loopback ports, for the tests and the fault
benchmark.
"""
