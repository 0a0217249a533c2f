"""The example settings with Django's default: persistent connections not checked before use.

The control of ``test_postgres_outage``: it shows the fault the health checks
are there for.
"""

from example_project.settings import *  # noqa: F403
from example_project.settings import DATABASES

DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
