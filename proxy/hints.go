package proxy

import (
	"net/http"
	"slices"
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
		next.ServeHTTP(&hintsWriter{ResponseWriter: w}, r)
	})
}

// hintsWriter is the ResponseWriter ReverseProxy writes to: it takes a
// copy of the header map at the first call of Header (before the
// upstream's headers are added to it) and, after an informational
// response, puts those values back in front of the final response's own,
// as they stand when no 1xx came.
type hintsWriter struct {
	http.ResponseWriter
	base   http.Header // the header map before the upstream's headers; nil until Header is called
	hinted bool        // a 1xx was written and base is not back yet
}

func (w *hintsWriter) Header() http.Header {
	h := w.ResponseWriter.Header()
	if w.base == nil {
		// A shallow copy: adding to a header appends to its slice,
		// never writes over the values it holds, and clearing the map
		// leaves the slices alone.
		w.base = make(http.Header, len(h))
		for k, vs := range h {
			w.base[k] = vs
		}
	}
	return h
}

func (w *hintsWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		if w.base == nil {
			w.Header()
		}
		w.hinted = true
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.restore()
	w.ResponseWriter.WriteHeader(code)
}

func (w *hintsWriter) Write(b []byte) (int, error) {
	w.restore()
	return w.ResponseWriter.Write(b)
}

// restore puts the values of base back in front of the header map's own
// after an informational response.
func (w *hintsWriter) restore() {
	if !w.hinted {
		return
	}
	w.hinted = false
	h := w.ResponseWriter.Header()
	for k, vs := range w.base {
		h[k] = append(slices.Clip(vs), h[k]...)
	}
}

// Unwrap lets http.ResponseController reach the underlying writer
// (flushing, hijacking for upgrades, deadlines).
func (w *hintsWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
