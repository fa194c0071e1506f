package harden

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHeaders(t *testing.T) {
	h := Headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "SAMEORIGIN") // the handler's own value wins
	}))
	for _, tls := range []*tls.ConnectionState{nil, {}} {
		r := httptest.NewRequest("GET", "/", nil)
		r.TLS = tls
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		got := rec.Header()
		if got.Get("X-Content-Type-Options") != "nosniff" || got.Get("X-Frame-Options") != "SAMEORIGIN" || got.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("headers %v", got)
		}
		if hsts := got.Get("Strict-Transport-Security"); (hsts != "") != (tls != nil) || tls != nil && hsts != "max-age=63072000" {
			t.Errorf("TLS=%v: HSTS %q", tls != nil, hsts)
		}
	}
}

func TestLimits(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		}
	})
	h := Limits(10, 50, echo)
	tests := []struct {
		name string
		r    *http.Request
		want int
	}{
		{"small", httptest.NewRequest("POST", "/", strings.NewReader("12345")), 200},
		{"declared too large", httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 11))), 413},
		{"streamed too large", func() *http.Request {
			r := httptest.NewRequest("POST", "/", io.NopCloser(strings.NewReader(strings.Repeat("x", 100))))
			r.ContentLength = -1
			return r
		}(), 413},
		{"long URL", httptest.NewRequest("GET", "/"+strings.Repeat("a", 60), nil), 414},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, tt.r)
		if rec.Code != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, rec.Code, tt.want)
		}
	}
}

func TestRecover(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	h := Recover(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("database password is hunter2")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "hunter2") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Errorf("response %d %q leaks internals", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logs.String(), "hunter2") || !strings.Contains(logs.String(), "stack") {
		t.Errorf("the panic is not in the server log: %s", logs.String())
	}
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("ErrAbortHandler was not re-panicked: %v", v)
		}
	}()
	Recover(log, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

func TestServer(t *testing.T) {
	s := Server(":0", http.NotFoundHandler(), Timeouts{Write: 5}, nil)
	if s.ReadHeaderTimeout != DefaultTimeouts.ReadHeader || s.WriteTimeout != 5 || s.MaxHeaderBytes != MaxHeaderBytes {
		t.Errorf("server %+v", s)
	}
}
