package proxy

import (
	"net/http"
	"slices"
	"strings"
)

// withHintsKept keeps the response headers set before the upstream
// answered (the security headers, X-Request-Id) on a final response that
// follows an informational one. ReverseProxy forwards a 1xx response
// (103 Early Hints, 102) by copying its headers into the response's
// header map, writing it and clearing the map, so the final response
// went out without nosniff, frame, referrer and content-security
// policies, HSTS or its request id.
func withHintsKept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &hintsWriter{ResponseWriter: w}
		hw.slot, _ = r.Context().Value(concurrencySlotKey{}).(*concurrencySlot)
		hw.take(w.Header())
		next.ServeHTTP(hw, r)
		// Trailers that ReverseProxy adds after the body as undeclared
		// (TrailerPrefix: the upstream sent trailers its header did not
		// announce) of the proxy's own names: none goes out.
		h := w.Header()
		for _, k := range ownResponseTrailers {
			delete(h, k)
		}
	})
}

// ownResponseTrailers are ownResponseHeaders as undeclared trailers
// (http.TrailerPrefix).
var ownResponseTrailers = func() (t [len(ownResponseHeaders)]string) {
	for i, k := range ownResponseHeaders {
		t[i] = http.TrailerPrefix + k
	}
	return t
}()

// hintsInline is how many header fields hintsWriter keeps without a map:
// more than the security headers and the request id.
const hintsInline = 10

// hintsWriter is the ResponseWriter ReverseProxy writes to: it holds the
// header fields set before the upstream answered and, after an
// informational response, puts them back in front of the final
// response's own, as they stand when no 1xx came. The fields are kept in
// the writer itself (a map per request cost two allocations on every
// request, for a response that rarely comes).
type hintsWriter struct {
	http.ResponseWriter
	n      int
	keys   [hintsInline]string
	vals   [hintsInline][]string
	more   http.Header // fields past hintsInline
	hinted bool        // a 1xx was written and the fields are not back yet
	owned  bool        // keepOwn ran
	// slot is the request's place under the concurrency limit, given
	// back with the final response's headers; nil without the limit.
	slot *concurrencySlot
}

// take keeps a shallow copy of h: adding to a header appends to its
// slice, never writes over the values it holds, and clearing the map
// leaves the slices alone.
func (w *hintsWriter) take(h http.Header) {
	for k, vs := range h {
		if w.n < hintsInline {
			w.keys[w.n], w.vals[w.n] = k, vs
			w.n++
			continue
		}
		if w.more == nil {
			w.more = make(http.Header)
		}
		w.more[k] = vs
	}
}

func (w *hintsWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.hinted = true
		w.ownInHints()
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.restore()
	w.keepOwn()
	w.slot.release()
	w.ResponseWriter.WriteHeader(code)
}

func (w *hintsWriter) Write(b []byte) (int, error) {
	w.restore()
	w.keepOwn()
	w.slot.release()
	return w.ResponseWriter.Write(b)
}

// ownResponseHeaders are the response fields whose value is the proxy's
// when it set one: the security headers but Content-Security-Policy
// (browsers enforce every policy sent, so the upstream's can only add
// restrictions), and X-Request-Id (the audit record's). ReverseProxy
// adds the upstream's fields of these names after the proxy's, and the
// client got both: Referrer-Policy: no-referrer then unsafe-url (a
// browser takes the last valid token), two Strict-Transport-Security
// lines (a field with a single value: a cache or load balancer in front
// folds them into "max-age=63072000, max-age=0", which browsers ignore
// whole), X-Request-Id of the audit record then one the upstream chose.
var ownResponseHeaders = [...]string{"Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "X-Request-Id"}

// keepOwn gives the fields of ownResponseHeaders that the proxy set
// before the upstream answered their value again, the upstream's own
// dropped. It runs with the final response's headers.
func (w *hintsWriter) keepOwn() {
	if w.owned {
		return
	}
	w.owned = true
	h := w.ResponseWriter.Header()
	keep := func(k string, vs []string) {
		if slices.Contains(ownResponseHeaders[:], k) && len(h[k]) > len(vs) {
			h[k] = slices.Clip(vs)
		}
	}
	for i := range w.n {
		keep(w.keys[i], w.vals[i])
	}
	for k, vs := range w.more {
		keep(k, vs)
	}
	if tr, ok := h["Trailer"]; ok {
		// The upstream's trailers of these names would follow the body
		// (ReverseProxy declares the upstream's trailers, then adds
		// them to the header map after it): they are not declared, so
		// that the server does not send them. Undeclared ones are
		// removed after the upstream step (withHintsKept).
		var names []string
		for _, v := range tr {
			for _, n := range strings.Split(v, ",") {
				n = http.CanonicalHeaderKey(strings.TrimSpace(n))
				if n != "" && !slices.Contains(ownResponseHeaders[:], n) {
					names = append(names, n)
				}
			}
		}
		if len(names) == 0 {
			delete(h, "Trailer")
		} else {
			h["Trailer"] = []string{strings.Join(names, ", ")}
		}
	}
}

// ownInHints gives an informational response the proxy's values of
// ownResponseHeaders, the upstream's dropped: ReverseProxy adds a 1xx's
// fields to the header map (the proxy's, for the first 1xx; for a later
// one, the map it cleared after the previous), so a 103 carried the
// upstream's Referrer-Policy (which Chromium applies to the preloads a
// 103 starts) and X-Request-Id, after the proxy's or alone.
func (w *hintsWriter) ownInHints() {
	h := w.ResponseWriter.Header()
	for _, k := range ownResponseHeaders {
		delete(h, k)
	}
	put := func(k string, vs []string) {
		if slices.Contains(ownResponseHeaders[:], k) {
			h[k] = slices.Clip(vs)
		}
	}
	for i := range w.n {
		put(w.keys[i], w.vals[i])
	}
	for k, vs := range w.more {
		put(k, vs)
	}
}

// restore puts the fields taken back in front of the header map's own
// after an informational response.
func (w *hintsWriter) restore() {
	if !w.hinted {
		return
	}
	w.hinted = false
	h := w.ResponseWriter.Header()
	put := func(k string, vs []string) { h[k] = append(slices.Clip(vs), h[k]...) }
	for i := range w.n {
		put(w.keys[i], w.vals[i])
	}
	for k, vs := range w.more {
		put(k, vs)
	}
}

// Unwrap lets http.ResponseController reach the underlying writer
// (flushing, hijacking for upgrades, deadlines).
func (w *hintsWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
