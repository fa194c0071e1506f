package proxy

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"

	"github.com/wardsec/ward/guard/authz"
)

// identityHeaders are request headers that upstreams commonly take for an
// identity or a routing decision that a proxy vouches for. A client never
// sets them: the proxy removes them before any check, and sets
// X-Forwarded-Client-Cert itself from the verified peer certificate.
// Names are lower case with '-' (a client's '_' spelling counts too, as
// CGI-style gateways merge both).
var identityHeaders = []string{
	"x-forwarded-client-cert",
	"x-spiffe-id",
	"x-remote-user",
	"x-jwt-payload",
	"x-original-url",
	"x-rewrite-url",
	"x-http-method-override",
	"x-http-method",
	"x-method-override",
	// A client certificate the proxy verified, as a TLS-terminating
	// proxy conveys it: RFC 9440's Client-Cert and Client-Cert-Chain
	// (which such a proxy must remove from clients' requests, section 4)
	// and the ssl_client_cert that Tomcat's SSLValve and Keycloak's
	// reverse-proxy certificate lookup read by default.
	"client-cert",
	"client-cert-chain",
	"ssl-client-cert",
	// Not an identity: CGI-style gateways (PHP-FPM's getenv, Python
	// CGI and WSGI servers) present a client's Proxy header as the
	// HTTP_PROXY that HTTP client libraries take as their outbound proxy
	// (httpoxy): the upstream's own requests went through the client's
	// server. Go's net/http/cgi skips it; no client sends it otherwise.
	"proxy",
	// Not an identity either: Next.js takes a request carrying its
	// internal X-Middleware-Subrequest (naming the middleware, repeated)
	// as its own subrequest and skips the middleware, where applications
	// check sign-in (CVE-2025-29927, before 15.2.3, 14.2.25, 13.5.9,
	// 12.3.5); Vercel and Cloudflare remove it from clients' requests.
	"x-middleware-subrequest",
}

// authProxyHeaders are the identity headers that authenticating proxies
// set for the application behind them, and that the application (or a
// framework's "auth proxy" mode) takes as the signed-in user: a client
// that sends them names its own user. The proxy vouches for none of
// them, so they are removed from every request, a trusted proxy's too
// (a load balancer in clientIP.trustedProxies appends to
// X-Forwarded-For but passes a client's other headers on), unless
// headers.keep names one, which is then kept from trusted proxies only.
// As oauth2-proxy strips the headers it would set (skip-auth-strip-
// headers, on by default) and Kubernetes' request-header authenticator
// and Dex remove X-Remote-* before trusting them.
var authProxyHeaders = []string{
	// Authelia, Authentik (its Authelia-compatible headers), Caddy's
	// forward_auth examples.
	"remote-user", "remote-groups", "remote-email", "remote-name",
	// oauth2-proxy (pass-user-headers, pass-access-token), Traefik's
	// ForwardAuth examples.
	"x-forwarded-user", "x-forwarded-email", "x-forwarded-groups",
	"x-forwarded-preferred-username", "x-forwarded-access-token",
	// Kong (key-auth, jwt, oauth2, acl plugins) and kong-oidc (not its
	// X-Access-Token: clients send a header of that name to many APIs
	// as their credential, which the upstream verifies, as X-Auth-Token
	// below; headers.strip removes it where kong-oidc is in front).
	"x-authenticated-userid", "x-authenticated-scope", "x-authenticated-groups",
	"x-anonymous-consumer", "x-credential-identifier", "x-credential-username",
	"x-userinfo", "x-id-token",
	// Keycloak Gatekeeper / Louketo (not X-Auth-Token, which clients
	// send to OpenStack and other APIs).
	"x-auth-userid", "x-auth-username", "x-auth-email", "x-auth-roles",
	"x-auth-groups", "x-auth-subject",
	// Pomerium, Google IAP, Cloudflare Access.
	"x-pomerium-jwt-assertion", "x-goog-iap-jwt-assertion",
	"cf-access-jwt-assertion", "cf-access-authenticated-user-email",
	// Client certificates a TLS-terminating proxy verified: nginx's
	// and HAProxy's customary X-Client-Verify and X-Client-DN, Azure
	// App Service's X-ARR-ClientCert.
	"x-client-verify", "x-client-dn", "x-arr-clientcert",
	// API gateways that verify a JWT and hand its claims on: Google
	// Cloud Endpoints (ESP, ESPv2: base64 JSON of the claims, which the
	// documented backend code decodes as the caller) and API Gateway,
	// WSO2 API Manager (X-JWT-Assertion, the backend JWT it signs;
	// backends commonly decode it without verifying).
	"x-endpoint-api-userinfo", "x-apigateway-api-userinfo", "x-jwt-assertion",
}

// authProxyPrefixes are families of such headers, removed as the names
// above: Kubernetes' X-Remote-Group and X-Remote-Extra-*, oauth2-proxy's
// X-Auth-Request-*, Kong's X-Consumer-*, Authentik's X-Authentik-*,
// Pomerium's claim headers, Google IAP's, AWS ALB's X-Amzn-Oidc-* and
// Azure App Service's X-MS-Client-Principal* and X-MS-Token-*, the
// client-certificate headers of TLS-terminating proxies, and others
// below.
var authProxyPrefixes = []string{
	"x-remote-", "x-auth-request-", "x-consumer-", "x-authentik-",
	"x-pomerium-claim-", "x-goog-authenticated-", "x-amzn-oidc-",
	"x-ms-client-principal", "x-ms-token-",
	// Client certificates: nginx's and HAProxy's X-SSL-Client-*
	// (Cert, Verify, S-DN...), Traefik's X-Forwarded-Tls-Client-Cert
	// and -Info (an X-Forwarded-* a trusted peer's removal spared),
	// AWS ALB's X-Amzn-Mtls-*.
	"x-ssl-client-", "x-forwarded-tls-client-cert", "x-amzn-mtls-",
	// Google App Engine's signed-in user (X-AppEngine-User-Email, -Id,
	// -Nickname, -Is-Admin) and client address (X-AppEngine-User-IP),
	// which the App Engine front end sets and applications moved off it
	// keep reading.
	"x-appengine-user-",
	// Grafana's auth proxy (X-WEBAUTH-USER, header_name's default) and
	// Gitea's and Forgejo's reverse-proxy authentication (X-WEBAUTH-USER,
	// -EMAIL, -FULLNAME); Vouch Proxy's X-Vouch-User and
	// X-Vouch-IdP-Claims-*, which nginx's auth_request hands on; the
	// tailnet user that `tailscale serve` names (Tailscale-User-Login,
	// -Name, -Profile-Pic), which applications behind it take as
	// signed in.
	"x-webauth-", "x-vouch-", "tailscale-user-",
}

// forwardingHeaders tell an upstream the client's address, or the
// original request's host or scheme, as proxies other than this one
// write them: guard/clientip removes them from untrusted peers. A
// trusted load balancer in front appends the client to X-Forwarded-For
// but passes a client's other headers on, so they are removed from every
// peer, unless headers.keep names one (a load balancer that sets it
// itself), as authProxyHeaders: the checks judged the address resolved
// from X-Forwarded-For and the Host, which the upstream gets in the
// proxy's own X-Forwarded-For and Host, while chi's RealIP read
// True-Client-IP, then X-Real-IP, PHP code Client-IP, and ASP.NET the
// host in X-Original-Host. The X-Forwarded-* family counts too
// (forwardingHeader), but X-Forwarded-For, which the client address is
// read from, and X-Forwarded-Host and -Proto, which the forwarding step
// replaces with the proxy's own.
var forwardingHeaders = []string{
	"x-real-ip", "x-client-ip", "x-cluster-client-ip", "true-client-ip",
	"cf-connecting-ip", "fastly-client-ip", "client-ip", "x-forwarded",
	"forwarded-for", "x-original-host", "x-host", "x-url-scheme",
	"front-end-https", "x-original-proto",
	// DigitalOcean App Platform's client address, which request-ip (npm)
	// and similar libraries read.
	"do-connecting-ip",
	// The scheme and mount point as nginx configurations for Python
	// servers pass them: Tornado (xheaders) takes X-Scheme before
	// X-Forwarded-Proto, Sanic after it, and the ReverseProxied WSGI
	// middleware copied from Flask's snippets sets the scheme from
	// X-Scheme and SCRIPT_NAME from X-Script-Name, cutting it off
	// PATH_INFO: "/api/admin" with "X-Script-Name: /api" is routed as
	// "/admin", a path no check saw.
	"x-scheme", "x-script-name",
}

// forwardingHeader reports whether k (headerKey form) is one of
// forwardingHeaders or another X-Forwarded-* than X-Forwarded-For,
// -Host and -Proto; it does not allocate.
func forwardingHeader[S ~string | ~[]byte](k S) bool {
	const fwd = "x-forwarded-"
	if len(k) > len(fwd) && string(k[:len(fwd)]) == fwd {
		rest := k[len(fwd):]
		return string(rest) != "for" && string(rest) != "host" && string(rest) != "proto"
	}
	return string(k) == "x-original-forwarded-for" // not an X-Forwarded-*: read by ingress-nginx's users
}

// keepable reports whether headers.keep may name k (headerKey form): an
// auth-proxy or forwarding header that a trusted proxy may set itself.
func keepable(k string) bool {
	return authProxyHeader(k) || forwardingHeader(k) || slices.Contains(forwardingHeaders, k)
}

// authProxyHeader reports whether k (headerKey form) is one of
// authProxyHeaders or in a family of authProxyPrefixes.
func authProxyHeader(k string) bool {
	if slices.Contains(authProxyHeaders, k) {
		return true
	}
	for _, p := range authProxyPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// headerKey is the form header names are compared in: lower case, '_'
// as '-'.
func headerKey(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// requestRules is what the canonical-request step enforces.
type requestRules struct {
	strip    map[string]bool // headerKey form
	keep     map[string]bool // headerKey form: auth-proxy headers kept from trusted peers; nil for none
	upgrades map[string]bool // lower case protocol names
}

func (p *Proxy) requestRules() requestRules {
	rr := requestRules{strip: map[string]bool{}, upgrades: map[string]bool{}}
	for _, h := range identityHeaders {
		rr.strip[h] = true
	}
	for _, h := range authProxyHeaders {
		rr.strip[h] = true
	}
	for _, h := range forwardingHeaders {
		rr.strip[h] = true
	}
	if p.cfg.Headers != nil {
		for _, h := range p.cfg.Headers.Strip {
			rr.strip[headerKey(h)] = true
		}
		for _, h := range p.cfg.Headers.Keep {
			if rr.keep == nil {
				rr.keep = map[string]bool{}
			}
			rr.keep[headerKey(h)] = true
		}
	}
	if p.cfg.JWT != nil {
		for _, ch := range p.cfg.JWT.OutputClaimToHeaders {
			rr.strip[headerKey(ch.Header)] = true
		}
	}
	ups := p.cfg.Upgrades
	if len(ups) == 0 {
		ups = []string{"websocket"}
	}
	for _, u := range ups {
		if u != "none" {
			rr.upgrades[strings.ToLower(u)] = true
		}
	}
	return rr
}

// stripped reports whether a client's header name is removed: a stripped
// name, an X-Envoy-* one, one of an auth-proxy family
// (authProxyPrefixes), or any name with a byte other than a letter, a
// digit or '-' (plainHeaderName), but a name headers.keep keeps when the
// peer is trusted. Policies and checks see "X_Debug" and "X.Debug" as
// headers of their own, but CGI-style gateways (Rack and Puma, older
// Gunicorn, Caddy's and FrankenPHP's FastCGI) turn '_' into the '_' that
// '-' becomes, and PHP registers $_SERVER with every '.' (and ' ') of a
// name as '_', so X_Debug and X.Debug reach PHP as the HTTP_X_DEBUG that
// X-Debug becomes, and X-Spiffe.Id as HTTP_X_SPIFFE_ID: a DENY on X-Debug,
// or the removal of X-Spiffe-Id, would not see what the upstream reads.
// nginx drops such names by default (ignore_invalid_headers on,
// underscores_in_headers off), and so does the proxy. It is called for
// every header of every request, so it does not allocate for names up to
// 128 bytes (lower-cased in a buffer on the stack).
func (rr requestRules) stripped(name string, trusted bool) bool {
	var buf [128]byte
	if len(name) > len(buf) {
		if !plainHeaderName(name) {
			return true
		}
		return rr.strippedKey([]byte(strings.ToLower(name)), trusted)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		default:
			return true // '_', '.' and the other token characters; net/http refuses the rest
		}
		buf[i] = c
	}
	return rr.strippedKey(buf[:len(name)], trusted)
}

// plainHeaderName reports whether name holds only letters, digits and
// '-', the names nginx forwards by default (ignore_invalid_headers): the
// proxy removes every other client header (stripped).
func plainHeaderName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return name != ""
}

// strippedKey is stripped for a lower-case plainHeaderName. It
// takes bytes so that its map lookups and comparisons do not allocate.
func (rr requestRules) strippedKey(k []byte, trusted bool) bool {
	if trusted && rr.keep[string(k)] {
		return false
	}
	if rr.strip[string(k)] || len(k) >= len("x-envoy-") && string(k[:len("x-envoy-")]) == "x-envoy-" {
		return true
	}
	for _, p := range authProxyPrefixes {
		if len(k) >= len(p) && string(k[:len(p)]) == p {
			return true
		}
	}
	return forwardingHeader(k)
}

// methodOverrideQuery reports whether a raw query has a parameter that a
// framework reads as the request's method (overrideKey: "_method" as
// Symfony and Laravel read it from the query of a POST), escaped or not;
// parameters are split at '&' and at ';', which some parsers also split
// at. Rails and Rack read it from a form body: see overrideScanner.
func methodOverrideQuery(q string) bool {
	return queryKey(q, len("method"), overrideKey)
}

// tokenQuery reports whether a raw query has an access_token parameter
// (RFC 6750 2.3), in any case, escaped or not, or as PHP reads it
// ("access.token", " access_token", "access_token[]"). Envoy's jwt_authn
// reads a token there by default, and ASP.NET (SignalR), Spring and
// others can; the proxy verifies the Authorization header only.
func tokenQuery(q string) bool {
	return queryKey(q, len("access_token"), tokenKey)
}

// tokenKey reports whether a parameter or form field name, decoded, is
// access_token: in any case, after leading spaces, up to a NUL or '[',
// with '.' or ' ' for '_' (as PHP reads names).
func tokenKey(k string) bool {
	if i := strings.IndexByte(k, 0); i >= 0 {
		k = k[:i]
	}
	k = strings.TrimLeft(k, " ")
	if i := strings.IndexByte(k, '['); i >= 0 {
		k = k[:i]
	}
	if len(k) != len("access_token") || !strings.ContainsRune("_. ", rune(k[6])) {
		return false
	}
	return strings.EqualFold(k[:6], "access") && strings.EqualFold(k[7:], "token")
}

// subprotocolToken is how a WebSocket client that cannot set headers
// (a browser) offers a bearer token to the Kubernetes API server: as a
// subprotocol, base64url.bearer.authorization.k8s.io.<token>.
const subprotocolToken = "base64url.bearer.authorization.k8s.io." // #nosec G101 -- the name of a subprotocol, not a credential

// tokenSubprotocol reports whether a request offers a bearer token as a
// WebSocket subprotocol (subprotocolToken, in any case, in any of its
// Sec-WebSocket-Protocol fields and list members).
func tokenSubprotocol(h http.Header) bool {
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			p = strings.TrimSpace(p)
			if len(p) >= len(subprotocolToken) && strings.EqualFold(p[:len(subprotocolToken)], subprotocolToken) {
				return true
			}
		}
	}
	return false
}

// queryKey reports whether a raw query has a parameter whose name, of at
// least minLen bytes once unescaped, satisfies is; parameters are split
// at '&' and at ';', which some parsers also split at. A name that does
// not unescape counts: refuse rather than guess.
func queryKey(q string, minLen int, is func(string) bool) bool {
	for q != "" {
		var k string
		if i := strings.IndexAny(q, "&;"); i >= 0 {
			k, q = q[:i], q[i+1:]
		} else {
			k, q = q, ""
		}
		k, _, _ = strings.Cut(k, "=")
		if len(k) < minLen {
			continue
		}
		if strings.ContainsAny(k, "%+") {
			u, err := url.QueryUnescape(k)
			if err != nil {
				return true // undecodable: refuse rather than guess
			}
			k = u
		}
		if is(k) {
			return true
		}
	}
	return false
}

// maxMethodBytes is the longest method forwarded: registered methods
// have at most 17 bytes (UPDATEREDIRECTREF).
const maxMethodBytes = 32

// withCanonicalRequest makes the request that every later check sees the
// one the upstream receives, and refuses what cannot be made so:
//
//   - a method with a lower-case letter: 400 (methods are case-sensitive
//     tokens, RFC 9110 9.1; "delete" passed a DENY of DELETE and some
//     frameworks run their DELETE handler for it), or that is not a
//     token (HTTP/2 lets GE"T through), or that is over 32 bytes
//     (maxMethodBytes): 400; CONNECT: 405;
//   - an HTTP/2 header value with leading or trailing white space
//     (RFC 9113 8.2.1), which the checks compared as it came and the
//     upstream gets trimmed: 400;
//   - a request without a host (HTTP/1.0 without Host), or with one that
//     is not host[:port] in a form every reader splits alike
//     (authz.CanonicalHost): 400; otherwise the host is replaced by its
//     canonical form (lower case, no trailing dot), which is what is
//     routed, checked and forwarded;
//   - a path that authz.Normalize refuses (encoded slash or backslash,
//     backslash, dot segment, bad escape) or that an upstream could read
//     otherwise (authz.Ambiguous: path parameters, encoded control
//     characters, double encoding, overlong UTF-8): 400;
//   - a query holding '#' (a fragment: the WAF reads the query up to it,
//     Go and PHP upstreams past it), or a space or control character
//     (HTTP/2's :path can carry a space into the request line): 400;
//   - otherwise the path is replaced by its normalized form (slashes
//     merged, unreserved escapes decoded), which is what is checked and
//     forwarded, and an absolute-form target ("GET http://host/p") is
//     reduced to its path and query;
//   - identity headers a client could forge, and header names with a
//     byte other than a letter, digit or '-' ('_', '.'), are removed;
//   - an Upgrade offering a protocol not allowed is removed, so that no
//     tunnel the checks cannot see opens (RFC 9110 7.8 lets a server
//     ignore an Upgrade).
//
// The caller's request is never modified.
func (p *Proxy) withCanonicalRequest(next http.Handler) http.Handler {
	rr := p.requestRules()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			deny(w, r, http.StatusMethodNotAllowed, "request", "CONNECT is not proxied", "method not allowed")
			return
		}
		if strings.ToUpper(r.Method) != r.Method {
			deny(w, r, http.StatusBadRequest, "request", "method is not upper case", "bad request")
			return
		}
		if !validHeaderName(r.Method) {
			// HTTP/2 lets any bytes but controls through in :method
			// (GE"T, G{}): the checks ran on a method the upstream's
			// transport then refused, and the record said "upstream
			// error" (502) for a request that never left.
			deny(w, r, http.StatusBadRequest, "request", "method is not a token", "bad request")
			return
		}
		if len(r.Method) > maxMethodBytes {
			// A token as long as the request line allows (64 KiB),
			// past limits.maxURLBytes, reached the upstream.
			deny(w, r, http.StatusBadRequest, "request", "method longer than 32 bytes", "bad request")
			return
		}
		if r.ProtoMajor >= 2 && paddedValue(r.Header) {
			// RFC 9113 8.2.1: malformed. Go's HTTP/2 server let it
			// through, the checks compared " admin", and the transport
			// trims values: the upstream got "admin".
			deny(w, r, http.StatusBadRequest, "request", "header value with leading or trailing white space", "bad request")
			return
		}
		if r.Host == "" {
			// HTTP/1.0 without Host, HTTP/2 without :authority: the
			// checks would see no host and the upstream the host of
			// its own URL (Go's transport fills it in).
			deny(w, r, http.StatusBadRequest, "request", "no Host", "bad request")
			return
		}
		host, ok := authz.CanonicalHost(r.Host)
		if !ok {
			deny(w, r, http.StatusBadRequest, "request", "malformed Host", "bad request")
			return
		}
		// HTTP/2 keeps host fields in the header map (HTTP/1's Host
		// is moved out); the Host is :authority, or the field when
		// there is none, and Go's transport forwards no host field.
		hostFields := len(r.Header["Host"])
		if hostFields > 1 {
			deny(w, r, http.StatusBadRequest, "request", "more than one host field", "bad request")
			return
		}
		if r.URL.Opaque != "" || r.URL.User != nil {
			deny(w, r, http.StatusBadRequest, "request", "malformed request target", "bad request")
			return
		}
		escaped := r.URL.EscapedPath()
		if escaped == "" && r.URL.Host != "" {
			escaped = "/" // "GET http://host HTTP/1.1": an empty path is "/" (RFC 9112 3.2.2)
		}
		norm, err := authz.Normalize(escaped)
		if err == nil && norm == "*" {
			err = authz.ErrMalformedPath // OPTIONS *: no resource to check or forward
		}
		if err == nil {
			err = authz.Ambiguous(norm)
		}
		if err != nil {
			deny(w, r, http.StatusBadRequest, "request", "path refused: "+err.Error(), "bad request")
			return
		}
		if strings.IndexByte(r.URL.RawQuery, '#') >= 0 {
			// A fragment no client sends: Coraza cuts the URI at the
			// '#' before reading arguments, and Go and PHP upstreams
			// read the parameters after it ("?x=1#&q=<script>").
			deny(w, r, http.StatusBadRequest, "request", "fragment (#) in the query", "bad request")
			return
		}
		if !queryBytes(r.URL.RawQuery) {
			// HTTP/2 lets a space through in :path ("/x?a HTTP/1.1
			// /admin"), which the upstream's request line then held
			// raw: the target and version it parsed were not the ones
			// checked. HTTP/1's request line cannot carry one.
			deny(w, r, http.StatusBadRequest, "request", "space or control character in the query", "bad request")
			return
		}
		if methodOverrideQuery(r.URL.RawQuery) {
			// The method a policy matched would not be the one the
			// upstream runs (Symfony and Laravel read _method from the
			// query of a POST), as with X-HTTP-Method-Override.
			deny(w, r, http.StatusBadRequest, "request", "method override parameter (_method) in query", "bad request")
			return
		}
		if hasBody(r) {
			// Form bodies are read for method overrides as they are
			// forwarded (overrideScanner); one whose type readers
			// would disagree on is refused here.
			if _, _, err := formBody(r.Header); err != nil {
				deny(w, r, http.StatusBadRequest, "request", err.Error(), "bad request")
				return
			}
		}
		out := r
		if host != r.Host || hostFields > 0 {
			// Checked and forwarded in one form: a hosts rule of
			// "admin.example.com:*" compared "admin.example.com.:443"
			// as sent, and the upstream got "admin.example.com:443".
			r2 := *r
			r2.Host = host
			if hostFields > 0 {
				// Discarded, as Envoy does beside :authority: a rate
				// limit keyed by it counted a value the client
				// changed at will, the WAF read a Host the upstream
				// never saw.
				r2.Header = r.Header.Clone()
				delete(r2.Header, "Host")
			}
			out = &r2
		}
		if norm != escaped || r.URL.Scheme != "" || r.URL.Host != "" || r.URL.RawPath != "" && r.URL.RawPath != norm {
			path, err := url.PathUnescape(norm)
			if err != nil {
				deny(w, r, http.StatusBadRequest, "request", "path refused: "+err.Error(), "bad request")
				return
			}
			u := &url.URL{Path: path, RawPath: norm, RawQuery: r.URL.RawQuery, ForceQuery: r.URL.ForceQuery}
			r2 := *out
			r2.URL = u
			r2.RequestURI = u.RequestURI()
			out = &r2
		}
		// A trusted proxy's own auth-proxy headers are kept when
		// headers.keep names them.
		trusted := rr.keep != nil && p.TrustedPeer(r)
		if hdr, changed := rr.filterHeaders(out.Header, trusted, !out.ProtoAtLeast(1, 1)); changed {
			if out == r {
				r2 := *r
				out = &r2
			}
			out.Header = hdr
		}
		if cs := out.Header["Cookie"]; len(cs) > 1 {
			// Cookie lines joined into one with "; " (RFC 6265 5.4:
			// a client sends one; RFC 9113 8.2.3 joins HTTP/2's so),
			// which the checks and the upstream both get: gunicorn
			// and Werkzeug's server join lines with "," into one
			// HTTP_COOKIE, and Werkzeug and Django then read a quoted
			// value across them (`q="1\047 OR 1=1 --` then `x"` is
			// 1' OR 1=1 --,x), where the WAF read each line apart.
			if out == r {
				r2 := *r
				out = &r2
			}
			hdr := out.Header.Clone()
			hdr["Cookie"] = []string{strings.Join(cs, "; ")}
			out.Header = hdr
		}
		next.ServeHTTP(w, out)
	})
}

// queryBytes reports whether a raw query holds no space, control
// character or DEL, which no request-target may (RFC 3986 3.4, RFC 9112
// 3.2). It does not allocate.
func queryBytes(q string) bool {
	for i := 0; i < len(q); i++ {
		if q[i] <= ' ' || q[i] == 0x7f {
			return false
		}
	}
	return true
}

// paddedValue reports whether a value in h starts or ends with white
// space (space or tab), which an HTTP/2 field value may not (RFC 9113
// 8.2.1) and an HTTP/1.1 one cannot (RFC 9112 5: the parser trims it).
// The forwarding step writes values trimmed, so the upstream would get
// another value than the checks compared. It does not allocate.
func paddedValue(h http.Header) bool {
	for _, vs := range h {
		for _, v := range vs {
			if v != "" && (v[0] == ' ' || v[0] == '\t' || v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
				return true
			}
		}
	}
	return false
}

// nominated returns the names of the headers h's Connection header
// nominates, as the forwarding step deletes them (RFC 9110 7.6.1;
// ReverseProxy's removeHopByHopHeaders: h.Del of each token), but Upgrade
// and TE, which it sets again itself, and the forwarding headers a trusted
// proxy's client address is read from (the upstream gets the resolved
// address in an X-Forwarded-For of the proxy's own); nil when there are
// none.
func nominated(h http.Header) map[string]bool {
	var m map[string]bool
	// And the hop-by-hop headers forwarding always removes, but those it
	// sets again (Te, Upgrade) and those net/http keeps out of the map.
	for _, name := range []string{"Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization"} {
		if _, ok := h[name]; ok {
			if m == nil {
				m = map[string]bool{}
			}
			m[name] = true
		}
	}
	for _, line := range h["Connection"] {
		for tok := range strings.SplitSeq(line, ",") {
			switch t := textproto.CanonicalMIMEHeaderKey(textproto.TrimString(tok)); t {
			case "", "Upgrade", "Te", "X-Forwarded-For", "Forwarded":
			default:
				if m == nil {
					m = map[string]bool{}
				}
				m[t] = true
			}
		}
	}
	return m
}

// filterHeaders returns h without stripped headers, without the headers
// its Connection header nominates (the forwarding step would remove them
// after the checks saw them: an ALLOW on X-Tenant: a, and an upstream
// without X-Tenant) and without an Upgrade that offers a protocol not
// allowed (with its Connection tokens and HTTP2-Settings), or h itself
// when nothing is removed. An HTTP/1.0 request's Upgrade (http10) is
// removed whatever it offers: RFC 9110 7.8 has a server ignore it, and
// the upstream that honoured it opened a tunnel on a request the client
// sent as HTTP/1.0 (TestAttackUpgradeHTTP10).
func (rr requestRules) filterHeaders(h http.Header, trusted, http10 bool) (http.Header, bool) {
	nom := nominated(h)
	dropUpgrade := false
	if ups := h.Values("Upgrade"); len(ups) > 0 && http10 {
		dropUpgrade = true
	} else if len(ups) > 0 {
		for _, line := range ups {
			for tok := range strings.SplitSeq(line, ",") {
				name, _, _ := strings.Cut(strings.TrimSpace(tok), "/")
				if !rr.upgrades[strings.ToLower(name)] {
					dropUpgrade = true
				}
			}
		}
	}
	if !dropUpgrade && nom == nil {
		found := false
		for name := range h {
			if rr.stripped(name, trusted) {
				found = true
				break
			}
		}
		if !found {
			return h, false
		}
	}
	out := make(http.Header, len(h))
	for name, vs := range h {
		if rr.stripped(name, trusted) || nom[name] {
			continue
		}
		if dropUpgrade {
			switch headerKey(name) {
			case "upgrade", "http2-settings":
				continue
			case "connection":
				var kept []string
				for _, line := range vs {
					for tok := range strings.SplitSeq(line, ",") {
						t := strings.TrimSpace(tok)
						if t != "" && !strings.EqualFold(t, "upgrade") && !strings.EqualFold(t, "http2-settings") {
							kept = append(kept, t)
						}
					}
				}
				if len(kept) > 0 {
					out[name] = []string{strings.Join(kept, ", ")}
				}
				continue
			}
		}
		out[name] = vs
	}
	return out, true
}

// xfcc returns the X-Forwarded-Client-Cert value Envoy's SANITIZE_SET
// would send for a verified client certificate: By (the proxy's own
// SPIFFE ID, when known), Hash (SHA-256 of the certificate, hex), Subject
// and URI (the first URI SAN, the SPIFFE ID).
func xfcc(self string, leaf *x509.Certificate) string {
	sum := sha256.Sum256(leaf.Raw)
	var b strings.Builder
	if self != "" {
		b.WriteString("By=")
		b.WriteString(xfccValue(self))
		b.WriteByte(';')
	}
	b.WriteString("Hash=")
	b.WriteString(hex.EncodeToString(sum[:]))
	b.WriteString(";Subject=\"")
	b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(leaf.Subject.String()))
	b.WriteByte('"')
	if len(leaf.URIs) > 0 {
		b.WriteString(";URI=")
		b.WriteString(xfccValue(leaf.URIs[0].String()))
	}
	return b.String()
}

// xfccValue quotes a value holding a separator, as Envoy does.
func xfccValue(s string) string {
	if strings.ContainsAny(s, `,;="`) {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return s
}

// selfID returns the proxy's own SPIFFE ID, for the By element of
// X-Forwarded-Client-Cert ("" without SPIFFE).
func (p *Proxy) selfID() string {
	if p.self == nil {
		return ""
	}
	s, err := p.self.GetX509SVID()
	if err != nil {
		return ""
	}
	return s.ID.String()
}
