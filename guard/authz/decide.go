package authz

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wardsec/ward/guard/clientip"
	"github.com/wardsec/ward/internal/auditctx"
	"github.com/wardsec/ward/internal/hexdigit"
	"github.com/wardsec/ward/internal/peerctx"
)

// Request is what authorization looks at: the HTTP request and the
// identities that other middlewares established. It is a plain value, so
// that the engine is testable without HTTP; RequestFromHTTP fills the
// HTTP part.
type Request struct {
	Method string
	// Host is the Host header (HTTP/2 :authority), port included if the
	// client sent one.
	Host string
	// Path is the escaped request path as sent (url.URL.EscapedPath), a
	// query is ignored. Decide normalises it (see Normalize).
	Path string
	// Query is the raw query (url.URL.RawQuery), without "?": only
	// request.headers[:path], which is the path and the query as in
	// Envoy, reads it. A query in Path is read when Query is empty.
	Query string
	// Port is the destination port the request arrived on, 0 if unknown.
	Port int
	// Headers are the request headers, with keys in canonical form as
	// net/http stores them.
	Headers http.Header

	// SourceIP is the address of the direct peer ("source.ip",
	// ipBlocks).
	SourceIP netip.Addr
	// RemoteIP is the original client address as resolved from trusted
	// X-Forwarded-For or Forwarded headers ("remote.ip", remoteIpBlocks);
	// when it is not set, SourceIP is used, as Envoy does when no
	// proxies are trusted.
	RemoteIP netip.Addr
	// DestinationIP is the local address the request arrived on
	// ("destination.ip").
	DestinationIP netip.Addr

	// SourcePrincipal is the peer's verified SPIFFE ID without the
	// "spiffe://" scheme, like "cluster.local/ns/shop/sa/web"; empty for
	// a peer without a verified certificate. An ID with the scheme (what
	// spiffeid.ID.String returns) is read without it.
	SourcePrincipal string
	// SourceNamespace is the peer's namespace; when empty, it is taken
	// from SourcePrincipal's "/ns/<namespace>/" as Istio does.
	SourceNamespace string

	// RequestPrincipal is the verified JWT's "<iss>/<sub>"; empty for an
	// anonymous request, which matches no requestPrincipals value, not
	// even "*".
	RequestPrincipal string
	// Claims are the verified JWT's claims, as decoded by encoding/json.
	Claims map[string]any
	// Audiences and Presenter are the token's "aud" and "azp".
	Audiences []string
	Presenter string

	// SNI is the TLS server name the client asked for.
	SNI string
}

// RequestFromHTTP returns the Request for r with Method, Host, Path, Query, Port,
// Headers, SourceIP, RemoteIP (both the peer address), DestinationIP and
// SNI filled in. Identity fields, and RemoteIP behind trusted proxies, are
// for the identity and client-IP middlewares to set. r is not modified;
// Headers shares r.Header.
func RequestFromHTTP(r *http.Request) *Request {
	q := &Request{
		Method:  r.Method,
		Host:    r.Host,
		Headers: r.Header,
	}
	if r.URL != nil {
		if r.URL.Opaque != "" {
			q.Path = r.URL.Opaque // not a path: Decide rejects it
		} else {
			q.Path = r.URL.EscapedPath()
		}
		q.Query = r.URL.RawQuery
	}
	if q.Path == "" {
		q.Path = "/"
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		q.SourceIP = ap.Addr().WithZone("").Unmap()
		q.RemoteIP = q.SourceIP
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		var ap netip.AddrPort
		var err error
		if ta, ok := a.(*net.TCPAddr); ok {
			ap = ta.AddrPort() // what parsing its String gives, without the text
			if !ap.Addr().IsValid() {
				err = net.InvalidAddrError("no IP")
			}
		} else {
			ap, err = netip.ParseAddrPort(a.String())
		}
		if err == nil {
			q.DestinationIP = ap.Addr().WithZone("").Unmap()
			q.Port = int(ap.Port())
		}
	}
	if r.TLS != nil {
		q.SNI = r.TLS.ServerName
	}
	return q
}

// Decision is the outcome of Decide.
type Decision struct {
	Allowed bool
	// Audited is set when an AUDIT policy matched; it does not change
	// Allowed. AuditPolicy names the first one ("namespace/name").
	Audited     bool
	AuditPolicy string
	// Reason says why, for logs: the policy, its action, the rule and
	// the criteria that matched, or "no ALLOW policy matched", or why
	// the path was rejected.
	Reason string
	// Policy is the "namespace/name" of the policy that decided, empty
	// when none did.
	Policy string
	// Rule is the index of the rule that matched in Policy, -1 if none.
	Rule int
	// PathError is Normalize's error when the path was rejected (a
	// malformed request, which a server may answer with 400).
	PathError error
}

// Reasons of decisions that no rule made.
const (
	ReasonNoAllowPolicy = "no ALLOW policy applies to the workload"
	ReasonNoAllowMatch  = "no ALLOW policy matched"
	// ReasonNotCompiled is the denial of the zero Engine, which no
	// Compile made.
	ReasonNotCompiled = "engine not compiled (use Compile)"
)

// pathReason is the Reason of a decision on a path Normalize rejected.
func pathReason(err error) string {
	switch err {
	case ErrEncodedSlash:
		return "path rejected: encoded slash or backslash (%2F, %5C) in path"
	case ErrBackslash:
		return "path rejected: backslash in path"
	case ErrDotSegment:
		return "path rejected: dot segment (. or ..) in path"
	}
	return "path rejected: malformed path"
}

// Decide evaluates the policies for r in Istio's order: a matching DENY
// policy denies; otherwise, without ALLOW policies the request is allowed;
// otherwise a matching ALLOW policy allows and anything else is denied.
// AUDIT policies only set Audited. A path that Normalize rejects is denied
// before any policy is consulted, whatever the policies are.
//
// Decide is safe for concurrent use and does not modify r.
func (e *Engine) Decide(r *Request) Decision {
	if !e.compiled {
		return Decision{Reason: ReasonNotCompiled, Rule: -1}
	}
	var v view
	if err := v.init(r); err != nil {
		return Decision{Reason: pathReason(err), Rule: -1, PathError: err}
	}
	d := Decision{Rule: -1}
	for _, p := range e.audit {
		if _, _, _, ok := p.match(&v); ok {
			d.Audited, d.AuditPolicy = true, p.name
			break
		}
	}
	for _, p := range e.deny {
		if i, fi, ti, ok := p.match(&v); ok {
			d.Reason, d.Policy, d.Rule = p.rules[i].reason(fi, ti), p.name, i
			return d
		}
	}
	if len(e.allow) == 0 {
		d.Allowed, d.Reason = true, ReasonNoAllowPolicy
		return d
	}
	for _, p := range e.allow {
		if i, fi, ti, ok := p.match(&v); ok {
			d.Allowed = true
			d.Reason, d.Policy, d.Rule = p.rules[i].reason(fi, ti), p.name, i
			return d
		}
	}
	d.Reason = ReasonNoAllowMatch
	return d
}

// view is a Request with the derived values that criteria compare,
// computed once per decision.
type view struct {
	r             *Request
	path          string
	query         string // the raw query, for :path
	principal     string // SourcePrincipal without "spiffe://"
	hostName      string // Host without port and trailing dot
	namespace     string
	trustDomain   string
	iss, sub      string
	sourceIP      netip.Addr
	remoteIP      netip.Addr
	destinationIP netip.Addr
}

func (v *view) init(r *Request) error {
	v.r = r
	p, err := Normalize(r.Path)
	if err != nil {
		return err
	}
	v.path = p
	v.query = r.Query
	if v.query == "" {
		if i := strings.IndexByte(r.Path, '?'); i >= 0 {
			v.query, _, _ = strings.Cut(r.Path[i+1:], "#")
		}
	}
	v.hostName = hostName(r.Host)
	// Policies write principals without the scheme; an enrich function
	// that copied spiffeid.ID.String() gave it, and a DENY of the
	// principal or its trust domain matched nothing.
	v.principal = r.SourcePrincipal
	if len(v.principal) >= len(spiffeScheme) && strings.EqualFold(v.principal[:len(spiffeScheme)], spiffeScheme) {
		v.principal = v.principal[len(spiffeScheme):]
	}
	v.namespace = r.SourceNamespace
	if v.namespace == "" {
		v.namespace = namespaceOf(v.principal)
	}
	v.trustDomain, _, _ = strings.Cut(v.principal, "/")
	v.iss, v.sub = splitRequestPrincipal(r.RequestPrincipal, r.Claims)
	v.sourceIP = r.SourceIP.WithZone("").Unmap()
	v.remoteIP = r.RemoteIP.WithZone("").Unmap()
	if !v.remoteIP.IsValid() {
		v.remoteIP = v.sourceIP
	}
	v.destinationIP = r.DestinationIP.WithZone("").Unmap()
	return nil
}

const spiffeScheme = "spiffe://"

// header returns the value of the named header, several values joined
// with "," as Envoy's header matcher sees them, and whether it is present.
func (v *view) header(name string) (string, bool) {
	switch name {
	case "Host", ":authority":
		return v.r.Host, v.r.Host != ""
	case ":method":
		return v.r.Method, v.r.Method != ""
	case ":path":
		return v.path, true
	}
	vals, ok := v.r.Headers[name]
	switch {
	case !ok:
		return "", false
	case len(vals) == 1:
		return vals[0], true
	}
	return strings.Join(vals, ","), true
}

// hostName returns host without its port and one trailing dot.
func hostName(host string) string {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i > 0 {
			return host[:i+1]
		}
		return host
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ':') == i {
		host = host[:i]
	}
	return strings.TrimSuffix(host, ".")
}

// namespaceOf returns the namespace in a SPIFFE ID path
// "<trust domain>/ns/<namespace>/sa/<account>".
func namespaceOf(principal string) string {
	i := strings.Index(principal, "/ns/")
	if i < 0 {
		return ""
	}
	rest := principal[i+len("/ns/"):]
	j := strings.IndexByte(rest, '/')
	if j <= 0 {
		return ""
	}
	return rest[:j]
}

// splitRequestPrincipal returns the issuer and subject of "<iss>/<sub>":
// the "iss" and "sub" claims when they spell it (a subject may hold "/"),
// otherwise the parts around its last "/", as Istio splits policy values.
func splitRequestPrincipal(rp string, claims map[string]any) (iss, sub string) {
	if rp == "" {
		return "", ""
	}
	ci, _ := claims["iss"].(string)
	cs, _ := claims["sub"].(string)
	if ci != "" && cs != "" && len(ci)+1+len(cs) == len(rp) &&
		strings.HasPrefix(rp, ci) && rp[len(ci)] == '/' && strings.HasSuffix(rp, cs) {
		return ci, cs
	}
	i := strings.LastIndexByte(rp, '/')
	if i < 0 {
		return rp, ""
	}
	return rp[:i], rp[i+1:]
}

// Handler returns middleware that decides each request with e and calls
// next for those allowed: a path that fails normalization gets 400, a
// denied request 403 with Envoy's body "RBAC: access denied", so that
// clients written for Istio see the same. enrich, when not nil, fills in
// what the request alone does not carry (the peer's SPIFFE ID, the client
// address behind trusted proxies, the JWT claims), usually from the
// request's context.
//
// Handler decides on the request as a Go router behind it will route it,
// and refuses what it cannot decide that way:
//
//   - a path with an empty segment ("//") gets 400: Decide merges the
//     slashes, but next receives the request unchanged, and routers that
//     do not merge them (http.ServeMux for CONNECT, chi, gorilla/mux with
//     SkipClean) route "/api//admin" to "/api/{tenant}/admin", a path
//     that Decide never saw ("/api/admin");
//   - when a policy matches hosts or notHosts, a Host with an upper-case
//     letter or a trailing dot gets 400: Decide compares hosts
//     case-insensitively and without the dot, but http.ServeMux and
//     gorilla/mux compare host patterns exactly, so "PUBLIC.example.com"
//     passed as the public host and was served by the host-less patterns
//     (ServeMux does not strip the port of a CONNECT request's Host, so
//     CONNECT with a port in the Host gets 400 too), and so does a Host
//     with more than one colon outside brackets, which gorilla/mux cuts
//     at the first ("internal.example.com:80:80" is its
//     "internal.example.com") while Decide compared it whole, and any
//     other Host not in CanonicalHost's form: ServeMux takes the
//     brackets off "[admin.example.com]:80" and routed it to the
//     admin.example.com patterns past a DENY of that host;
//   - a path with escapes of characters a segment may hold raw must be
//     allowed with them decoded too: http.ServeMux and gorilla/mux match
//     "/v1/jobs%2Bcancel" as "/v1/jobs+cancel", which Decide's DENY of
//     "/v1/jobs+cancel" did not see ("%2B" is the one Normalize keeps,
//     for S3's sake; it decodes ":", "@", "!", ..., so "/v1/jobs%3Acancel"
//     is Decide's "/v1/jobs:cancel" already; a policy that spells such a
//     character escaped denies both forms);
//   - a header that a policy reads (request.headers[...]) sent on more
//     than one line gets 400: Decide matches the lines joined with ",",
//     as Envoy does, but handlers read the first (r.Header.Get), so
//     "X-Tenant: evil" then "X-Tenant: good" was "evil,good" to a DENY
//     of "evil" and "evil" to the handler;
//   - a HEAD request is decided as HEAD and as GET, and passes only if
//     both are allowed: http.ServeMux (and chi's GetHead) run the GET
//     handler for HEAD, so a DENY of GET would otherwise not stop it;
//   - when r.URL.RawPath is set and differs from r.URL.EscapedPath(),
//     the request must be allowed with both paths: http.ServeMux and
//     gorilla/mux route on EscapedPath, chi on RawPath, and EscapedPath
//     ignores a RawPath holding a byte net/http would have escaped ("|",
//     "^", non-ASCII), so "/api/a%2Fb|/admin" was decided as
//     "/api/a/b%7C/admin" (no encoded slash, four segments) while chi
//     ran "/api/{tenant}/admin"; decided on RawPath, it gets 400.
//
// When policies read connection.sni, a TLS request whose Host is not
// the handshake's server name gets 421 Misdirected Request, as in `ward
// proxy`: Decide judges the server name, the router the Host, so a
// client that shook hands for public.example.com and asked for Host
// admin.example.com (domain fronting, or a browser's coalesced HTTP/2
// connection) passed a DENY of the admin SNI into ServeMux's admin
// patterns.
//
// When policies read the peer's or the client's address (ipBlocks,
// source.ip, remoteIpBlocks, remote.ip) and the request has none
// (Request.RemoteAddr is no IP address, as on a Unix socket, and enrich
// set none), Handler answers 400: no address matches a DENY of some, and
// every client passed one.
//
// When policies read the client address (remoteIpBlocks, remote.ip) and
// enrich leaves RemoteIP as RequestFromHTTP set it (the peer), Handler
// takes the address clientip's Handler stored in the context, if it
// ran, as ipallow's Filter does: decided on the peer, a trusted proxy,
// an internal-only remoteIpBlocks let in every client behind it. When
// enrich sets RemoteIP (or clientip stored) the invalid address, as
// clientip.FromContext returns for a client it could not read behind a
// trusted proxy (an
// unparseable or obfuscated forwarding header, such as a Forwarded value
// whose open quote swallows the hop the proxy appended), Handler answers
// 400: Decide would otherwise use SourceIP, the trusted proxy's own
// address, which an internal-only remoteIpBlocks allows.
//
// The identity middlewares must run before Handler too (guard.Chain
// lists them first), and enrich must copy what they established: with
// jwt's Handler after it, a request with a token reached Decide as
// anonymous, which a DENY of some request principals or claims does not
// match, and then passed the JWT check. So when policies read the JWT
// (request principals, claims, audiences, presenter) and a request
// carries a Bearer token (its scheme read as jwt reads it, so
// "Bearer<NBSP>x" counts) but enrich set no RequestPrincipal, or when
// policies read the peer's SPIFFE ID (principals, namespaces) and the
// peer presented a certificate with a spiffe:// URI but enrich set no
// SourcePrincipal, Handler answers 500: it cannot decide on an identity
// it was not given. So it does when policies read the token's claims
// (audiences and presenter included) and enrich set a RequestPrincipal
// but no Claims: a verified token has claims, and a DENY of a group
// would otherwise match nothing. A certificate that spiffeauth's Handler found
// unverified is no identity: the request is decided as anonymous.
//
// Handler decides on the request as next will see it, so anything that
// changes what a request means to next must run before Handler, not
// after: a method override (gorilla/handlers' HTTPMethodOverrideHandler,
// Echo's MethodOverride) placed after it let "POST" plus
// "X-HTTP-Method-Override: DELETE" through a DENY of DELETE. So a POST
// that names another method in X-HTTP-Method-Override, X-HTTP-Method or
// X-Method-Override, or in the query parameter "_method", must be
// allowed as that method too (an override before Handler already set
// it), in every reading an override may run: the value as sent (Echo's
// MethodOverride and Buffalo's set r.Method to it, so "get" ran as a
// method that an ALLOW of GET does not allow), each element of a
// comma-separated list trimmed (Express's takes the first), in upper
// case, and with the letters that strings.EqualFold takes for ASCII
// ones folded to them (the Kelvin sign in "LOCK"); on r.URL.RawPath
// too, as the request itself; more than 32 distinct override methods
// get 400. A "_method" field in a form body, which FormValue also reads,
// went unseen, and "_method=DELETE" as the body of a POST ran the DELETE
// handler: when policies read the method and a POST is not allowed as
// any method (as each method the policies name exactly, each registered
// one, and one named nowhere; always, when a policy matches methods by
// prefix or suffix), Handler reads its urlencoded or multipart body (up
// to MaxFormBody, put back whole for next; and the form a middleware
// before it parsed, as gorilla/csrf does, since FormValue then reads
// r.Form) and decides it as each method
// its "_method" fields name too (in each reading); a
// larger form body is refused with 413 (ErrFormBodyTooLarge), one it
// cannot read as net/http would with 400 (ErrFormBodyUnreadable).
// Options.FormBodiesUnread, for an application with no such override
// or with it before Handler, leaves form bodies unread. `ward proxy`,
// which cannot know its upstream's code, refuses such requests instead
// (docs/proxy.md).
//
// So with bearer tokens: jwt's Middleware verifies the Authorization
// header's only, and an application that also reads an "access_token"
// query parameter or form field (RFC 6750 2.2, 2.3; go-oauth2's
// BearerAuth reads FormValue("access_token")) acted as a principal that
// the policies judged anonymous, past a DENY of it. When policies read
// the JWT, Handler refuses with 400 (ErrTokenOutsideHeader) a request
// with an "access_token" in its query, or in its form body (read as
// above, unless Options.FormBodiesUnread; of any method, since FormValue
// reads a multipart body whatever the method; not when enrich set a
// RequestPrincipal and the one Authorization header starts "Bearer "
// exactly, which go-oauth2 reads before the form, while jwt verifies
// "bearer x" too, for which BearerAuth took the form's token), or
// offering a WebSocket subprotocol "base64url.bearer.authorization.k8s.io.<token>"
// (how Kubernetes' clients send a token a browser cannot put in a header);
// and, when enrich set no RequestPrincipal, one whose Authorization uses
// the DPoP scheme (RFC 9449; ErrDPoPToken): jwt passes it on as anonymous,
// an application that accepts DPoP-bound tokens acts on its subject.
func (e *Engine) Handler(enrich func(*http.Request, *Request), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := RequestFromHTTP(r)
		peer := q.RemoteIP
		if enrich != nil {
			enrich(r, q)
		}
		if e.remoteRules && q.RemoteIP == peer {
			// enrich left the peer: use the client address that
			// clientip's Handler resolved, if it ran, as ipallow does;
			// the peer is then a trusted proxy.
			if a, ok := clientip.FromContext(r.Context()); ok {
				q.RemoteIP = a
			}
		}
		if err := e.identitiesMissing(r, q); err != nil {
			auditctx.Deny(r.Context(), "authz", err.Error())
			http.Error(w, "authorization: identity not established", http.StatusInternalServerError)
			return
		}
		if e.sniRules && Misdirected(r) {
			// Domain fronting: the policies would judge the server
			// name of the handshake, the router the Host.
			auditctx.Deny(r.Context(), "authz", "TLS server name (SNI) is not the Host, and a policy reads connection.sni")
			http.Error(w, "misdirected request", http.StatusMisdirectedRequest)
			return
		}
		if e.remoteRules && !q.RemoteIP.IsValid() && q.SourceIP.IsValid() {
			// RequestFromHTTP set RemoteIP to the peer: enrich cleared
			// it, for a client that clientip could not read behind a
			// trusted proxy. Decide would take the proxy for the client.
			auditctx.Deny(r.Context(), "authz", "client address unknown behind a trusted proxy, and a policy reads it")
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if e.remoteRules && !q.RemoteIP.IsValid() || e.sourceRules && !q.SourceIP.IsValid() {
			// No address at all (a Unix socket's RemoteAddr "@", as
			// behind a local nginx): no ipBlocks value matches it, so
			// a DENY of some addresses let every client in.
			auditctx.Deny(r.Context(), "authz", "client address unknown (RemoteAddr is no IP address), and a policy reads it")
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		raw := r.URL.RawPath
		if r.URL.Opaque != "" {
			raw = ""
		}
		d, err := e.decideHTTP(q, raw)
		status := http.StatusBadRequest // for err
		if err == nil && d.Allowed {
			// A method override after Handler (gorilla/handlers'
			// HTTPMethodOverrideHandler, Rack's, Laravel's) runs a POST
			// as the method it names: decide it as that method too.
			ms := overrideMethods(r)
			switch {
			case !e.tokenRules:
			case queryToken(r) || tokenSubprotocol(r.Header):
				d, err = Decision{Reason: ErrTokenOutsideHeader.Error(), Rule: -1}, ErrTokenOutsideHeader
			case q.RequestPrincipal == "" && dpopToken(r.Header):
				d, err = Decision{Reason: ErrDPoPToken.Error(), Rule: -1}, ErrDPoPToken
			}
			// One that reads the form body's "_method" (FormValue), or
			// a token from its "access_token" field: read the body,
			// and leave it whole for next.
			// Neither when no method could change the decision, nor
			// when jwt verified the header's token (a client sends one
			// token; go-oauth2 prefers the header's).
			// Any method's: FormValue reads a multipart body whatever
			// the method (ParseMultipartForm does not look at it), so
			// a GET or DELETE carried an access_token too.
			// A verified token is go-oauth2's only when its header
			// starts "Bearer " exactly: jwt verified "bearer x" too,
			// and BearerAuth passed it over for the form's token.
			readMethod := e.methodRules && r.Method == http.MethodPost && !e.allowedAsAny(q, raw)
			readToken := e.tokenRules && (q.RequestPrincipal == "" || !bearerHeaderFirst(r.Header))
			if err == nil && !e.formBodiesUnread && (readMethod || readToken) {
				f, r2, ferr := readFormFields(r)
				r = r2 // its body put back
				switch {
				case ferr != nil:
					d, err = Decision{Reason: ferr.Error(), Rule: -1}, ferr
					if errors.Is(ferr, ErrFormBodyTooLarge) {
						status = http.StatusRequestEntityTooLarge
					}
				case readToken && f.token:
					d, err = Decision{Reason: ErrTokenOutsideHeader.Error(), Rule: -1}, ErrTokenOutsideHeader
				case readMethod:
					for _, v := range f.methods {
						ms = addMethodReadings(ms, v)
					}
				}
			}
			if err == nil && len(ms) > maxOverrideMethods {
				d, err = Decision{Reason: errTooManyOverrides.Error(), Rule: -1}, errTooManyOverrides
			}
			for _, m := range ms {
				if err != nil {
					break
				}
				if m == q.Method {
					continue // overridden before Handler already
				}
				oq := *q
				oq.Method = m
				if od, oerr := e.decideHTTP(&oq, raw); oerr != nil || !od.Allowed {
					od.Reason = "method override decided as " + m + ": " + od.Reason
					d, err = od, oerr
					break
				}
			}
		}
		if rec := auditctx.From(r.Context()); rec != nil {
			// audit's Handler is in front: record the decision, or
			// every request refused here was logged as allowed.
			rec.Record(decisionName(d.Allowed && err == nil), e.ruleName(d.Policy), d.Reason, d.Audited)
		}
		switch {
		case err != nil && status == http.StatusRequestEntityTooLarge:
			http.Error(w, "request body too large", status)
		case err != nil, d.PathError != nil:
			http.Error(w, "bad request", http.StatusBadRequest)
		case !d.Allowed:
			http.Error(w, "RBAC: access denied", http.StatusForbidden)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// decideHTTP is decideRouted for a request whose r.URL.RawPath is raw
// ("" for none): chi routes on RawPath, which EscapedPath (q.Path)
// ignores when it holds a byte net/http would have escaped, so q must be
// allowed on it too. The method overrides are decided so as well: a
// POST to "/files/x%2By|" naming DELETE was decided on
// "/files/x+y%7C" only, which a DENY of DELETE on "/files/x%2By*" does
// not match, and chi ran the DELETE that the same request sent as
// DELETE was refused.
func (e *Engine) decideHTTP(q *Request, raw string) (Decision, error) {
	d, err := e.decideRouted(q)
	if err == nil && d.Allowed && raw != "" && raw != q.Path {
		rq := *q
		rq.Path = raw
		d, err = e.decideRouted(&rq)
	}
	return d, err
}

// allowedAsAny reports whether q (with r.URL.RawPath raw) would be
// allowed whatever method it named: as each of e.overrideMethods.
func (e *Engine) allowedAsAny(q *Request, raw string) bool {
	if e.overrideMethods == nil {
		return false
	}
	for _, m := range e.overrideMethods {
		oq := *q
		oq.Method = m
		if d, err := e.decideHTTP(&oq, raw); err != nil || !d.Allowed {
			return false
		}
	}
	return true
}

// queryToken reports whether r's query has an "access_token" parameter
// (in any case, split at ';' too) with a value: RFC 6750 2.3's bearer
// token, which applications read with FormValue and jwt never verifies.
func queryToken(r *http.Request) bool {
	found := false
	if r.URL != nil && r.URL.RawQuery != "" {
		addPairs(r.URL.RawQuery, func(k, v string) {
			found = found || strings.EqualFold(k, "access_token") && strings.TrimSpace(v) != ""
		})
	}
	return found
}

// dpopToken reports whether an Authorization header uses the DPoP scheme
// (RFC 9449): a JWT access token that jwt, which verifies Bearer tokens,
// passes on as anonymous.
func dpopToken(h http.Header) bool {
	for _, v := range h.Values("Authorization") {
		if strings.EqualFold(v[:schemeLen(v)], "DPoP") {
			return true
		}
	}
	return false
}

// subprotocolToken is how a WebSocket client that cannot set headers
// (a browser) offers a bearer token to the Kubernetes API server, and to
// servers written like it: as a subprotocol,
// base64url.bearer.authorization.k8s.io.<token>.
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

// overrideHeaders are the headers that method override middlewares read
// a POST's real method from: X-HTTP-Method-Override (gorilla/handlers,
// Echo, Rack, Laravel, Express's method-override), X-HTTP-Method
// (Microsoft's) and X-Method-Override.
var overrideHeaders = [...]string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// overrideMethods returns the methods that a method override middleware
// may run a POST request as (see addMethodReadings): from the values of
// overrideHeaders, and of the query parameter "_method" in any case
// (gorilla/handlers reads it with FormValue, which also reads a form
// body: see readFormFields).
func overrideMethods(r *http.Request) []string {
	if r.Method != http.MethodPost {
		return nil
	}
	var ms []string
	add := func(v string) { ms = addMethodReadings(ms, v) }
	for _, h := range overrideHeaders {
		for _, v := range r.Header[h] {
			add(v)
		}
	}
	if r.URL != nil && r.URL.RawQuery != "" {
		// Parse errors aside: FormValue reads the pairs that parse.
		// ';' separates pairs too: net/http's AllowQuerySemicolons,
		// wrapped around the override inside Handler, turns
		// "?a=1;_method=DELETE" (a pair ParseQuery skips) into the
		// "_method=DELETE" that FormValue reads.
		addPairs(r.URL.RawQuery, func(k, v string) {
			if strings.EqualFold(k, "_method") {
				add(v)
			}
		})
	}
	return ms
}

// addMethodReadings adds to ms, once each, the methods that an override
// middleware may run for the override value v: v as it is (Echo's
// MethodOverride and Buffalo's set r.Method to it, so "get" or
// "PUT, PATCH" is a method no policy names, which an ALLOW of GET does
// not allow), and each element of a comma-separated list (Express's
// method-override takes the first of "DELETE, PUT"), trimmed, as it is,
// in upper case (Revel's strings.ToUpper) and with the letters that
// strings.EqualFold takes for ASCII ones folded to them (the Kelvin sign
// of "LOCK" is EqualFold's "K", not ToUpper's).
// It adds none beyond maxOverrideMethods+1, which Handler refuses: a
// header or form body of thousands of names would be decided thousands
// of times.
func addMethodReadings(ms []string, v string) []string {
	add := func(m string) {
		if m != "" && len(ms) <= maxOverrideMethods && !slices.Contains(ms, m) {
			ms = append(ms, m)
		}
	}
	add(v)
	for e := range strings.SplitSeq(v, ",") {
		if len(ms) > maxOverrideMethods {
			break
		}
		e = strings.TrimSpace(e)
		add(e)
		add(strings.ToUpper(e))
		add(foldASCII(e))
	}
	return ms
}

// maxOverrideMethods is the number of distinct override methods (see
// addMethodReadings) that Handler decides a request as: more get 400
// (errTooManyOverrides). A client names one method, in one or two
// spellings.
const maxOverrideMethods = 32

var errTooManyOverrides = fmt.Errorf("more than %d distinct method override values (X-HTTP-Method-Override, _method)", maxOverrideMethods)

// foldASCII returns s in upper case with each non-ASCII letter whose
// case folding orbit (unicode.SimpleFold, as strings.EqualFold compares)
// holds an ASCII letter replaced by it: "ſ" is "S", the Kelvin sign "K".
func foldASCII(s string) string {
	return strings.Map(func(c rune) rune {
		for f := unicode.SimpleFold(c); c >= utf8.RuneSelf && f != c; f = unicode.SimpleFold(f) {
			if f < utf8.RuneSelf {
				c = f
				break
			}
		}
		return unicode.ToUpper(c)
	}, s)
}

// bearerHeaderFirst reports whether an application that reads a bearer
// token from the Authorization header, else from an "access_token" form
// field, reads the header's: go-oauth2's BearerAuth does when the
// header starts "Bearer " exactly; jwt also verifies "bearer x" and
// "BEARER x", for which BearerAuth took the form body's token.
func bearerHeaderFirst(h http.Header) bool {
	v := h.Values("Authorization")
	return len(v) == 1 && strings.HasPrefix(v[0], "Bearer ")
}

// decisionName is the audit log's name of a decision.
func decisionName(allowed bool) string {
	if allowed {
		return "allow"
	}
	return "deny"
}

// ruleName is the audit log's rule of a decision by policy ("authz/"
// and its name, built at Compile), or "authz" when no policy decided.
func (e *Engine) ruleName(policy string) string {
	if n, ok := e.ruleNames[policy]; ok {
		return n
	}
	return "authz"
}

// Errors of Handler, which refuses these requests with 400 where Decide
// would decide on another reading of the request than a Go router's.
var (
	// ErrEmptySegment is an empty path segment ("//"): Decide merges the
	// slashes, the router behind Handler sees them as sent.
	ErrEmptySegment = errors.New("empty path segment (//) in path")
	// ErrHostCase is a Host not in CanonicalHost's form (an upper-case
	// letter, a trailing dot, more than one colon outside brackets, a
	// name or IPv4 address in brackets, an IPv6 address not in its RFC
	// 5952 form, ...), or a CONNECT request's Host with a port, when a
	// policy matches hosts: Decide compares hosts case-insensitively,
	// without the dot and the port, http.ServeMux's host patterns
	// exactly (and with the port for CONNECT) once net.SplitHostPort
	// took the port and any brackets off, gorilla/mux up to the first
	// colon.
	ErrHostCase = errors.New("host not in canonical form (upper-case letters, a trailing dot, brackets, colons beyond a port, ...) or (CONNECT) with a port")
	// ErrRepeatedHeader is a header that a policy reads (request.headers)
	// sent on more than one line: Decide matches the lines joined with
	// ",", as Envoy does, handlers read the first (r.Header.Get), so
	// "X-Tenant: evil" then "X-Tenant: good" escaped a DENY of "evil".
	ErrRepeatedHeader = errors.New("header that a policy reads sent more than once")
)

// Errors of Handler for identities that policies read and that enrich did
// not fill in, a middleware order or enrich mistake (a 500).
var (
	ErrTokenNotVerified = errors.New("policies read the JWT, the request carries a bearer token, but no request principal was set: put jwt's Handler before authz and copy its claims in enrich")
	ErrPeerNotVerified  = errors.New("policies read the peer's SPIFFE ID, the peer presented one, but no source principal was set: put spiffeauth's Handler before authz and copy the ID in enrich")
	ErrClaimsNotSet     = errors.New("policies read the token's claims, enrich set a request principal but no claims: copy the claims (jwt's Claims.SharedMap) in enrich")
)

// identitiesMissing reports an identity that the policies read and that r
// carries but q lacks.
func (e *Engine) identitiesMissing(r *http.Request, q *Request) error {
	if e.tokenRules && q.RequestPrincipal == "" {
		for _, v := range r.Header.Values("Authorization") {
			// The scheme is the token the value starts with, as jwt's
			// Middleware reads it: "Bearer<NBSP>x" is a bearer
			// credential, malformed.
			if strings.EqualFold(v[:schemeLen(v)], "Bearer") {
				return ErrTokenNotVerified
			}
		}
	}
	if q.RequestPrincipal != "" && q.Claims == nil &&
		(e.claimRules || e.audienceRules && q.Audiences == nil || e.presenterRules && q.Presenter == "") {
		// A verified token always has claims: enrich copied the
		// principal alone, and a DENY of a claim would match nothing.
		return ErrClaimsNotSet
	}
	if e.peerRules && q.SourcePrincipal == "" && r.TLS != nil && len(r.TLS.PeerCertificates) > 0 && !peerUnverified(r) {
		for _, u := range r.TLS.PeerCertificates[0].URIs {
			if strings.EqualFold(u.Scheme, "spiffe") {
				return ErrPeerNotVerified
			}
		}
	}
	return nil
}

// peerUnverified reports whether spiffeauth ran and found that the
// peer's certificate does not verify: the request has no peer identity
// and is decided as anonymous, not refused as a middleware mistake.
func peerUnverified(r *http.Request) bool {
	_, ok := r.Context().Value(peerctx.Key{}).(peerctx.Unverified)
	return ok
}

// decideRouted is Decide for a request that is then passed on unchanged
// to a Go router. It returns an error, for a 400, for a path with "//"
// (rather than merging it), when policies match hosts for a Host that is
// not lower case or ends with a dot, and for a repeated header that
// policies read; a path with escaped delimiters (":", "@", "!", ...) must
// also be allowed with them decoded, as routers match it, and HEAD must
// also be allowed as GET, the handler http.ServeMux runs for it.
func (e *Engine) decideRouted(q *Request) (Decision, error) {
	p := q.Path
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if strings.Contains(p, "//") {
		return Decision{Reason: "path rejected: " + ErrEmptySegment.Error(), Rule: -1}, ErrEmptySegment
	}
	if e.hostRules && !routedHost(q.Host, q.Method != http.MethodConnect) {
		return Decision{Reason: "host rejected: " + ErrHostCase.Error(), Rule: -1}, ErrHostCase
	}
	for _, h := range e.headerRules {
		if len(q.Headers[h]) > 1 {
			return Decision{Reason: "header rejected: " + ErrRepeatedHeader.Error() + ": " + h, Rule: -1}, ErrRepeatedHeader
		}
	}
	d := e.Decide(q)
	if d.Allowed {
		if alt, ok := decodeDelims(q.Path); ok {
			// ServeMux and gorilla/mux match the decoded segments:
			// "/v1/jobs%3Acancel" is their "/v1/jobs:cancel".
			a := *q
			a.Path = alt
			if da := e.Decide(&a); !da.Allowed {
				da.Reason = "path decided decoded: " + da.Reason
				return da, nil
			}
		}
	}
	if !d.Allowed || q.Method != http.MethodHead {
		return d, nil
	}
	g := *q
	g.Method = http.MethodGet
	if dg, err := e.decideRouted(&g); err != nil || !dg.Allowed {
		dg.Reason = "HEAD decided as GET: " + dg.Reason
		return dg, err
	}
	return d, nil
}

// routedHost reports whether a Host is in CanonicalHost's form, with no
// port unless portOK, so that comparing it exactly, as http.ServeMux and
// gorilla/mux do, and as hostName does, agree. ServeMux strips the port,
// except for CONNECT, with net.SplitHostPort, which also takes the
// brackets off any name: "[admin.example.com]:80" was ServeMux's
// "admin.example.com" and hostName's "[admin.example.com]", past a DENY
// of the first. gorilla/mux strips everything from the first colon
// ("a.com:80:80" is "a.com"), hostName keeps such a value whole. An
// empty Host (HTTP/1.0) is routed by host-less patterns only.
func routedHost(host string, portOK bool) bool {
	if host == "" {
		return true
	}
	if c, ok := CanonicalHost(host); !ok || c != host {
		return false
	}
	return portOK || strings.LastIndexByte(host, ':') < strings.LastIndexByte(host, ']')+1
}

// decodeDelims decodes the escapes in an escaped path of the characters
// that a path segment may also hold raw (sub-delims, ":" and "@"), which
// http.ServeMux and gorilla/mux decode before matching; Normalize keeps
// "%2B" (and "%3B", which it refuses) escaped. ok is false when there is
// none.
func decodeDelims(p string) (string, bool) {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	var b strings.Builder
	found := false
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) && hexdigit.Is(p[i+1]) && hexdigit.Is(p[i+2]) {
			if c := hexdigit.Value(p[i+1])<<4 | hexdigit.Value(p[i+2]); pathChar(c) && !unreserved(c) && c != '/' {
				if !found {
					b.Grow(len(p))
					b.WriteString(p[:i])
					found = true
				}
				b.WriteByte(c)
				i += 2
				continue
			}
		}
		if found {
			b.WriteByte(p[i])
		}
	}
	return b.String(), found
}

// Misdirected reports whether a TLS request's Host names another server
// than its handshake's server name (SNI), compared as DNS names (case
// and a trailing dot aside, without the port); a handshake without a
// server name fits only a Host that is an IP address.
func Misdirected(r *http.Request) bool {
	if r.TLS == nil {
		return false
	}
	name := r.Host
	if strings.HasPrefix(name, "[") {
		return r.TLS.ServerName != "" // an IPv6 literal: no server name fits
	} else if i := strings.LastIndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	name = strings.TrimSuffix(name, ".")
	if r.TLS.ServerName == "" {
		_, err := netip.ParseAddr(name)
		return err != nil
	}
	return !strings.EqualFold(name, strings.TrimSuffix(r.TLS.ServerName, "."))
}

// schemeLen is the length of the RFC 9110 token that s starts with: an
// Authorization header's scheme.
func schemeLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return i
		}
	}
	return len(s)
}
