// Package harden holds the HTTP hardening every service should have and
// few write: security response headers, request header and body size
// limits, server timeouts, and panic recovery that never shows internals
// to the client.
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
// Recover turns a panic into a 500 with a fixed body and logs the panic
// value and stack to the server's logger only; http.ErrAbortHandler is
// re-panicked, as net/http expects.
package harden
