// Sign a user in with panva's openid-client (v6), as a Node.js back end would:
// discovery, authorization URL with PKCE, state and nonce, then the code grant with the
// ID token's signature checked against the JWKS (enableNonRepudiationChecks) and its
// nonce, and finally UserInfo.
//
//   node openid_client.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI SCOPE [ALG]
//
// ALG is the client's id_token_signed_response_alg (RS256 when left out).
//
// Writes {"authorization_url"}, reads {"callback_url"}, writes the result.
import * as client from "openid-client"

import { emit, receive, run } from "./io.mjs"

const [issuer, clientId, clientSecret, redirectUri, scope, alg = "RS256"] = process.argv.slice(2)

run(async () => {
  const metadata = { client_secret: clientSecret, id_token_signed_response_alg: alg }
  const config = await client.discovery(new URL(issuer), clientId, metadata, undefined, {
    execute: [client.allowInsecureRequests], // the test server speaks plain http on loopback
  })
  client.enableNonRepudiationChecks(config)

  const codeVerifier = client.randomPKCECodeVerifier()
  const nonce = client.randomNonce()
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: "S256",
    nonce,
    state,
  })
  emit({ authorization_url: url.href, nonce, state })

  const { callback_url: callbackUrl } = await receive()
  const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: codeVerifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  })
  const claims = tokens.claims()
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
  const header = JSON.parse(Buffer.from(tokens.id_token.split(".")[0], "base64url"))
  emit({ claims, userinfo, header, scope: tokens.scope, nonce })
})
