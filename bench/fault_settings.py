"""The example project as the fault benchmark deploys it: each answer names its worker.

Database and Redis come from the environment, as in the example project
(``DATABASE_URL``, ``DATABASE_CONN_MAX_AGE``, ``REDIS_URL``), which
``bench/faults.py`` points at its own PostgreSQL and Redis.
"""

import os

from example_project.settings import *  # noqa: F403
from example_project.settings import MIDDLEWARE

DEBUG = False
MIDDLEWARE = ["bench.fault_settings.name_the_worker", *MIDDLEWARE]


def name_the_worker(get_response):
    """``X-Worker: <pid>``, so the report can say which worker answered what."""

    def middleware(request):
        response = get_response(request)
        response["X-Worker"] = str(os.getpid())
        return response

    return middleware
