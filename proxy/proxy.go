package proxy

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/redis/go-redis/v9"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/wardsec/ward/guard/audit"
	"github.com/wardsec/ward/guard/authz"
	"github.com/wardsec/ward/guard/clientip"
	"github.com/wardsec/ward/guard/harden"
	"github.com/wardsec/ward/guard/ipallow"
	"github.com/wardsec/ward/guard/jwt"
	"github.com/wardsec/ward/guard/ratelimit"
	"github.com/wardsec/ward/guard/spiffeauth"
	"github.com/wardsec/ward/guard/tlsconf"
	"github.com/wardsec/ward/guard/waf"
	"github.com/wardsec/ward/internal/regfile"
	"github.com/wardsec/ward/internal/reqstate"
	"github.com/wardsec/ward/istio"
)

// Proxy is a configuration turned into a handler chain, a listener TLS
// configuration and the state readiness depends on. Build a new one to
// reload; a Proxy does not change after New, but for being retired by
// one.
type Proxy struct {
	cfg *Config
	// retired is set when a reload replaces this Proxy (shared with its
	// routes' Proxies): a long request that reaches its upstream step
	// after that was in its checks during the reload, and is refused
	// rather than forwarded where the old configuration says.
	retired  *atomic.Bool
	upstream *httputil.ReverseProxy
	handler  http.Handler
	checked  http.Handler // the checks and upstream without the audit record: re-checks of tunnels (admitsAgain)
	tls      *tls.Config  // nil: plain HTTP
	verifier *jwt.Verifier
	self     x509svid.Source       // the listener's SVID, for X-Forwarded-Client-Cert
	peerOK   spiffeauth.Authorizer // the listener's admitted peer IDs; nil without SPIFFE
	bundles  x509bundle.Source     // the listener's trust bundles; nil without SPIFFE
	resolver *clientip.Resolver
	warnings []string
	closers  []func() error
	// files report whether the certificate, key and bundle files still
	// load (they are re-read when they change, and the last ones that
	// loaded stay in use when they do not): readiness fails while one
	// does not.
	files []func() error
	// limiters are the local rate limiters, by route name ("" at the
	// top level), shared with the routes' Proxies; prev are those of the
	// proxy this one replaces, kept where the settings did not change.
	limiters map[string]*localLimiter
	prev     map[string]*localLimiter
	// failures count, per client address, the requests the JWT check
	// refused, for a rate limit keyed by subject (see withJWT); by the
	// limit's settings, shared with the routes' Proxies.
	failures map[RateLimit]*ratelimit.Limiter
	// prevFailures are those of the proxy this one replaces: a reload
	// that keeps the limit's settings keeps its counts.
	prevFailures map[RateLimit]*ratelimit.Limiter
	route        string // the route whose checks this Proxy builds
}

// localLimiter is an in-process rate limiter and the settings it was
// built with.
type localLimiter struct {
	cfg   RateLimit
	check func(*http.Request) error
}

// Options are what a Proxy needs beyond its configuration.
type Options struct {
	// Log receives operational messages (never request secrets).
	Log *slog.Logger
	// Audit writes one record per request; nil means a logger that
	// discards them. A server keeps one across reloads, so that its
	// metrics stay registered once.
	Audit *audit.Logger
	// Previous is the proxy this one replaces (a reload): its rate
	// limiters' counts carry over where their settings are unchanged, so
	// that a reload does not hand every client a fresh burst.
	Previous *Proxy
}

// New builds a proxy from cfg. It fails, changing nothing, when a file
// does not load or a policy is malformed.
func New(cfg *Config, opts Options) (_ *Proxy, err error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	ownAudit := opts.Audit == nil
	if ownAudit {
		a, err := audit.New(io.Discard, nil)
		if err != nil {
			return nil, err
		}
		opts.Audit = a
	}
	p := &Proxy{cfg: cfg, retired: new(atomic.Bool), limiters: map[string]*localLimiter{}, failures: map[RateLimit]*ratelimit.Limiter{}}
	if opts.Previous != nil {
		p.prev, p.prevFailures = opts.Previous.limiters, opts.Previous.failures
	}
	defer func() {
		if err != nil {
			_ = p.Close()
		}
	}()
	if err := p.buildTLS(); err != nil {
		return nil, err
	}
	// Innermost first: the upstream, WAF (the costliest check runs last),
	// rate limit keyed by subject, authorization, JWT, any other rate
	// limit (these per route, with routes),
	// concurrency, allowlist, identity, canonical request, limits,
	// client IP, headers, audit, recovery.
	var h http.Handler
	if len(cfg.Routes) == 0 {
		h, err = p.checks(cfg, "", opts.Log, nil)
	} else {
		h, err = p.withRoutes(opts.Log)
	}
	if err != nil {
		return nil, err
	}
	if cfg.MaxConcurrency > 0 {
		h = withConcurrency(ratelimit.NewConcurrency(ratelimit.ConcurrencyConfig{Max: cfg.MaxConcurrency}), h)
	}
	if h, err = p.withAllowlist(h); err != nil {
		return nil, err
	}
	if cfg.TLS != nil && cfg.TLS.SPIFFE != nil {
		next := h
		peerOK := p.peerOK
		h = spiffeauth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, ok := spiffeauth.FromContext(r.Context())
			if ok {
				audit.Set(r.Context(), audit.Verdict{Principal: id.String(), Peer: id.String()})
			}
			// (Checked first: spiffeauth gives such a peer no ID, and
			// the record says why.) SPIFFE revokes by letting short-lived SVIDs expire: a
			// connection kept alive past its peer's SVID must not
			// outlive it.
			if peerExpired(r.TLS) {
				w.Header().Set("Connection", "close")
				deny(w, r, http.StatusForbidden, "spiffe", "peer certificate expired since the handshake", "forbidden")
				return
			}
			// Nor a trust bundle that no longer holds its CA.
			if !p.chainTrusted(r.TLS, peerStateOf(r.Context())) {
				w.Header().Set("Connection", "close")
				deny(w, r, http.StatusForbidden, "spiffe", "peer certificate no longer verifies against the trust bundle", "forbidden")
				return
			}
			// The handshake admitted the peer under the configuration of
			// its time; a connection kept alive across a reload is held
			// to the current one.
			if !ok || peerOK(id) != nil {
				w.Header().Set("Connection", "close")
				deny(w, r, http.StatusForbidden, "spiffe", "peer SPIFFE ID no longer admitted", "forbidden")
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
	if len(cfg.Routes) == 0 {
		// Inside the canonical step, as with routes: maxURLBytes
		// measures the target as forwarded, escaped ("/é" is
		// "/%C3%A9"), not as sent, which let a target three times
		// the limit reach the upstream.
		h = withLimits(cfg.Limits, h)
	}
	h = p.withCanonicalRequest(h)
	// The client address first: a request refused for its form or size
	// is recorded with who sent it (an audit record without a client
	// could not be judged, nor its sender found).
	if h, err = p.withClientIP(h); err != nil {
		return nil, err
	}
	p.checked = h
	h = harden.Headers(h)
	// A client's own X-Request-Id is kept only from a trusted proxy. A
	// shared logger (a Server's) is told when this proxy goes live, not
	// here: a refused reload must not change it.
	if ownAudit {
		opts.Audit.SetTrustRequestID(p.TrustedPeer)
	}
	h = opts.Audit.Handler(h)
	p.handler = harden.Recover(opts.Log, h)
	return p, nil
}

// Handler returns the request handler: every check, then the upstream.
func (p *Proxy) Handler() http.Handler { return p.handler }

// TLSConfig returns the listener's TLS configuration, nil for plain HTTP.
func (p *Proxy) TLSConfig() *tls.Config { return p.tls }

// Warnings are non-fatal remarks on the configuration (policies that
// cannot apply, say).
func (p *Proxy) Warnings() []string { return p.warnings }

// TrustedPeer reports whether r's immediate peer is a trusted proxy
// (clientIP.trustedProxies), whose own X-Request-Id may be kept.
func (p *Proxy) TrustedPeer(r *http.Request) bool {
	return p.resolver.Trusted(clientip.PeerAddr(r))
}

// admits reports whether the listener's configuration admits the peer of
// a TLS connection: always without SPIFFE (no client certificate is
// asked), else when its SPIFFE ID is allowed.
func (p *Proxy) admits(cs tls.ConnectionState) bool {
	if p.peerOK == nil {
		return true
	}
	if len(cs.PeerCertificates) == 0 {
		return false
	}
	id, err := x509svid.IDFromCert(cs.PeerCertificates[0])
	return err == nil && p.peerOK(id) == nil
}

// peerClockAhead moves the clock peer certificates are checked with
// ahead, in nanoseconds (for tests).
var peerClockAhead atomic.Int64

func peerNow() time.Time { return time.Now().Add(time.Duration(peerClockAhead.Load())) }

// peerExpired reports whether a certificate of the TLS peer's chain has
// expired (the handshake checked them; a kept-alive connection outlives
// that).
func peerExpired(cs *tls.ConnectionState) bool {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return false
	}
	now := peerNow()
	for _, c := range cs.PeerCertificates {
		if now.After(c.NotAfter) {
			return true
		}
	}
	return false
}

// peerState caches, per client connection, whether its peer's chain
// verifies against a trust bundle (by identity: a rotated bundle is a new
// one), so that a chain is verified again only when the bundle changes.
type peerState struct {
	mu     sync.Mutex
	bundle *x509bundle.Bundle
	ok     bool
}

type peerStateKey struct{}

// peerStateOf returns the peerState of ctx's connection, nil without one.
func peerStateOf(ctx context.Context) *peerState {
	st, _ := ctx.Value(peerStateKey{}).(*peerState)
	return st
}

// chainTrusted reports whether the TLS peer's certificate chain verifies
// against the listener's current trust bundle (the handshake verified it
// against the bundle of its time). Always true without SPIFFE; st (may be
// nil: verify every time) caches the answer per bundle.
func (p *Proxy) chainTrusted(cs *tls.ConnectionState, st *peerState) bool {
	if p.bundles == nil {
		return true
	}
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return false
	}
	id, err := x509svid.IDFromCert(cs.PeerCertificates[0])
	if err != nil {
		return false
	}
	b, err := p.bundles.GetX509BundleForTrustDomain(id.TrustDomain())
	if err != nil {
		return false
	}
	if st != nil {
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.bundle == b {
			return st.ok
		}
	}
	_, _, err = x509svid.Verify(cs.PeerCertificates, b)
	if st != nil {
		st.bundle, st.ok = b, err == nil
	}
	return err == nil
}

// Ready reports whether the proxy can decide requests: its certificate,
// key and trust bundle files load, and JWT keys were fetched.
func (p *Proxy) Ready(ctx context.Context) error {
	var errs []error
	for _, f := range p.files {
		errs = append(errs, f())
	}
	if p.verifier != nil {
		errs = append(errs, p.verifier.Refresh(ctx))
	}
	return errors.Join(errs...)
}

// Close releases what New opened (Redis connections).
func (p *Proxy) Close() error {
	var errs []error
	for _, c := range p.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// workloadAPITimeout bounds the wait for the first SVID from the Workload
// API (a variable for tests).
var workloadAPITimeout = 10 * time.Second

// svidSource is where an SVID and its trust bundle come from.
type svidSource interface {
	x509svid.Source
	x509bundle.Source
}

func (p *Proxy) spiffeSource(s *SPIFFE) (svidSource, spiffeauth.Authorizer, error) {
	var src svidSource
	if s.Socket != "" {
		// The Workload API streams rotations; the first SVID must come
		// within the timeout or the configuration is refused.
		ctx, cancel := context.WithTimeout(context.Background(), workloadAPITimeout)
		defer cancel()
		ws, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr(s.Socket)))
		if err != nil {
			return nil, nil, fmt.Errorf("workload API %s: %w", s.Socket, err)
		}
		p.closers = append(p.closers, ws.Close)
		src = ws
	} else {
		fs, err := spiffeauth.NewFileSource(p.cfg.Path(s.SVID), p.cfg.Path(s.Key), p.cfg.Path(s.Bundle))
		if err != nil {
			return nil, nil, err
		}
		// A rotation whose files do not load kept the previous SVID and
		// bundle (a CA meant to be removed included) without a word.
		p.files = append(p.files, func() error {
			_, _ = fs.GetX509SVID() // re-reads files that changed
			return fs.Err()
		})
		src = fs
	}
	var pats []spiffeauth.Pattern
	for _, a := range s.Allow {
		pat, err := spiffeauth.ParsePattern(a)
		if err != nil {
			return nil, nil, err
		}
		pats = append(pats, pat)
	}
	return src, spiffeauth.AllowPatterns(pats...), nil
}

func (p *Proxy) buildTLS() error {
	t := p.cfg.TLS
	if t == nil {
		return nil
	}
	prof, err := tlsconf.ParseProfile(t.Profile)
	if err != nil {
		return err
	}
	if t.SPIFFE != nil {
		src, authz, err := p.spiffeSource(t.SPIFFE)
		if err != nil {
			return fmt.Errorf("tls.spiffe: %w", err)
		}
		p.tls = spiffeauth.ServerConfig(prof, src, src, authz)
		p.self, p.peerOK, p.bundles = src, authz, src
		return nil
	}
	kp, err := tlsconf.LoadKeyPair(p.cfg.Path(t.Cert), p.cfg.Path(t.Key))
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	p.files = append(p.files, func() error {
		kp.Certificate() // re-reads files that changed
		return kp.Err()
	})
	p.tls = tlsconf.Server(prof, kp.GetCertificate)
	return nil
}

func (p *Proxy) buildUpstream(log *slog.Logger) (http.Handler, error) {
	target, err := url.Parse(p.cfg.Upstream.URL)
	if err != nil {
		return nil, err
	}
	u := p.cfg.Upstream
	connect := u.ConnectTimeout.or(defaultConnectTimeout)
	maxHeader := u.MaxResponseHeaderBytes
	if maxHeader <= 0 {
		maxHeader = defaultMaxResponseHeaderBytes
	}
	tr := &http.Transport{
		// Idle connections to the upstream close with the proxy.
		Proxy:                 nil, // never an environment proxy: the upstream is local
		DialContext:           dialIdle(&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}, u.IdleTimeout.or(defaultIdleTimeout)),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: u.ResponseHeaderTimeout.or(defaultResponseHeaderTimeout),
		ExpectContinueTimeout: time.Second,
		// Past it the exchange fails (502, an upstream error), instead of
		// Go's default of 10 MiB buffered per request.
		MaxResponseHeaderBytes: maxHeader,
	}
	var roots map[[sha256.Size]byte]struct{}
	var trust *spiffeTrust
	switch {
	case u.SPIFFE != nil:
		// Marked closed before its source is (a closer added first).
		trust = &spiffeTrust{}
		p.closers = append(p.closers, func() error { trust.closed.Store(true); return nil })
		src, authz, err := p.spiffeSource(u.SPIFFE)
		if err != nil {
			return nil, fmt.Errorf("upstream.spiffe: %w", err)
		}
		tr.TLSClientConfig = spiffeauth.ClientConfig(tlsconf.Intermediate, src, src, authz)
		trust.src = src
		for _, a := range u.SPIFFE.Allow {
			if pat, err := spiffeauth.ParsePattern(a); err == nil && !slices.Contains(trust.tds, pat.TrustDomain()) {
				trust.tds = append(trust.tds, pat.TrustDomain())
			}
		}
	case target.Scheme == "https":
		c := tlsconf.Client(tlsconf.Intermediate)
		if u.CA != "" {
			caPEM, err := regfile.Read(p.cfg.Path(u.CA), 0)
			if err != nil {
				return nil, fmt.Errorf("upstream.ca: %w", err)
			}
			pool, fps := caPool(caPEM)
			if len(fps) == 0 {
				return nil, fmt.Errorf("upstream.ca: %s holds no PEM certificate", u.CA)
			}
			c.RootCAs, roots = pool, fps
		}
		tr.TLSClientConfig = c
	}
	p.closers = append(p.closers, func() error { tr.CloseIdleConnections(); return nil })
	strip := p.cfg.JWT != nil
	var claimHeaders []ClaimToHeader
	if p.cfg.JWT != nil {
		claimHeaders = p.cfg.JWT.OutputClaimToHeaders
	}
	rp := &httputil.ReverseProxy{
		// Reused copy buffers: ReverseProxy allocates 32 KiB per request
		// without a pool, which dominated the proxy's garbage.
		BufferPool: bufferPool{},
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // canonical: withCanonicalRequest
			// Request trailers arrive after every check has run: no
			// policy, identity-header rule or WAF saw them, and some
			// servers merge them into the header section. None is
			// forwarded. (The outbound request's trailer map is a copy
			// of the inbound one: a check that read the body to its end
			// first, as the WAF does, had filled it in.)
			pr.Out.Trailer = nil
			p.setForwarded(pr.Out.Header, pr.In, claimHeaders, strip)
			if hasBody(pr.In) && !bodyMethod(pr.In.Method) {
				// A body on a method whose content has no defined
				// semantics (a GET body limits.allowGetBody lets
				// through, an OPTIONS, a DELETE): many upstream
				// handlers ignore it and read it as the next request on
				// the connection. The upstream connection closes after
				// this exchange, so that the response to that request
				// answers no other client: left in the pool, the
				// connection gave it to the next request sent on it
				// (response-queue poisoning). An upstream that honours
				// Connection: close runs no request after this one. (For
				// GET it may still have: hence the default of refusing
				// GET bodies.)
				pr.Out.Close = true
			}
			if pr.Out.Body != nil && pr.Out.Body != http.NoBody {
				// The body the upstream reads is the one scanned for
				// method overrides (and, with jwt, bearer tokens),
				// after the WAF's replay if any.
				if kind, boundary, err := formBody(pr.Out.Header); err != nil {
					pr.Out.Body = failedBody{pr.Out.Body, err} // refused by withCanonicalRequest already
				} else if kind != notForm {
					pr.Out.Body = newOverrideScanner(pr.Out.Body, kind, boundary, strip && kind != jsonForm)
				}
			}
		},
		Transport:      tr,
		ModifyResponse: switchedProtocols,
		// FlushInterval 0: ReverseProxy flushes streaming responses
		// (server-sent events, unknown length) at once by itself; flushing
		// every write would cost a TLS record and a syscall per write.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &tooLarge):
				// A body without Content-Length (chunked) over the limit.
				deny(w, r, http.StatusRequestEntityTooLarge, "limits", fmt.Sprintf("request body over %d bytes", tooLarge.Limit), "request body too large")
				return
			case errors.Is(err, errTokenBody):
				// As a token in the query (withJWT).
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_request"`)
				deny(w, r, http.StatusBadRequest, "jwt", err.Error(), "bad request")
				return
			case errors.Is(err, errMethodOverrideBody) || errors.Is(err, errFormBodyUnreadable) || errors.Is(err, errFormType):
				deny(w, r, http.StatusBadRequest, "request", err.Error(), "bad request")
				return
			case streamEnded(r.Context()) == outcomeRefusedOnReload:
				// Before the upstream answered (connSet.closeRefused).
				deny(w, r, http.StatusForbidden, "reload", "refused by the configuration reloaded while in flight", "forbidden")
				return
			case streamEnded(r.Context()) == outcomeMaxConnectionAge:
				// Before the upstream answered (connSet.reap).
				w.Header().Set("Connection", "close")
				http.Error(w, "service unavailable", http.StatusServiceUnavailable)
				return
			case streamEnded(r.Context()) == outcomeTokenExpired:
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			case streamEnded(r.Context()) == outcomeUpstreamUntrusted:
				http.Error(w, "bad gateway", http.StatusBadGateway)
				return
			case bodyTooSlow(r):
				audit.Set(r.Context(), audit.Verdict{Outcome: "request body too slow"})
				http.Error(w, "request timeout", http.StatusRequestTimeout)
				return
			case bodyFailed(r) && !routeTimedOut(r.Context()),
				errors.Is(r.Context().Err(), context.Canceled) && !routeTimedOut(r.Context()):
				// Reading the client's body failed (a stream reset, more
				// DATA than its Content-Length): the client's doing, even
				// when its context is not canceled yet.
				// The client hung up: nginx's 499, not an upstream error.
				// (The route timeout of an upgrade request not yet
				// switched cancels its context too.)
				audit.Set(r.Context(), audit.Verdict{Outcome: "client closed"})
				w.WriteHeader(statusClientClosed)
				return
			case isTimeoutErr(err) || routeTimedOut(r.Context()):
				log.Warn("upstream timeout", "method", r.Method, "path", r.URL.Path, "err", err)
				audit.Set(r.Context(), audit.Verdict{Outcome: "upstream timeout"})
				http.Error(w, "gateway timeout", http.StatusGatewayTimeout)
				return
			}
			log.Warn("upstream error", "method", r.Method, "path", r.URL.Path, "err", err)
			audit.Set(r.Context(), audit.Verdict{Outcome: "upstream error"})
			http.Error(w, "bad gateway", http.StatusBadGateway)
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	p.upstream = rp
	id := upstreamID(target, u, roots)
	id.spiffe = trust
	return withRecheckStop(id, withUpstreamTimeouts(u.Timeout.or(defaultRouteTimeout), minBodyRate(u), id, p.retired, withHintsKept(rp))), nil
}

// upstreamRef names where and how requests are forwarded: the URL and
// SPIFFE settings, and the CA certificates of upstream.ca that verify
// the upstream. A tunnel or stream is checked again on a reload against
// it.
type upstreamRef struct {
	where string
	// roots are the SHA-256 sums of the CA certificates of upstream.ca;
	// nil without one (the system roots). With SPIFFE, those of the
	// trust bundle's authorities when a tunnel or stream was opened
	// (opened); nil in the upstream step's own.
	roots map[[sha256.Size]byte]struct{}
	// spiffe is the trust bundle of upstream.spiffe; nil without it.
	spiffe *spiffeTrust
}

// spiffeTrust is the trust bundle that verifies a SPIFFE upstream: the
// bundles of the trust domains of upstream.spiffe.allow, from its source
// (files reloaded when they change, or the Workload API).
type spiffeTrust struct {
	src x509bundle.Source
	tds []spiffeid.TrustDomain
	// closed is set when the Proxy that built it closes (its source
	// with it, a minute after a reload).
	closed atomic.Bool

	// The sums of the last bundles read: a source returns the same
	// *Bundle until it changes, and the reaper asks for every tunnel
	// every 100 ms.
	mu      sync.Mutex
	bundles []*x509bundle.Bundle
	sums    map[[sha256.Size]byte]struct{}
}

// roots returns the SHA-256 sums of the current bundles' authorities
// (not to be modified); an error only once the source is closed.
func (t *spiffeTrust) roots() (map[[sha256.Size]byte]struct{}, error) {
	if t.closed.Load() {
		return nil, errors.New("upstream.spiffe: trust bundle source closed by a reload")
	}
	bundles := make([]*x509bundle.Bundle, 0, len(t.tds))
	for _, td := range t.tds {
		// A trust domain of allow without a bundle verifies no
		// upstream: the others' CAs are the ones that count. With
		// none at all (a Workload API update that dropped a federated
		// trust domain's bundle, a bundle file of another trust
		// domain), no CA is trusted: the tunnels verified by its CAs
		// are closed. That was taken for a source closed by a reload,
		// and left them relaying until the next reload
		// (TestAttackWorkloadAPIFederationDropped).
		if b, err := t.src.GetX509BundleForTrustDomain(td); err == nil {
			bundles = append(bundles, b)
		}
	}
	if t.closed.Load() {
		return nil, errors.New("upstream.spiffe: trust bundle source closed by a reload")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sums != nil && slices.Equal(bundles, t.bundles) {
		return t.sums, nil
	}
	sums := map[[sha256.Size]byte]struct{}{}
	for _, b := range bundles {
		for _, ca := range b.X509Authorities() {
			sums[sha256.Sum256(ca.Raw)] = struct{}{}
		}
	}
	t.bundles, t.sums = bundles, sums
	return sums, nil
}

// opened returns the upstreamRef of a tunnel or stream opened now: with
// SPIFFE, the trust bundle's authorities now, which verify the upstream
// connection it is relayed on; r itself otherwise.
func (r *upstreamRef) opened() *upstreamRef {
	if r == nil || r.spiffe == nil {
		return r
	}
	roots, err := r.spiffe.roots()
	if err != nil || len(roots) == 0 {
		roots = nil // no bundle: the handshake fails; never kept (keeps)
	}
	return &upstreamRef{where: r.where, roots: roots, spiffe: r.spiffe}
}

// bundleKept reports whether the trust bundle of r's source still holds
// every authority a tunnel opened as old (opened) was verified with, and
// sure=false when the bundle cannot be read (the source closed by a
// reload: the reload's re-check decides).
func (r *upstreamRef) bundleKept(old *upstreamRef) (kept, sure bool) {
	cur, err := r.spiffe.roots()
	if err != nil {
		return false, false
	}
	return old.roots != nil && rootsCover(cur, old.roots), true
}

// rootsCover reports whether cur holds every CA sum of old.
func rootsCover(cur, old map[[sha256.Size]byte]struct{}) bool {
	for sum := range old {
		if _, ok := cur[sum]; !ok {
			return false
		}
	}
	return true
}

// upstreamID returns the upstreamRef of requests forwarded to target
// with u's settings, verified with the CA certificates roots.
func upstreamID(target *url.URL, u Upstream, roots map[[sha256.Size]byte]struct{}) *upstreamRef {
	id := target.String()
	if s := u.SPIFFE; s != nil {
		id += fmt.Sprintf(" spiffe:%q", []string{s.Socket, s.SVID, s.Key, s.Bundle, strings.Join(s.Allow, ",")})
	}
	return &upstreamRef{where: id, roots: roots}
}

// keeps reports whether a tunnel or stream forwarded to old may go on
// when requests are now forwarded to r: the same URL and SPIFFE
// settings, and every CA it could have been verified with still
// trusted. Any change to upstream.ca closed them, a CA only added
// included, so that a trust bundle rotation adding the next CA ahead of
// time closed every WebSocket tunnel to the upstream
// (TestAttackReloadUpstreamCA); a CA removed or changed (another
// certificate) still closes them, as does a switch between upstream.ca
// and the system roots. With SPIFFE the same holds of the trust bundle
// (its file changed without a reload, or a reload; TestAttackReloadSPIFFEUpstreamBundle):
// a CA removed or replaced closes, one only added keeps.
func (r *upstreamRef) keeps(old *upstreamRef) bool {
	if r.where != old.where || (r.spiffe == nil) != (old.spiffe == nil) {
		return false
	}
	if r.spiffe != nil {
		kept, _ := r.bundleKept(old)
		return kept
	}
	return (r.roots == nil) == (old.roots == nil) && rootsCover(r.roots, old.roots)
}

// caPool returns the pool of the certificates in pemData, read as
// x509.CertPool.AppendCertsFromPEM reads them (blocks of another type,
// with headers, or that do not parse are skipped), and the SHA-256 sums
// of their DER encodings: exactly the CAs the pool trusts.
func caPool(pemData []byte) (*x509.CertPool, map[[sha256.Size]byte]struct{}) {
	pool := x509.NewCertPool()
	sums := map[[sha256.Size]byte]struct{}{}
	for len(pemData) > 0 {
		var block *pem.Block
		block, pemData = pem.Decode(pemData)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			continue
		}
		pool.AddCert(cert)
		sums[sha256.Sum256(cert.Raw)] = struct{}{}
	}
	return pool, sums
}

// minBodyRate is upstream.minBodyRate, or its default.
func minBodyRate(u Upstream) int64 {
	if u.MinBodyRate != nil {
		return *u.MinBodyRate
	}
	return defaultMinBodyRate
}

// X-Forwarded-Proto's values. Shared by every request: a full slice, so
// that an Add to the header reallocates instead of writing into it.
var (
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
)

// ruleNames are the audit rules "authz/<policy>", built once per policy
// rather than per request.
type ruleNames struct{ m sync.Map }

func (rn *ruleNames) name(policy string) string {
	if v, ok := rn.m.Load(policy); ok {
		return v.(string)
	}
	v, _ := rn.m.LoadOrStore(policy, "authz/"+policy)
	return v.(string)
}

// withConcurrency sheds requests beyond the adaptive concurrency limit
// (Gradient2) with 503, each recorded as a denial by rule "concurrency".
func withConcurrency(cl *ratelimit.Concurrency, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rechecking(r) {
			next.ServeHTTP(w, r)
			return
		}
		done, err := cl.Acquire()
		if err != nil {
			audit.Set(r.Context(), audit.Verdict{Decision: audit.Deny, Rule: "concurrency",
				Reason: fmt.Sprintf("shed: adaptive concurrency limit %d reached", cl.Limit())})
			ratelimit.Shed(w)
			return
		}
		// The slot is given back when the response headers go out
		// (hintsWriter), or when the request ends without them.
		slot := &concurrencySlot{done: done}
		defer slot.release()
		if !reqstate.Set(r.Context(), concurrencySlotKey{}, slot) {
			r = r.WithContext(context.WithValue(r.Context(), concurrencySlotKey{}, slot))
		}
		next.ServeHTTP(w, r)
	})
}

// concurrencySlot is a request's place under the adaptive concurrency
// limit. It is given back, and its latency sampled, once the upstream's
// response headers go out (a 101 for an upgrade), not when the handler
// returns: a WebSocket tunnel, a stream of server-sent events or a client
// reading its response slowly held a slot for as long as it lasted, and
// 20 tunnels (the limit it starts at, which grows only as requests
// complete) had every other request shed with 503.
type concurrencySlot struct {
	done     func()
	released atomic.Bool
}

type concurrencySlotKey struct{}

// release gives the slot back, once.
func (s *concurrencySlot) release() {
	if s != nil && s.released.CompareAndSwap(false, true) {
		s.done()
	}
}

// forwardedQueryLen is the length of raw query q as the upstream gets
// it: httputil.ReverseProxy re-encodes a query with a ';', an escape
// that is not '%' and two hex digits, or more than 10,000 parameters
// (its cleanQueryParams), which can make it three times as long. Only
// such a query is re-encoded here, so a clean one does not allocate.
func forwardedQueryLen(q string) int {
	reencode := strings.Count(q, "&") >= 10000
	for i := 0; i < len(q) && !reencode; i++ {
		switch q[i] {
		case ';':
			reencode = true
		case '%':
			reencode = i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2])
		}
	}
	if !reencode {
		return len(q)
	}
	v, _ := url.ParseQuery(q)
	return len(v.Encode())
}

// isHex reports whether c is a hexadecimal digit.
func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// withLimits applies the size limits (harden.Limits) and refuses bodies
// on GET, HEAD and TRACE (bodyless), recording its refusals as denials.
func withLimits(l Limits, next http.Handler) http.Handler {
	h := harden.Limits(l.MaxBodyBytes, l.MaxURLBytes, next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.MaxURLBytes > 0 && len(r.RequestURI) > l.MaxURLBytes {
			audit.Set(r.Context(), audit.Verdict{Decision: audit.Deny, Rule: "limits", Reason: fmt.Sprintf("URL over %d bytes", l.MaxURLBytes)})
			h.ServeHTTP(w, r)
			return
		}
		if l.MaxURLBytes > 0 && len(r.RequestURI)-len(r.URL.RawQuery)+forwardedQueryLen(r.URL.RawQuery) > l.MaxURLBytes {
			// A query ReverseProxy re-encodes (one with a ';' or a bad
			// escape) is forwarded escaped: "?;&a=é" as "?a=%C3%A9".
			deny(w, r, http.StatusRequestURITooLong, "limits", fmt.Sprintf("URL over %d bytes (as forwarded)", l.MaxURLBytes), "URI too long")
			return
		}
		if harden.BodilessMethod(r.Method) {
			var ok bool
			if r, ok = bodyless(w, r, l.AllowGetBody); !ok {
				return
			}
		}
		if l.MaxBodyBytes > 0 && r.ContentLength > l.MaxBodyBytes {
			audit.Set(r.Context(), audit.Verdict{Decision: audit.Deny, Rule: "limits", Reason: fmt.Sprintf("request body over %d bytes", l.MaxBodyBytes)})
		}
		h.ServeHTTP(w, r)
	})
}

// bodyless refuses with 400 a GET, HEAD or TRACE request r with a body
// (harden.ReadBodiless), unless allowGET and r is a GET, and returns the
// request to go on with and whether to go on. An upstream that ignores
// the body of such a request (a CL.0 bug, common in servers and
// frameworks) reads it as the next request on its connection: a GET of
// /admin written in the body of an allowed GET ran unchecked.
func bodyless(w http.ResponseWriter, r *http.Request, allowGET bool) (*http.Request, bool) {
	r2, err := harden.ReadBodiless(w, r, allowGET)
	var refused *harden.BodyError
	switch {
	case errors.As(err, &refused):
		why := "limits.allowGetBody forwards GET bodies"
		if r.Method != http.MethodGet {
			why = r.Method + " bodies are always refused"
		}
		deny(w, r, http.StatusBadRequest, "limits", refused.Error()+": an upstream ignoring it would read it as another request (request smuggling); "+why, "bad request")
		return nil, false
	case err != nil:
		// Reading an HTTP/2 body failed (a reset stream): the client's
		// doing.
		audit.Set(r.Context(), audit.Verdict{Outcome: "client closed"})
		w.WriteHeader(statusClientClosed)
		return nil, false
	}
	return r2, true
}

// bodyMethod reports whether requests of method are expected to carry
// content that the upstream reads (POST, PUT, PATCH): the methods whose
// bodies do not close the upstream connection after the exchange.
func bodyMethod(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch
}

// statusClientClosed is nginx's status for a request whose client closed
// the connection before the response.
const statusClientClosed = 499

// setForwarded writes into h, the header of the request forwarded for
// in, the headers the proxy sets itself: X-Forwarded-For (the client
// address as resolved behind trusted proxies; an unknown client, a Unix
// socket peer, gets none: never the address of a trusted proxy in its
// place), X-Forwarded-Client-Cert, X-Request-Id, the JWT claim headers
// and X-Forwarded-Proto, and removes Authorization when strip (a JWT
// section: the upstream gets the verified identity, not the token, as
// Istio's default forwardOriginalToken: false). The client's own headers
// of these names were removed before any check, and ReverseProxy removes
// the inbound X-Forwarded-* before Rewrite. forwardedView gives the
// checks the same.
func (p *Proxy) setForwarded(h http.Header, in *http.Request, claimHeaders []ClaimToHeader, strip bool) {
	// The names are canonical: the map is written directly, as
	// Header.Set would.
	ctx := in.Context()
	vals := make([]string, 2) // X-Forwarded-For's and X-Request-Id's, each its own full slice
	if a, ok := clientip.FromContext(ctx); ok && a.IsValid() {
		vals[0] = a.String()
		h["X-Forwarded-For"] = vals[0:1:1]
	}
	// Identity the proxy verified, never the client's word.
	if in.TLS != nil && len(in.TLS.PeerCertificates) > 0 {
		h.Set("X-Forwarded-Client-Cert", xfcc(p.selfID(), in.TLS.PeerCertificates[0]))
	}
	if id := audit.RequestID(ctx); id != "" {
		vals[1] = id
		h["X-Request-Id"] = vals[1:2:2]
	}
	if c, ok := jwt.FromContext(ctx); ok {
		for _, ch := range claimHeaders {
			if v, ok := c.Get(ch.Claim); ok {
				if s, ok := claimString(v); ok {
					h.Set(ch.Header, s)
				}
			}
		}
	}
	proto := protoHTTP
	if in.TLS != nil {
		proto = protoHTTPS
	}
	h["X-Forwarded-Proto"] = proto[:1:1]
	if strip {
		delete(h, "Authorization")
	}
}

// forwardedHeaders are the request headers whose forwarded value the
// forwarding step decides (setForwarded, and ReverseProxy's removal of
// Forwarded and X-Forwarded-Host), in canonical form, besides the JWT
// claim headers.
var forwardedHeaders = []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded",
	"X-Forwarded-Client-Cert", "X-Request-Id", "Authorization"}

// readsForwarded reports whether headersRead (canonical names, those
// policies read) holds one whose value the forwarding step decides.
func (p *Proxy) readsForwarded(headersRead []string) bool {
	for _, name := range headersRead {
		if slices.Contains(forwardedHeaders, name) {
			return true
		}
		if p.cfg.JWT != nil && slices.ContainsFunc(p.cfg.JWT.OutputClaimToHeaders, func(ch ClaimToHeader) bool {
			return http.CanonicalHeaderKey(ch.Header) == name
		}) {
			return true
		}
	}
	return false
}

// forwardedView returns a copy of r's header as the upstream will
// receive it, for the headers the forwarding step sets or removes
// (setForwarded): a policy reading X-Jwt-Sub, X-Forwarded-For or
// X-Forwarded-Client-Cert matches the value the upstream gets, as in
// Envoy, whose connection manager sets them (and jwt_authn its
// claim_to_headers) before the RBAC filter runs. They were matched
// against the request as it came (the client's own removed): a DENY of
// X-Jwt-Sub admin denied nothing, and the upstream got X-Jwt-Sub: admin.
func (p *Proxy) forwardedView(r *http.Request) http.Header {
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	for _, name := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		delete(h, name) // as ReverseProxy does before Rewrite
	}
	var claimHeaders []ClaimToHeader
	if p.cfg.JWT != nil {
		claimHeaders = p.cfg.JWT.OutputClaimToHeaders
	}
	p.setForwarded(h, r, claimHeaders, p.cfg.JWT != nil)
	return h
}

// claimString renders a claim value for a header: strings, booleans and
// integers below 2^53 in plain decimal; other values (objects, lists)
// are not copied. A value the upstream would not get as the token has
// it (claimExact) never gets here: withJWT refuses its token.
func claimString(v any) (s string, ok bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}

// maxExactInt is 2^53: every integer below it in magnitude is a float64
// exactly, so a JSON integer decoded below it is the token's.
const maxExactInt = 1 << 53

// claimExact reports whether claimString(v) is the claim as the token
// has it, to the letter for a string that the transport writes as it is
// (headerValueAsIs), to the value for a number. A claim decodes into a
// float64: fmt wrote 12345678 as 1.2345678e+07, and rounded ids past
// 2^53, so that 1100000000000000001 and 1100000000000000000 both
// reached the upstream as 1.1e+18, one user's id for another's. Only
// integers below 2^53 are exact; a fraction may have been rounded too.
func claimExact(v any) (ok bool, why string) {
	switch v := v.(type) {
	case string:
		if !headerValueAsIs(v) {
			// The transport writes values trimmed: a sub of " admin"
			// passed a DENY of .../admin and reached the upstream as
			// X-Jwt-Sub: admin.
			return false, "white space at either end, or a control character"
		}
	case float64:
		if v != math.Trunc(v) || math.Abs(v) >= maxExactInt {
			return false, "a number that is not an integer below 2^53, which JSON readers may round"
		}
	}
	return true, ""
}

// headerValueAsIs reports whether s reaches an upstream unchanged as a
// header value: no white space at either end (the transport trims it,
// as HTTP/1.1 parsers do) and no control character but tab (the
// transport refuses the request).
func headerValueAsIs(s string) bool {
	if s != "" && (s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// deny writes a refusal and records it in the audit log.
func deny(w http.ResponseWriter, r *http.Request, code int, rule, reason, body string) {
	audit.Set(r.Context(), audit.Verdict{Decision: audit.Deny, Rule: rule, Reason: reason})
	http.Error(w, body, code)
}

func (p *Proxy) withClientIP(next http.Handler) (http.Handler, error) {
	trusted, err := parsePrefixes(clientIPTrusted(p.cfg.ClientIP))
	if err != nil {
		return nil, err
	}
	res, err := clientip.New(trusted)
	if err != nil {
		return nil, err
	}
	p.resolver = res
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := clientip.FromContext(r.Context())
		if !a.IsValid() && res.Trusted(clientip.PeerAddr(r)) {
			// A trusted proxy sent a forwarding header that does not
			// parse: the client is unknown, and the proxy's own address
			// must not stand in for it (in policies, rate limits or the
			// upstream's X-Forwarded-For).
			deny(w, r, http.StatusBadRequest, "clientip", "unparseable forwarding header from a trusted proxy", "bad request")
			return
		}
		audit.Set(r.Context(), audit.Verdict{ClientIP: a})
		next.ServeHTTP(w, r)
	})
	return res.Handler(record), nil
}

func (p *Proxy) withAllowlist(next http.Handler) (http.Handler, error) {
	if len(p.cfg.Allow) == 0 && len(p.cfg.Deny) == 0 {
		return next, nil
	}
	allow, err := parsePrefixes(p.cfg.Allow)
	if err != nil {
		return nil, err
	}
	denyList, err := parsePrefixes(p.cfg.Deny)
	if err != nil {
		return nil, err
	}
	l, err := ipallow.New(allow, denyList)
	if err != nil {
		return nil, err
	}
	f := ipallow.NewFilter(l)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f.Check(r); err != nil {
			deny(w, r, http.StatusForbidden, "ipallow", "client address not allowed", "forbidden")
			return
		}
		next.ServeHTTP(w, r)
	}), nil
}

func (p *Proxy) withJWT(next http.Handler) (http.Handler, error) {
	j := p.cfg.JWT
	if j == nil {
		return next, nil
	}
	var issuers []jwt.Issuer
	for _, is := range j.Issuers {
		var algs []jose.SignatureAlgorithm
		for _, a := range is.Algorithms {
			algs = append(algs, jose.SignatureAlgorithm(a))
		}
		issuers = append(issuers, jwt.Issuer{
			Issuer: is.Issuer, Audiences: is.Audiences, AnyAudience: is.AnyAudience,
			Algorithms: algs, JWKSURL: is.JWKSURL, KeysFile: p.cfg.Path(is.JWKSFile),
		})
	}
	opts := []jwt.Option{jwt.WithCache(10000)}
	var roots *x509.CertPool
	for _, is := range j.Issuers {
		if is.JWKSCA == "" {
			continue
		}
		pem, err := regfile.Read(p.cfg.Path(is.JWKSCA), 0)
		if err != nil {
			return nil, fmt.Errorf("jwt.jwksCA: %w", err)
		}
		if roots == nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("jwt.jwksCA: %s holds no PEM certificate", is.JWKSCA)
		}
	}
	if roots != nil {
		// The library's client rules (timeout, no redirect from https to
		// http) hold for any client given; only the roots differ.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		tr.TLSClientConfig = tlsconf.Client(tlsconf.Intermediate)
		tr.TLSClientConfig.RootCAs = roots
		opts = append(opts, jwt.WithHTTPClient(&http.Client{Timeout: 10 * time.Second, Transport: tr}))
	}
	v := p.verifier // routes share one verifier (one JWKS cache)
	if v == nil {
		var err error
		if v, err = jwt.New(issuers, opts...); err != nil {
			return nil, fmt.Errorf("jwt: %w", err)
		}
		p.verifier = v
	}
	fail, failKey, err := p.failureGate()
	if err != nil {
		return nil, err
	}
	m := jwt.NewMiddleware(v)
	m.SetRequired(j.Required)
	m.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := jwt.ErrorFromContext(r.Context())
		if rechecking(r) {
			// A re-check after a reload charges no limit; one that
			// cannot verify the token for want of keys decides nothing.
			if errors.Is(err, jwt.ErrKeysUnavailable) {
				recheckUndecided(r)
			}
		} else if fail != nil {
			fail.Allow(failKey(r))
		}
		reason := "invalid bearer token"
		if err != nil {
			reason = "bearer token: " + err.Error()
		}
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		deny(w, r, http.StatusUnauthorized, "jwt", reason, "unauthorized")
	}))
	claimHeaders := j.OutputClaimToHeaders
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := jwt.FromContext(r.Context()); ok {
			audit.Set(r.Context(), audit.Verdict{Principal: c.RequestPrincipal()})
			noteTokenExpiry(r, c.Expiry())
			for _, ch := range claimHeaders {
				if v, ok := c.Get(ch.Claim); ok {
					if ok, why := claimExact(v); !ok {
						w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
						deny(w, r, http.StatusUnauthorized, "jwt", "bearer token: claim "+ch.Claim+" cannot be forwarded in "+ch.Header+" as it is ("+why+")", "unauthorized")
						return
					}
				}
			}
		}
		next.ServeHTTP(w, r)
	})
	h := m.Handler(record)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tokenQuery(r.URL.RawQuery) {
			// A token there would reach the upstream unverified (Envoy
			// would have verified it), past an authorization that saw
			// an anonymous request.
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_request"`)
			deny(w, r, http.StatusBadRequest, "jwt", "bearer token in the query (access_token): only the Authorization header is verified", "bad request")
			return
		}
		if tokenSubprotocol(r.Header) {
			// Kubernetes' API server, and servers written like it, read
			// a WebSocket client's token there.
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_request"`)
			deny(w, r, http.StatusBadRequest, "jwt", "bearer token in Sec-WebSocket-Protocol: only the Authorization header is verified", "bad request")
			return
		}
		if fail != nil && len(r.Header["Authorization"]) > 0 && !rechecking(r) {
			key := failKey(r)
			if limited, wait := fail.Limited(key); limited {
				if p.cfg.RateLimit.DryRun {
					audit.Set(r.Context(), audit.Verdict{DryRun: "ratelimit: too many refused bearer tokens from this client"})
				} else {
					audit.Set(r.Context(), audit.Verdict{Decision: audit.Deny, Rule: "ratelimit", Reason: "too many refused bearer tokens from this client"})
					ratelimit.Refuse(w, &ratelimit.LimitError{Key: key, RetryAfter: wait})
					return
				}
			}
		}
		h.ServeHTTP(w, r)
	}), nil
}

func (p *Proxy) withAuthz(next http.Handler) (http.Handler, error) {
	a := p.cfg.Authorization
	if a == nil {
		return next, nil
	}
	var policies []*istio.AuthorizationPolicy
	for _, f := range a.Policies {
		path := p.cfg.Path(f)
		data, err := regfile.Read(path, 0)
		if err != nil {
			return nil, fmt.Errorf("authorization: %w", err)
		}
		ps, err := authz.Load(path, data)
		if err != nil {
			return nil, err
		}
		if len(ps) == 0 {
			// An empty or truncated file would otherwise allow every
			// request ("no ALLOW policy applies").
			return nil, &Error{File: path, Err: errors.New("holds no AuthorizationPolicy (write `authorization: none` in the configuration to run without authorization)")}
		}
		policies = append(policies, ps...)
	}
	eng, err := authz.Options{RootNamespace: a.RootNamespace}.Compile(policies, authz.Workload{Namespace: p.cfg.Workload.Namespace, Labels: p.cfg.Workload.Labels})
	if err != nil {
		return nil, err
	}
	dryRun := false
	for _, w := range eng.Warnings() {
		p.warnings = append(p.warnings, w.String())
		dryRun = dryRun || strings.HasPrefix(w.Message, authz.DryRunAnnotation)
	}
	if len(eng.Policies()) == 0 && !dryRun {
		// Policies all for another namespace or workload (another
		// workload's file swapped in) would allow every request, as an
		// empty file would.
		return nil, &Error{File: p.cfg.Path(a.Policies[0]), Err: fmt.Errorf("no AuthorizationPolicy in %s applies to workload %s %v (write `authorization: none` in the configuration to run without authorization)",
			strings.Join(a.Policies, ", "), p.cfg.Workload.Namespace, p.cfg.Workload.Labels)}
	}
	p.warnings = append(p.warnings, hostValueWarnings(policies, eng.Policies())...)
	var rules ruleNames
	headersRead := eng.HeadersRead()
	viewForwarded := p.readsForwarded(headersRead)
	readsSNI := policiesReadSNI(policies)
	if readsSNI && p.cfg.TLS == nil {
		p.warnings = append(p.warnings, "authorization: a policy reads connection.sni, which is empty without tls: it never matches (a DENY on it denies nothing)")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if readsSNI && authz.Misdirected(r) {
			// Domain fronting: a handshake for one name, a request for
			// another. The policies would judge connection.sni of the
			// one and the route, hosts and upstream the other.
			deny(w, r, http.StatusMisdirectedRequest, "authz", "TLS server name (SNI) is not the Host, and a policy reads connection.sni", "misdirected request")
			return
		}
		hdr := r.Header
		if viewForwarded {
			hdr = p.forwardedView(r)
		}
		for _, name := range headersRead {
			if len(hdr[name]) > 1 {
				// Matched as the lines joined with ",": "admin,x" to a
				// DENY of admin, "admin" to an upstream reading the
				// first line.
				deny(w, r, http.StatusBadRequest, "authz", "header rejected: "+authz.ErrRepeatedHeader.Error()+": "+name, "bad request")
				return
			}
		}
		q := authz.RequestFromHTTP(r)
		q.Headers = hdr
		if ip, ok := clientip.FromContext(r.Context()); ok {
			q.RemoteIP = ip
		}
		if id, ok := spiffeauth.FromContext(r.Context()); ok {
			q.SourcePrincipal = strings.TrimPrefix(id.String(), "spiffe://")
		}
		if c, ok := jwt.FromContext(r.Context()); ok {
			q.RequestPrincipal = c.RequestPrincipal()
			q.Audiences = c.Audience()
			q.Claims = c.SharedMap() // read only: authz never modifies it
			if azp, ok := c.Get("azp"); ok {
				q.Presenter, _ = azp.(string)
			}
		}
		d := eng.Decide(q)
		rule := "authz"
		if d.Policy != "" {
			rule = rules.name(d.Policy)
		}
		switch {
		case d.PathError != nil:
			// As Envoy's path normalization rejecting a request.
			deny(w, r, http.StatusBadRequest, rule, d.Reason, "bad request")
			return
		case !d.Allowed:
			// Envoy's body, so clients written for Istio see the same.
			deny(w, r, http.StatusForbidden, rule, d.Reason, "RBAC: access denied")
			return
		}
		audit.Set(r.Context(), audit.Verdict{Decision: audit.Allow, Rule: rule, Reason: d.Reason, Audited: d.Audited})
		next.ServeHTTP(w, r)
	}), nil
}

// policiesReadSNI reports whether a condition of policies reads
// connection.sni.
func policiesReadSNI(policies []*istio.AuthorizationPolicy) bool {
	for _, p := range policies {
		for _, r := range p.Spec.Rules {
			for _, c := range r.When {
				if strings.EqualFold(strings.TrimSpace(c.Key), "connection.sni") {
					return true
				}
			}
		}
	}
	return false
}

// hostValueWarnings warns of hosts and notHosts values that no request
// can match, since requests are compared with their Host in canonical
// form (authz.CanonicalHost): "admin.example.com." (policies compare the Host
// without its dot), "[0:0::1]", "127.1", "admin.example.com:0443". A
// DENY of such a value denies nothing.
func hostValueWarnings(policies []*istio.AuthorizationPolicy, selected []string) []string {
	var out []string
	for _, pol := range policies {
		if !slices.Contains(selected, pol.Namespace+"/"+pol.Name) {
			continue // for another workload
		}
		for i, r := range pol.Spec.Rules {
			for j, to := range r.To {
				for _, f := range []struct {
					name   string
					values []string
				}{{"hosts", to.Operation.Hosts}, {"notHosts", to.Operation.NotHosts}} {
					for k, v := range f.values {
						if hostValueNeverMatches(v) {
							out = append(out, fmt.Sprintf("policy %s/%s: spec.rules[%d].to[%d].operation.%s[%d] %q never matches: requests are compared with the Host lower case, without a trailing dot, an IPv6 address in RFC 5952 form, an IPv4 one in dotted decimal and a port without leading zeros, and others are refused (400)",
								pol.Namespace, pol.Name, i, j, f.name, k, v))
						}
					}
				}
			}
		}
	}
	return out
}

// hostValueNeverMatches reports whether a hosts value is not in the form
// authz.CanonicalHost gives a request's Host: an exact value other than its
// canonical form, or a prefix or suffix value whose name ends in a dot.
func hostValueNeverMatches(v string) bool {
	lv := strings.ToLower(v)
	switch {
	case v == "*":
		return false
	case strings.HasPrefix(v, "*"), strings.HasSuffix(v, "*"):
		name := strings.Trim(lv, "*")
		if i := strings.LastIndexByte(name, ':'); i >= 0 && !strings.HasSuffix(name, "]") {
			name = name[:i]
		}
		return strings.HasSuffix(name, ".") && strings.HasPrefix(v, "*")
	}
	h, ok := authz.CanonicalHost(lv)
	return !ok || h != lv
}

// limitsFirst reports whether the rate limit is keyed by what is known
// before the bearer token is verified (the client address, the SPIFFE
// peer, a header a trusted hop sets; config.go refuses a key on a header
// the JWT check sets). Such a limit runs before the JWT and
// authorization checks and counts every request, those they refuse
// included, as Envoy's local rate limit filter placed ahead of
// jwt_authn does: run after them, a flood of forged tokens, each costing
// a signature verification, was never limited.
func (p *Proxy) limitsFirst() bool {
	return p.cfg.RateLimit != nil && p.cfg.RateLimit.Key != "subject"
}

// failureGate returns, for a rate limit keyed by the JWT subject, an
// in-process limiter of the same rate and burst that counts the requests
// the JWT check refuses, by client address, and its key. Such a limit
// can only run after the token is verified; a client address whose
// tokens keep failing is refused with 429 before the next one is
// verified, so forged tokens cannot buy signature verifications without
// limit. Nil for any other limit (limitsFirst).
func (p *Proxy) failureGate() (*ratelimit.Limiter, ratelimit.KeyFunc, error) {
	rl := p.cfg.RateLimit
	if rl == nil || p.limitsFirst() {
		return nil, nil, nil
	}
	key := keyFunc("ip", rl.IPv6Prefix)
	if l, ok := p.failures[*rl]; ok {
		return l, key, nil
	}
	// A reload goes on with the counts: a fresh gate gave a client
	// flooding forged tokens a full burst of verifications again.
	l, ok := p.prevFailures[*rl]
	if !ok {
		var err error
		if l, err = ratelimit.New(ratelimit.Config{Rate: rl.Rate, Burst: rl.Burst, Key: key}); err != nil {
			return nil, nil, err
		}
	}
	if p.failures != nil {
		p.failures[*rl] = l
	}
	return l, key, nil
}

func (p *Proxy) withRateLimit(next http.Handler) (http.Handler, error) {
	rl := p.cfg.RateLimit
	if rl == nil {
		return next, nil
	}
	key := keyFunc(rl.Key, rl.IPv6Prefix)
	onLimit := func(r *http.Request, _ string, _ time.Duration) {
		if rl.DryRun {
			// Beside the decision, never instead of it: a verdict
			// without one was dropped, and no record showed the
			// refusals a dry run is for.
			audit.Set(r.Context(), audit.Verdict{DryRun: "ratelimit: rate limit exceeded"})
		}
	}
	var check func(*http.Request) error
	if rl.Redis != "" {
		c := redis.NewClient(&redis.Options{Addr: rl.Redis, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
		p.closers = append(p.closers, c.Close)
		l, err := ratelimit.NewRedis(ratelimit.RedisConfig{Client: c, Rate: int(rl.Rate), Burst: rl.Burst, Key: key, DryRun: rl.DryRun, OnLimit: onLimit})
		if err != nil {
			return nil, err
		}
		check = l.Check
	} else if cur, ok := p.limiters[p.route]; ok && cur.cfg == *rl {
		check = cur.check // another route inheriting the top-level limit: the same counts
	} else if old, ok := p.prev[p.route]; ok && old.cfg == *rl {
		check = old.check // a reload: the counts go on
	} else {
		l, err := ratelimit.New(ratelimit.Config{Rate: rl.Rate, Burst: rl.Burst, Key: key, DryRun: rl.DryRun, OnLimit: onLimit})
		if err != nil {
			return nil, err
		}
		check = l.Check
	}
	if rl.Redis == "" && p.limiters != nil {
		p.limiters[p.route] = &localLimiter{cfg: *rl, check: check}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rechecking(r) {
			next.ServeHTTP(w, r)
			return
		}
		err := check(r)
		if err == nil {
			next.ServeHTTP(w, r)
			return
		}
		reason := "rate limit exceeded"
		if !errors.Is(err, ratelimit.ErrLimited) {
			reason = "rate limiter unavailable"
		}
		audit.Set(r.Context(), audit.Verdict{Decision: audit.Deny, Rule: "ratelimit", Reason: reason})
		ratelimit.Refuse(w, err)
	}), nil
}

func (p *Proxy) withWAF(next http.Handler) (http.Handler, error) {
	c := p.cfg.WAF
	if c == nil {
		return next, nil
	}
	w, err := waf.New(waf.Config{Mode: c.Mode, ParanoiaLevel: c.ParanoiaLevel, AnomalyThreshold: c.AnomalyThreshold,
		MaxBodyBytes: c.MaxBodyBytes, AllowedMethods: c.AllowedMethods, AllowedContentTypes: c.AllowedContentTypes})
	if err != nil {
		return nil, fmt.Errorf("waf: %w", err)
	}
	p.closers = append(p.closers, w.Close)
	inspected := func(r *http.Request) bool {
		if len(c.Paths) == 0 {
			return true
		}
		// The path as the authorization saw it: normalized, so that
		// "//api/" or "/x/../api/" cannot skip the WAF.
		path, err := authz.Normalize(r.URL.EscapedPath())
		if err != nil {
			return true
		}
		for _, prefix := range c.Paths {
			if hasPrefixFold(path, prefix) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !inspected(r) {
			next.ServeHTTP(rw, r)
			return
		}
		r2, d, err := w.Inspect(r)
		if err != nil {
			// Reading the body failed: said as the upstream step says
			// it, not as a body the WAF could not parse.
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &tooLarge):
				deny(rw, r, http.StatusRequestEntityTooLarge, "limits", fmt.Sprintf("request body over %d bytes", tooLarge.Limit), "request body too large")
			case bodyTooSlow(r):
				audit.Set(r.Context(), audit.Verdict{Outcome: "request body too slow"})
				http.Error(rw, "request timeout", http.StatusRequestTimeout)
			case bodyFailed(r):
				audit.Set(r.Context(), audit.Verdict{Outcome: "client closed"})
				rw.WriteHeader(statusClientClosed)
			default:
				deny(rw, r, http.StatusBadRequest, "waf", "request body unreadable", "bad request")
			}
			return
		}
		var rules []string
		for _, m := range d.Matches {
			rules = append(rules, fmt.Sprintf("%d %s", m.RuleID, m.Message))
		}
		if d.Blocked {
			deny(rw, r, d.Status, "waf", fmt.Sprintf("WAF (anomaly score %d): %s", d.Score, strings.Join(rules, "; ")), http.StatusText(d.Status))
			return
		}
		if len(rules) > 0 {
			// Detection only: the request goes on; the audit record says
			// what would have matched, beside the rule that decided.
			audit.Set(r.Context(), audit.Verdict{WAF: fmt.Sprintf("detected (anomaly score %d): %s", d.Score, strings.Join(rules, "; "))})
		}
		next.ServeHTTP(rw, r2)
	}), nil
}

// hasPrefixFold reports whether path begins with prefix, ASCII letters
// compared in any case. The WAF inspects "/API/" under waf.paths [/api/]:
// ASP.NET Core and IIS route paths case-insensitively, and Spring before
// 6 could, so a case-sensitive prefix let an attack skip the WAF on its
// way to the very handler the prefix names. Inspecting a request more
// than asked costs time, never safety.
func hasPrefixFold(path, prefix string) bool {
	if len(path) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		a, b := path[i], prefix[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// keyFunc returns the rate limit key of the configuration: the client IP
// (default; IPv6 clients by their /v6prefix network), the SPIFFE
// principal, the JWT subject or a header. A request without a principal
// or subject is keyed by its client address, so that anonymous clients
// do not share one bucket.
func keyFunc(k string, v6prefix int) ratelimit.KeyFunc {
	if v6prefix <= 0 || v6prefix > 128 {
		v6prefix = 64
	}
	byIP := func(r *http.Request) string {
		a, _ := clientip.FromContext(r.Context())
		if !a.IsValid() {
			return "ip:unknown" // one bucket for every unknown client: stricter, never looser
		}
		if a.Is6() {
			if pfx, err := a.Prefix(v6prefix); err == nil {
				return "ip:" + pfx.String()
			}
		}
		var buf [64]byte // one allocation, the key itself
		return string(a.AppendTo(append(buf[:0], "ip:"...)))
	}
	switch {
	case k == "principal":
		return func(r *http.Request) string {
			if id, ok := spiffeauth.FromContext(r.Context()); ok {
				return "principal:" + id.String()
			}
			return byIP(r)
		}
	case k == "subject":
		return func(r *http.Request) string {
			if c, ok := jwt.FromContext(r.Context()); ok {
				return "subject:" + c.RequestPrincipal()
			}
			return byIP(r)
		}
	case strings.EqualFold(k, "header:host"):
		// The Host, in canonical form (withCanonicalRequest): net/http
		// keeps no Host in the header map, so every request had the
		// empty key.
		return func(r *http.Request) string { return r.Host }
	case strings.HasPrefix(k, "header:"):
		return ratelimit.ByHeader(strings.TrimPrefix(k, "header:"))
	}
	return byIP
}

// bufferPool is an httputil.BufferPool of 32 KiB buffers.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte { return *buffers.Get().(*[]byte) }

func (bufferPool) Put(b []byte) {
	if cap(b) == 32<<10 {
		b = b[:cap(b)]
		buffers.Put(&b)
	}
}
