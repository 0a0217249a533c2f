"""The caches that keep a warm request free of SQL.

- ``shared``: entries of the shared cache (``SOURCE_OAUTH["CACHE_ALIAS"]``,
  Redis in production) that stand for database rows, with tombstones so a
  forgotten row cannot come back;
- ``tokens``: access tokens by checksum, for protected requests;
- ``clients``: API clients by client ID, for token requests;
- ``process``: each process's own copy of what it read, kept exact by Redis
  pub/sub (optional).
"""
