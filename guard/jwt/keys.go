package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/wardsec/ward/internal/regfile"
	"github.com/wardsec/ward/internal/urlredact"
)

// Limits on key sets.
const (
	maxJWKSBytes = 1 << 20 // a JWKS document or file
	maxJWKSKeys  = 100     // keys in one set
	minRSABits   = 2048
)

// keySource is where an issuer's keys come from.
type keySource interface {
	// get returns the keys to verify with, fetching first when they are
	// missing or stale and a fetch is allowed; wantNew asks for a fetch
	// even when they are fresh (a token names an unknown key). A fetch
	// that is not allowed yet (JWKSMinRefetch) is skipped, not waited for.
	get(ctx context.Context, wantNew bool) (*keySet, error)
	// current returns the keys in use now, without fetching; nil if none.
	current() *keySet
}

// verifyKey is one usable public (or, for HMAC issuers, secret) key.
type verifyKey struct {
	kid string
	alg jose.SignatureAlgorithm // the JWK's "alg"; "" when absent
	key any                     // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte
}

// keySet is an immutable set of keys. Its identity (the pointer) tells
// the token cache whether the keys changed since a token was verified.
type keySet struct {
	keys   []verifyKey
	digest [sha256.Size]byte // of the fetched document; zero for static sets
}

// candidates returns the keys that may have signed a token with the given
// "kid" (every key when kid is empty) and "alg".
func (s *keySet) candidates(kid string, alg jose.SignatureAlgorithm) []any {
	var out []any
	for i := range s.keys {
		k := &s.keys[i]
		if kid != "" && k.kid != kid {
			continue
		}
		if k.alg != "" && k.alg != alg {
			continue
		}
		if fits(alg, k.key) {
			out = append(out, k.key)
		}
	}
	return out
}

// fits reports whether key can verify signatures made with alg. This is
// what keeps an RSA public key from ever being used as an HMAC secret.
func fits(alg jose.SignatureAlgorithm, key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
			return true
		}
	case *ecdsa.PublicKey:
		switch alg {
		case jose.ES256:
			return k.Curve == elliptic.P256()
		case jose.ES384:
			return k.Curve == elliptic.P384()
		case jose.ES512:
			return k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == jose.EdDSA && len(k) == ed25519.PublicKeySize
	case []byte:
		switch alg {
		case jose.HS256:
			return len(k) >= 32
		case jose.HS384:
			return len(k) >= 48
		case jose.HS512:
			return len(k) >= 64
		}
	}
	return false
}

// newStaticKeySet checks a configured set strictly: every key must be
// usable by the issuer, so a mistake fails at start, not at the first
// request.
func newStaticKeySet(set *jose.JSONWebKeySet, iss *issuer) (*keySet, error) {
	if len(set.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("more than %d keys", maxJWKSKeys)
	}
	ks := &keySet{}
	for i := range set.Keys {
		k, err := usableKey(&set.Keys[i], iss)
		if err != nil {
			return nil, fmt.Errorf("key %d (kid %q): %w", i, set.Keys[i].KeyID, err)
		}
		ks.keys = append(ks.keys, k)
	}
	if len(ks.keys) == 0 {
		return nil, errors.New("no keys")
	}
	return ks, nil
}

// usableKey checks one JWK against the issuer and returns it in the form
// go-jose verifies with.
func usableKey(jwk *jose.JSONWebKey, iss *issuer) (verifyKey, error) {
	if jwk.Use != "" && jwk.Use != "sig" {
		return verifyKey{}, fmt.Errorf("use %q is not sig", jwk.Use)
	}
	switch k := jwk.Key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		if iss.hmac {
			return verifyKey{}, errors.New("asymmetric key for an HMAC issuer")
		}
		if k, ok := k.(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
			return verifyKey{}, fmt.Errorf("RSA key of %d bits, fewer than %d", k.N.BitLen(), minRSABits)
		}
	case []byte:
		if !iss.hmac {
			return verifyKey{}, errors.New(`symmetric ("oct") key for an issuer of asymmetric algorithms (RS/HS confusion)`)
		}
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return verifyKey{}, errors.New("a private key: publish and configure public keys only")
	default:
		return verifyKey{}, fmt.Errorf("unsupported key type %T", k)
	}
	alg := jose.SignatureAlgorithm(jwk.Algorithm)
	if alg != "" && !slices.Contains(iss.algs, alg) {
		return verifyKey{}, fmt.Errorf("key algorithm %q not among the issuer's algorithms", alg)
	}
	usable := false
	for _, a := range iss.algs {
		if (alg == "" || alg == a) && fits(a, jwk.Key) {
			usable = true
			break
		}
	}
	if !usable {
		return verifyKey{}, fmt.Errorf("key fits none of the algorithms %v", iss.algs)
	}
	return verifyKey{kid: jwk.KeyID, alg: alg, key: jwk.Key}, nil
}

// readKeysFile reads a JWK Set file of at most maxJWKSBytes.
func readKeysFile(path string) (*jose.JSONWebKeySet, error) {
	// regfile: os.Open of a named pipe waits for a writer, and New
	// (a proxy's reload) with it.
	data, err := regfile.Read(path, maxJWKSBytes)
	if errors.Is(err, regfile.ErrTooLarge) {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxJWKSBytes)
	}
	if err != nil {
		return nil, err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("%s: not a JWK Set: %w", path, err)
	}
	return &set, nil
}

// staticKeys never change.
type staticKeys struct{ set *keySet }

func (s staticKeys) get(context.Context, bool) (*keySet, error) { return s.set, nil }
func (s staticKeys) current() *keySet                           { return s.set }

// remoteKeys fetches a JWK Set URL. See the package documentation for the
// refresh policy.
type remoteKeys struct {
	url        string
	shown      string // url with its userinfo and query values redacted, for errors: they reach logs and audit records
	iss        *issuer
	client     *http.Client
	refresh    time.Duration
	minRefetch time.Duration
	maxStale   time.Duration
	now        func() time.Time

	mu        sync.Mutex
	set       *keySet       // last good set; nil before the first
	fetchedAt time.Time     // when set was last fetched (or found unchanged)
	maxAge    time.Duration // refresh interval for set (Cache-Control may shorten it)
	attempted time.Time     // last fetch attempt; zero before the first
	lastErr   error         // of the last attempt; nil if it succeeded
	inflight  chan struct{} // closed when the running fetch ends; nil if none
}

func newRemoteKeys(cfg *Issuer, iss *issuer, o *options) (*remoteKeys, error) {
	u, err := url.Parse(cfg.JWKSURL)
	if err != nil {
		return nil, errors.New("JWKSURL is not a URL")
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, errors.New("JWKSURL must be an https URL (http only on loopback)")
	}
	r := &remoteKeys{
		url:        u.String(),
		shown:      urlredact.URL(u),
		iss:        iss,
		client:     o.client,
		refresh:    orDefault(cfg.JWKSRefresh, DefaultJWKSRefresh),
		minRefetch: orDefault(cfg.JWKSMinRefetch, DefaultJWKSMinRefetch),
		maxStale:   orDefault(cfg.JWKSMaxStale, DefaultJWKSMaxStale),
		now:        o.now,
	}
	switch {
	case cfg.JWKSRefresh < 0 || cfg.JWKSMinRefetch < 0 || cfg.JWKSMaxStale < 0:
		return nil, errors.New("negative JWKS interval")
	case r.maxStale < r.refresh:
		return nil, errors.New("JWKSMaxStale shorter than JWKSRefresh")
	}
	return r, nil
}

// orDefault returns d, or def when d is zero.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// usable returns the set unless it is older than maxStale or holds no
// key. Callers hold mu.
func (r *remoteKeys) usable(now time.Time) *keySet {
	if r.set == nil || len(r.set.keys) == 0 || now.Sub(r.fetchedAt) > r.maxStale {
		return nil
	}
	return r.set
}

func (r *remoteKeys) current() *keySet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.usable(r.now())
}

func (r *remoteKeys) unavailable() error {
	if r.lastErr != nil {
		return fmt.Errorf("%w: issuer %s: %v", ErrKeysUnavailable, r.iss.description, r.lastErr)
	}
	return fmt.Errorf("%w: issuer %s", ErrKeysUnavailable, r.iss.description)
}

// refreshNow fetches now if allowed and reports the last attempt's failure.
func (r *remoteKeys) refreshNow(ctx context.Context) error {
	if _, err := r.get(ctx, true); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastErr != nil {
		return r.unavailable()
	}
	return nil
}

func (r *remoteKeys) get(ctx context.Context, wantNew bool) (*keySet, error) {
	r.mu.Lock()
	now := r.now()
	set := r.usable(now)
	fresh := set != nil && now.Sub(r.fetchedAt) < r.maxAge

	if ch := r.inflight; ch != nil {
		if set != nil && !wantNew {
			// Someone else is refreshing: keep using what we have.
			r.mu.Unlock()
			return set, nil
		}
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			if set != nil {
				return set, nil
			}
			return nil, fmt.Errorf("%w: issuer %s: %v", ErrKeysUnavailable, r.iss.description, ctx.Err())
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if set := r.usable(r.now()); set != nil {
			return set, nil
		}
		return nil, r.unavailable()
	}

	allowed := r.attempted.IsZero() || now.Sub(r.attempted) >= r.minRefetch
	if (fresh && !wantNew) || !allowed {
		defer r.mu.Unlock()
		if set == nil {
			return nil, r.unavailable()
		}
		return set, nil
	}
	ch := make(chan struct{})
	r.inflight = ch
	r.attempted = now
	r.mu.Unlock()
	return r.fetchAndStore(ctx, ch)
}

// fetchAndStore fetches the set and records the outcome; in the same
// critical section it marks the fetch finished, even if fetch panics.
func (r *remoteKeys) fetchAndStore(ctx context.Context, done chan struct{}) (set *keySet, err error) {
	var (
		newSet   *keySet
		maxAge   time.Duration
		fetchErr = errors.New("fetch aborted")
	)
	defer func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.inflight = nil
		close(done)
		now := r.now()
		if fetchErr != nil && newSet == nil {
			r.lastErr = fetchErr
			if set = r.usable(now); set == nil {
				err = r.unavailable()
			}
			return // stale keys beat no keys, up to maxStale
		}
		// A set fetched, even one without a usable key: the provider
		// withdrew the keys it no longer lists. (An empty set was taken
		// for a failed fetch, and the withdrawn keys kept verifying
		// tokens for JWKSMaxStale.)
		if r.set == nil || r.set.digest != newSet.digest {
			r.set = newSet // a new identity: cached tokens are verified again
		}
		r.fetchedAt, r.maxAge, r.lastErr = now, maxAge, fetchErr
		if set = r.usable(now); set == nil {
			err = r.unavailable()
		}
	}()
	newSet, maxAge, fetchErr = r.fetch(ctx)
	return nil, nil // replaced by the deferred function
}

// fetch downloads and parses the set. It does not stop when the caller's
// context is cancelled (other requests may be waiting for the result) but
// is bounded by the client's timeout, or DefaultFetchTimeout.
func (r *remoteKeys) fetch(ctx context.Context) (*keySet, time.Duration, error) {
	ctx = context.WithoutCancel(ctx)
	if r.client.Timeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultFetchTimeout)
		defer cancel()
	}
	// The URL is the operator's JWKSURL, checked by New; nothing from a
	// token ever reaches it ("jku" and "x5u" headers are ignored).
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil) // #nosec G704 -- configured URL, not request data
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.client.Do(req) // #nosec G704 -- configured URL, not request data
	if err != nil {
		// net/http's url.Error names the URL with only a password hidden.
		return nil, 0, urlredact.Error(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("fetching %s: status %d", r.shown, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("fetching %s: %w", r.shown, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, 0, fmt.Errorf("fetching %s: larger than %d bytes", r.shown, maxJWKSBytes)
	}
	set, err := parseRemoteSet(body, r.iss)
	if err != nil && set == nil {
		return nil, 0, fmt.Errorf("fetching %s: %w", r.shown, err)
	}
	maxAge := r.refresh
	if s, ok := cacheMaxAge(resp.Header.Get("Cache-Control")); ok && s < maxAge {
		maxAge = max(s, r.minRefetch)
	}
	if err != nil {
		err = fmt.Errorf("fetching %s: %w", r.shown, err)
	}
	return set, maxAge, err
}

// errNoUsableKeys is a fetched JWK Set without a key the issuer can use:
// the identity provider's word that the keys it published before are
// withdrawn, not a failure to reach it.
var errNoUsableKeys = errors.New("no usable keys")

// parseRemoteSet parses a fetched JWK Set leniently: keys this package
// cannot or must not use (encryption keys, unknown types, private or
// symmetric keys, short RSA keys) are skipped, so one odd key does not
// take the issuer down. A set with no usable key is returned, empty,
// with errNoUsableKeys.
func parseRemoteSet(body []byte, iss *issuer) (*keySet, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Keys == nil {
		return nil, errors.New("not a JWK Set")
	}
	if len(*doc.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("more than %d keys", maxJWKSKeys)
	}
	ks := &keySet{digest: sha256.Sum256(body)}
	for _, raw := range *doc.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			continue
		}
		if k, err := usableKey(&jwk, iss); err == nil {
			ks.keys = append(ks.keys, k)
		}
	}
	if len(ks.keys) == 0 {
		return ks, errNoUsableKeys
	}
	return ks, nil
}

// cacheMaxAge returns the max-age directive of a Cache-Control value.
func cacheMaxAge(cc string) (time.Duration, bool) {
	for _, d := range strings.Split(cc, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(d), "=")
		if !ok || !strings.EqualFold(name, "max-age") {
			continue
		}
		n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
		if err != nil || n < 0 {
			return 0, false
		}
		if n > int64(DefaultJWKSMaxStale/time.Second) {
			n = int64(DefaultJWKSMaxStale / time.Second)
		}
		return time.Duration(n) * time.Second, true
	}
	return 0, false
}
