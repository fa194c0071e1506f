package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Keys are generated once per test binary; none is ever written to disk.
var testKeys = sync.OnceValue(func() struct {
	ec, ec2 *ecdsa.PrivateKey
	rsa     *rsa.PrivateKey
	ed      ed25519.PrivateKey
	hmac    []byte
} {
	var k struct {
		ec, ec2 *ecdsa.PrivateKey
		rsa     *rsa.PrivateKey
		ed      ed25519.PrivateKey
		hmac    []byte
	}
	var err error
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if k.ec2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	k.hmac = make([]byte, 32)
	if _, err = rand.Read(k.hmac); err != nil {
		panic(err)
	}
	return k
})

// t0 is the tests' "now".
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const testIss = "https://idp.example.com"

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.set(t)
	return c
}
func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// claims returns valid claims for testIss at t0, with overrides (a nil
// value deletes the claim).
func claims(over map[string]any) map[string]any {
	c := map[string]any{
		"iss": testIss,
		"sub": "alice",
		"aud": "api",
		"exp": t0.Add(time.Hour).Unix(),
		"iat": t0.Unix(),
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// sign makes a compact token with go-jose; opts may be nil.
func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, payload map[string]any, opts *jose.SignerOptions) string {
	t.Helper()
	if opts == nil {
		opts = &jose.SignerOptions{}
	}
	opts = opts.WithType("JWT")
	sk := jose.SigningKey{Algorithm: alg, Key: key}
	if kid != "" {
		sk.Key = jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: string(alg)}
	}
	s, err := jose.NewSigner(sk, opts)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// raw builds a compact token from a header, a payload and signature bytes,
// for tokens no honest library would produce.
func raw(header, payload map[string]any, sig []byte) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "." + enc.EncodeToString(sig)
}

// publicSet is a JWKS of the public halves of keys, with kids "k0", "k1"...
func publicSet(keys ...any) *jose.JSONWebKeySet {
	set := &jose.JSONWebKeySet{}
	for i, k := range keys {
		jwk := jose.JSONWebKey{Key: k, KeyID: kidN(i), Use: "sig"}
		if !jwk.IsPublic() {
			jwk = jwk.Public()
		}
		set.Keys = append(set.Keys, jwk)
	}
	return set
}

func kidN(i int) string { return "k" + string(rune('0'+i)) }

// esIssuer is an ES256 issuer with the test EC key as "k0".
func esIssuer() Issuer {
	return Issuer{
		Issuer:     testIss,
		Audiences:  []string{"api"},
		Algorithms: []jose.SignatureAlgorithm{jose.ES256},
		Keys:       publicSet(testKeys().ec),
	}
}

// newVerifier builds a verifier at the fake clock, failing the test on error.
func newVerifier(t testing.TB, clock *fakeClock, issuers []Issuer, opts ...Option) *Verifier {
	t.Helper()
	v, err := New(issuers, append([]Option{WithClock(clock.now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// jwksServer serves a settable JWKS and counts requests.
type jwksServer struct {
	*httptest.Server
	fetches      atomic.Int64
	mu           sync.Mutex
	body         []byte
	status       int
	cacheControl string
}

func newJWKSServer(t *testing.T, set *jose.JSONWebKeySet) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.setKeys(t, set)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body, status, cc := s.body, s.status, s.cacheControl
		s.mu.Unlock()
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(t *testing.T, set *jose.JSONWebKeySet) {
	t.Helper()
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func (s *jwksServer) setStatus(code int) {
	s.mu.Lock()
	s.status = code
	s.mu.Unlock()
}

var bg = context.Background()
