// Package jwt authenticates HTTP requests that carry a JSON Web Token as
// an OAuth 2.0 bearer token (RFC 6750), the way Istio's
// RequestAuthentication does, on top of go-jose.
//
// A Verifier holds one or more trusted issuers. Each Issuer fixes the
// signature algorithms it accepts (there is no default and no "all"), the
// audiences a token must name, and where its public keys come from: a JWKS
// URL (fetched, cached and refreshed) or a static JWKS (a file or a value).
// Verify checks one token; Middleware reads it from the Authorization
// header, with Check (the pure decision) and Handler (401 on failure, the
// claims in the request context on success, see FromContext).
//
// # What is checked, in order
//
//  1. Size: a token longer than the cap (8 KiB by default, WithMaxTokenSize)
//     is refused before any decoding, so a split-bomb token (the class of
//     go-jose CVE-2025-27144 and golang-jwt CVE-2025-30204) costs nothing.
//  2. Form: only the JWS compact serialization with exactly one signature;
//     the JSON serializations (which can carry several signatures or
//     unprotected headers) are refused, as is any "crit" or "b64" header.
//  3. Issuer: the unverified "iss" claim selects the configured issuer, and
//     is used for nothing else until the signature is verified: it only
//     decides which algorithms and keys apply.
//  4. Algorithm: the header's "alg" must be one the issuer lists. "none" can
//     never be configured.
//  5. Key: the header's "kid" selects keys of the issuer's set whose type
//     fits the algorithm (and whose JWK "alg" and "use", when present,
//     agree); with no "kid" every fitting key is tried, if there are at
//     most 8, so that a forged token costs a bounded number of signature
//     checks. Keys embedded in the token ("jwk", "jku", "x5u", "x5c") and
//     URLs it names are ignored.
//  6. Signature, then claims: "exp" is required; "exp", "nbf" and "iat" are
//     compared with the verifier's clock allowing a bounded skew (30 s by
//     default, at most MaxClockSkew); "aud" must name one of the issuer's
//     audiences.
//
// Errors wrap one of the package's sentinel errors (ErrExpired,
// ErrAudience, ...; test them with errors.Is) and never contain the token
// or any other text taken from it, so they are safe to log.
//
// # Security trade-offs
//
// RS/HS confusion. HMAC algorithms (HS256, HS384, HS512) are supported only
// for an issuer that lists nothing but HMAC algorithms and whose keys are
// static "oct" keys; New refuses an issuer that mixes HMAC with asymmetric
// algorithms, an HMAC issuer with a JWKS URL, and a static set that holds
// "oct" keys for an asymmetric issuer. At verification a key is used only
// with algorithms of its own type, so a token "signed" with HS256 using an
// RSA public key as the secret can never verify.
//
// Audiences. An issuer must list its audiences, or set AnyAudience to
// accept a token meant for any service (Istio's behaviour when audiences
// are empty); the explicit opt-in exists because a token minted for one
// service is otherwise replayable against every other service that trusts
// the same issuer.
//
// JWKS fetching. A URL must use https, except on a loopback address. Keys
// are refreshed when older than the issuer's JWKSRefresh (or the server's
// Cache-Control max-age, whichever is shorter) and refetched when a token
// names an unknown "kid", but never more often than once per
// JWKSMinRefetch per issuer, counting failed attempts: a flood of tokens
// with random key ids, or an identity provider that is down, costs the
// provider at most one request per interval. The price is that a key
// published less than JWKSMinRefetch after the previous fetch is accepted
// only once the interval has passed. When a refresh fails (the server
// cannot be reached, answers an error status or something that is not a
// JWK Set) the previous keys stay in use up to JWKSMaxStale; after that
// every token of the issuer fails with ErrKeysUnavailable. A JWK Set
// fetched replaces the keys whatever it holds: one without a usable key
// (empty, or keys of algorithms the issuer does not accept) is the
// provider withdrawing its keys, and the issuer's tokens fail with
// ErrKeysUnavailable until it publishes usable ones. Fetches are synchronous: the request that
// finds the keys stale waits for them (bounded by the HTTP client's
// timeout), other requests keep using the current keys meanwhile, and no
// goroutine outlives a call.
//
// Cache. WithCache keeps up to a fixed number of verified tokens, keyed by
// the SHA-256 of the token (the token itself is never stored), in LRU
// order. Every hit re-checks "exp" and "nbf" against the current time, and
// a hit whose issuer's key set has changed since is verified again, so a
// key removed from the JWKS stops validating cached tokens at the next
// refresh; a hit refreshes stale keys as a miss does (it used not to, and
// a client presenting one cached token never caused that refresh). The cache saves the signature check and decoding, not the
// policy.
//
// Anonymous requests. As in Istio, a request without a bearer token is
// anonymous, not an error, unless the Middleware is set to require one; a
// request with a token that fails verification is always refused. Tokens
// are read from the Authorization header only, never from the URL query,
// where they would end up in access logs. The scheme is the token the
// header starts with: "Bearer" followed by anything but a space and a
// token68 (a tab, a Unicode space such as U+00A0, which net/http lets
// through and strings.Fields splits at) is a malformed bearer credential,
// refused with 401, never another scheme passed on as anonymous.
package jwt
