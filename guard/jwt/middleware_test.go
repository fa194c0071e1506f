package jwt

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func TestMiddleware(t *testing.T) {
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer()})
	good := sign(t, jose.ES256, testKeys().ec, "k0", claims(nil), nil)
	forged := sign(t, jose.ES256, testKeys().ec2, "k0", claims(nil), nil)

	tests := []struct {
		name      string
		headers   []string // Authorization values
		url       string
		required  bool
		wantErr   error  // from Check
		wantSub   string // "" for anonymous, when allowed
		challenge string // WWW-Authenticate when refused
	}{
		{name: "anonymous", wantSub: ""},
		{name: "anonymous required", required: true, wantErr: ErrMissingToken, challenge: "Bearer"},
		{name: "valid", headers: []string{"Bearer " + good}, wantSub: "alice"},
		{name: "valid required", headers: []string{"Bearer " + good}, required: true, wantSub: "alice"},
		{name: "scheme case", headers: []string{"bEaReR " + good}, wantSub: "alice"},
		{name: "extra spaces", headers: []string{"Bearer   " + good + " "}, wantSub: "alice"},
		{name: "forged", headers: []string{"Bearer " + forged}, wantErr: ErrSignature, challenge: `Bearer error="invalid_token"`},
		{name: "two headers", headers: []string{"Bearer " + good, "Bearer " + good}, wantErr: ErrMalformed, challenge: `Bearer error="invalid_token"`},
		{name: "comma joined", headers: []string{"Bearer " + good + ", Bearer " + good}, wantErr: ErrMalformed, challenge: `Bearer error="invalid_token"`},
		{name: "empty bearer", headers: []string{"Bearer"}, wantErr: ErrMalformed, challenge: `Bearer error="invalid_token"`},
		{name: "bearer space only", headers: []string{"Bearer  "}, wantErr: ErrMalformed, challenge: `Bearer error="invalid_token"`},
		{name: "oversized", headers: []string{"Bearer " + strings.Repeat("a", DefaultMaxTokenSize+1)}, wantErr: ErrTooLarge, challenge: `Bearer error="invalid_token"`},
		{name: "basic is no bearer", headers: []string{"Basic YWxpY2U6c2VjcmV0"}, wantSub: ""},
		{name: "basic required", headers: []string{"Basic YWxpY2U6c2VjcmV0"}, required: true, wantErr: ErrMissingToken, challenge: "Bearer"},
		{name: "query token ignored", url: "/?access_token=" + good, required: true, wantErr: ErrMissingToken, challenge: "Bearer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMiddleware(v)
			m.SetRequired(tt.required)
			url := tt.url
			if url == "" {
				url = "/"
			}
			r := httptest.NewRequest(http.MethodGet, url, nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			origCtx := r.Context()

			err := m.Check(r)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Check = %v, want %v", err, tt.wantErr)
			}

			var sawSub string
			var sawClaims bool
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, ok := FromContext(r.Context())
				sawClaims = ok
				if ok {
					sawSub = c.Subject()
				}
				_, _ = io.WriteString(w, "ok")
			})
			w := httptest.NewRecorder()
			m.Handler(next).ServeHTTP(w, r)
			if r.Context() != origCtx {
				t.Error("Handler modified the caller's request")
			}
			resp := w.Result()
			body, _ := io.ReadAll(resp.Body)
			if tt.wantErr != nil {
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("status = %d, want 401", resp.StatusCode)
				}
				if got := resp.Header.Get("WWW-Authenticate"); got != tt.challenge {
					t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
				}
				dump := string(body) + resp.Header.Get("WWW-Authenticate")
				if strings.Contains(dump, good[:20]) || strings.Contains(dump, forged[:20]) || strings.Contains(dump, "jwt:") {
					t.Errorf("refusal says too much: %q", dump)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if sawSub != tt.wantSub || sawClaims != (tt.wantSub != "") {
				t.Errorf("handler saw claims %v, subject %q; want subject %q", sawClaims, sawSub, tt.wantSub)
			}
		})
	}
}

func TestMiddlewareDenyHandler(t *testing.T) {
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer()})
	m := NewMiddleware(v)
	m.SetRequired(true)
	var got error
	m.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = ErrorFromContext(r.Context())
		w.WriteHeader(http.StatusTeapot)
	}))
	w := httptest.NewRecorder()
	m.Handler(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusTeapot || !errors.Is(got, ErrMissingToken) {
		t.Errorf("deny handler: status %d, error %v", w.Code, got)
	}

	m.SetDenyHandler(nil)
	w = httptest.NewRecorder()
	m.Handler(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusUnauthorized {
		t.Errorf("after SetDenyHandler(nil): status %d, want 401", w.Code)
	}
}

func TestMiddlewareConcurrentSetters(t *testing.T) {
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer()})
	m := NewMiddleware(v)
	h := m.Handler(http.NotFoundHandler())
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 200 {
				m.SetRequired((i+j)%2 == 0)
				if j%3 == 0 {
					m.SetDenyHandler(http.NotFoundHandler())
				} else {
					m.SetDenyHandler(nil)
				}
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
			}
		})
	}
	wg.Wait()
}

func TestIsToken68(t *testing.T) {
	for s, want := range map[string]bool{
		"abc.DEF-_~+/": true, "abc==": true, "a=b": false, "=": false, "": false,
		"a b": false, "a,b": false, "a\tb": false, "é": false,
	} {
		if got := isToken68(s); got != want {
			t.Errorf("isToken68(%q) = %v, want %v", s, got, want)
		}
	}
}
