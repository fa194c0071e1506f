// Package guard is Ward's zero-trust HTTP library: middlewares that any Go
// service imports to get TLS and mutual TLS with SPIFFE identities, JWT
// bearer tokens, Istio-compatible authorization, client IP resolution and
// allowlists, each usable on its own. `ward proxy` is built on the same
// packages for services that cannot change their code.
//
// Every middleware follows net/http's CrossOriginProtection: a pure
// decision, Check(*http.Request) error, that tests and other frameworks
// can call, and Handler(next) http.Handler that enforces it. Middlewares
// never mutate the caller's request (they derive a copy to add context
// values or strip headers) and their configuration is safe for
// concurrent use.
//
// The packages:
//
//   - tlsconf: Mozilla intermediate and modern TLS profiles, no weak
//     options, certificates reloaded from files.
//   - spiffeauth: mutual TLS with SPIFFE X.509 SVIDs, ID patterns,
//     authorization that resumed sessions cannot bypass, a development CA.
//     Its Handler identifies peers that its ServerConfig verified; with
//     another tls.Config, NewVerifier(bundle).Handler verifies the peer's
//     chain itself. A client certificate nobody verified is no identity.
//   - jwt: bearer tokens with fixed algorithms per issuer, JWKS caching
//     and a bounded cache of verified tokens.
//   - authz: Istio security.istio.io/v1 AuthorizationPolicy evaluation
//     (package istio holds the types, shared with `ward check`'s mesh audit).
//   - clientip and ipallow: the real client address behind trusted proxies,
//     and CIDR allow and deny lists with an allocation-free lookup.
//
// Order matters: in Chain(a, b), b sees what a established, and nothing
// checks that a ran. audit's Logger.Handler goes outermost, so that its
// record holds what each middleware's Handler decided (their refusals,
// and authz's policy either way). List clientip's Resolver.Handler first
// among the checks (without it,
// ipallow and ratelimit keys judge the peer address, which behind a proxy
// is the proxy's), then the identity middlewares, spiffeauth and jwt, then
// ipallow, ratelimit and authz. A ratelimit keyed by the client address
// goes before jwt instead: each bearer token jwt refuses cost a signature
// verification, and a limit after it never counts a flood of forged
// ones (`ward proxy` orders its checks so). Anything that changes what a request means
// to the application (a method override, a path rewrite such as chi's
// StripSlashes) goes before authz too (authz's Handler decides a POST
// that names an override method in a header, a "_method" query
// parameter or, when policies read the method, a "_method" field of a
// form body up to authz.MaxFormBody, as that method too; and it refuses
// an "access_token" query parameter or form field, a bearer token jwt
// never verifies, when policies read the JWT).
// authz's Handler refuses, with 500,
// a request carrying a bearer token or a SPIFFE certificate that a policy
// reads but that no middleware before it looked at; a certificate that
// spiffeauth found unverified is no identity (the request is anonymous).
// authz's Handler reads the client address clientip resolved by itself
// when its enrich function does not set one, as ipallow does.
//
// The library imports nothing from Kubernetes, buildkit or nftables (a test
// enforces it), so that a service importing it stays light.
package guard
