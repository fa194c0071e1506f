// Package authz enforces Istio AuthorizationPolicy objects
// (security.istio.io/v1 and v1beta1) in Go, for a proxy or a service that
// fronts one workload.
//
// The package keeps what users write apart from what the engine runs. Load
// reads policy YAML into the istio package's types, strictly and with
// file:line errors; Compile selects the policies that apply to a Workload
// and compiles them once into an immutable Engine; Engine.Decide evaluates
// a Request, a plain value that RequestFromHTTP and the identity
// middlewares fill in, and returns a Decision that carries its reason.
//
// # Semantics
//
// Decide follows Istio's documented evaluation order
// (https://istio.io/latest/docs/reference/config/security/authorization-policy/):
// CUSTOM policies are refused when loading, since ward calls no external
// authorizer; any matching DENY policy denies; with no ALLOW policy the
// request is allowed; any matching ALLOW policy allows; anything else is
// denied. AUDIT policies only set Decision.Audited. An ALLOW policy with no
// rules (`spec: {}`) allows nothing, and `rules: [{}]` matches every
// request.
//
// A rule matches when one of its sources, one of its operations and all
// of its conditions match; absent lists match. The fields set in a source
// or an operation must all match; the values of one field are
// alternatives, and notX values exclude. Values are exact, "prefix*",
// "*suffix" or "*" (present and not empty). As in Istio:
//
//   - principals and source.principal compare the peer's SPIFFE ID
//     without "spiffe://"; namespaces and source.namespace compare the
//     namespace of that ID ("<td>/ns/<namespace>/sa/<account>"), so both
//     need a verified peer certificate (values that deny, in a DENY, or
//     exclude, notNamespaces in an ALLOW, match any "/ns/<namespace>/"
//     of the ID, as Istio's regular expression does; values that allow,
//     the first); Request.SourcePrincipal may also
//     hold the ID with its scheme, as spiffeid.ID.String gives it (read
//     as given, a DENY of the principal or of its trust domain matched
//     nothing);
//   - serviceAccounts ("<namespace>/<name>", or "<name>" in the policy's
//     namespace; no wildcard; not beside principals or namespaces) match
//     the peer's SPIFFE ID as Istio's generated expression does:
//     "<td>/ns/<namespace>/[...]sa/<name>[/...]", names literal;
//     trustDomains match the ID's first segment with the usual patterns;
//   - requestPrincipals and request.auth.principal split values at their
//     last "/" into issuer and subject patterns, which must both match; an
//     anonymous request has no request principal and matches no value,
//     not even "*", so `requestPrincipals: ["*"]` requires a token;
//     since subjects may hold "/" (JWT-SVIDs, GitHub's OIDC tokens),
//     a value of a DENY policy, or of an ALLOW policy's
//     notRequestPrincipals, also matches "<iss>/<sub>" whole (stricter
//     than Istio, whose split let a DENY of "<iss>/spiffe://td/ns/x/sa/y"
//     deny nothing);
//   - ipBlocks and source.ip compare the peer address, remoteIpBlocks and
//     remote.ip the client address resolved from trusted proxies' headers
//     (the peer address when there is none); single IPs and CIDRs;
//   - request.auth.claims[a][b] reads nested claims of type string or list
//     of strings (a list matches when an element does);
//   - request.headers[name] sees several header lines joined with ",",
//     as Envoy's header matcher does, and "*" matches a header that is
//     present even if empty; request.headers[:path] is the normalised
//     path, and for values that deny (in a DENY) or exclude (notValues
//     in an ALLOW) also the path with the raw query, Envoy's :path, with
//     which Istio policies match query parameters (read without it, a
//     DENY of "/export?format=csv*" denied nothing);
//   - methods and paths are case-sensitive: a DENY on "/admin" does not
//     stop "/ADMIN" (Istio's security best practices recommend ALLOW lists
//     for that reason, or normalising case in front of a case-insensitive
//     backend);
//   - paths match the path without the query, and support Istio's path
//     templates "{*}" (one segment) and "{**}" (the rest).
//
// Ward deviates from Envoy's literal behaviour in two places, both making
// policies harder to bypass:
//
//   - hosts are compared case-insensitively as Istio documents, and a
//     value without a port matches the host whatever port the Host header
//     carries (and without a trailing dot): "example.com" also matches
//     "Example.com:443". Istio compares the whole header, which is why
//     its best practices ask for "example.com" and "example.com:*"; both
//     forms work here, and a value with a port compares the whole header.
//     A condition on the Host header (request.headers[:authority] or
//     request.headers[host]) matches the same way, and counts as
//     matching hosts for Handler: compared exactly, as Envoy compares
//     headers, "admin.example.com:80" escaped a DENY of
//     "admin.example.com" that http.ServeMux routed to that host.
//     Decide compares the Host as given: a caller that forwards the
//     request puts it in one form first (CanonicalHost, as `ward proxy`
//     does), or refuses it; Handler refuses any other form (below).
//   - paths are normalised before matching (see Normalize): escapes of
//     unreserved characters, sub-delimiters (but ";" and "+"), ":" and "@" are
//     decoded and runs of slashes merged, and a
//     path with an encoded slash or backslash, a backslash or a dot
//     segment is denied outright, whatever the policies, rather than
//     resolved. Policy paths are put in the same form: escapes made
//     canonical, and characters that a request path carries encoded
//     (non-ASCII letters, space, "|", "[", ...) encoded, so a DENY of
//     "/café" matches "/caf%C3%A9", which http.ServeMux routes to
//     "/café" (compared as written, it matched nothing).
//
// Engine.Handler, which passes the request on unchanged to the
// application's router, adds seven checks that Decide (and `ward proxy`,
// which forwards the normalised path) does not make: a path with an empty
// segment ("//") is refused with 400 instead of merged, since
// http.ServeMux leaves CONNECT paths as sent and chi never merges
// slashes, so "/api//admin" reaches "/api/{tenant}/admin"; when policies
// match hosts, a Host not in CanonicalHost's form (an upper-case letter,
// a trailing dot, a name in brackets, which net.SplitHostPort unwraps
// for ServeMux, more than one colon outside brackets, which gorilla/mux
// cuts at the first, ...; or, for CONNECT, a port) is refused with 400,
// since
// http.ServeMux's and gorilla/mux's host patterns compare exactly and
// would route it elsewhere than Decide matched; a header that a policy
// reads (request.headers[...]) sent on more than one line is refused
// with 400, since Decide matches the lines joined with "," as Envoy does
// and handlers read the first (r.Header.Get); a path with escaped
// characters that a segment may hold raw (":", "@", "!", "+", ...) must
// be allowed with them decoded too, since http.ServeMux and gorilla/mux
// route "/v1/jobs%3Acancel" as "/v1/jobs:cancel"; a HEAD request must be
// allowed as GET too, since http.ServeMux runs the GET handler for it;
// and a request whose r.URL.RawPath differs from r.URL.EscapedPath() must
// be allowed with both, since chi routes on RawPath and EscapedPath
// ignores a RawPath holding a byte net/http would escape ("|", non-ASCII):
// "/api/a%2Fb|/admin" was decided as "/api/a/b%7C/admin" and ran chi's
// "/api/{tenant}/admin" (now 400, for the encoded slash); and a POST that
// names another method (X-HTTP-Method-Override, X-HTTP-Method,
// X-Method-Override, or "_method" in the query, split at ';' too, which
// net/http's AllowQuerySemicolons turns into '&') must be allowed as that
// method too, in each reading an override may run (as sent, trimmed, in
// upper case, folded as strings.EqualFold does) and on RawPath too, since
// a method override middleware after Handler runs it as that method;
// when policies read the method, so must a POST whose
// urlencoded or multipart body has a "_method" field, which FormValue
// reads too: Handler reads such a body (up to MaxFormBody, which a larger
// one exceeds for a 413) and leaves it whole for the application, unless
// Options.FormBodiesUnread says no override runs after it. When policies
// read the JWT, a request with an "access_token" query parameter or form
// field (a multipart body of any method too, and beside a verified token
// unless its header starts "Bearer " exactly), or a WebSocket subprotocol naming a token as Kubernetes' clients
// send it, or (anonymous) an "Authorization: DPoP" token: a token that
// jwt never verifies and an application may read, is refused with 400.
// It also answers 500 when the policies read an identity that the request
// carries but that its enrich function did not set (a bearer token
// without a RequestPrincipal, a SPIFFE peer certificate without a
// SourcePrincipal): the jwt or spiffeauth middleware ran after authz, or
// not at all, and the request would be decided as anonymous. (A peer
// certificate that spiffeauth's Handler found unverified is no identity:
// that request is decided as anonymous.) And when
// policies read remote.ip or remoteIpBlocks, it answers 400 when enrich
// sets RemoteIP to the invalid address (clientip's "unknown", which a
// client can cause behind a proxy that appends to Forwarded by opening a
// quote): Decide would use SourceIP, the trusted proxy's own address;
// and when policies read an address and the request has none (a Unix
// socket's RemoteAddr), no value matches it, so it answers 400 too.
//
// No policies at all, and policies of which none applies to the
// Workload given, fail Compile (ErrNoneApply): an engine without policies
// allows every request, which is what an empty or truncated policy file
// (or one of other kinds) gave, and a Workload left out or without its
// labels for policies written for the workload. The zero Engine, which
// no Compile made, denies every request.
//
// Policies are selected as Istio selects them for a sidecar: a policy in
// the root namespace ("istio-system" unless Options says otherwise)
// applies to every workload, or with a selector to those whose labels it
// matches, in any namespace; a policy in the workload's namespace applies
// to it when its selector, if any, matches. Policies bound with targetRef
// or targetRefs apply to gateways and waypoints, not to sidecars, and
// policies annotated istio.io/dry-run are not enforced: Compile leaves both
// out and reports a Warning.
//
// Compile refuses what Istio's validation webhook refuses (a DENY policy
// without rules, an empty source or operation, a condition without values,
// an unknown condition key, bad IPs, ports and path templates, ...) and the
// condition keys ward does not implement (experimental.envoy.filters.*,
// request.experimental.inline.headers, source.serviceAccount, and
// request.headers of pseudo-headers but :authority, :method and :path,
// which net/http keeps none of: a DENY of request.headers[:scheme]
// "http" read nothing and denied nothing; so are Transfer-Encoding and
// Trailer, which net/http removes once it has framed the body): enforcing
// part of a policy would be worse than refusing to start.
package authz
