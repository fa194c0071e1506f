package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// urlIssuer is an ES256 issuer whose keys come from srv.
func urlIssuer(srv *jwksServer) Issuer {
	return Issuer{
		Issuer:     testIss,
		Audiences:  []string{"api"},
		Algorithms: []jose.SignatureAlgorithm{jose.ES256},
		JWKSURL:    srv.URL + "/jwks",
	}
}

func TestAttackUnknownKidFlood(t *testing.T) {
	srv := newJWKSServer(t, publicSet(testKeys().ec))
	clock := newClock(t0)
	v := newVerifier(t, clock, []Issuer{urlIssuer(srv)}, WithHTTPClient(srv.Client()))

	// 1,000 tokens with random kids, signed by an attacker, from 20
	// concurrent clients, starting cold (no keys fetched yet). The real
	// clock is not involved: all of it happens within one JWKSMinRefetch.
	attacker := testKeys().ec2
	const n, workers = 1000, 20
	tokens := make([]string, n)
	for i := range tokens {
		kid := make([]byte, 8)
		_, _ = rand.Read(kid)
		tokens[i] = sign(t, jose.ES256, attacker, hex.EncodeToString(kid), claims(nil), nil)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				_, err := v.Verify(bg, tokens[i])
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("flood token: err = %v, want ErrUnknownKey", err)
		}
	}
	if got := srv.fetches.Load(); got > 2 {
		t.Errorf("%d tokens with unknown kids caused %d JWKS fetches, want at most 2", n, got)
	}
	t.Logf("%d unknown-kid tokens: %d JWKS fetches", n, srv.fetches.Load())

	// The flood did not break legitimate traffic.
	if _, err := v.Verify(bg, sign(t, jose.ES256, testKeys().ec, "k0", claims(nil), nil)); err != nil {
		t.Fatalf("valid token after the flood: %v", err)
	}

	// Once the interval has passed, an unknown kid may trigger one fetch
	// again, and only one.
	before := srv.fetches.Load()
	clock.advance(DefaultJWKSMinRefetch)
	for _, tok := range tokens[:100] {
		if _, err := v.Verify(bg, tok); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("err = %v, want ErrUnknownKey", err)
		}
	}
	if got := srv.fetches.Load() - before; got != 1 {
		t.Errorf("after the interval, 100 unknown kids caused %d fetches, want 1", got)
	}
}

func TestJWKSRotation(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, publicSet(k.ec))
	clock := newClock(t0)
	v := newVerifier(t, clock, []Issuer{urlIssuer(srv)}, WithHTTPClient(srv.Client()))
	if err := v.Refresh(bg); err != nil {
		t.Fatal(err)
	}

	// The issuer publishes a second key and signs with it right away.
	srv.setKeys(t, publicSet(k.ec, k.ec2))
	tok := sign(t, jose.ES256, k.ec2, "k1", claims(nil), nil)
	if _, err := v.Verify(bg, tok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("within JWKSMinRefetch of the last fetch: err = %v, want ErrUnknownKey", err)
	}
	clock.advance(DefaultJWKSMinRefetch)
	if _, err := v.Verify(bg, tok); err != nil {
		t.Fatalf("after JWKSMinRefetch the new kid is fetched: %v", err)
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Errorf("fetches = %d, want 2", got)
	}
}

func TestJWKSRefreshAndStale(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, publicSet(k.ec))
	clock := newClock(t0)
	iss := urlIssuer(srv)
	iss.JWKSRefresh, iss.JWKSMaxStale = 10*time.Minute, time.Hour
	v := newVerifier(t, clock, []Issuer{iss}, WithHTTPClient(srv.Client()))
	tok := func() string {
		return sign(t, jose.ES256, k.ec, "k0", claims(map[string]any{"exp": clock.now().Add(time.Hour).Unix()}), nil)
	}

	if _, err := v.Verify(bg, tok()); err != nil {
		t.Fatal(err)
	}
	clock.advance(9 * time.Minute)
	if _, err := v.Verify(bg, tok()); err != nil {
		t.Fatal(err)
	}
	if got := srv.fetches.Load(); got != 1 {
		t.Fatalf("fresh keys refetched: fetches = %d, want 1", got)
	}
	clock.advance(2 * time.Minute)
	if _, err := v.Verify(bg, tok()); err != nil {
		t.Fatal(err)
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Fatalf("stale keys not refreshed: fetches = %d, want 2", got)
	}

	// The identity provider goes down: the last keys stay in use up to
	// JWKSMaxStale, with at most one attempt per JWKSMinRefetch.
	srv.setStatus(http.StatusInternalServerError)
	for range 50 {
		clock.advance(time.Minute)
		if _, err := v.Verify(bg, tok()); err != nil {
			t.Fatalf("at %v after the last fetch: %v", clock.now().Sub(t0)-11*time.Minute, err)
		}
	}
	if got := srv.fetches.Load(); got > 2+50 {
		t.Errorf("fetches = %d, want at most one a minute", got)
	}
	clock.advance(11 * time.Minute) // 61 min after the last good fetch
	_, err := v.Verify(bg, tok())
	if !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("beyond JWKSMaxStale: err = %v, want ErrKeysUnavailable", err)
	}
	if !strings.Contains(err.Error(), "status 500") {
		t.Errorf("err = %v, want it to give the fetch's failure", err)
	}

	// It comes back.
	srv.setStatus(http.StatusOK)
	clock.advance(DefaultJWKSMinRefetch)
	if _, err := v.Verify(bg, tok()); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestJWKSCacheControl(t *testing.T) {
	srv := newJWKSServer(t, publicSet(testKeys().ec))
	srv.cacheControl = "public, max-age=60"
	clock := newClock(t0)
	v := newVerifier(t, clock, []Issuer{urlIssuer(srv)}, WithHTTPClient(srv.Client()))
	if err := v.Refresh(bg); err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jose.ES256, testKeys().ec, "k0", claims(nil), nil)
	clock.advance(61 * time.Second)
	if _, err := v.Verify(bg, tok); err != nil {
		t.Fatal(err)
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Errorf("max-age=60 not honoured: fetches = %d, want 2", got)
	}

	for cc, want := range map[string]time.Duration{
		"max-age=10":               10 * time.Second,
		"no-cache, MAX-AGE=\"20\"": 20 * time.Second,
		"s-maxage=5":               -1,
		"max-age=-3":               -1,
		"max-age=99999999999":      DefaultJWKSMaxStale,
	} {
		got, ok := cacheMaxAge(cc)
		if !ok {
			got = -1
		}
		if got != want {
			t.Errorf("cacheMaxAge(%q) = %v, want %v", cc, got, want)
		}
	}
}

// TestJWKSURLPasswordRedacted: a JWKS URL's secrets appeared in fetch
// errors, which reach logs and, through Verify's error, audit records.
// Only a password was hidden: a username used as a token
// (https://TOKEN@host/) and query secrets (Azure Functions ?code=, SAS
// ?sig=, ?token=) were written out, by this package's errors and by
// net/http's url.Error (which hides only a password). Errors name the URL
// with its whole userinfo and every query value redacted, whatever
// failed: a status, a body, a refused connection, a connection the
// server closes.
func TestJWKSURLPasswordRedacted(t *testing.T) {
	const secret = "s3cret-jwks"
	k := testKeys()
	srv := newJWKSServer(t, publicSet(k.ec))
	refused := httptest.NewServer(http.NotFoundHandler())
	refused.Close()
	hangup, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hangup.Close() }()
	go func() {
		for {
			c, err := hangup.Accept()
			if err != nil {
				return
			}
			_ = c.Close() // before any response
		}
	}()
	for _, tt := range []struct {
		name, base string
		status     int
	}{
		{"status", srv.URL, http.StatusInternalServerError},
		{"body", srv.URL, http.StatusOK},
		{"refused", refused.URL, http.StatusOK},
		{"closed", "http://" + hangup.Addr().String(), http.StatusOK},
	} {
		for _, form := range []struct{ user, query, want string }{
			{"ward:" + secret + "@", "", "//xxxxx@"},
			{secret + "@", "", "//xxxxx@"},
			{"", "?code=" + secret, "/jwks?code=xxxxx"},
			{"", "?sv=1&sig=" + secret + "&token=" + secret, "/jwks?sv=xxxxx&sig=xxxxx&token=xxxxx"},
			{"ward@", "?" + secret, "//xxxxx@"},
		} {
			name := tt.name + " " + form.user + form.query
			srv.mu.Lock()
			srv.body, srv.status = []byte("<html>"), tt.status
			srv.mu.Unlock()
			iss := urlIssuer(srv)
			iss.JWKSURL = strings.Replace(tt.base, "://", "://"+form.user, 1) + "/jwks" + form.query
			v := newVerifier(t, newClock(t0), []Issuer{iss}, WithHTTPClient(srv.Client()))
			_, err := v.Verify(bg, sign(t, jose.ES256, k.ec, "k0", claims(nil), nil))
			if !errors.Is(err, ErrKeysUnavailable) || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), form.want) {
				t.Errorf("%s: %v, want ErrKeysUnavailable naming the URL redacted (%s)", name, err, form.want)
			}
		}
	}
}

func TestJWKSFetchFailures(t *testing.T) {
	k := testKeys()
	for name, body := range map[string]string{
		"not JSON":       "<html>",
		"no keys":        `{"keys":[]}`,
		"only odd keys":  `{"keys":[{"kty":"XYZ"},{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`,
		"too many keys":  `{"keys":[` + strings.Repeat(`{},`, maxJWKSKeys) + `{}]}`,
		"too large body": `{"keys":[],"x":"` + strings.Repeat("a", maxJWKSBytes) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t, publicSet(k.ec))
			srv.mu.Lock()
			srv.body = []byte(body)
			srv.mu.Unlock()
			v := newVerifier(t, newClock(t0), []Issuer{urlIssuer(srv)}, WithHTTPClient(srv.Client()))
			_, err := v.Verify(bg, sign(t, jose.ES256, k.ec, "k0", claims(nil), nil))
			if !errors.Is(err, ErrKeysUnavailable) {
				t.Fatalf("err = %v, want ErrKeysUnavailable", err)
			}
			t.Log(err)
		})
	}

	t.Run("odd keys skipped", func(t *testing.T) {
		set := publicSet(k.ec)
		good, _ := json.Marshal(set.Keys[0])
		srv := newJWKSServer(t, set)
		srv.mu.Lock()
		srv.body = []byte(`{"keys":[{"kty":"XYZ"},{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"},` + string(good) + `]}`)
		srv.mu.Unlock()
		v := newVerifier(t, newClock(t0), []Issuer{urlIssuer(srv)}, WithHTTPClient(srv.Client()))
		if _, err := v.Verify(bg, sign(t, jose.ES256, k.ec, "k0", claims(nil), nil)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("cancelled caller", func(t *testing.T) {
		srv := newJWKSServer(t, publicSet(k.ec))
		v := newVerifier(t, newClock(t0), []Issuer{urlIssuer(srv)}, WithHTTPClient(srv.Client()))
		ctx, cancel := context.WithCancel(bg)
		cancel()
		// The fetch is shared, so the caller's cancellation does not abort it.
		if _, err := v.Verify(ctx, sign(t, jose.ES256, k.ec, "k0", claims(nil), nil)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAttackJWKSKeysWithdrawn: an identity provider that withdraws its
// keys (a compromised key pulled, every key gone, or keys rotated to an
// algorithm this issuer does not accept) publishes a JWK Set without a
// usable key. That was taken for a failed fetch, and the withdrawn key
// went on verifying tokens, cached ones included, for JWKSMaxStale (a
// day by default). A fetched set now replaces the keys whatever it
// holds: the issuer's tokens fail with ErrKeysUnavailable, Refresh (the
// proxy's readiness) reports it, and the keys come back when the
// provider publishes usable ones again. A provider that cannot be
// reached (500, not a JWK Set) still leaves the last keys in use.
func TestAttackJWKSKeysWithdrawn(t *testing.T) {
	k := testKeys()
	rsaOnly, err := json.Marshal(publicSet(k.rsa))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"empty set":           `{"keys":[]}`,
		"only unusable keys":  string(rsaOnly), // an ES256 issuer
		"only encryption key": `{"keys":[{"kty":"EC","use":"enc","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t, publicSet(k.ec))
			clock := newClock(t0)
			v := newVerifier(t, clock, []Issuer{urlIssuer(srv)}, WithHTTPClient(srv.Client()))
			tok := sign(t, jose.ES256, k.ec, "k0", claims(map[string]any{"exp": t0.Add(2 * time.Hour).Unix()}), nil)
			if _, err := v.Verify(bg, tok); err != nil {
				t.Fatal(err)
			}
			srv.mu.Lock()
			srv.body = []byte(body)
			srv.mu.Unlock()
			clock.advance(DefaultJWKSRefresh + time.Second)
			if _, err := v.Verify(bg, tok); !errors.Is(err, ErrKeysUnavailable) {
				t.Fatalf("a token of a withdrawn key after the refresh: err = %v, want ErrKeysUnavailable", err)
			}
			if err := v.Refresh(bg); err == nil {
				t.Error("Refresh (readiness) reports no error with the keys withdrawn")
			}
			clock.advance(time.Hour)
			if _, err := v.Verify(bg, tok); !errors.Is(err, ErrKeysUnavailable) {
				t.Fatalf("an hour later: err = %v, want ErrKeysUnavailable", err)
			}
			// The provider publishes a key again.
			srv.setKeys(t, publicSet(k.ec))
			clock.advance(DefaultJWKSMinRefetch)
			if _, err := v.Verify(bg, tok); err != nil {
				t.Fatalf("after the keys came back: %v", err)
			}
		})
	}
	t.Run("unreachable keeps the last keys", func(t *testing.T) {
		for _, body := range []string{"<html>", "{}", `{"keys":null}`} {
			srv := newJWKSServer(t, publicSet(k.ec))
			clock := newClock(t0)
			v := newVerifier(t, clock, []Issuer{urlIssuer(srv)}, WithHTTPClient(srv.Client()))
			tok := sign(t, jose.ES256, k.ec, "k0", claims(map[string]any{"exp": t0.Add(2 * time.Hour).Unix()}), nil)
			if _, err := v.Verify(bg, tok); err != nil {
				t.Fatal(err)
			}
			srv.mu.Lock()
			srv.body = []byte(body)
			srv.mu.Unlock()
			clock.advance(DefaultJWKSRefresh + time.Second)
			if _, err := v.Verify(bg, tok); err != nil {
				t.Errorf("body %q, not a JWK Set: %v (the last keys stay, up to JWKSMaxStale)", body, err)
			}
		}
	})
}

func TestJWKSUnchangedKeepsIdentity(t *testing.T) {
	srv := newJWKSServer(t, publicSet(testKeys().ec))
	clock := newClock(t0)
	v := newVerifier(t, clock, []Issuer{urlIssuer(srv)}, WithHTTPClient(srv.Client()))
	if err := v.Refresh(bg); err != nil {
		t.Fatal(err)
	}
	r := v.issuers[testIss].keys.(*remoteKeys)
	first := r.current()
	clock.advance(DefaultJWKSRefresh)
	if err := v.Refresh(bg); err != nil {
		t.Fatal(err)
	}
	if r.current() != first {
		t.Error("an unchanged JWKS document replaced the key set")
	}
	srv.setKeys(t, publicSet(testKeys().ec, testKeys().ec2))
	clock.advance(DefaultJWKSRefresh)
	if err := v.Refresh(bg); err != nil {
		t.Fatal(err)
	}
	if r.current() == first {
		t.Error("a changed JWKS document kept the old key set")
	}
}

func TestKidlessTokenBoundedWork(t *testing.T) {
	// Nine trusted ES256 keys: a token without kid would need up to nine
	// signature checks, more than a forged token may cost.
	keys := make([]any, 0, maxKeysPerToken+1)
	for range maxKeysPerToken + 1 {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	iss := esIssuer()
	iss.Keys = &jose.JSONWebKeySet{}
	for i, k := range keys {
		iss.Keys.Keys = append(iss.Keys.Keys, jose.JSONWebKey{Key: &k.(*ecdsa.PrivateKey).PublicKey, KeyID: fmt.Sprint("key", i)})
	}
	v := newVerifier(t, newClock(t0), []Issuer{iss})
	signer := keys[len(keys)-1].(*ecdsa.PrivateKey)
	if _, err := v.Verify(bg, sign(t, jose.ES256, signer, "", claims(nil), nil)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("kid-less token with %d keys: err = %v, want ErrUnknownKey", len(keys), err)
	}
	if _, err := v.Verify(bg, sign(t, jose.ES256, signer, fmt.Sprint("key", len(keys)-1), claims(nil), nil)); err != nil {
		t.Fatalf("with its kid: %v", err)
	}
}

// TestAttackJWKSRedirectDowngrade: a JWKS URL over https that redirects
// to http is refused even with a client of the caller's own (the proxy
// used to pass one without the rule), whatever its CheckRedirect allows.
func TestAttackJWKSRedirectDowngrade(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	plain := newJWKSServer(t, publicSet(&k.PublicKey))
	secure := httptest.NewTLSServer(http.RedirectHandler(plain.URL+"/jwks", http.StatusFound))
	defer secure.Close()
	allowAll := secure.Client()
	allowAll.CheckRedirect = func(*http.Request, []*http.Request) error { return nil }
	for name, c := range map[string]*http.Client{"library rules": secure.Client(), "permissive CheckRedirect": allowAll} {
		iss := Issuer{Issuer: testIss, AnyAudience: true, Algorithms: []jose.SignatureAlgorithm{jose.ES256}, JWKSURL: secure.URL + "/jwks"}
		v, err := New([]Issuer{iss}, WithHTTPClient(c))
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Refresh(context.Background()); err == nil {
			t.Errorf("%s: keys fetched through a redirect from https to http", name)
		}
	}
	if n := plain.fetches.Load(); n != 0 {
		t.Errorf("the http JWKS server was fetched %d times, want 0", n)
	}
}
