"""``bench.source_settings`` with only the shared Redis cache: no process keeps its own copy.

Issue 16, item 4 measures the warm protected GET this way too (``bench/scale.py``).
"""

from bench.source_settings import *  # noqa: F403
from bench.source_settings import SOURCE_OAUTH

SOURCE_OAUTH = {**SOURCE_OAUTH}
SOURCE_OAUTH.pop("PROCESS_CACHE_REDIS_URL", None)
