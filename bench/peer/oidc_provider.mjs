// The peer of the benchmark of issue 16: node oidc-provider (panva) with a Redis adapter.
//
//   node bench/peer/oidc_provider.mjs
//
// Environment: PEER_PORT (required; binds 127.0.0.1 only), PEER_WORKERS (2),
// PEER_REDIS_URL (redis://127.0.0.1:6379/14), PEER_CLIENT_ID, PEER_CLIENT_SECRET,
// PEER_SCOPE (content:read). One confidential client, client_credentials only,
// HTTP Basic; introspection on; opaque access tokens (no resource indicator, so
// no JWT). bench/run.py starts it, measures POST /token and
// POST /token/introspection with the same wrk load as source_oauth, and stops
// it by its process group.
import cluster from "node:cluster";
import http from "node:http";

import Redis from "ioredis";
import Provider from "oidc-provider";

const HOST = "127.0.0.1";
const port = Number(process.env.PEER_PORT);
const workers = Number(process.env.PEER_WORKERS || 2);
const redisUrl = process.env.PEER_REDIS_URL || "redis://127.0.0.1:6379/14";
const prefix = "peer:oidc:";

if (!port) {
  console.error("PEER_PORT is required");
  process.exit(2);
}

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i += 1) cluster.fork();
  cluster.on("exit", (worker, code) => {
    console.error(`worker ${worker.process.pid} exited (${code})`);
    process.exitCode = 1;
  });
  for (const signal of ["SIGTERM", "SIGINT"]) {
    process.on(signal, () => {
      for (const worker of Object.values(cluster.workers)) worker.kill();
      process.exit(0);
    });
  }
} else {
  const redis = new Redis(redisUrl, { keyPrefix: prefix });

  // Models whose records name a grant: revoking the grant removes them all.
  const GRANTED = new Set([
    "AccessToken",
    "AuthorizationCode",
    "RefreshToken",
    "DeviceCode",
    "BackchannelAuthenticationRequest",
  ]);

  /**
   * The storage oidc-provider asks for, one instance per model name. Each
   * record is one Redis string (JSON) that expires with the record; the
   * optional indexes (grant, user code, uid) are keys of their own, so a
   * lookup is one GET and nothing outlives its record.
   */
  class RedisAdapter {
    constructor(name) {
      this.name = name;
    }

    key(id) {
      return `${this.name}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      const tx = redis.multi();
      if (expiresIn) tx.set(key, JSON.stringify(payload), "EX", expiresIn);
      else tx.set(key, JSON.stringify(payload));
      if (GRANTED.has(this.name) && payload.grantId) {
        const grantKey = `grant:${payload.grantId}`;
        tx.rpush(grantKey, key);
        if (expiresIn) tx.expire(grantKey, expiresIn, "GT");
      }
      if (payload.userCode) tx.set(`userCode:${payload.userCode}`, id, "EX", expiresIn || 3600);
      if (payload.uid) tx.set(`uid:${payload.uid}`, id, "EX", expiresIn || 3600);
      await tx.exec();
    }

    async find(id) {
      const stored = await redis.get(this.key(id));
      return stored ? JSON.parse(stored) : undefined;
    }

    async findByUserCode(userCode) {
      const id = await redis.get(`userCode:${userCode}`);
      return id ? this.find(id) : undefined;
    }

    async findByUid(uid) {
      const id = await redis.get(`uid:${uid}`);
      return id ? this.find(id) : undefined;
    }

    async consume(id) {
      const key = this.key(id);
      const stored = await redis.get(key);
      if (!stored) return;
      const payload = { ...JSON.parse(stored), consumed: Math.floor(Date.now() / 1000) };
      await redis.set(key, JSON.stringify(payload), "KEEPTTL");
    }

    async destroy(id) {
      await redis.del(this.key(id));
    }

    async revokeByGrantId(grantId) {
      const grantKey = `grant:${grantId}`;
      // ioredis prefixes the keys it sends, not the values it stored: strip nothing.
      const keys = await redis.lrange(grantKey, 0, -1);
      const tx = redis.multi();
      for (const key of keys) tx.del(key);
      tx.del(grantKey);
      await tx.exec();
    }
  }

  const scope = process.env.PEER_SCOPE || "content:read";
  const provider = new Provider(`http://${HOST}:${port}`, {
    adapter: RedisAdapter,
    clients: [
      {
        client_id: process.env.PEER_CLIENT_ID || "bench-peer",
        client_secret: process.env.PEER_CLIENT_SECRET || "bench-peer-secret",
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
        scope,
      },
    ],
    scopes: [scope],
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      devInteractions: { enabled: false },
    },
    cookies: { keys: ["bench-peer-cookie-key-not-a-secret"] },
    ttl: { ClientCredentials: 3600 },
  });
  provider.on("server_error", (ctx, error) => console.error("server_error", error));

  http.createServer(provider.callback()).listen(port, HOST);
}
