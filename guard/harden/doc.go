// Package harden holds the HTTP hardening every service should have and
// few write: security response headers, request header and body size
// limits, no bodies on GET, HEAD and TRACE, server timeouts, and panic
// recovery that never shows internals to the client.
//
// Headers sets Strict-Transport-Security (only on TLS requests, two years
// as in Mozilla's profiles), X-Content-Type-Options: nosniff,
// X-Frame-Options: DENY, Referrer-Policy: no-referrer and a restrictive
// Content-Security-Policy for API responses (frame-ancestors 'none';
// default-src 'none'), without overwriting values the handler set.
//
// Server returns an http.Server with read-header, read, write and idle
// timeouts and a header size cap, so that slow clients (slowloris) are cut
// off instead of holding goroutines and memory.
//
// Bodiless refuses GET, HEAD and TRACE requests with a body, for
// handlers that forward requests: an upstream that ignores a GET's body
// reads it as a request of its own, which no middleware saw (CL.0 request
// smuggling). ReadBodiless is its decision, for callers that answer
// otherwise.
//
// Recover turns a panic into a 500 with a fixed body and logs the panic
// value and stack to the server's logger only; http.ErrAbortHandler is
// re-panicked, as net/http expects.
package harden
