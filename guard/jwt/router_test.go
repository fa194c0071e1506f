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
