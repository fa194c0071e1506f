package spiffeauth

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/wardsec/ward/internal/peerctx"
	"github.com/wardsec/ward/internal/reqstate"
)

// A request's TLS peer certificate says nothing about whether anything
// verified it: a tls.Config with ClientAuth RequestClientCert or
// RequireAnyClientCert and no VerifyConnection hands the handler any
// self-signed certificate, and tls.ConnectionState can carry no mark
// (VerifiedChains stays empty under ServerConfig, which verifies in
// VerifyConnection). An identity is therefore only taken from a
// certificate this package verified:
//
//   - handshakes holds the leaf certificates that a ServerConfig verified
//     (and authorized) during a handshake of this process, keyed by the
//     certificate object's identity. crypto/tls hands the handler the
//     very *x509.Certificate it passed to VerifyConnection (parsed per
//     handshake, or shared through crypto/tls's cache of certificates
//     of resumed sessions, whose holder proved its key in a handshake),
//     so a certificate of a connection that another configuration
//     accepted unverified is never found. Keys are weak pointers, which
//     never match another object even after the certificate's memory is
//     reused, and an entry is deleted when its certificate is garbage:
//     the table holds one small entry per live verified certificate.
//     Handler and PeerID read it: a lookup and a call of the bundle
//     source, no parsing per request, a signature check only when the
//     bundle rotated.
//   - Verifier verifies the peer's chain against a bundle source itself,
//     for servers whose tls.Config is not a ServerConfig (go-spiffe's
//     tlsconfig, a hand-written one), and caches the verdict by the same
//     key, so that a kept-alive connection pays one verification.
//
// A mark holds for as long as its verification would: a peer whose
// certificate (or a CA of its chain) has expired since the handshake,
// or whose trust domain's bundle no longer verifies its chain (a
// rotation that removed its CA), has no ID on a connection kept alive
// past that (SPIFFE revokes by letting short-lived SVIDs expire).
var handshakes sync.Map // weak.Pointer[x509.Certificate] -> *handshake

// handshake is what a ServerConfig's verification of a leaf established.
type handshake struct {
	id      spiffeid.ID        // the leaf's
	ok      bool               // false: the chain no longer verifies
	source  x509bundle.Source  // the ServerConfig's
	bundle  *x509bundle.Bundle // source's bundle of id's trust domain that verified the chain
	expires time.Time          // the verified chain's first NotAfter
}

// markVerified records that the chain of leaf verified as h says.
func markVerified(leaf *x509.Certificate, h *handshake) {
	k := weak.Make(leaf)
	if _, loaded := handshakes.LoadOrStore(k, h); !loaded {
		runtime.AddCleanup(leaf, forgetHandshake, k)
	}
}

// chainExpiry is the first NotAfter of a verified chain.
func chainExpiry(chains [][]*x509.Certificate) time.Time {
	var t time.Time
	if len(chains) > 0 {
		for _, c := range chains[0] {
			if t.IsZero() || c.NotAfter.Before(t) {
				t = c.NotAfter
			}
		}
	}
	return t
}

func forgetHandshake(k weak.Pointer[x509.Certificate]) { handshakes.Delete(k) }

// PeerID returns the SPIFFE ID of the TLS peer of r when a ServerConfig
// verified its certificate during the handshake, and no certificate of
// the chain has expired since, and the trust bundle still verifies it
// (when the ServerConfig's bundle source returns another bundle, the
// chain is verified again, once per bundle). A certificate that no
// ServerConfig verified has no ID here, whatever it claims: a server with
// another tls.Config uses a Verifier.
func PeerID(r *http.Request) (spiffeid.ID, bool) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return spiffeid.ID{}, false
	}
	k := weak.Make(r.TLS.PeerCertificates[0])
	e, ok := handshakes.Load(k)
	if !ok {
		return spiffeid.ID{}, false
	}
	h := e.(*handshake)
	if !time.Now().Before(h.expires) {
		return spiffeid.ID{}, false
	}
	b, err := h.source.GetX509BundleForTrustDomain(h.id.TrustDomain())
	if err != nil {
		return spiffeid.ID{}, false
	}
	if b != h.bundle {
		// A rotation: verify again, against the new bundle, and keep
		// the verdict (the certificate, r's, is alive: its cleanup
		// cannot run meanwhile).
		n := &handshake{id: h.id, source: h.source, bundle: b, expires: h.expires}
		if id, chains, err := x509svid.Verify(r.TLS.PeerCertificates, b, x509svid.WithTime(time.Now())); err == nil && id == h.id {
			n.ok, n.expires = true, chainExpiry(chains)
		}
		handshakes.Store(k, n)
		h = n
	}
	if !h.ok {
		return spiffeid.ID{}, false
	}
	return h.id, true
}

// FromContext returns the verified peer ID that Handler or a Verifier's
// Handler stored. A peer whose certificate did not verify has none.
func FromContext(ctx context.Context) (spiffeid.ID, bool) {
	id, ok := ctx.Value(peerctx.Key{}).(spiffeid.ID)
	return id, ok
}

// Handler stores the SPIFFE ID of the request's TLS peer in the request
// context for next (FromContext), on a copy of the request, or in place
// in the request state of its context (reqstate.Context, the audit
// log's) when it has one, when ServerConfig verified the peer's
// certificate (PeerID). A peer certificate that ServerConfig did not
// verify (the server's tls.Config is another) gives no ID: use
// NewVerifier(bundle).Handler there. Requests without an ID pass
// unchanged: refusing them is the TLS configuration's job, or authz's.
func Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			id, ok := PeerID(r)
			r = withPeer(r, id, ok)
		}
		next.ServeHTTP(w, r)
	})
}

// withPeer records the peer's ID, or that its certificate did not
// verify (for authz, which then decides the request as anonymous rather
// than suspecting a missing middleware).
func withPeer(r *http.Request, id spiffeid.ID, ok bool) *http.Request {
	var v any = id
	if !ok {
		v = peerctx.Unverified{}
	}
	if reqstate.Set(r.Context(), peerctx.Key{}, v) {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), peerctx.Key{}, v))
}

// Errors of Verifier.PeerID.
var (
	ErrNoPeerCertificate = errors.New("spiffeauth: the TLS peer presented no certificate")
	ErrNotVerified       = errors.New("spiffeauth: the TLS peer's certificate is not an X.509 SVID that the trust bundle verifies")
)

// Verifier verifies the X.509 SVID that a request's TLS peer presented
// against a trust bundle source, whatever the server's tls.Config did
// with it: for servers that do not use ServerConfig (whose peers Handler
// identifies without a Verifier). A tls.Config with ClientAuth
// tls.RequestClientCert or tls.RequireAnyClientCert accepts any
// certificate; a Verifier gives an ID only to a chain that the bundle
// verifies (x509svid.Verify), so a self-signed certificate claiming an
// ID gets none.
//
// Verdicts are cached per peer certificate (the *x509.Certificate of
// the connection, by a weak pointer: an entry lives no longer than its
// connection's certificate), so a kept-alive connection pays one
// signature verification, not one per request. The key is the leaf
// alone: a leaf that chained to the bundle is that SVID whatever
// intermediates another connection sends with it (crypto/tls shares the
// parsed certificates of resumed sessions), since a TLS peer proves it
// holds the leaf's key. A verdict is verified
// again when the source returns another *x509bundle.Bundle for the
// peer's trust domain (a rotation: sources such as FileSource and
// go-spiffe's workloadapi.X509Source return the same pointer until the
// bundle changes; a source that builds a new one per call gets no
// caching), when a certificate of the chain expires, and a refusal after
// 10 s. At most 65536 verdicts are cached: past that (as many live
// connections with distinct certificates), new peers are verified on
// every request until entries are freed, which costs CPU, never memory or
// a wrong answer. A Verifier is safe for concurrent use.
type Verifier struct {
	bundle x509bundle.Source
	now    func() time.Time
	max    int64
	n      atomic.Int64
	cache  sync.Map // weak.Pointer[x509.Certificate] -> *verdict

	verifications atomic.Int64 // chains verified (for tests)
}

// failedTTL is how long a refusal is cached: a certificate not yet valid
// becomes valid, a trust domain without a bundle gets one.
const failedTTL = 10 * time.Second

// verdict is the cached outcome of one peer chain's verification.
type verdict struct {
	id      spiffeid.ID          // the verified ID; zero when the chain did not verify
	td      spiffeid.TrustDomain // the leaf's; zero: the leaf has no SPIFFE ID
	bundle  *x509bundle.Bundle   // the bundle it was verified against; nil: none was found
	expires time.Time            // verify again from then on
}

// NewVerifier returns a Verifier of peers against the bundles of bundle.
func NewVerifier(bundle x509bundle.Source) *Verifier {
	return &Verifier{bundle: bundle, now: time.Now, max: 1 << 16}
}

// PeerID returns the SPIFFE ID of the TLS peer of r when its
// certificate chain verifies against the bundle of its trust domain, or
// an error wrapping ErrNoPeerCertificate or ErrNotVerified.
func (v *Verifier) PeerID(r *http.Request) (spiffeid.ID, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return spiffeid.ID{}, ErrNoPeerCertificate
	}
	certs := r.TLS.PeerCertificates
	k := weak.Make(certs[0])
	now := v.now()
	if e, ok := v.cache.Load(k); ok {
		if d := e.(*verdict); v.current(d, now) {
			return d.result(nil)
		}
	}
	d, err := v.verify(certs, now)
	v.store(k, certs[0], d)
	return d.result(err)
}

// current reports whether d still answers at now.
func (v *Verifier) current(d *verdict, now time.Time) bool {
	if !now.Before(d.expires) {
		return false
	}
	if d.td.IsZero() {
		return true // not an SVID: no bundle will change that
	}
	b, err := v.bundle.GetX509BundleForTrustDomain(d.td)
	return (err == nil && b == d.bundle) || (err != nil && d.bundle == nil)
}

func (d *verdict) result(err error) (spiffeid.ID, error) {
	switch {
	case !d.id.IsZero():
		return d.id, nil
	case err != nil:
		return spiffeid.ID{}, err
	default:
		return spiffeid.ID{}, ErrNotVerified
	}
}

// verify verifies certs at now. The verdict keeps no error (x509's hold
// the certificate) nor certificate: an entry must not keep its own
// certificate alive, or it would never be deleted.
func (v *Verifier) verify(certs []*x509.Certificate, now time.Time) (*verdict, error) {
	v.verifications.Add(1)
	d := &verdict{expires: now.Add(failedTTL)}
	id, err := x509svid.IDFromCert(certs[0])
	if err != nil {
		return d, fmt.Errorf("%w: %w", ErrNotVerified, err)
	}
	d.td = id.TrustDomain()
	b, err := v.bundle.GetX509BundleForTrustDomain(d.td)
	if err != nil {
		return d, fmt.Errorf("%w: %w", ErrNotVerified, err)
	}
	d.bundle = b
	_, chains, err := x509svid.Verify(certs, b, x509svid.WithTime(now))
	if err != nil {
		return d, fmt.Errorf("%w: %w", ErrNotVerified, err)
	}
	d.id = id
	d.expires = certs[0].NotAfter
	for _, c := range chains[0] {
		if c.NotAfter.Before(d.expires) {
			d.expires = c.NotAfter
		}
	}
	return d, nil
}

// store caches d for leaf under k: in place of an earlier verdict, or as
// a new entry, deleted when leaf is garbage, while fewer than max are.
func (v *Verifier) store(k weak.Pointer[x509.Certificate], leaf *x509.Certificate, d *verdict) {
	if _, ok := v.cache.Load(k); ok {
		v.cache.Store(k, d)
		return
	}
	if v.n.Load() >= v.max {
		return
	}
	if _, loaded := v.cache.LoadOrStore(k, d); loaded {
		v.cache.Store(k, d)
		return
	}
	v.n.Add(1)
	runtime.AddCleanup(leaf, v.forget, k)
}

func (v *Verifier) forget(k weak.Pointer[x509.Certificate]) {
	v.cache.Delete(k)
	v.n.Add(-1)
}

// Handler stores the verified SPIFFE ID of the request's TLS peer in the
// request context for next (FromContext), as the package's Handler does.
// A peer whose certificate does not verify gets no ID; its request
// passes on without one, for the authorization after (authz's Handler
// decides it as anonymous: a policy that requires principals refuses
// it).
func (v *Verifier) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			id, err := v.PeerID(r)
			r = withPeer(r, id, err == nil)
		}
		next.ServeHTTP(w, r)
	})
}
