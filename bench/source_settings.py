"""The example project as it is, plus the benchmark's two DRF views (``bench.source_urls``).

Database and cache come from the same environment variables as the example
project (``DATABASE_URL``, ``DATABASE_CONN_MAX_AGE``, ``REDIS_URL``), which
``bench/run.py`` sets.
"""

from example_project.settings import *  # noqa: F403

DEBUG = False
ROOT_URLCONF = "bench.source_urls"
