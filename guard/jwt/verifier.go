package jwt

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Errors returned by Verify and Middleware.Check, each wrapped with more
// detail (never text taken from the token, and a JWKS URL with its
// userinfo and query values redacted: the errors reach logs). Test them with errors.Is.
var (
	ErrTooLarge        = errors.New("jwt: token too large")
	ErrMalformed       = errors.New("jwt: malformed token")
	ErrIssuer          = errors.New("jwt: untrusted issuer")
	ErrAlgorithm       = errors.New("jwt: signature algorithm not allowed")
	ErrUnknownKey      = errors.New("jwt: no key matches the token")
	ErrKeysUnavailable = errors.New("jwt: issuer keys unavailable")
	ErrSignature       = errors.New("jwt: invalid signature")
	ErrMissingClaim    = errors.New("jwt: required claim missing")
	ErrExpired         = errors.New("jwt: token expired")
	ErrNotYetValid     = errors.New("jwt: token not yet valid")
	ErrAudience        = errors.New("jwt: audience not allowed")
	ErrMissingToken    = errors.New("jwt: bearer token required")
)

// Defaults and bounds.
const (
	DefaultMaxTokenSize   = 8 << 10
	DefaultClockSkew      = 30 * time.Second
	MaxClockSkew          = 5 * time.Minute
	DefaultJWKSRefresh    = 5 * time.Minute
	DefaultJWKSMinRefetch = 30 * time.Second
	DefaultJWKSMaxStale   = 24 * time.Hour
	DefaultFetchTimeout   = 10 * time.Second

	maxTokenSizeLimit = 1 << 20 // WithMaxTokenSize refuses more
	maxKeysPerToken   = 8       // signature checks one token may cost
)

// Issuer is one trusted token issuer: what it may sign with, for whom, and
// where its keys are. Exactly one of JWKSURL, KeysFile and Keys is set.
type Issuer struct {
	// Issuer is the exact "iss" value of the issuer's tokens.
	Issuer string
	// Audiences lists the accepted "aud" values; a token must name at
	// least one. Required unless AnyAudience is set.
	Audiences []string
	// AnyAudience accepts tokens whatever their audience. See the package
	// documentation for why this is an explicit opt-in.
	AnyAudience bool
	// Algorithms lists the accepted "alg" values. Required; HMAC
	// algorithms may not be mixed with asymmetric ones.
	Algorithms []jose.SignatureAlgorithm

	// JWKSURL is the issuer's JWK Set URL (https, or http on loopback).
	JWKSURL string
	// KeysFile is a JWK Set file, read once by New: a regular file (or a
	// link to one; a named pipe would block New) of at most 1 MiB.
	KeysFile string
	// Keys is a JWK Set given in code. Only its public keys are used (a
	// private key is refused); New copies it.
	Keys *jose.JSONWebKeySet

	// JWKSRefresh is how old fetched keys may get before they are fetched
	// again (default DefaultJWKSRefresh). A shorter Cache-Control max-age
	// from the server wins, down to JWKSMinRefetch.
	JWKSRefresh time.Duration
	// JWKSMinRefetch is the least time between two fetches of the URL,
	// successful or not, whatever triggers them (default
	// DefaultJWKSMinRefetch).
	JWKSMinRefetch time.Duration
	// JWKSMaxStale is how long fetched keys stay usable when refreshes
	// fail (default DefaultJWKSMaxStale).
	JWKSMaxStale time.Duration
}

// Option configures a Verifier.
type Option func(*options)

type options struct {
	client       *http.Client
	maxTokenSize int
	skew         time.Duration
	cacheEntries int
	now          func() time.Time
}

// WithHTTPClient sets the client that fetches JWKS URLs. Give it a
// timeout: a fetch is otherwise bounded by DefaultFetchTimeout only. The
// default client times out after DefaultFetchTimeout and refuses redirects
// from https to http; a client given here keeps that refusal (its own
// CheckRedirect runs after it), since keys fetched in clear text could be
// anyone's.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithMaxTokenSize sets the largest token accepted, in bytes (default
// DefaultMaxTokenSize, at most 1 MiB).
func WithMaxTokenSize(n int) Option { return func(o *options) { o.maxTokenSize = n } }

// WithClockSkew sets the tolerance for "exp", "nbf" and "iat" (default
// DefaultClockSkew, at most MaxClockSkew).
func WithClockSkew(d time.Duration) Option { return func(o *options) { o.skew = d } }

// WithCache keeps up to n verified tokens (n > 0), see the package
// documentation. The default is no cache.
func WithCache(n int) Option { return func(o *options) { o.cacheEntries = n } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Verifier verifies tokens of a fixed set of issuers. It is safe for
// concurrent use. See the package documentation for what it checks and
// its security trade-offs.
type Verifier struct {
	issuers      map[string]*issuer
	maxTokenSize int
	skew         time.Duration
	now          func() time.Time
	cache        *tokenCache // nil without WithCache
}

// issuer is the compiled form of an Issuer.
type issuer struct {
	name        string
	audiences   []string // nil means any
	algs        []jose.SignatureAlgorithm
	keys        keySource
	hmac        bool
	description string // for errors: the configured issuer, quoted
}

// New builds a Verifier for the given issuers. It reads KeysFile files but
// fetches no URL: the first token of an issuer does, or Refresh.
func New(issuers []Issuer, opts ...Option) (*Verifier, error) {
	o := options{maxTokenSize: DefaultMaxTokenSize, skew: DefaultClockSkew, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.maxTokenSize <= 0 || o.maxTokenSize > maxTokenSizeLimit:
		return nil, fmt.Errorf("jwt: max token size %d out of range (1 to %d)", o.maxTokenSize, maxTokenSizeLimit)
	case o.skew < 0 || o.skew > MaxClockSkew:
		return nil, fmt.Errorf("jwt: clock skew %v out of range (0 to %v)", o.skew, MaxClockSkew)
	case o.cacheEntries < 0:
		return nil, fmt.Errorf("jwt: cache size %d is negative", o.cacheEntries)
	case o.now == nil:
		return nil, errors.New("jwt: nil clock")
	}
	if o.client == nil {
		o.client = defaultClient()
	} else {
		c := *o.client
		next := c.CheckRedirect
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if err := refuseDowngrade(req, via); err != nil {
				return err
			}
			if next != nil {
				return next(req, via)
			}
			if len(via) >= 10 { // net/http's default
				return errors.New("stopped after 10 redirects")
			}
			return nil
		}
		o.client = &c
	}
	if len(issuers) == 0 {
		return nil, errors.New("jwt: no issuers")
	}
	v := &Verifier{
		issuers:      make(map[string]*issuer, len(issuers)),
		maxTokenSize: o.maxTokenSize,
		skew:         o.skew,
		now:          o.now,
	}
	for i := range issuers {
		iss, err := compileIssuer(&issuers[i], &o)
		if err != nil {
			return nil, err
		}
		if _, dup := v.issuers[iss.name]; dup {
			return nil, fmt.Errorf("jwt: issuer %q configured twice", iss.name)
		}
		v.issuers[iss.name] = iss
	}
	if o.cacheEntries > 0 {
		v.cache = newTokenCache(o.cacheEntries, o.skew)
	}
	return v, nil
}

// defaultClient is the JWKS client when none is given.
func defaultClient() *http.Client {
	return &http.Client{
		Timeout: DefaultFetchTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return refuseDowngrade(req, via)
		},
	}
}

// refuseDowngrade refuses a redirect away from https once any hop used it.
func refuseDowngrade(req *http.Request, via []*http.Request) error {
	for _, v := range via {
		if v.URL.Scheme == "https" && req.URL.Scheme != "https" {
			return errors.New("redirect from https to http refused")
		}
	}
	return nil
}

func compileIssuer(cfg *Issuer, o *options) (*issuer, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("jwt: issuer with an empty Issuer")
	}
	iss := &issuer{name: cfg.Issuer, description: fmt.Sprintf("%q", cfg.Issuer)}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("jwt: issuer "+iss.description+": "+format, args...)
	}

	// Algorithms: explicit, known, never "none", never HMAC mixed with
	// asymmetric ones.
	if len(cfg.Algorithms) == 0 {
		return nil, fail("no algorithms: list the ones the issuer signs with")
	}
	var nHMAC int
	for _, alg := range cfg.Algorithms {
		switch {
		case strings.EqualFold(string(alg), "none"):
			return nil, fail(`algorithm "none" is never allowed`)
		case !supportedAlg(alg):
			return nil, fail("unsupported algorithm %q", alg)
		case isHMAC(alg):
			nHMAC++
		}
		iss.algs = append(iss.algs, alg)
	}
	iss.hmac = nHMAC > 0
	if iss.hmac && nHMAC != len(cfg.Algorithms) {
		return nil, fail("HMAC algorithms mixed with asymmetric ones (RS/HS confusion): use separate issuers")
	}

	// Audiences.
	switch {
	case len(cfg.Audiences) == 0 && !cfg.AnyAudience:
		return nil, fail("no audiences: list them, or set AnyAudience to accept any")
	case len(cfg.Audiences) > 0 && cfg.AnyAudience:
		return nil, fail("both Audiences and AnyAudience set")
	}
	for _, a := range cfg.Audiences {
		if a == "" {
			return nil, fail("empty audience")
		}
	}
	iss.audiences = append([]string(nil), cfg.Audiences...)

	// Keys.
	n := 0
	for _, set := range []bool{cfg.JWKSURL != "", cfg.KeysFile != "", cfg.Keys != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fail("set exactly one of JWKSURL, KeysFile and Keys")
	}
	switch {
	case cfg.JWKSURL != "":
		if iss.hmac {
			return nil, fail("HMAC keys are secrets: give them as static Keys or KeysFile, not a JWKS URL")
		}
		r, err := newRemoteKeys(cfg, iss, o)
		if err != nil {
			return nil, fail("%v", err)
		}
		iss.keys = r
	case cfg.KeysFile != "":
		set, err := readKeysFile(cfg.KeysFile)
		if err != nil {
			return nil, fail("%w", err)
		}
		ks, err := newStaticKeySet(set, iss)
		if err != nil {
			return nil, fail("%s: %v", cfg.KeysFile, err)
		}
		iss.keys = staticKeys{ks}
	default:
		ks, err := newStaticKeySet(cfg.Keys, iss)
		if err != nil {
			return nil, fail("%v", err)
		}
		iss.keys = staticKeys{ks}
	}
	return iss, nil
}

// Refresh fetches the keys of every issuer with a JWKS URL now (subject
// to JWKSMinRefetch), for a service that wants its keys before its first
// request or a readiness check. It returns the first error, including the
// failure of a fetch whose issuer keeps using its previous keys.
func (v *Verifier) Refresh(ctx context.Context) error {
	var first error
	for _, iss := range v.issuers {
		r, ok := iss.keys.(*remoteKeys)
		if !ok {
			continue
		}
		if err := r.refreshNow(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Verify checks token and returns its claims. The returned Claims may be
// shared with other callers (the cache returns the same value): it is
// read-only.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	// The size cap comes before anything else reads the token.
	if len(token) > v.maxTokenSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, v.maxTokenSize)
	}
	var hash [32]byte
	if v.cache != nil {
		hash = tokenHash(token)
		c, iss, ks, ok := v.cache.get(hash)
		// get, not current: a hit refreshes stale keys as a miss does,
		// or a client presenting one cached token would never cause
		// the refresh that drops a withdrawn key.
		if ok {
			if cur, err := iss.keys.get(ctx, false); err == nil && cur == ks {
				if err := v.checkTime(c); err != nil {
					v.cache.remove(hash)
					return nil, err
				}
				return c, nil
			}
		}
	}

	// Split the compact serialization ourselves: we need the unverified
	// "iss" to know which algorithms to give go-jose. A JSON
	// serialization (starting with "{") fails here.
	headerPart, rest, ok1 := strings.Cut(token, ".")
	payloadPart, sigPart, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sigPart, ".") || headerPart == "" {
		return nil, fmt.Errorf("%w: not a JWS compact serialization", ErrMalformed)
	}
	payload, err := base64.RawURLEncoding.DecodeString(payloadPart)
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	claims, err := parseClaims(payload)
	if err != nil {
		return nil, err
	}
	iss, ok := v.issuers[claims.issuer]
	if !ok {
		if claims.issuer == "" {
			return nil, fmt.Errorf("%w: no iss claim", ErrMissingClaim)
		}
		return nil, fmt.Errorf("%w: iss is not a configured issuer", ErrIssuer)
	}

	jws, err := jose.ParseSignedCompact(token, iss.algs)
	if err != nil {
		var algErr *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &algErr) {
			return nil, fmt.Errorf("%w: issuer %s accepts %v", ErrAlgorithm, iss.description, iss.algs)
		}
		return nil, fmt.Errorf("%w: unparsable JWS", ErrMalformed)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: not exactly one signature", ErrMalformed)
	}
	header := jws.Signatures[0].Header
	for _, h := range []jose.HeaderKey{"crit", "b64"} {
		if _, ok := header.ExtraHeaders[h]; ok {
			return nil, fmt.Errorf("%w: unsupported header %s", ErrMalformed, h)
		}
	}
	alg := jose.SignatureAlgorithm(header.Algorithm)

	ks, err := iss.keys.get(ctx, false)
	if err == nil && len(ks.candidates(header.KeyID, alg)) == 0 {
		// Perhaps a key the issuer published since we last looked.
		ks, err = iss.keys.get(ctx, true)
	}
	if err != nil {
		return nil, err
	}
	keys := ks.candidates(header.KeyID, alg)
	switch {
	case len(keys) == 0:
		return nil, fmt.Errorf("%w: issuer %s has no %s key with the token's kid", ErrUnknownKey, iss.description, alg)
	case len(keys) > maxKeysPerToken:
		// Without a kid every key would be tried: a forged token must
		// not cost dozens of signature checks.
		return nil, fmt.Errorf("%w: token without kid and issuer %s has more than %d %s keys", ErrUnknownKey, iss.description, maxKeysPerToken, alg)
	}
	verified := false
	for _, k := range keys {
		got, err := jws.Verify(k)
		// go-jose verified exactly the bytes we decoded, but check: the
		// claims we return must be the signed ones.
		if err == nil && bytes.Equal(got, payload) {
			verified = true
			break
		}
	}
	if !verified {
		return nil, ErrSignature
	}

	if err := v.checkClaims(iss, claims); err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.add(hash, claims, iss, ks, v.now())
	}
	return claims, nil
}

// checkClaims applies the issuer's policy to verified claims.
func (v *Verifier) checkClaims(iss *issuer, c *Claims) error {
	if c.expiry.IsZero() {
		return fmt.Errorf("%w: exp", ErrMissingClaim)
	}
	if err := v.checkTime(c); err != nil {
		return err
	}
	if !c.issuedAt.IsZero() && c.issuedAt.After(v.now().Add(v.skew)) {
		return fmt.Errorf("%w: issued in the future", ErrNotYetValid)
	}
	if iss.audiences == nil {
		return nil
	}
	for _, a := range c.audience {
		for _, want := range iss.audiences {
			if a == want {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: issuer %s requires one of %q", ErrAudience, iss.description, iss.audiences)
}

// checkTime checks "exp" and "nbf" against the current time, allowing the
// skew. It runs on every cache hit too.
func (v *Verifier) checkTime(c *Claims) error {
	now := v.now()
	if !now.Before(c.expiry.Add(v.skew)) {
		return ErrExpired
	}
	if !c.notBefore.IsZero() && now.Add(v.skew).Before(c.notBefore) {
		return ErrNotYetValid
	}
	return nil
}

func supportedAlg(alg jose.SignatureAlgorithm) bool {
	switch alg {
	case jose.RS256, jose.RS384, jose.RS512,
		jose.PS256, jose.PS384, jose.PS512,
		jose.ES256, jose.ES384, jose.ES512,
		jose.EdDSA,
		jose.HS256, jose.HS384, jose.HS512:
		return true
	}
	return false
}

func isHMAC(alg jose.SignatureAlgorithm) bool {
	return alg == jose.HS256 || alg == jose.HS384 || alg == jose.HS512
}
