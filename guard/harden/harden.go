package harden

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/wardsec/ward/internal/auditctx"
)

// securityHeaders are the headers Headers sets, in canonical form, and
// their values; the first only on TLS requests.
var securityHeaders = [...][2]string{
	{"Strict-Transport-Security", "max-age=63072000"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Referrer-Policy", "no-referrer"},
	{"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
}

// Headers sets the security response headers on every response.
func Headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// The values share one allocation, each its own full slice (an
		// Add to one reallocates it, never writes into the next); the
		// names are canonical, so the map is written directly.
		var vals []string
		for i, kv := range securityHeaders {
			if i == 0 && r.TLS == nil {
				continue
			}
			if vs := h[kv[0]]; len(vs) > 0 && vs[0] != "" {
				continue // the handler's own value wins
			}
			if vals == nil {
				vals = make([]string, len(securityHeaders))
			}
			vals[i] = kv[1]
			h[kv[0]] = vals[i : i+1 : i+1]
		}
		next.ServeHTTP(w, r)
	})
}

// Limits caps request bodies at maxBody bytes (413 when a declared
// Content-Length exceeds it; reads beyond it fail) and refuses requests
// whose URL is longer than maxURL bytes (414).
func Limits(maxBody int64, maxURL int, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if maxURL > 0 && len(r.RequestURI) > maxURL {
			auditctx.Deny(r.Context(), "limits", fmt.Sprintf("URL over %d bytes", maxURL))
			http.Error(w, "URI too long", http.StatusRequestURITooLong)
			return
		}
		if maxBody > 0 {
			if r.ContentLength > maxBody {
				auditctx.Deny(r.Context(), "limits", fmt.Sprintf("request body over %d bytes", maxBody))
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			if r.Body == nil || r.Body == http.NoBody {
				next.ServeHTTP(w, r) // nothing to read: no copy of the request
				return
			}
			r2 := *r
			r2.Body = http.MaxBytesReader(w, r.Body, maxBody)
			r = &r2
		}
		next.ServeHTTP(w, r)
	})
}

// Timeouts are an http.Server's timeouts.
type Timeouts struct {
	ReadHeader, Read, Write, Idle time.Duration
}

// DefaultTimeouts suit an API behind Ward: 5 s to send headers, 30 s for a
// request, 60 s for a response, 120 s idle.
var DefaultTimeouts = Timeouts{ReadHeader: 5 * time.Second, Read: 30 * time.Second, Write: 60 * time.Second, Idle: 120 * time.Second}

// MaxHeaderBytes is the header size cap Server sets (64 KiB; net/http's
// default is 1 MiB).
const MaxHeaderBytes = 64 << 10

// Server returns an http.Server for h with the timeouts and the header
// size cap set; zero timeouts take DefaultTimeouts' values.
func Server(addr string, h http.Handler, t Timeouts, log *slog.Logger) *http.Server {
	pick := func(v, d time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return d
	}
	s := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: pick(t.ReadHeader, DefaultTimeouts.ReadHeader),
		ReadTimeout:       pick(t.Read, DefaultTimeouts.Read),
		WriteTimeout:      pick(t.Write, DefaultTimeouts.Write),
		IdleTimeout:       pick(t.Idle, DefaultTimeouts.Idle),
		MaxHeaderBytes:    MaxHeaderBytes,
	}
	if log != nil {
		s.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	return s
}

// Recover answers a panicking handler with 500 and a fixed body, and logs
// the panic with its stack to log (never to the client).
func Recover(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			if log != nil {
				log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			}
			http.Error(w, "internal error", http.StatusInternalServerError)
		}()
		next.ServeHTTP(w, r)
	})
}
