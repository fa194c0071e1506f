package proxy

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestAttackEarlyHintsDropHeaders: an upstream that sends an
// informational response first (103 Early Hints, as Rails, Node's
// writeEarlyHints or a CDN in front of the application do) made the final
// response leave without the security headers (nosniff, X-Frame-Options,
// CSP, HSTS) and its X-Request-Id: ReverseProxy clears the response's
// header map after writing a 1xx, and the audit record filed the request
// under status 103 whatever the final status was (500 below). The final
// response keeps them, and the record has the final status.
func TestAttackEarlyHintsDropHeaders(t *testing.T) {
	for _, final := range []int{200, 500} {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</app.js>; rel=preload; as=script")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(final)
			_, _ = w.Write([]byte("<html>page</html>"))
		}))
		t.Cleanup(up.Close)
		h := startWith(t, setup{upstream: up.URL})
		raw := h.raw(t, "web", "GET /api/items HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n")
		br := bufio.NewReader(strings.NewReader(raw))
		hints, err := http.ReadResponse(br, nil)
		if err != nil || hints.StatusCode != http.StatusEarlyHints {
			t.Fatalf("first response: %v %v\n%s", hints, err, raw)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("final response: %v\n%s", err, raw)
		}
		if resp.StatusCode != final {
			t.Fatalf("final status %d, want %d", resp.StatusCode, final)
		}
		for _, name := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Strict-Transport-Security", "Referrer-Policy", "X-Request-Id"} {
			if got, want := resp.Header.Values(name), hints.Header.Values(name); len(want) != 1 || !slices.Equal(got, want) {
				t.Errorf("%d: final response's %s: %q, want the proxy's %q", final, name, got, want)
			}
		}
		if err := h.srv.auditBuf.Flush(); err != nil {
			t.Fatal(err)
		}
		want := `"status":` + strconv.Itoa(final) + `,`
		if log := h.audit.String(); !strings.Contains(log, want) || !strings.Contains(log, `"request_id":"`+resp.Header.Get("X-Request-Id")+`"`) {
			t.Errorf("%d: audit record does not have the final status and the response's request id:\n%s", final, log)
		}
	}
}
