"""The fault benchmark's load: API consumers, revocations, and slow clients, over raw HTTP/1.1.

``Load`` runs ``clients`` concurrent keep-alive connections, each sending
one request after another: 30 % token requests (client_credentials, Basic),
70 % protected requests on ``/api/articles/`` (GET 50 %, OPTIONS 20 %) with
one of the tokens recently issued. Every answer is recorded with when it
started and ended, its status, the worker that answered (``X-Worker``) and,
for a 503, whether it was the JSON ``temporarily_unavailable`` with
``Retry-After`` and ``Cache-Control: no-store``.

``revoke()`` revokes a token the load has been using (so it sits in every
cache) and notes when the revocation answered; from then on a share of the
protected requests present it, and any 2xx they get is a revoked token
accepted.

``SlowClient`` sends a request's headers one line every few seconds and
never finishes, reconnecting when the server closes.

asyncio, one thread: the load generator's CPU stays small beside the server's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field

HOST = "127.0.0.1"
TIMEOUT = 10.0
REVOKED_PROBE_SHARE = 0.05


@dataclass
class Answer:
    kind: str  # token, get, options, revoke
    started: float
    ended: float
    status: int  # 0: no answer (connection error or timeout)
    worker: str = ""
    conforming_503: bool = False  # a 503 as an API's (JSON temporarily_unavailable ...)
    probe: bool = False  # presented a token revoked before it started
    token: str = ""

    @property
    def latency(self) -> float:
        return self.ended - self.started


@dataclass
class Revocation:
    token: str
    started: float
    answered: float
    status: int


class Connection:
    """One keep-alive HTTP/1.1 connection, reopened when closed."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        try:
            return await asyncio.wait_for(self._exchange(raw), TIMEOUT)
        except BaseException:
            self.close()
            raise

    async def _exchange(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        self.writer.write(raw)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("closed before answering")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def conforming_503(status: int, headers: dict[str, str], body: bytes) -> bool:
    if status != 503:
        return False
    try:
        error = json.loads(body).get("error")
    except ValueError:
        return False
    return (
        error == "temporarily_unavailable"
        and headers.get("content-type") == "application/json"
        and headers.get("cache-control") == "no-store"
        and headers.get("retry-after", "").isdigit()
    )


@dataclass
class Load:
    port: int
    client_id: str
    client_secret: str
    clients: int = 8
    answers: list[Answer] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    revocations: list[Revocation] = field(default_factory=list)
    pool: deque = field(default_factory=lambda: deque(maxlen=200))
    uses: Counter = field(default_factory=Counter)
    running: bool = False

    def __post_init__(self) -> None:
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        body = b"grant_type=client_credentials"
        self.token_request = (
            b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Basic " + basic.encode() + b"\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        self.revoke_head = (
            b"POST /oauth/revoke HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Basic " + basic.encode() + b"\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
        )

    async def run(self, until: asyncio.Event) -> None:
        self.running = True
        await asyncio.gather(*(self._client(until) for _ in range(self.clients)))
        self.running = False

    async def _client(self, until: asyncio.Event) -> None:
        connection = Connection(self.port)
        while not until.is_set():
            await self._one(connection)
        connection.close()

    async def _one(self, connection: Connection) -> None:
        roll = random.random()
        if roll < 0.3 or not self.pool:
            kind, raw, token = "token", self.token_request, ""
        else:
            kind = "get" if roll < 0.8 else "options"
            token = self._pick_token()
            raw = (
                f"{kind.upper()} /api/articles/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token}\r\n\r\n"
            ).encode()
        started = time.monotonic()
        probe = kind != "token" and self._is_revoked_before(token, started)
        try:
            status, headers, body = await connection.request(raw)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            status, headers, body = 0, {}, b""
        answer = Answer(
            kind,
            started,
            time.monotonic(),
            status,
            headers.get("x-worker", ""),
            conforming_503(status, headers, body),
            probe,
            token,
        )
        self.answers.append(answer)
        if kind == "token" and status == 200:
            access = json.loads(body)["access_token"]
            self.issued.append(access)
            self.pool.append(access)

    def _pick_token(self) -> str:
        """A recent token; now and then one revoked earlier (a probe)."""
        answered = [r for r in self.revocations if r.status == 200]
        if answered and random.random() < REVOKED_PROBE_SHARE:
            return random.choice(answered).token
        token = random.choice(self.pool)
        self.uses[token] += 1
        return token

    def _is_revoked_before(self, token: str, started: float) -> bool:
        return any(r.token == token and r.answered <= started for r in self.revocations)

    async def revoke(self) -> Revocation:
        """Revoke the most used token of the pool: cached by every worker, surely."""
        candidates = [t for t in self.pool if self.uses[t] > 0]
        token = max(candidates or self.pool, key=lambda t: self.uses[t])
        self.pool.remove(token)  # the load stops presenting it as a valid token
        body = f"token={token}".encode()
        raw = self.revoke_head + b"Content-Length: %d\r\n\r\n" % len(body) + body
        started = time.monotonic()
        try:
            status, _, _ = await Connection(self.port).request(raw)
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            status = 0
        revocation = Revocation(token, started, time.monotonic(), status)
        self.revocations.append(revocation)
        return revocation


class SlowClient:
    """Sends a request's headers one line every ``interval`` seconds, never finishing."""

    def __init__(self, address: tuple[str, int] | str, interval: float = 5.0) -> None:
        self.address = address
        self.interval = interval
        self.connections = 0

    async def run(self, until: asyncio.Event) -> None:
        while not until.is_set():
            try:
                if isinstance(self.address, str):
                    _, writer = await asyncio.open_unix_connection(self.address)
                else:
                    _, writer = await asyncio.open_connection(*self.address)
            except OSError:
                await asyncio.sleep(1)
                continue
            self.connections += 1
            try:
                writer.write(b"GET /api/articles/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                await writer.drain()
                line = 0
                while not until.is_set():
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(until.wait(), self.interval)
                    line += 1
                    # Fails once the server has closed the connection: then connect again.
                    writer.write(f"X-Slow-{line}: 1\r\n".encode())
                    await writer.drain()
            except OSError:
                pass
            finally:
                writer.close()
