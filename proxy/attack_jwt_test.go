package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// signRaw signs payload (claims, marshalled as they are) with key as
// ES256 under kid, with the extra header fields and options given.
func signRaw(t *testing.T, key *ecdsa.PrivateKey, kid string, payload map[string]any, opts *jose.SignerOptions) string {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return signKid(t, key, kid, b, opts)
}

// TestAttackJWTForms replays forged and ambiguous tokens (all held): keys
// the token names or carries itself (jwk, jku, x5u, a kid that is a path
// or SQL), a crit header, a nested JWT, dates as strings or in the
// future, an audience for another service, alg none, two tokens in one
// header. Each gets 401, and the upstream nothing.
func TestAttackJWTForms(t *testing.T) {
	u := newRawUpstream(t)
	iss := newJWTIssuer(t)
	h := startWith(t, setup{upstream: u.URL(), files: map[string][]byte{"jwks.json": iss.jwks},
		extra: "jwt: {required: true, issuers: [{issuer: https://id.test, audiences: [shop], algorithms: [ES256], jwksFile: jwks.json}]}\n"})
	evil, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	claims := func(over ...any) map[string]any {
		c := map[string]any{"iss": "https://id.test", "sub": "alice", "aud": "shop", "exp": now + 3600, "iat": now}
		for i := 0; i+1 < len(over); i += 2 {
			if over[i+1] == nil {
				delete(c, over[i].(string))
			} else {
				c[over[i].(string)] = over[i+1]
			}
		}
		return c
	}
	good := signRaw(t, iss.key, "k1", claims(), nil)
	b64 := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name, auth string
		want       int
	}{
		{"valid", "Bearer " + good, 200},
		{"aud in an array", "Bearer " + signRaw(t, iss.key, "k1", claims("aud", []string{"other", "shop"}), nil), 200},
		{"embedded jwk", "Bearer " + signRaw(t, evil, "k1", claims(), (&jose.SignerOptions{EmbedJWK: true})), 401},
		{"jku", "Bearer " + signRaw(t, evil, "k1", claims(), (&jose.SignerOptions{}).WithHeader("jku", "http://127.0.0.1:1/jwks.json")), 401},
		{"x5u", "Bearer " + signRaw(t, evil, "k1", claims(), (&jose.SignerOptions{}).WithHeader("x5u", "http://127.0.0.1:1/c.pem")), 401},
		{"kid path", "Bearer " + signRaw(t, evil, "../../../../dev/null", claims(), nil), 401},
		{"kid sql", "Bearer " + signRaw(t, evil, "x' UNION SELECT 'k1", claims(), nil), 401},
		{"crit", "Bearer " + signRaw(t, iss.key, "k1", claims(), (&jose.SignerOptions{}).WithHeader("crit", []string{"exp"})), 401},
		{"exp as a string", "Bearer " + signRaw(t, iss.key, "k1", claims("exp", "99999999999"), nil), 401},
		{"no exp", "Bearer " + signRaw(t, iss.key, "k1", claims("exp", nil), nil), 401},
		{"nbf ahead, as a float", "Bearer " + signRaw(t, iss.key, "k1", claims("nbf", float64(now)+3600.5), nil), 401},
		{"expired by a fraction", "Bearer " + signRaw(t, iss.key, "k1", claims("exp", float64(now)-120.5), nil), 401},
		{"aud of another service", "Bearer " + signRaw(t, iss.key, "k1", claims("aud", []string{"other"}), nil), 401},
		{"aud as a number", "Bearer " + signRaw(t, iss.key, "k1", claims("aud", 1), nil), 401},
		{"nested JWT", "Bearer " + signRawBytes(t, iss.key, []byte(`"`+good+`"`), (&jose.SignerOptions{}).WithContentType("JWT")), 401},
		{"alg none", "Bearer " + b64([]byte(`{"alg":"none","kid":"k1"}`)) + "." + strings.Split(good, ".")[1] + ".", 401},
		{"two tokens", "Bearer " + good + ", Bearer " + good, 401},
		{"two tokens, space", "Bearer " + good + " " + good, 401},
		{"token in the payload's place", "Bearer " + strings.Split(good, ".")[0] + "." + b64([]byte(`{"iss":"https://id.test","sub":"admin","aud":"shop","exp":99999999999}`)) + "." + strings.Split(good, ".")[2], 401},
	}
	for i, tt := range tests {
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "Authorization", tt.auth, "X-Client", "jwt-"+string(rune('a'+i)))
		if status(resp) != tt.want || (tt.want != 200) != (len(got) == 0) {
			t.Errorf("%s: status %d, the upstream received %d requests; want %d", tt.name, status(resp), len(got), tt.want)
		}
	}
}

// signRawBytes signs payload bytes as they are with key as ES256 (kid k1).
func signRawBytes(t *testing.T, key *ecdsa.PrivateKey, payload []byte, opts *jose.SignerOptions) string {
	t.Helper()
	return signKid(t, key, "k1", payload, opts)
}

// signKid signs payload bytes as they are with key as ES256 under kid.
func signKid(t *testing.T, key *ecdsa.PrivateKey, kid string, payload []byte, opts *jose.SignerOptions) string {
	t.Helper()
	if opts == nil {
		opts = &jose.SignerOptions{}
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestAttackRateLimitRotatingTokens (held): with key: subject, tokens
// that differ (a new jti, iat, audience order) but name one subject
// share its bucket, whatever the client address they come from.
func TestAttackRateLimitRotatingTokens(t *testing.T) {
	u := newRawUpstream(t)
	iss := newJWTIssuer(t)
	h := startWith(t, setup{upstream: u.URL(), files: map[string][]byte{"jwks.json": iss.jwks},
		extra:   "clientIP: {trustedProxies: [127.0.0.0/8]}\njwt: {issuers: [{issuer: https://id.test, anyAudience: true, algorithms: [ES256], jwksFile: jwks.json}]}\n",
		replace: []string{`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, "rateLimit: {rate: 0.01, burst: 2, key: subject}"}})
	now := time.Now().Unix()
	passed := 0
	for i := range 5 {
		tok := signRaw(t, iss.key, "k1", map[string]any{"iss": "https://id.test", "sub": "alice", "aud": []string{"a", "b"}[i%2:], "exp": now + 3600, "iat": now - int64(i), "jti": strconv.Itoa(i)}, nil)
		resp, _ := sendRaw(t, h, u, "web", "GET", "/api/items", "Authorization", "Bearer "+tok, "X-Forwarded-For", "2001:db8:"+string(rune('a'+i))+"::1")
		if status(resp) == 200 {
			passed++
		} else if status(resp) != 429 {
			t.Errorf("token %d: %.300q", i, resp)
		}
	}
	if passed != 2 {
		t.Errorf("%d of 5 requests with rotating tokens of one subject passed, want the burst of 2", passed)
	}
}

// TestAttackForgedTokenFlood: bearer tokens the JWT check refuses (each
// one a signature verification) were never rate limited, since the limit
// ran after the check. A limit keyed by the client address now counts
// every request before the token is verified; one keyed by the subject,
// which only a verified token names, charges each refused token to the
// client's address and refuses that address's next tokens with 429
// before they are verified. Other clients, and the subject's own valid
// tokens from elsewhere, are not affected.
func TestAttackForgedTokenFlood(t *testing.T) {
	forger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"ip", "subject"} {
		t.Run(key, func(t *testing.T) {
			u := newRawUpstream(t)
			iss := newJWTIssuer(t)
			h := startWith(t, setup{upstream: u.URL(), files: map[string][]byte{"jwks.json": iss.jwks},
				extra:   "clientIP: {trustedProxies: [127.0.0.0/8]}\njwt: {issuers: [{issuer: https://id.test, anyAudience: true, algorithms: [ES256], jwksFile: jwks.json}]}\n",
				replace: []string{`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, "rateLimit: {rate: 0.01, burst: 3, key: " + key + "}"}})
			now := time.Now().Unix()
			var codes []int
			for i := range 8 {
				// A fresh forged token each time: the verified-token
				// cache never answers for it.
				tok := signRaw(t, forger, "k1", map[string]any{"iss": "https://id.test", "sub": "alice", "exp": now + 3600, "jti": strconv.Itoa(i)}, nil)
				resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "Authorization", "Bearer "+tok, "X-Forwarded-For", "192.0.2.7")
				if len(got) != 0 {
					t.Fatalf("forged token %d reached the upstream: %q", i, got)
				}
				codes = append(codes, status(resp))
			}
			if want := []int{401, 401, 401, 429, 429, 429, 429, 429}; !slices.Equal(codes, want) {
				t.Errorf("forged tokens from one client: %v, want %v", codes, want)
			}
			if err := h.srv.auditBuf.Flush(); err != nil {
				t.Fatal(err)
			}
			if strings.Count(h.audit.String(), `"rule":"ratelimit"`) != 5 {
				t.Errorf("the refusals are not recorded as the rate limit's: %s", h.audit.String())
			}
			good := iss.token(t, "alice")
			if resp, _ := sendRaw(t, h, u, "web", "GET", "/api/items", "Authorization", "Bearer "+good, "X-Forwarded-For", "192.0.2.8"); status(resp) != 200 {
				t.Errorf("a valid token from another client: %.200q", resp)
			}
			if resp, _ := sendRaw(t, h, u, "web", "GET", "/api/items", "X-Forwarded-For", "192.0.2.9"); status(resp) != 200 {
				t.Errorf("an anonymous request from another client: %.200q", resp)
			}
		})
	}
}

// TestAttackClaimHeaderPadded: a verified token whose sub is " admin"
// (an identity provider that lets users choose a claim, such as a user
// name, and keeps its spaces): the policies judged the principal
// "https://id.test/ admin", which a DENY of https://id.test/admin did not
// match, and the upstream got X-Jwt-Sub: admin, since the transport
// writes header values trimmed. A claim for a header that would not
// reach the upstream as it is (white space at either end, a control
// character, which made the transport fail: 502) is refused with 401.
func TestAttackClaimHeaderPadded(t *testing.T) {
	const pols = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin-user, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{from: [{source: {requestPrincipals: ["https://id.test/admin"]}}]}]
---
` + policies
	u := newRawUpstream(t)
	iss := newJWTIssuer(t)
	h := startWith(t, setup{upstream: u.URL(), policies: pols, files: map[string][]byte{"jwks.json": iss.jwks},
		extra: "jwt: {issuers: [{issuer: https://id.test, anyAudience: true, algorithms: [ES256], jwksFile: jwks.json}], outputClaimToHeaders: [{header: X-Jwt-Sub, claim: sub}]}\n"})
	for _, tt := range []struct {
		sub  string
		want int
	}{
		{"admin", 403},
		{" admin", 401},
		{"admin ", 401},
		{"\tadmin", 401},
		{"ad\x01min", 401},
		{"al ice", 200},
	} {
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "Authorization", "Bearer "+iss.token(t, tt.sub))
		if status(resp) != tt.want {
			t.Errorf("sub %q: status %d, want %d; the upstream received %q", tt.sub, status(resp), tt.want, got)
		}
		switch {
		case tt.want != 200 && len(got) != 0:
			t.Errorf("sub %q: the upstream received %q", tt.sub, got)
		case tt.want == 200 && (len(got) != 1 || !strings.Contains(got[0], "\r\nX-Jwt-Sub: "+tt.sub+"\r\n")):
			t.Errorf("sub %q: the upstream received %q, want the claim as it is", tt.sub, got)
		}
	}
}

// TestAttackForgedTokenFloodIPv6: a client that sends each forged token
// from another address of its IPv6 /64 is still one client to the
// refused-token gate (as to the rate limit itself).
func TestAttackForgedTokenFloodIPv6(t *testing.T) {
	forger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u := newRawUpstream(t)
	iss := newJWTIssuer(t)
	h := startWith(t, setup{upstream: u.URL(), files: map[string][]byte{"jwks.json": iss.jwks},
		extra:   "clientIP: {trustedProxies: [127.0.0.0/8]}\njwt: {issuers: [{issuer: https://id.test, anyAudience: true, algorithms: [ES256], jwksFile: jwks.json}]}\n",
		replace: []string{`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, "rateLimit: {rate: 0.01, burst: 3, key: subject}"}})
	now := time.Now().Unix()
	var codes []int
	for i := range 6 {
		tok := signRaw(t, forger, "k1", map[string]any{"iss": "https://id.test", "sub": "alice", "exp": now + 3600, "jti": strconv.Itoa(i)}, nil)
		resp, _ := sendRaw(t, h, u, "web", "GET", "/api/items", "Authorization", "Bearer "+tok, "X-Forwarded-For", "2001:db8:7:7::"+strconv.Itoa(i+1))
		codes = append(codes, status(resp))
	}
	if want := []int{401, 401, 401, 429, 429, 429}; !slices.Equal(codes, want) {
		t.Errorf("forged tokens from one /64: %v, want %v", codes, want)
	}
}

// TestAttackClaimHeaderNumbers: a numeric claim named in
// outputClaimToHeaders (a user id) was decoded into a float64 and
// written with fmt's %v: 12345678 reached the upstream as 1.2345678e+07,
// and ids past 2^53 were rounded, so that the tokens of two users,
// 1100000000000000001 and 1100000000000000000 (Snowflake ids, as Twitter
// and Discord issue), both gave X-Jwt-Uid: 1.1e+18, which JavaScript's
// Number() and Python's float() read as the second user. An integer
// below 2^53 (which JSON parsers read exactly) is now forwarded in plain
// decimal, and any other number refused with 401.
func TestAttackClaimHeaderNumbers(t *testing.T) {
	u := newRawUpstream(t)
	iss := newJWTIssuer(t)
	h := startWith(t, setup{upstream: u.URL(), files: map[string][]byte{"jwks.json": iss.jwks},
		extra: "jwt: {issuers: [{issuer: https://id.test, anyAudience: true, algorithms: [ES256], jwksFile: jwks.json}], outputClaimToHeaders: [{header: X-Jwt-Uid, claim: uid}]}\n"})
	now := time.Now().Unix()
	for _, tt := range []struct {
		name   string
		uid    any
		want   int
		header string // forwarded when 200
	}{
		{"eight digits", 12345678, 200, "12345678"},
		{"largest exact integer", int64(1)<<53 - 1, 200, "9007199254740991"},
		{"negative", -42, 200, "-42"},
		{"integral float", 7.0, 200, "7"},
		{"boolean", true, 200, "true"},
		{"string", "1100000000000000001", 200, "1100000000000000001"},
		{"snowflake id", uint64(1100000000000000001), 401, ""},
		{"2^53 + 1", int64(1)<<53 + 1, 401, ""},
		{"fraction", 1.5, 401, ""},
		{"huge", 1e300, 401, ""},
	} {
		tok := signRaw(t, iss.key, "k1", map[string]any{"iss": "https://id.test", "sub": "alice", "exp": now + 3600, "uid": tt.uid}, nil)
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "Authorization", "Bearer "+tok)
		if status(resp) != tt.want {
			t.Errorf("%s: status %d, want %d; the upstream received %q", tt.name, status(resp), tt.want, got)
			continue
		}
		switch {
		case tt.want != 200 && len(got) != 0:
			t.Errorf("%s: the upstream received %q", tt.name, got)
		case tt.want == 200 && (len(got) != 1 || !strings.Contains(got[0], "\r\nX-Jwt-Uid: "+tt.header+"\r\n")):
			t.Errorf("%s: the upstream received %q, want X-Jwt-Uid: %s", tt.name, got, tt.header)
		}
	}
}
