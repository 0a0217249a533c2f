"""A site that ran stock django-oauth-toolkit 3.4, as many Django sites with an API do.

``settings`` is the site before source_oauth; ``adopted`` is the same site
after the steps of docs/adoption.md. Its database is ``HOST_DATABASE_URL``.
"""
