// Package peerctx holds the context key under which spiffeauth records
// what it established about a request's TLS peer, so that authz can tell
// a peer that spiffeauth checked and found unverified (decided as
// anonymous) from one that no middleware checked (a middleware order
// mistake, which authz refuses).
package peerctx

// Key is the context key. Its value is the peer's verified
// spiffeid.ID, or Unverified.
type Key struct{}

// Unverified is the value of Key for a peer that presented a
// certificate that did not verify: the request has no peer identity.
type Unverified struct{}
