package jwt

import (
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

const hsIss = "https://hs.example.com"

// FuzzVerify checks, for any input string, that Verify
//
//   - never panics;
//   - refuses with an error wrapping one of the package's sentinels;
//   - accepts only a token that an independent check (crypto/ecdsa or
//     crypto/hmac directly, not go-jose) proves was signed by a configured
//     key of the issuer its "iss" names, with that issuer's algorithm: so
//     no "none", no RS/HS confusion, no key of the other issuer;
//   - accepts only claims that satisfy the policy (iss, aud, exp present
//     and not past).
func FuzzVerify(f *testing.F) {
	k := testKeys()
	ec, hs := esIssuer(), Issuer{
		Issuer: hsIss, Audiences: []string{"api"},
		Algorithms: []jose.SignatureAlgorithm{jose.HS256},
		Keys:       &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.hmac, KeyID: "k0"}}},
	}
	clock := newClock(t0)
	v := newVerifier(f, clock, []Issuer{ec, hs}, WithCache(64))

	good := sign(f, jose.ES256, k.ec, "k0", claims(nil), nil)
	f.Add(good)
	f.Add(sign(f, jose.ES256, k.ec, "", claims(map[string]any{"aud": []string{"x", "api"}}), nil))
	f.Add(sign(f, jose.HS256, k.hmac, "k0", claims(map[string]any{"iss": hsIss}), nil))
	f.Add(sign(f, jose.HS256, k.hmac, "k0", claims(nil), nil))                        // HMAC key, ES issuer
	f.Add(sign(f, jose.ES256, k.ec, "k0", claims(map[string]any{"iss": hsIss}), nil)) // EC key, HS issuer
	f.Add(sign(f, jose.ES256, k.ec2, "k0", claims(nil), nil))
	f.Add(sign(f, jose.ES256, k.ec, "k0", claims(map[string]any{"exp": nil}), nil))
	f.Add(sign(f, jose.ES256, k.ec, "k0", claims(nil), (&jose.SignerOptions{}).WithHeader("x", 1).WithCritical("x")))
	f.Add(raw(map[string]any{"alg": "none"}, claims(nil), nil))
	f.Add(raw(map[string]any{"alg": "HS256", "kid": "k0"}, claims(nil), []byte("0123456789abcdef0123456789abcdef")))
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add(`{"payload":"e30","signatures":[]}`)
	f.Add("")

	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(bg, tok)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			return
		}
		switch c.Issuer() {
		case testIss:
			if !signedES256(tok, &k.ec.PublicKey) {
				t.Fatalf("accepted a token not signed by the ES256 issuer's key: %q", tok)
			}
		case hsIss:
			if !signedHS256(tok, k.hmac) {
				t.Fatalf("accepted a token not signed by the HS256 issuer's key: %q", tok)
			}
		default:
			t.Fatalf("accepted issuer %q", c.Issuer())
		}
		if c.Expiry().IsZero() || !clock.now().Before(c.Expiry().Add(DefaultClockSkew)) {
			t.Fatalf("accepted exp %v at %v", c.Expiry(), clock.now())
		}
		found := false
		for _, a := range c.Audience() {
			found = found || a == "api"
		}
		if !found {
			t.Fatalf("accepted audience %q", c.Audience())
		}
	})
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrTooLarge, ErrMalformed, ErrIssuer, ErrAlgorithm, ErrUnknownKey,
		ErrKeysUnavailable, ErrSignature, ErrMissingClaim, ErrExpired, ErrNotYetValid, ErrAudience} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// signingInput splits a compact token into its signing input and
// signature, checking that the header names alg.
func signingInput(tok, alg string) (input string, sig []byte, ok bool) {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return "", nil, false
	}
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		return "", nil, false
	}
	h, _, _ := strings.Cut(tok, ".")
	header, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil || !strings.Contains(string(header), `"`+alg+`"`) {
		return "", nil, false
	}
	return tok[:i], sig, true
}

func signedES256(tok string, pub *ecdsa.PublicKey) bool {
	input, sig, ok := signingInput(tok, "ES256")
	if !ok || len(sig) != 64 {
		return false
	}
	h := sha256.Sum256([]byte(input))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, h[:], r, s)
}

func signedHS256(tok string, key []byte) bool {
	input, sig, ok := signingInput(tok, "HS256")
	if !ok {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(input))
	return hmac.Equal(mac.Sum(nil), sig)
}

// TestFuzzSeedsAccepted keeps the fuzz target honest: its valid seeds
// must pass, or the acceptance properties would never be exercised.
func TestFuzzSeedsAccepted(t *testing.T) {
	k := testKeys()
	hs := Issuer{
		Issuer: hsIss, Audiences: []string{"api"},
		Algorithms: []jose.SignatureAlgorithm{jose.HS256},
		Keys:       &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.hmac, KeyID: "k0"}}},
	}
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer(), hs})
	for _, tok := range []string{
		sign(t, jose.ES256, k.ec, "k0", claims(nil), nil),
		sign(t, jose.HS256, k.hmac, "k0", claims(map[string]any{"iss": hsIss}), nil),
	} {
		c, err := v.Verify(bg, tok)
		if err != nil {
			t.Fatal(err)
		}
		if !signedES256(tok, &k.ec.PublicKey) && !signedHS256(tok, k.hmac) {
			t.Errorf("independent check rejects a valid token of %s", c.Issuer())
		}
	}
}
