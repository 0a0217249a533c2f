// Sign a user in with Auth.js (@auth/core, the core of next-auth v5) configured exactly as
// the README's "Sign in with the CMS from Next.js" says: its CSRF token, its sign-in POST,
// its callback (code grant with PKCE, state and nonce checked) and its session.
//
//   node authjs.mjs ISSUER CLIENT_ID CLIENT_SECRET
//
// The app runs at http://localhost:3000 (no server needed: requests go to Auth() directly).
// Writes {"authorization_url"}, reads {"callback_url"}, writes {"session"}.
import { Auth } from "@auth/core"

import { emit, receive, run } from "./io.mjs"

const [issuer, clientId, clientSecret] = process.argv.slice(2)

// The README's provider, with the values the README's .env.local gives.
const cms = {
  id: "cms",
  name: "CMS",
  type: "oidc",
  issuer,
  clientId,
  clientSecret,
  authorization: { params: { scope: "openid profile email" } },
  checks: ["pkce", "state", "nonce"],
}

const config = {
  providers: [cms],
  secret: "a test secret that is at least 32 characters long",
  trustHost: true,
  basePath: "/api/auth",
}
const app = "http://localhost:3000"
const cookies = new Map()

async function call(url, init = {}) {
  const headers = new Headers(init.headers)
  headers.set("cookie", [...cookies].map(([name, value]) => `${name}=${value}`).join("; "))
  const response = await Auth(new Request(url, { ...init, headers }), config)
  for (const cookie of response.headers.getSetCookie()) {
    const [pair] = cookie.split(";")
    const at = pair.indexOf("=")
    cookies.set(pair.slice(0, at), pair.slice(at + 1))
  }
  return response
}

run(async () => {
  const { csrfToken } = await (await call(`${app}/api/auth/csrf`)).json()
  const signin = await call(`${app}/api/auth/signin/cms`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ csrfToken, callbackUrl: `${app}/` }),
  })
  emit({ authorization_url: signin.headers.get("location"), status: signin.status })

  const { callback_url: callbackUrl } = await receive()
  const callback = await call(callbackUrl)
  const location = callback.headers.get("location")
  const session = await (await call(`${app}/api/auth/session`)).json()
  emit({ callback_status: callback.status, location, session })
})
