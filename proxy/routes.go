package proxy

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/wardsec/ward/guard/audit"
)

// checks builds, for configuration c (the top-level one, or that of the
// route named route), the checks that may differ per route in front of
// c's upstream: JWT, authorization, rate limit, WAF. With end set, the
// checks are built in front of end instead, without upstream or WAF
// (there is nothing for the WAF to protect): what a request no route
// matches goes through before its 404.
func (p *Proxy) checks(c *Config, route string, log *slog.Logger, end http.Handler) (_ http.Handler, err error) {
	// A rate limit a route inherits from the top level is one limiter for
	// every such route: counted per route, a client spreading its
	// requests over N routes would get N times the rate.
	limiter := route
	if route != "" && c.RateLimit != nil && c.RateLimit == p.cfg.RateLimit {
		limiter = ""
	}
	q := &Proxy{cfg: c, retired: p.retired, verifier: p.verifier, self: p.self, limiters: p.limiters, prev: p.prev, failures: p.failures, prevFailures: p.prevFailures, route: limiter}
	defer func() {
		p.closers = append(p.closers, q.closers...)
		p.files = append(p.files, q.files...)
		for _, w := range q.warnings {
			// Routes inheriting the top-level policies, and the
			// unrouted requests' checks, compile them each: one
			// warning is enough.
			if !slices.Contains(p.warnings, w) {
				p.warnings = append(p.warnings, w)
			}
		}
		if p.verifier == nil {
			p.verifier = q.verifier
		}
		if p.upstream == nil {
			p.upstream = q.upstream
		}
	}()
	h := end
	if h == nil {
		if h, err = q.buildUpstream(log); err != nil {
			return nil, err
		}
		if c.WAF != nil {
			// The WAF reads the body before the upstream step: the
			// minimum rate holds for its read too.
			if h, err = q.withWAF(h); err != nil {
				return nil, err
			}
			h = withBodyRate(minBodyRate(c.Upstream), h)
		}
	}
	if !q.limitsFirst() {
		if h, err = q.withRateLimit(h); err != nil {
			return nil, err
		}
	}
	if h, err = q.withAuthz(h); err != nil {
		return nil, err
	}
	if h, err = q.withJWT(h); err != nil {
		return nil, err
	}
	if q.limitsFirst() {
		return q.withRateLimit(h)
	}
	return h, nil
}

// routeHost is a host as routes compare it: lower case, without its
// port and one trailing dot; an IPv6 address keeps its brackets, with or
// without a port ("[::1]:8443" is "[::1]"), as a route's match.host
// names it. h is host[:port] in authz.CanonicalHost's form.
func routeHost(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[:i+1]
		}
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// route is a compiled Route.
type route struct {
	name         string
	host         string // lower case; "*.example.com" for subdomains; "" for any
	path, prefix string
	handler      http.Handler
}

func (rt *route) matches(host, path string) bool {
	switch {
	case rt.host == "":
	case strings.HasPrefix(rt.host, "*."):
		if !strings.HasSuffix(host, rt.host[1:]) || len(host) <= len(rt.host)-1 {
			return false
		}
	case host != rt.host:
		return false
	}
	if rt.path != "" {
		return path == rt.path
	}
	return strings.HasPrefix(path, rt.prefix)
}

// covers reports whether every request b matches is matched by a first,
// so that b can never match.
func (rt *route) covers(b *route) bool {
	a := rt
	hostOK := a.host == "" || a.host == b.host ||
		strings.HasPrefix(a.host, "*.") && b.host != "" && strings.HasSuffix(b.host, a.host[1:]) && len(b.host) > len(a.host)-1
	if !hostOK {
		return false
	}
	if a.path != "" {
		return b.path == a.path
	}
	return strings.HasPrefix(b.path+b.prefix, a.prefix)
}

// withRoutes dispatches each request to the first route that matches its
// host and (normalized) path, in file order, with the route's own
// checks, size limits and upstream. The path is forwarded unchanged.
//
// A request no route matches goes through the top-level checks (JWT,
// authorization, rate limit; the size limits) before its 404, as Istio's
// RequestAuthentication and AuthorizationPolicy apply at the workload
// before routing and Envoy's jwt_authn filter runs before its router: a
// 404 before them would tell an anonymous client which paths exist,
// where a routed request without credentials gets 401 or 403. Its audit
// record names no route.
func (p *Proxy) withRoutes(log *slog.Logger) (http.Handler, error) {
	routes := make([]*route, 0, len(p.cfg.Routes))
	for i := range p.cfg.Routes {
		r := &p.cfg.Routes[i]
		c := p.cfg.forRoute(r)
		h, err := p.checks(c, r.Name, log, nil)
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", r.Name, err)
		}
		rt := &route{name: r.Name, host: strings.ToLower(r.Match.Host), path: r.Match.Path, prefix: r.Match.Prefix, // canonical: canonicalMatch
			handler: withLimits(c.Limits, h)}
		for _, earlier := range routes {
			if earlier.covers(rt) {
				p.warnings = append(p.warnings, fmt.Sprintf("%s:%d: route %s can never match: route %s before it matches all its requests",
					p.cfg.file, p.cfg.lineOf(fmt.Sprintf("routes[%d]", i)), r.Name, earlier.name))
				break
			}
		}
		routes = append(routes, rt)
	}
	notFound, err := p.checks(p.cfg, "", log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deny(w, r, http.StatusNotFound, "route", "no route matches", "not found")
	}))
	if err != nil {
		return nil, err
	}
	notFound = withLimits(p.cfg.Limits, notFound)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := routeHost(r.Host)
		path := r.URL.EscapedPath()
		for _, rt := range routes {
			if rt.matches(host, path) {
				audit.Set(r.Context(), audit.Verdict{Route: rt.name})
				rt.handler.ServeHTTP(w, r)
				return
			}
		}
		notFound.ServeHTTP(w, r)
	}), nil
}
