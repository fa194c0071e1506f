package jwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardsec/ward/guard/jwt"
)

// exampleIssuer plays the identity provider: a key pair, its public JWK
// Set, and a function that issues tokens.
func exampleIssuer(now time.Time) (*jose.JSONWebKeySet, func(sub string, aud ...string) string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	jwks := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "2026-03", Use: "sig", Algorithm: "ES256"}}}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "2026-03"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		panic(err)
	}
	issue := func(sub string, aud ...string) string {
		tok, err := josejwt.Signed(signer).Claims(josejwt.Claims{
			Issuer:   "https://idp.example.com",
			Subject:  sub,
			Audience: aud,
			Expiry:   josejwt.NewNumericDate(now.Add(time.Hour)),
			IssuedAt: josejwt.NewNumericDate(now),
		}).Claims(map[string]any{"groups": []string{"payments", "oncall"}}).Serialize()
		if err != nil {
			panic(err)
		}
		return tok
	}
	return jwks, issue
}

func Example() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	jwks, issue := exampleIssuer(now)

	v, err := jwt.New([]jwt.Issuer{{
		Issuer:     "https://idp.example.com",
		Audiences:  []string{"orders"},
		Algorithms: []jose.SignatureAlgorithm{jose.ES256},
		Keys:       jwks, // or JWKSURL: "https://idp.example.com/.well-known/jwks.json"
	}}, jwt.WithCache(10_000), jwt.WithClock(func() time.Time { return now }))
	if err != nil {
		panic(err)
	}

	claims, err := v.Verify(context.Background(), issue("alice", "orders"))
	if err != nil {
		panic(err)
	}
	groups, _ := claims.Strings("groups")
	fmt.Println(claims.RequestPrincipal(), groups)

	_, err = v.Verify(context.Background(), issue("alice", "billing"))
	fmt.Println(errors.Is(err, jwt.ErrAudience))
	// Output:
	// https://idp.example.com/alice [payments oncall]
	// true
}

func ExampleMiddleware() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	jwks, issue := exampleIssuer(now)
	v, err := jwt.New([]jwt.Issuer{{
		Issuer:     "https://idp.example.com",
		Audiences:  []string{"orders"},
		Algorithms: []jose.SignatureAlgorithm{jose.ES256},
		Keys:       jwks,
	}}, jwt.WithClock(func() time.Time { return now }))
	if err != nil {
		panic(err)
	}
	m := jwt.NewMiddleware(v)
	m.SetRequired(true)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := jwt.FromContext(r.Context())
		fmt.Fprintln(w, "hello", c.Subject())
	}))

	for _, auth := range []string{"Bearer " + issue("bob", "orders"), "", "Bearer not.a.token"} {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("%d %q %q\n", w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String())
	}
	// Output:
	// 200 "" "hello bob\n"
	// 401 "Bearer" "Unauthorized\n"
	// 401 "Bearer error=\"invalid_token\"" "Unauthorized\n"
}
