"""Adoption of a site that already ran stock django-oauth-toolkit (``adopt_oauth_toolkit``).

source_oauth swaps its ``ApiClient`` in as DOT's Application model, and a
swappable model must exist before the tables that point at it: our
``0001_initial`` runs before DOT's. A site whose DOT tables are migrated
cannot get there by ``migrate`` (Django refuses the history as
inconsistent), so this package does what the migrations would have done,
and keeps what the site had: each DOT application becomes an API client
with the same primary key and client ID, DOT's tokens, grants and ID tokens
are repointed at the API client table, secrets keep working.

- ``state``: what the migration records say (also read by the system check);
- ``legacy``: DOT's rows as they are, and how one becomes an API client;
- ``plan``: everything the command would do, read without writing;
- ``run``: doing it, in one transaction.
"""

from .plan import AdoptionRefused, Plan, make_plan
from .run import adopt

__all__ = ["AdoptionRefused", "Plan", "adopt", "make_plan"]
