package clientip

import (
	"context"
	"net/http"
	"net/netip"
	"strings"

	"github.com/wardsec/ward/internal/reqstate"
)

type contextKey struct{}

// NewContext returns a copy of ctx that carries the client address a,
// which may be the invalid address (unknown).
func NewContext(ctx context.Context, a netip.Addr) context.Context {
	return context.WithValue(ctx, contextKey{}, a)
}

// FromContext returns the client address stored by [Resolver.Handler] or
// [NewContext]. ok reports whether one was stored at all; an unknown client
// is stored as the invalid address with ok true. Consumers that make
// security decisions must treat (invalid, true) as "unknown" and must not
// fall back to the peer address, which is then a trusted proxy.
func FromContext(ctx context.Context) (a netip.Addr, ok bool) {
	a, ok = ctx.Value(contextKey{}).(netip.Addr)
	return a, ok
}

// spoofable lists, lower case and with '-' for '_', the request headers
// that only a trusted proxy may set: the forwarding headers this package
// reads, the single-value client address headers some software reads
// instead, and the X-Forwarded-* family that describes the original
// request.
var spoofable = map[string]bool{
	"forwarded":                true,
	"x-forwarded-for":          true,
	"x-forwarded-host":         true,
	"x-forwarded-proto":        true,
	"x-forwarded-port":         true,
	"x-forwarded-prefix":       true,
	"x-forwarded-server":       true,
	"x-forwarded-ssl":          true,
	"x-forwarded-scheme":       true,
	"x-forwarded-uri":          true,
	"x-original-forwarded-for": true,
	"x-real-ip":                true,
	"x-client-ip":              true,
	"x-cluster-client-ip":      true,
	"true-client-ip":           true,
	"cf-connecting-ip":         true,
	"fastly-client-ip":         true,
	"do-connecting-ip":         true, // DigitalOcean App Platform; read by request-ip (npm)
	"x-appengine-user-ip":      true, // Google App Engine's front end
	// Client addresses too: the client-address code common in PHP
	// applications reads Client-IP before X-Forwarded-For, Rails'
	// RemoteIp reads it beside X-Forwarded-For, and django-ipware reads
	// all three when X-Forwarded-For holds no public address (a client
	// inside the cluster).
	"client-ip":     true,
	"x-forwarded":   true,
	"forwarded-for": true,
	// The original request's host, scheme and path as other proxies
	// pass them on: ASP.NET's forwarded headers middleware and Azure
	// keep the original Host in X-Original-Host; Rack reads
	// X-Url-Scheme... as the scheme where it reads X-Forwarded-Proto,
	// Microsoft's Front-End-Https says "https".
	"x-original-host":  true,
	"x-host":           true,
	"x-forwarded-path": true,
	"x-url-scheme":     true,
	"front-end-https":  true,
	"x-original-proto": true,
}

// isSpoofable reports whether the header name (any case, '_' or '-')
// names a header that only a trusted proxy may set: one listed, or any
// X-Forwarded-* (the family describes the original request; software
// reads more of it than any list holds). CGI-style gateways turn
// X_Forwarded_For into the same variable as X-Forwarded-For, so the
// underscore spelling counts too.
func isSpoofable(name string) bool {
	const prefix = "x-forwarded-"
	var buf [64]byte
	if len(name) > len(buf) {
		return len(name) > len(prefix) && strings.EqualFold(strings.ReplaceAll(name[:len(prefix)], "_", "-"), prefix)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		buf[i] = c
	}
	k := buf[:len(name)]
	if len(k) > len(prefix) && string(k[:len(prefix)]) == prefix {
		return true
	}
	return spoofable[string(k)] // no allocation for a map lookup
}

// Handler returns middleware that resolves the client address of each
// request, stores it in the request's context (see [FromContext]) and calls
// next with a copy of the request; the caller's request is never modified,
// except that a request state ([reqstate.Context], the audit log's) in its
// context receives the address in place instead of a copy.
//
// When the peer is not trusted, the copy also loses every header that only
// a trusted proxy may set (X-Forwarded-For, Forwarded, X-Real-IP,
// X-Forwarded-Host, X-Forwarded-Proto and relatives, in any case and with
// '_' for '-'), and those names are removed from its Connection header.
// The second step matters for proxies further on: a client that lists
// X-Forwarded-For in Connection asks every hop-by-hop-aware component to
// delete that header, and one that deletes after adding its own
// X-Forwarded-For (Traefik CVE-2024-45410, CVE-2021-32813) hands the next
// hop a request without it, which then takes the proxy for the client.
// Other Connection tokens (close, keep-alive, upgrade, custom headers) are
// left alone. Requests from trusted peers are passed on with their headers
// untouched: their forwarding headers are what a trusted proxy wrote.
//
// An unknown client is passed on as the invalid address; the handler never
// rejects a request itself, so that a later check decides how to treat it.
func (r *Resolver) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		next.ServeHTTP(w, r.prepare(req))
	})
}

// prepare returns the copy of req that Handler passes on.
func (r *Resolver) prepare(req *http.Request) *http.Request {
	peerTrusted := r.Trusted(PeerAddr(req))
	a := r.ClientIP(req)
	out := req
	if !reqstate.Set(req.Context(), contextKey{}, a) {
		out = req.WithContext(NewContext(req.Context(), a))
	}
	if !peerTrusted && needsScrub(req.Header) {
		if out == req {
			out = req.WithContext(req.Context()) // a shallow copy, as before
		}
		out.Header = scrub(req.Header)
	}
	return out
}

// needsScrub reports whether h holds a header an untrusted peer may not
// send, or a Connection header (under any spelling of the key: a request
// built in code need not use the canonical one) naming one.
func needsScrub(h http.Header) bool {
	for name, vs := range h {
		if isSpoofable(name) {
			return true
		}
		if !strings.EqualFold(name, "Connection") {
			continue
		}
		for _, line := range vs {
			for tok := range strings.SplitSeq(line, ",") {
				if isSpoofable(trimOWS(tok)) {
					return true
				}
			}
		}
	}
	return false
}

// scrub returns a copy of h without spoofable headers and without
// spoofable names in Connection.
func scrub(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for name, vs := range h {
		if isSpoofable(name) {
			continue
		}
		if strings.EqualFold(name, "Connection") {
			var kept []string
			for _, line := range vs {
				var toks []string
				for tok := range strings.SplitSeq(line, ",") {
					if t := trimOWS(tok); t != "" && !isSpoofable(t) {
						toks = append(toks, t)
					}
				}
				if len(toks) > 0 {
					kept = append(kept, strings.Join(toks, ", "))
				}
			}
			if len(kept) > 0 {
				out[name] = kept
			}
			continue
		}
		out[name] = append([]string(nil), vs...)
	}
	return out
}
