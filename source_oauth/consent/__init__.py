"""Consent: remembered approvals of third-party clients, and the user's "Connected apps".

- ``models``: the record of a user's approval (user, client, scopes, when, until);
- ``records``: finding, storing and forgetting approvals;
- ``authorize``: the authorization view's use of them (skip the consent page, or not);
- ``connected``: the third-party clients holding access to a user's account, and revoking one;
- ``views``: the "Connected apps" page.

Nothing is imported here, so ``source_oauth.models`` can import ``consent.models``.
"""
