package jwt

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TestHandlerBearerTabRefused: "Authorization: Bearer<TAB>token" was taken
// for another scheme, so the request passed as anonymous, while an
// application that reads the subject from the header it was told is
// verified, splitting it at white space, acted on the forged token.
func TestHandlerBearerTabRefused(t *testing.T) {
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer()})
	forged := sign(t, jose.ES256, testKeys().ec2, "k0", claims(map[string]any{"sub": "admin"}), nil)
	m := NewMiddleware(v) // anonymous requests pass, as in Istio

	var ran atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		if f := strings.Fields(r.Header.Get("Authorization")); len(f) == 2 {
			ran.Add(1) // the application reads a token it takes as verified
		}
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()

	for _, auth := range []string{"Bearer\t" + forged, "bearer\t\t" + forged, "Bearer \t" + forged} {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("GET /me HTTP/1.1\r\nHost: api\r\nAuthorization: " + auth + "\r\nConnection: close\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		_ = c.Close()
		if n := ran.Swap(0); n != 0 || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: got %d, handler ran %d times; want 401 and no handler", auth[:8], resp.StatusCode, n)
		}
	}
}

// TestHandlerBearerUnicodeSpaceRefused: net/http accepts non-ASCII bytes
// in header values, and strings.Fields splits at Unicode white space too
// (U+00A0, U+0085, U+2003, U+3000), so "Bearer<NBSP>token" was another
// scheme to the middleware, which passed the request as anonymous, and
// a verified token to an application that splits the header at white
// space.
func TestHandlerBearerUnicodeSpaceRefused(t *testing.T) {
	v := newVerifier(t, newClock(t0), []Issuer{esIssuer()})
	forged := sign(t, jose.ES256, testKeys().ec2, "k0", claims(map[string]any{"sub": "admin"}), nil)
	m := NewMiddleware(v)

	var ran atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		if f := strings.Fields(r.Header.Get("Authorization")); len(f) == 2 {
			ran.Add(1)
		}
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()

	for _, sep := range []string{"\u00a0", "\u0085", "\u2003", "\u3000", "\u00a0 "} {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("GET /me HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer" + sep + forged + "\r\nConnection: close\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		_ = c.Close()
		if n := ran.Swap(0); n != 0 || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Bearer%q: got %d, handler ran %d times; want 401 and no handler", sep, resp.StatusCode, n)
		}
	}
	// Other schemes, and a scheme that merely starts with Bearer, stay
	// anonymous.
	for _, auth := range []string{"Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearerx abc", "Bearer-Token abc"} {
		r := httptest.NewRequest("GET", "/me", nil)
		r.Header.Set("Authorization", auth)
		if err := m.Check(r); err != nil {
			t.Errorf("%q: %v, want anonymous", auth, err)
		}
	}
}
