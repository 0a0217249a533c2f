"""Concurrency of the token endpoint on PostgreSQL (issue #6, RFC 9700 §2.2.2, §4.14).

N requests spend the same refresh token, or redeem the same authorization
code, at the same moment, over real HTTP against the live server (one thread
and one database connection per request). Exactly one wins; the others get
``invalid_grant`` and nothing else; never a 500, never two live token
families.

Two kinds of race:

- *natural*: the N requests leave together (a barrier in the client) and the
  server handles them as they come; a meter on the token view proves they
  overlap. It has two correct outcomes. If every loser reached the server
  before the winner committed, the losers fail and the winner's pair stays
  live. A loser that arrives after the commit presents a spent credential: a
  replay, so the winner's family is revoked too (RFC 9700 §4.14.2, RFC 6749
  §4.1.2). The tests tell the two apart by the audit trail and check each
  strictly.
- *forced*: barriers inside the server make all N requests pass the credential
  lookup before any of them claims it, so all N race for the claim (the code's
  DELETE, the refresh token's row lock). That is the race the claim exists
  for: exactly one pair, and it stays live.

SQLite serialises writers, so these tests run on PostgreSQL only; on SQLite
they are skipped.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import requests
from django.db import connection
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from source_oauth import views
from source_oauth.models import AuditEvent
from source_oauth.validator import SourceOAuth2Validator, checksum
from tests.oauth_helpers import (
    REDIRECT_URI,
    follow_to_redirect_uri,
    login,
    pkce_pair,
    query_of,
    web_client,
)

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()

N = 8
ROUNDS = range(3)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrency needs PostgreSQL (SQLite serialises writers); "
        "set DATABASE_URL=postgres://...",
    ),
]


# --- helpers ---------------------------------------------------------------------------------


class Party:
    """A confidential web client with a logged-in user, talking to the live server."""

    def __init__(self, server: str, user, password: str):
        self.server = server
        self.client, self.secret = web_client()
        self.browser = requests.Session()
        login(self.browser, server, user.username, password)

    def code(self) -> tuple[str, str]:
        verifier, challenge = pkce_pair()
        url = (
            requests.Request(
                "GET",
                f"{self.server}/oauth/authorize",
                params={
                    "client_id": self.client.client_id,
                    "redirect_uri": REDIRECT_URI,
                    "response_type": "code",
                    "scope": "content:read user:profile",
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                },
            )
            .prepare()
            .url
        )
        return query_of(follow_to_redirect_uri(self.browser, url))["code"], verifier

    def redeem(self, code: str, verifier: str) -> requests.Response:
        return self.token(
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT_URI,
            code_verifier=verifier,
        )

    def refresh(self, refresh_token: str) -> requests.Response:
        return self.token(grant_type="refresh_token", refresh_token=refresh_token)

    def token(self, **data: str) -> requests.Response:
        return requests.post(
            f"{self.server}/oauth/token", data=data, auth=(self.client.client_id, self.secret)
        )

    def tokens(self) -> dict:
        response = self.redeem(*self.code())
        assert response.status_code == 200, response.text
        return response.json()

    def active(self, access_token: str) -> bool:
        response = requests.post(
            f"{self.server}/oauth/introspect",
            data={"token": access_token},
            auth=(self.client.client_id, self.secret),
        )
        assert response.status_code == 200, response.text
        return response.json()["active"]


@pytest.fixture
def party(server, user, user_password):
    return Party(server, user, user_password)


def race(send, n: int = N) -> list[requests.Response]:
    """Send ``n`` requests at once: each thread waits at a barrier, then sends."""
    barrier = threading.Barrier(n)

    def one(_: int) -> requests.Response:
        barrier.wait(timeout=30)
        return send()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


@contextmanager
def overlap_meter(monkeypatch):
    """Count how many token requests the server works on at the same time."""
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}
    post = views.TokenView.post

    def counted(self, request, *args, **kwargs):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        try:
            return post(self, request, *args, **kwargs)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(views.TokenView, "post", counted)
    yield state


def hold_after(monkeypatch, method_name: str, n: int = N, *, before: bool = False) -> None:
    """Make the server wait, in ``method_name`` of the validator, until ``n`` requests are there.

    ``before``: wait before calling the real method (else after it returned).
    """
    barrier = threading.Barrier(n)
    real = getattr(SourceOAuth2Validator, method_name)

    def held(self, *args, **kwargs):
        if before:
            barrier.wait(timeout=30)
        result = real(self, *args, **kwargs)
        if not before:
            barrier.wait(timeout=30)
        return result

    monkeypatch.setattr(SourceOAuth2Validator, method_name, held)


def slow_down(monkeypatch, method_name: str, seconds: float) -> None:
    """Make the server pause before ``method_name`` of the validator."""
    real = getattr(SourceOAuth2Validator, method_name)

    def slow(self, *args, **kwargs):
        time.sleep(seconds)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SourceOAuth2Validator, method_name, slow)


def outcomes(responses: list[requests.Response]) -> Counter:
    """``{(status, error): count}``; never a 500."""
    seen = Counter()
    for response in responses:
        assert response.status_code < 500, response.text
        body = response.json() if response.content else {}
        seen[(response.status_code, body.get("error"))] += 1
    return seen


def replays_detected(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


def family_of(refresh_token: str):
    return RefreshToken.objects.get(token_checksum=checksum(refresh_token)).token_family


def assert_one_winner(responses) -> dict:
    seen = outcomes(responses)
    assert seen == Counter({(200, None): 1, (400, "invalid_grant"): N - 1}), seen
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    for response in responses:
        if response.status_code != 200:
            assert set(response.json()) <= {"error", "error_description"}, response.text
    return winner


# --- refresh token races -----------------------------------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
def test_parallel_refreshes_with_one_refresh_token(party, monkeypatch, round_):
    first = party.tokens()
    family = family_of(first["refresh_token"])

    with overlap_meter(monkeypatch) as meter:
        responses = race(lambda: party.refresh(first["refresh_token"]))

    assert meter["peak"] >= 2, "the requests did not overlap on the server"
    winner = assert_one_winner(responses)
    assert winner["refresh_token"] != first["refresh_token"]

    family_rows = RefreshToken.objects.filter(token_family=family)
    live = family_rows.filter(revoked=None)
    # Never two live families, never two live refresh tokens.
    client_live = RefreshToken.objects.filter(application=party.client, revoked=None)
    assert client_live.count() <= 1
    assert client_live.values("token_family").distinct().count() <= 1
    # One new refresh token only: the family holds the first one and the winner's.
    assert family_rows.count() == 2
    assert not party.active(first["access_token"])

    if replays_detected(AuditEvent.Action.REFRESH_TOKEN_REPLAYED):
        # A loser arrived after the winner committed: a replay, the family is revoked.
        assert live.count() == 0
        assert not AccessToken.objects.filter(application=party.client).exists()
        assert not party.active(winner["access_token"])
        assert party.refresh(winner["refresh_token"]).json()["error"] == "invalid_grant"
    else:
        (survivor,) = live
        assert survivor.token_checksum == checksum(winner["refresh_token"])
        assert list(AccessToken.objects.filter(application=party.client)) == [survivor.access_token]
        assert party.active(winner["access_token"])
        # The winner's refresh token works (and rotates once more).
        assert party.refresh(winner["refresh_token"]).status_code == 200


@pytest.mark.parametrize("round_", ROUNDS)
def test_refreshes_all_past_validation_race_for_the_lock(party, monkeypatch, round_):
    """Every request has validated the refresh token before any of them rotates it."""
    first = party.tokens()
    family = family_of(first["refresh_token"])
    hold_after(monkeypatch, "validate_refresh_token")

    responses = race(lambda: party.refresh(first["refresh_token"]))

    winner = assert_one_winner(responses)
    # Losing the lock is not a replay: the family stays, with the winner's pair live.
    assert replays_detected(AuditEvent.Action.REFRESH_TOKEN_REPLAYED) == 0
    (survivor,) = RefreshToken.objects.filter(token_family=family, revoked=None)
    assert survivor.token_checksum == checksum(winner["refresh_token"])
    assert RefreshToken.objects.filter(token_family=family).count() == 2
    assert list(AccessToken.objects.filter(application=party.client)) == [survivor.access_token]
    monkeypatch.undo()
    assert party.active(winner["access_token"])
    assert not party.active(first["access_token"])
    assert party.refresh(winner["refresh_token"]).status_code == 200


def test_losing_a_refresh_race_is_answered_as_json(party, monkeypatch):
    """The loser's invalid_grant is raised while saving the token (``_save_bearer_token``),
    past oauthlib's error handling: it must still be an RFC 6749 §5.2 JSON answer."""
    first = party.tokens()
    hold_after(monkeypatch, "validate_refresh_token", n=2)

    responses = race(lambda: party.refresh(first["refresh_token"]), n=2)

    (loser,) = [r for r in responses if r.status_code != 200]
    assert loser.json()["error"] == "invalid_grant"
    assert loser.headers["Content-Type"] == "application/json"
    assert loser.headers["Cache-Control"] == "no-store"


# --- authorization code races ------------------------------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
def test_parallel_redemptions_of_one_code(party, monkeypatch, round_):
    code, verifier = party.code()

    with overlap_meter(monkeypatch) as meter:
        responses = race(lambda: party.redeem(code, verifier))

    assert meter["peak"] >= 2, "the requests did not overlap on the server"
    winner = assert_one_winner(responses)
    assert not Grant.objects.filter(code=code).exists()
    # One redemption, so one token pair at most, in one family.
    assert RefreshToken.objects.filter(application=party.client).count() == 1
    assert AccessToken.objects.filter(application=party.client).count() <= 1

    if replays_detected(AuditEvent.Action.CODE_REPLAYED):
        # A loser arrived after the winner committed: a replay, its tokens are revoked.
        assert not AccessToken.objects.filter(application=party.client).exists()
        assert not party.active(winner["access_token"])
        assert party.refresh(winner["refresh_token"]).json()["error"] == "invalid_grant"
    else:
        (token,) = AccessToken.objects.filter(application=party.client)
        assert token.token_checksum == checksum(winner["access_token"])
        assert party.active(winner["access_token"])
        assert party.refresh(winner["refresh_token"]).status_code == 200


@pytest.mark.parametrize("round_", ROUNDS)
def test_redemptions_all_past_lookup_race_for_the_claim(party, monkeypatch, round_):
    """Every request is inside ``validate_code`` before any of them claims the code, and the
    winner only saves its tokens once the others have looked the code up."""
    code, verifier = party.code()
    hold_after(monkeypatch, "validate_code", before=True)
    slow_down(monkeypatch, "_save_bearer_token", 0.3)

    responses = race(lambda: party.redeem(code, verifier))

    winner = assert_one_winner(responses)
    assert replays_detected(AuditEvent.Action.CODE_REPLAYED) == 0
    (token,) = AccessToken.objects.filter(application=party.client)
    assert token.token_checksum == checksum(winner["access_token"])
    assert RefreshToken.objects.filter(application=party.client).count() == 1
    monkeypatch.undo()
    assert party.active(winner["access_token"])
    assert party.refresh(winner["refresh_token"]).status_code == 200


# --- replays, one after the other --------------------------------------------------------


def test_code_redeemed_twice_fails_and_revokes_its_tokens(party):
    code, verifier = party.code()
    first = party.redeem(code, verifier)
    assert first.status_code == 200
    tokens = first.json()
    assert party.active(tokens["access_token"])

    second = party.redeem(code, verifier)

    assert (second.status_code, second.json()["error"]) == (400, "invalid_grant")
    assert "access_token" not in second.json()
    assert not party.active(tokens["access_token"])
    assert party.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert not AccessToken.objects.filter(application=party.client).exists()
    assert not RefreshToken.objects.filter(application=party.client, revoked=None).exists()
    assert replays_detected(AuditEvent.Action.CODE_REPLAYED) == 1


def test_replayed_refresh_token_fails_and_revokes_the_family(party):
    first = party.tokens()
    second = party.refresh(first["refresh_token"]).json()
    third = party.refresh(second["refresh_token"]).json()
    assert party.active(third["access_token"])

    replay = party.refresh(first["refresh_token"])

    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    assert "access_token" not in replay.json()
    # The newest, legitimate refresh token dies with the family, and its access token too.
    assert not party.active(third["access_token"])
    assert party.refresh(third["refresh_token"]).json()["error"] == "invalid_grant"
    family = family_of(first["refresh_token"])
    assert not RefreshToken.objects.filter(token_family=family, revoked=None).exists()
    assert not AccessToken.objects.filter(application=party.client).exists()
    assert replays_detected(AuditEvent.Action.REFRESH_TOKEN_REPLAYED) >= 1
