package guard

import "net/http"

// Middleware wraps a handler, as every Handler function of the guard
// packages does.
type Middleware func(http.Handler) http.Handler

// Chain composes middlewares so that the first one sees the request first:
// Chain(a, b)(h) is a(b(h)).
func Chain(ms ...Middleware) Middleware {
	return func(h http.Handler) http.Handler {
		for i := len(ms) - 1; i >= 0; i-- {
			h = ms[i](h)
		}
		return h
	}
}
