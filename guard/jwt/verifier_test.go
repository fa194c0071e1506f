package jwt

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/wardsec/ward/internal/regfile"
	"github.com/wardsec/ward/internal/testenv"
)

func TestNewRefuses(t *testing.T) {
	k := testKeys()
	octSet := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.hmac, KeyID: "h"}}}
	tests := []struct {
		name string
		edit func(*Issuer)
		opts []Option
	}{
		{"no algorithms", func(i *Issuer) { i.Algorithms = nil }, nil},
		{"alg none", func(i *Issuer) { i.Algorithms = []jose.SignatureAlgorithm{"none"} }, nil},
		{"alg None", func(i *Issuer) { i.Algorithms = []jose.SignatureAlgorithm{jose.ES256, "None"} }, nil},
		{"unknown alg", func(i *Issuer) { i.Algorithms = []jose.SignatureAlgorithm{"ES999"} }, nil},
		{"HS and RS mixed", func(i *Issuer) {
			i.Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.HS256}
			i.Keys = publicSet(&k.rsa.PublicKey)
		}, nil},
		{"HS with a JWKS URL", func(i *Issuer) {
			i.Algorithms = []jose.SignatureAlgorithm{jose.HS256}
			i.Keys, i.JWKSURL = nil, "https://idp.example.com/jwks"
		}, nil},
		{"oct key for an asymmetric issuer", func(i *Issuer) { i.Keys = octSet }, nil},
		{"asymmetric key for an HMAC issuer", func(i *Issuer) { i.Algorithms = []jose.SignatureAlgorithm{jose.HS256} }, nil},
		{"short HMAC key", func(i *Issuer) {
			i.Algorithms = []jose.SignatureAlgorithm{jose.HS256}
			i.Keys = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.hmac[:16], KeyID: "h"}}}
		}, nil},
		{"private key in static set", func(i *Issuer) {
			i.Keys = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.ec, KeyID: "p"}}}
		}, nil},
		{"key of another type than the algorithms", func(i *Issuer) { i.Keys = publicSet(&k.rsa.PublicKey) }, nil},
		{"encryption key", func(i *Issuer) {
			i.Keys = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.ec.PublicKey, KeyID: "e", Use: "enc"}}}
		}, nil},
		{"key alg outside the issuer's", func(i *Issuer) {
			i.Keys = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.ec.PublicKey, KeyID: "e", Algorithm: "ES384"}}}
		}, nil},
		{"empty key set", func(i *Issuer) { i.Keys = &jose.JSONWebKeySet{} }, nil},
		{"no audiences", func(i *Issuer) { i.Audiences = nil }, nil},
		{"empty audience", func(i *Issuer) { i.Audiences = []string{""} }, nil},
		{"audiences and any", func(i *Issuer) { i.AnyAudience = true }, nil},
		{"no key source", func(i *Issuer) { i.Keys = nil }, nil},
		{"two key sources", func(i *Issuer) { i.JWKSURL = "https://idp.example.com/jwks" }, nil},
		{"plain http URL", func(i *Issuer) { i.Keys, i.JWKSURL = nil, "http://idp.example.com/jwks" }, nil},
		{"not a URL", func(i *Issuer) { i.Keys, i.JWKSURL = nil, "::" }, nil},
		{"missing keys file", func(i *Issuer) { i.Keys, i.KeysFile = nil, filepath.Join(t.TempDir(), "none.json") }, nil},
		{"max stale below refresh", func(i *Issuer) {
			i.Keys, i.JWKSURL = nil, "https://idp.example.com/jwks"
			i.JWKSRefresh, i.JWKSMaxStale = time.Hour, time.Minute
		}, nil},
		{"empty issuer", func(i *Issuer) { i.Issuer = "" }, nil},
		{"skew too large", nil, []Option{WithClockSkew(MaxClockSkew + time.Second)}},
		{"negative skew", nil, []Option{WithClockSkew(-time.Second)}},
		{"zero token size", nil, []Option{WithMaxTokenSize(0)}},
		{"huge token size", nil, []Option{WithMaxTokenSize(2 << 20)}},
		{"negative cache", nil, []Option{WithCache(-1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := esIssuer()
			if tt.edit != nil {
				tt.edit(&iss)
			}
			v, err := New([]Issuer{iss}, tt.opts...)
			if err == nil {
				t.Fatalf("New = %v, nil; want an error", v)
			}
			t.Log(err)
		})
	}

	t.Run("no issuers", func(t *testing.T) {
		if _, err := New(nil); err == nil {
			t.Fatal("New(nil) succeeded")
		}
	})
	t.Run("duplicate issuer", func(t *testing.T) {
		if _, err := New([]Issuer{esIssuer(), esIssuer()}); err == nil {
			t.Fatal("New with the same issuer twice succeeded")
		}
	})
}

func TestVerifyAlgorithms(t *testing.T) {
	k := testKeys()
	tests := []struct {
		alg  jose.SignatureAlgorithm
		priv any
		set  *jose.JSONWebKeySet
	}{
		{jose.ES256, k.ec, publicSet(k.ec)},
		{jose.RS256, k.rsa, publicSet(k.rsa)},
		{jose.PS256, k.rsa, publicSet(k.rsa)},
		{jose.EdDSA, k.ed, publicSet(k.ed)},
		{jose.HS256, k.hmac, &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.hmac, KeyID: "k0"}}}},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			iss := Issuer{Issuer: testIss, Audiences: []string{"api"}, Algorithms: []jose.SignatureAlgorithm{tt.alg}, Keys: tt.set}
			v := newVerifier(t, newClock(t0), []Issuer{iss})
			for _, kid := range []string{"k0", ""} {
				tok := sign(t, tt.alg, tt.priv, kid, claims(nil), nil)
				c, err := v.Verify(bg, tok)
				if err != nil {
					t.Fatalf("kid %q: Verify: %v", kid, err)
				}
				if got, want := c.RequestPrincipal(), testIss+"/alice"; got != want {
					t.Errorf("RequestPrincipal() = %q, want %q", got, want)
				}
			}
		})
	}
}

func TestVerifyClaims(t *testing.T) {
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer()})
	tok := sign(t, jose.ES256, testKeys().ec, "k0", claims(map[string]any{
		"aud":                        []string{"other", "api"},
		"nbf":                        t0.Add(-time.Minute).Unix(),
		"jti":                        "id-1",
		"groups":                     []string{"admin", "dev"},
		"scope":                      "read write",
		"realm":                      map[string]any{"roles": []string{"ops"}, "level": 3},
		"https://example.com/tenant": "acme",
	}), nil)
	c, err := v.Verify(bg, tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer() != testIss || c.Subject() != "alice" || c.ID() != "id-1" {
		t.Errorf("iss, sub, jti = %q, %q, %q", c.Issuer(), c.Subject(), c.ID())
	}
	if got := c.Audience(); strings.Join(got, ",") != "other,api" {
		t.Errorf("Audience() = %q", got)
	}
	if !c.Expiry().Equal(t0.Add(time.Hour)) || !c.NotBefore().Equal(t0.Add(-time.Minute)) || !c.IssuedAt().Equal(t0) {
		t.Errorf("exp, nbf, iat = %v, %v, %v", c.Expiry(), c.NotBefore(), c.IssuedAt())
	}
	if got, ok := c.Strings("groups"); !ok || strings.Join(got, ",") != "admin,dev" {
		t.Errorf(`Strings("groups") = %q, %v`, got, ok)
	}
	if got, ok := c.Strings("scope"); !ok || len(got) != 1 || got[0] != "read write" {
		t.Errorf(`Strings("scope") = %q, %v`, got, ok)
	}
	if got, ok := c.Strings("realm", "roles"); !ok || strings.Join(got, ",") != "ops" {
		t.Errorf(`Strings("realm", "roles") = %q, %v`, got, ok)
	}
	if got, ok := c.Get("realm", "level"); !ok || got != float64(3) {
		t.Errorf(`Get("realm", "level") = %v, %v`, got, ok)
	}
	if got, ok := c.Get("https://example.com/tenant"); !ok || got != "acme" {
		t.Errorf("Get of a claim name with dots and slashes = %v, %v", got, ok)
	}
	for _, path := range [][]string{{}, {"nope"}, {"groups", "x"}, {"realm", "nope"}} {
		if got, ok := c.Get(path...); ok {
			t.Errorf("Get(%q) = %v, true; want false", path, got)
		}
	}
	if _, ok := c.Strings("realm"); ok {
		t.Error(`Strings("realm") of an object succeeded`)
	}

	// Claims are read-only: mutating what accessors return changes nothing.
	m, _ := c.Get("realm")
	m.(map[string]any)["roles"].([]any)[0] = "root"
	c.Audience()[0] = "evil"
	if got, _ := c.Strings("realm", "roles"); got[0] != "ops" {
		t.Errorf("mutating Get's result changed the claims: %q", got)
	}
	if c.Audience()[0] != "other" {
		t.Error("mutating Audience's result changed the claims")
	}
}

// checkErr fails unless err wraps want and says nothing taken from tok.
func checkErr(t *testing.T, tok string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	for _, part := range strings.Split(tok, ".") {
		if len(part) >= 8 && strings.Contains(err.Error(), part) {
			t.Errorf("error %q contains a part of the token", err)
		}
	}
}

func TestAttackAlgNone(t *testing.T) {
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer()})
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		for _, sig := range [][]byte{nil, []byte("x")} {
			tok := raw(map[string]any{"alg": alg, "typ": "JWT", "kid": "k0"}, claims(nil), sig)
			_, err := v.Verify(bg, tok)
			checkErr(t, tok, err, ErrAlgorithm)
		}
	}
}

func TestAttackRSHSConfusion(t *testing.T) {
	k := testKeys()
	rsIss := Issuer{
		Issuer: testIss, Audiences: []string{"api"},
		Algorithms: []jose.SignatureAlgorithm{jose.RS256},
		Keys:       publicSet(k.rsa),
	}
	v := newVerifier(t, newClock(t0), []Issuer{rsIss})

	// The classic attack: the RSA public key, in every encoding an
	// attacker might guess, used as the HMAC secret of an HS256 token.
	der, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	jwkJSON, err := json.Marshal(rsIss.Keys.Keys[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range [][]byte{der, pemBytes, jwkJSON, x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)} {
		for _, kid := range []string{"k0", ""} {
			header := map[string]any{"alg": "HS256", "typ": "JWT"}
			if kid != "" {
				header["kid"] = kid
			}
			unsigned := raw(header, claims(nil), nil)
			mac := hmac.New(sha256.New, secret)
			mac.Write([]byte(unsigned[:len(unsigned)-1])) // "header.payload"
			tok := unsigned + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
			_, err := v.Verify(bg, tok)
			checkErr(t, tok, err, ErrAlgorithm)
		}
	}

	// Defence in depth below the algorithm list: an RSA key never fits an
	// HMAC algorithm, and an RS256 issuer's static set cannot hold an oct key.
	for _, alg := range []jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512} {
		if fits(alg, &k.rsa.PublicKey) || fits(alg, &k.ec.PublicKey) || fits(alg, k.ed.Public()) {
			t.Errorf("an asymmetric public key fits %s", alg)
		}
	}
	if fits(jose.RS256, k.hmac) || fits(jose.ES256, k.hmac) {
		t.Error("an HMAC key fits an asymmetric algorithm")
	}
}

func TestAttackExpired(t *testing.T) {
	clock := newClock(t0)
	v := newVerifier(t, clock, []Issuer{esIssuer()}, WithClockSkew(30*time.Second))
	ec := testKeys().ec

	tok := sign(t, jose.ES256, ec, "k0", claims(map[string]any{"exp": t0.Add(-31 * time.Second).Unix()}), nil)
	_, err := v.Verify(bg, tok)
	checkErr(t, tok, err, ErrExpired)

	// Within the skew it still passes; at exp+skew it does not.
	tok = sign(t, jose.ES256, ec, "k0", claims(map[string]any{"exp": t0.Add(-29 * time.Second).Unix()}), nil)
	if _, err := v.Verify(bg, tok); err != nil {
		t.Fatalf("token expired 29s ago with 30s skew: %v", err)
	}
	clock.advance(time.Second)
	_, err = v.Verify(bg, tok)
	checkErr(t, tok, err, ErrExpired)

	// No exp at all is refused: a token must expire.
	tok = sign(t, jose.ES256, ec, "k0", claims(map[string]any{"exp": nil}), nil)
	_, err = v.Verify(bg, tok)
	checkErr(t, tok, err, ErrMissingClaim)

	// exp of the wrong type, and absurd values, do not slip through.
	for _, exp := range []any{"9999999999", 1e300, -1e300, true} {
		tok = sign(t, jose.ES256, ec, "k0", claims(map[string]any{"exp": exp}), nil)
		if _, err := v.Verify(bg, tok); exp == 1e300 && err != nil || exp != 1e300 && err == nil {
			t.Errorf("exp %v: err = %v", exp, err)
		}
	}
}

func TestAttackNotYetValid(t *testing.T) {
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer()})
	ec := testKeys().ec
	for _, over := range []map[string]any{
		{"nbf": t0.Add(31 * time.Second).Unix()},
		{"iat": t0.Add(time.Minute).Unix()},
	} {
		tok := sign(t, jose.ES256, ec, "k0", claims(over), nil)
		_, err := v.Verify(bg, tok)
		checkErr(t, tok, err, ErrNotYetValid)
	}
	tok := sign(t, jose.ES256, ec, "k0", claims(map[string]any{"nbf": t0.Add(29 * time.Second).Unix()}), nil)
	if _, err := v.Verify(bg, tok); err != nil {
		t.Fatalf("nbf 29s ahead with 30s skew: %v", err)
	}
}

func TestAttackWrongAudience(t *testing.T) {
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer()})
	ec := testKeys().ec
	for _, aud := range []any{"other", []string{"other", "api2"}, []string{}, nil, "API", 7} {
		tok := sign(t, jose.ES256, ec, "k0", claims(map[string]any{"aud": aud}), nil)
		if aud == nil {
			tok = sign(t, jose.ES256, ec, "k0", claims(map[string]any{"aud": nil}), nil)
		}
		_, err := v.Verify(bg, tok)
		if aud == 7 {
			checkErr(t, tok, err, ErrMalformed)
			continue
		}
		checkErr(t, tok, err, ErrAudience)
	}

	// AnyAudience is the explicit opt-out.
	iss := esIssuer()
	iss.Audiences, iss.AnyAudience = nil, true
	v = newVerifier(t, newClock(t0), []Issuer{iss})
	tok := sign(t, jose.ES256, ec, "k0", claims(map[string]any{"aud": "other"}), nil)
	if _, err := v.Verify(bg, tok); err != nil {
		t.Fatalf("AnyAudience: %v", err)
	}
}

func TestAttackWrongIssuer(t *testing.T) {
	k := testKeys()
	other := Issuer{
		Issuer: "https://other.example.com", Audiences: []string{"api"},
		Algorithms: []jose.SignatureAlgorithm{jose.ES256},
		Keys:       publicSet(k.ec2),
	}
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer(), other})

	// An issuer nobody configured.
	tok := sign(t, jose.ES256, k.ec, "k0", claims(map[string]any{"iss": "https://evil.example.com"}), nil)
	_, err := v.Verify(bg, tok)
	checkErr(t, tok, err, ErrIssuer)

	// A near miss: issuers match exactly.
	tok = sign(t, jose.ES256, k.ec, "k0", claims(map[string]any{"iss": testIss + "/"}), nil)
	_, err = v.Verify(bg, tok)
	checkErr(t, tok, err, ErrIssuer)

	// No iss.
	tok = sign(t, jose.ES256, k.ec, "k0", claims(map[string]any{"iss": nil}), nil)
	_, err = v.Verify(bg, tok)
	checkErr(t, tok, err, ErrMissingClaim)

	// A trusted issuer's key signing a token that claims the other
	// issuer: iss selects only the other issuer's keys, which do not verify it.
	tok = sign(t, jose.ES256, k.ec, "k0", claims(map[string]any{"iss": other.Issuer}), nil)
	_, err = v.Verify(bg, tok)
	checkErr(t, tok, err, ErrSignature)
	tok = sign(t, jose.ES256, k.ec, "", claims(map[string]any{"iss": other.Issuer}), nil)
	_, err = v.Verify(bg, tok)
	checkErr(t, tok, err, ErrSignature)
}

func TestAttackEmbeddedKey(t *testing.T) {
	// The attacker signs with their own key and embeds it in the header
	// ("jwk"), hoping the verifier trusts it.
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer()})
	attacker := testKeys().ec2
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: attacker}, (&jose.SignerOptions{EmbedJWK: true}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(claims(nil))
	jws, err := s.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(bg, tok)
	checkErr(t, tok, err, ErrSignature)

	// Same with the trusted kid named.
	tok = sign(t, jose.ES256, attacker, "k0", claims(nil), nil)
	_, err = v.Verify(bg, tok)
	checkErr(t, tok, err, ErrSignature)
}

func TestAttackTamperedPayload(t *testing.T) {
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer()})
	tok := sign(t, jose.ES256, testKeys().ec, "k0", claims(nil), nil)
	parts := strings.Split(tok, ".")
	forged, _ := json.Marshal(claims(map[string]any{"sub": "admin"}))
	parts[1] = base64.RawURLEncoding.EncodeToString(forged)
	bad := strings.Join(parts, ".")
	_, err := v.Verify(bg, bad)
	checkErr(t, bad, err, ErrSignature)
}

func TestAttackOversizedToken(t *testing.T) {
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer()})

	// Rejected on length alone: this is not even a JWS (a split bomb of
	// dots, the shape of CVE-2025-27144), and the error says "too large",
	// not "malformed", because nothing parsed it.
	bomb := strings.Repeat(".", DefaultMaxTokenSize+1)
	_, err := v.Verify(bg, bomb)
	checkErr(t, bomb, err, ErrTooLarge)

	// A genuine token over the cap is refused too, and accepted once the
	// cap is raised.
	big := sign(t, jose.ES256, testKeys().ec, "k0", claims(map[string]any{"pad": strings.Repeat("a", DefaultMaxTokenSize)}), nil)
	_, err = v.Verify(bg, big)
	checkErr(t, big, err, ErrTooLarge)
	v = newVerifier(t, newClock(t0), []Issuer{esIssuer()}, WithMaxTokenSize(64<<10))
	if _, err := v.Verify(bg, big); err != nil {
		t.Fatalf("with a 64 KiB cap: %v", err)
	}
}

func TestAttackJSONSerialization(t *testing.T) {
	k := testKeys()
	// Both keys are trusted, so each signature alone would verify.
	iss := esIssuer()
	iss.Keys = publicSet(k.ec, k.ec2)
	v := newVerifier(t, newClock(t0), []Issuer{iss})

	body, _ := json.Marshal(claims(nil))
	s, err := jose.NewMultiSigner([]jose.SigningKey{
		{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k.ec, KeyID: "k0"}},
		{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k.ec2, KeyID: "k1"}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	tok := jws.FullSerialize()
	_, err = v.Verify(bg, tok)
	checkErr(t, tok, err, ErrMalformed)

	// The flattened JSON serialization of a single signature too.
	single, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k.ec, KeyID: "k0"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err = single.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	tok = jws.FullSerialize()
	_, err = v.Verify(bg, tok)
	checkErr(t, tok, err, ErrMalformed)
}

func TestAttackCriticalHeader(t *testing.T) {
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer()})
	ec := testKeys().ec
	for name, opts := range map[string]*jose.SignerOptions{
		"unknown crit": (&jose.SignerOptions{}).WithHeader("x-policy", "strict").WithCritical("x-policy"),
		"b64 false":    (&jose.SignerOptions{}).WithBase64(false),
	} {
		t.Run(name, func(t *testing.T) {
			tok := sign(t, jose.ES256, ec, "k0", claims(nil), opts)
			_, err := v.Verify(bg, tok)
			checkErr(t, tok, err, ErrMalformed)
		})
	}
}

func TestMalformed(t *testing.T) {
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer()})
	good := sign(t, jose.ES256, testKeys().ec, "k0", claims(nil), nil)
	parts := strings.Split(good, ".")
	enc := base64.RawURLEncoding.EncodeToString
	for _, tok := range []string{
		"",
		"abc",
		"a.b",
		"a.b.c.d",
		good + ".",
		" " + good,
		parts[0] + ".!!!." + parts[2],
		parts[0] + "." + enc([]byte("[1,2]")) + "." + parts[2],
		parts[0] + "." + enc([]byte("null")) + "." + parts[2],
		parts[0] + "." + enc([]byte(`{"iss":7}`)) + "." + parts[2],
		"!!!." + parts[1] + "." + parts[2],
		parts[0] + "." + parts[1] + ".!!!",
	} {
		_, err := v.Verify(bg, tok)
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) {
			t.Errorf("Verify(%q) = %v, want ErrMalformed", tok, err)
		}
	}
}

func TestKeysFile(t *testing.T) {
	dir := t.TempDir()
	data, err := json.Marshal(publicSet(testKeys().ec))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	iss := esIssuer()
	iss.Keys, iss.KeysFile = nil, path
	v := newVerifier(t, newClock(t0), []Issuer{iss})
	if _, err := v.Verify(bg, sign(t, jose.ES256, testKeys().ec, "k0", claims(nil), nil)); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New([]Issuer{iss}); err == nil {
		t.Fatal("New with a broken keys file succeeded")
	}
}

// TestKeysFileNotRegular: a keys file that is a named pipe blocked New
// (a proxy's reload, under its lock) in os.Open until someone wrote to
// it; one linked to /dev/zero was read up to the size limit. Both are
// refused at once, naming the file.
func TestKeysFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.json")
	testenv.FIFO(t, fifo) // unblocked at cleanup: the old code waited to open it
	zero := filepath.Join(dir, "zero.json")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, zero} {
		iss := esIssuer()
		iss.Keys, iss.KeysFile = nil, path
		done := make(chan error, 1)
		go func() {
			_, err := New([]Issuer{iss})
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, regfile.ErrNotRegular) || !strings.Contains(err.Error(), path) {
				t.Errorf("New with keys file %s: %v, want an error naming it", path, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("New with keys file %s still blocked after 5 s", path)
		}
	}
}

// TestSharedMap: SharedMap holds what Map holds, is made once per Claims
// (a cached token's requests share it), and is not the Claims' own data:
// writing into Map's copy changes neither.
func TestSharedMap(t *testing.T) {
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer()}, WithCache(8))
	tok := sign(t, jose.ES256, testKeys().ec, "k0", claims(map[string]any{"groups": []string{"admin"}}), nil)
	c1, err := v.Verify(bg, tok)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := v.Verify(bg, tok)
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := c1.SharedMap(), c2.SharedMap()
	if fmt.Sprint(s1) != fmt.Sprint(c1.Map()) {
		t.Errorf("SharedMap %v, Map %v", s1, c1.Map())
	}
	if c1 != c2 {
		t.Fatal("the cache returned two Claims for one token")
	}
	if fmt.Sprintf("%p", s1) != fmt.Sprintf("%p", s2) {
		t.Error("a cached token's SharedMap was copied again")
	}
	m := c1.Map()
	m["groups"] = "root"
	if got, _ := c1.Strings("groups"); fmt.Sprint(got) != "[admin]" || fmt.Sprint(c1.SharedMap()["groups"]) != "[admin]" {
		t.Errorf("writing into Map's copy changed the claims: %v, %v", got, c1.SharedMap()["groups"])
	}
}
