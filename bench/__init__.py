"""Benchmarks of issue #7: ``bash bench/run.sh``. Never part of the tests."""
