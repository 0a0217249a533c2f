// Every grant of the product through panva's oauth4webapi, a strict RFC client, against a
// live server. Driven by tests/test_node_clients.py, which passes the server and the
// clients in SOURCE_OAUTH_FLOWS (JSON); prints one JSON object of results on stdout.
//
// The user's browser is played by fetch with a cookie jar: the sign-in form is read and
// posted as a browser would; everything OAuth goes through oauth4webapi.
import * as oauth from 'oauth4webapi'

const config = JSON.parse(process.env.SOURCE_OAUTH_FLOWS)
const insecure = { [oauth.allowInsecureRequests]: true } // the live server is http on loopback
const results = {}

const issuer = new URL(config.issuer)
const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }),
)

// --- client credentials, secret by HTTP Basic ----------------------------------------
{
  const { client_id, client_secret } = config.backend
  const client = { client_id }
  const response = await oauth.clientCredentialsGrantRequest(
    as, client, oauth.ClientSecretBasic(client_secret),
    new URLSearchParams({ scope: 'content:read' }), insecure,
  )
  const token = await oauth.processClientCredentialsResponse(as, client, response)
  results.client_credentials = { scope: token.scope, token_type: token.token_type }

  const introspected = await oauth.processIntrospectionResponse(
    as, client,
    await oauth.introspectionRequest(
      as, client, oauth.ClientSecretPost(client_secret), token.access_token, insecure,
    ),
  )
  results.introspection = { active: introspected.active, client_id: introspected.client_id }

  await oauth.processRevocationResponse(
    await oauth.revocationRequest(
      as, client, oauth.ClientSecretBasic(client_secret), token.access_token, insecure,
    ),
  )
  const after = await oauth.processIntrospectionResponse(
    as, client,
    await oauth.introspectionRequest(
      as, client, oauth.ClientSecretBasic(client_secret), token.access_token, insecure,
    ),
  )
  results.revoked = { active: after.active }
}

// --- a browser with a cookie jar ------------------------------------------------------
const jar = new Map()
async function browse (url, init = {}) {
  const headers = new Headers(init.headers)
  if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '))
  const response = await fetch(url, { ...init, headers, redirect: 'manual' })
  for (const cookie of response.headers.getSetCookie()) {
    const [pair] = cookie.split(';')
    const at = pair.indexOf('=')
    jar.set(pair.slice(0, at), pair.slice(at + 1))
  }
  return response
}

function hiddenFields (html) {
  const fields = {}
  for (const match of html.matchAll(/<input[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(match[0])
    const value = /value="([^"]*)"/.exec(match[0])
    if (name && /type="hidden"/.test(match[0])) fields[name[1]] = value ? value[1].replaceAll('&amp;', '&') : ''
  }
  return fields
}

// Follow redirects like a browser, signing in or answering the consent form when shown,
// until the flow leaves for the client's redirect URI.
async function untilRedirectUri (url, redirectUri, consent) {
  let response = await browse(url)
  for (let hops = 0; hops < 10; hops++) {
    const location = response.headers.get('location')
    if (location) {
      const next = new URL(location, url)
      if (next.href.startsWith(redirectUri)) return next
      url = next.href
      response = await browse(url)
      continue
    }
    const html = await response.text()
    if (html.includes('name="password"')) {
      const body = new URLSearchParams({
        ...hiddenFields(html), username: config.user.username, password: config.user.password,
      })
      response = await browse(url, { method: 'POST', body, headers: { referer: url } })
      continue
    }
    if (html.includes('id="authorizationForm"')) {
      const body = new URLSearchParams(hiddenFields(html))
      body.set(consent ? 'allow' : 'cancel', consent ? 'Authorize' : '1')
      response = await browse(url, { method: 'POST', body, headers: { referer: url } })
      continue
    }
    throw new Error(`the flow stopped on ${url}: ${response.status} ${html.slice(0, 300)}`)
  }
  throw new Error('too many redirects')
}

// --- authorization code + PKCE, third-party client, secret in the body ---------------
{
  const { client_id, client_secret, redirect_uri } = config.web
  const client = { client_id }
  const verifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const url = new URL(as.authorization_endpoint)
  url.search = new URLSearchParams({
    client_id, redirect_uri, response_type: 'code', scope: 'content:read user:profile', state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  })
  const callback = await untilRedirectUri(url.href, redirect_uri, true)
  const params = oauth.validateAuthResponse(as, client, callback, state) // checks iss too
  const tokens = await oauth.processAuthorizationCodeResponse(
    as, client,
    await oauth.authorizationCodeGrantRequest(
      as, client, oauth.ClientSecretPost(client_secret), params, redirect_uri, verifier, insecure,
    ),
  )
  results.authorization_code = { scope: tokens.scope, has_refresh_token: !!tokens.refresh_token }

  const refreshed = await oauth.processRefreshTokenResponse(
    as, client,
    await oauth.refreshTokenGrantRequest(
      as, client, oauth.ClientSecretBasic(client_secret), tokens.refresh_token, insecure,
    ),
  )
  results.refresh_token = {
    rotated: refreshed.refresh_token !== tokens.refresh_token,
    scope: refreshed.scope,
  }

  // Deny: the error comes back with the state and the issuer.
  const denyState = oauth.generateRandomState()
  url.searchParams.set('state', denyState)
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(
    oauth.generateRandomCodeVerifier(),
  ))
  const denied = await untilRedirectUri(url.href, redirect_uri, false)
  try {
    oauth.validateAuthResponse(as, client, denied, denyState)
    results.denied = { error: null }
  } catch (error) {
    results.denied = { error: error.error ?? error.message }
  }
}

// --- a public client: PKCE alone, no secret ------------------------------------------
{
  const { client_id, redirect_uri } = config.public
  const client = { client_id, token_endpoint_auth_method: 'none' }
  const verifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const url = new URL(as.authorization_endpoint)
  url.search = new URLSearchParams({
    client_id, redirect_uri, response_type: 'code', scope: 'content:read', state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  })
  const callback = await untilRedirectUri(url.href, redirect_uri, true)
  const params = oauth.validateAuthResponse(as, client, callback, state)
  const tokens = await oauth.processAuthorizationCodeResponse(
    as, client,
    await oauth.authorizationCodeGrantRequest(
      as, client, oauth.None(), params, redirect_uri, verifier, insecure,
    ),
  )
  results.public_client = { scope: tokens.scope }
}

process.stdout.write(JSON.stringify(results))
