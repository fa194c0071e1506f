package jwt

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func TestCacheHit(t *testing.T) {
	clock := newClock(t0)
	v := newVerifier(t, clock, []Issuer{esIssuer()}, WithCache(16))
	tok := sign(t, jose.ES256, testKeys().ec, "k0", claims(nil), nil)
	c1, err := v.Verify(bg, tok)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := v.Verify(bg, tok)
	if err != nil {
		t.Fatal(err)
	}
	if c1 != c2 {
		t.Error("second Verify of the same token was not served from the cache")
	}

	// The cache is keyed by the token's hash and holds no token.
	v.cache.mu.Lock()
	_, ok := v.cache.m[sha256.Sum256([]byte(tok))]
	v.cache.mu.Unlock()
	if !ok {
		t.Error("no entry under the token's SHA-256")
	}
}

func TestCacheRechecksTime(t *testing.T) {
	clock := newClock(t0)
	v := newVerifier(t, clock, []Issuer{esIssuer()}, WithCache(16), WithClockSkew(0))
	tok := sign(t, jose.ES256, testKeys().ec, "k0", claims(map[string]any{"exp": t0.Add(time.Minute).Unix()}), nil)
	if _, err := v.Verify(bg, tok); err != nil {
		t.Fatal(err)
	}
	if v.cache.len() != 1 {
		t.Fatalf("cache holds %d entries, want 1", v.cache.len())
	}
	clock.advance(time.Minute)
	if _, err := v.Verify(bg, tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("cached token past exp: err = %v, want ErrExpired", err)
	}
	if v.cache.len() != 0 {
		t.Errorf("expired entry not evicted: %d entries", v.cache.len())
	}

	// nbf is re-checked too (a clock that went back).
	clock.set(t0)
	tok = sign(t, jose.ES256, testKeys().ec, "k0", claims(map[string]any{"nbf": t0.Unix()}), nil)
	if _, err := v.Verify(bg, tok); err != nil {
		t.Fatal(err)
	}
	clock.advance(-time.Second)
	if _, err := v.Verify(bg, tok); !errors.Is(err, ErrNotYetValid) {
		t.Fatalf("cached token before nbf: err = %v, want ErrNotYetValid", err)
	}
}

func TestCacheBounded(t *testing.T) {
	clock := newClock(t0)
	const max = 8
	v := newVerifier(t, clock, []Issuer{esIssuer()}, WithCache(max))
	var first string
	for i := range 3 * max {
		tok := sign(t, jose.ES256, testKeys().ec, "k0", claims(map[string]any{"jti": fmt.Sprint(i)}), nil)
		if i == 0 {
			first = tok
		}
		if _, err := v.Verify(bg, tok); err != nil {
			t.Fatal(err)
		}
		if n := v.cache.len(); n > max {
			t.Fatalf("cache holds %d entries, bound %d", n, max)
		}
	}
	v.cache.mu.Lock()
	_, ok := v.cache.m[tokenHash(first)]
	v.cache.mu.Unlock()
	if ok {
		t.Error("least recently used entry not evicted")
	}

	// Expired entries at the cold end go before live ones.
	clock.advance(2 * time.Hour)
	tok := sign(t, jose.ES256, testKeys().ec, "k0", claims(map[string]any{"exp": clock.now().Add(time.Hour).Unix()}), nil)
	if _, err := v.Verify(bg, tok); err != nil {
		t.Fatal(err)
	}
	if n := v.cache.len(); n > max-3 {
		t.Errorf("after expiry, cache holds %d entries; want expired ones swept", n)
	}
}

func TestCacheKeyRotation(t *testing.T) {
	// A key removed from the JWKS stops validating cached tokens once the
	// new set is fetched.
	k := testKeys()
	srv := newJWKSServer(t, publicSet(k.ec, k.ec2))
	clock := newClock(t0)
	v := newVerifier(t, clock, []Issuer{urlIssuer(srv)}, WithHTTPClient(srv.Client()), WithCache(16))
	tok := sign(t, jose.ES256, k.ec2, "k1", claims(nil), nil)
	if _, err := v.Verify(bg, tok); err != nil {
		t.Fatal(err)
	}
	srv.setKeys(t, publicSet(k.ec)) // k1 revoked
	clock.advance(DefaultJWKSRefresh)
	if err := v.Refresh(bg); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(bg, tok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("cached token of a revoked key: err = %v, want ErrUnknownKey", err)
	}
}

// TestAttackCachedTokenNeverRefreshes: a cache hit used the keys in hand
// without looking at their age, so a client presenting one cached token
// (a forged one, signed with a key the provider has since withdrawn)
// never caused a refresh: with no other token to miss the cache, the
// withdrawn key verified it until JWKSMaxStale (a day). A hit now
// refreshes stale keys as a miss does.
func TestAttackCachedTokenNeverRefreshes(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, publicSet(k.ec, k.ec2))
	clock := newClock(t0)
	v := newVerifier(t, clock, []Issuer{urlIssuer(srv)}, WithHTTPClient(srv.Client()), WithCache(16))
	tok := sign(t, jose.ES256, k.ec2, "k1", claims(map[string]any{"exp": t0.Add(3 * time.Hour).Unix()}), nil)
	if _, err := v.Verify(bg, tok); err != nil {
		t.Fatal(err)
	}
	srv.setKeys(t, publicSet(k.ec)) // k1 withdrawn
	for range 12 {
		clock.advance(DefaultJWKSRefresh)
		_, err := v.Verify(bg, tok)
		if errors.Is(err, ErrUnknownKey) {
			break
		}
		if err != nil {
			t.Fatalf("at %v: err = %v, want ErrUnknownKey once refreshed", clock.now().Sub(t0), err)
		}
	}
	if _, err := v.Verify(bg, tok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("an hour after the key was withdrawn, the cached token: err = %v (JWKS fetches: %d), want ErrUnknownKey", err, srv.fetches.Load())
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("JWKS fetches = %d, want 2 (the first, and the refresh of the stale keys)", n)
	}
}
