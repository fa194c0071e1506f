package jwt

import (
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// BenchmarkVerifyES256 is a full verification: parse, ECDSA P-256
// signature check, claims. Compare with BenchmarkVerifyCached.
func BenchmarkVerifyES256(b *testing.B) {
	v := newVerifier(b, newClock(t0), []Issuer{esIssuer()})
	tok := sign(b, jose.ES256, testKeys().ec, "k0", claims(map[string]any{"groups": []string{"a", "b"}}), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(bg, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached verifies the same token from the cache: a SHA-256
// of the token, an LRU lookup and the exp/nbf re-check.
func BenchmarkVerifyCached(b *testing.B) {
	v := newVerifier(b, newClock(t0), []Issuer{esIssuer()}, WithCache(1024))
	tok := sign(b, jose.ES256, testKeys().ec, "k0", claims(map[string]any{"groups": []string{"a", "b"}}), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(bg, tok); err != nil {
			b.Fatal(err)
		}
	}
}
