// Package spiffeauth authenticates and authorizes peers by SPIFFE
// identity over mutual TLS, on top of github.com/spiffe/go-spiffe/v2.
//
// Peers present X.509 SVIDs, verified against the trust bundle; their
// SPIFFE ID is then authorized against patterns: exact IDs, "*" for exactly
// one path segment (spiffe://example.org/ns/*/sa/web) and a trailing "/**"
// for any non-empty rest of the path (spiffe://example.org/ns/shop/**).
// Trust domains never match by pattern.
//
// Authorization runs in tls.Config.VerifyConnection, which Go calls on
// every handshake, resumed sessions included. go-spiffe's own configs
// authorize in VerifyPeerCertificate, which Go skips when a session is
// resumed, so a client whose ID was allowed once keeps its access for the
// life of its session ticket after being disallowed; a test shows the
// difference.
//
// A peer has an ID (Handler, PeerID, FromContext) only when its
// certificate chain verified against the trust bundle: during the
// handshake by ServerConfig, which records the certificate it verified
// (Handler then looks the ID up, with no verification per request), or
// by a Verifier, which verifies the chain against a bundle source itself
// and caches the verdict per connection. Either ID lasts as long as the
// verification would hold: on a connection kept alive past its peer's
// SVID (SPIFFE revokes by letting short-lived SVIDs expire), or past a
// bundle rotation that dropped its CA, the peer has none. The certificate in
// tls.ConnectionState says nothing of its verification: with a
// hand-written tls.Config asking for a client certificate without
// verifying it (ClientAuth RequestClientCert, or RequireAnyClientCert
// without ServerConfig's VerifyConnection), Handler used to take the ID
// of a self-signed certificate claiming any ID, which authz's principals
// then authorized. Such a certificate now gives no ID, and a genuine SVID
// none either unless a Verifier checks it: with any tls.Config other
// than ServerConfig's, use NewVerifier(bundle).Handler.
//
// FileSource reads an SVID and a bundle from files (what `ward cert` or a
// SPIRE agent's helper writes) and reloads them when they change (device,
// inode, change time, size or modification time: files replaced by
// others of the same sizes and modification times count); each
// must be a regular file (or a link to one) of at most 16 MiB, and one
// swapped for a named pipe or /dev/zero is refused like one that does not
// parse (it hung every handshake, or exhausted memory). DevCA
// issues SVIDs for development and tests, without SPIRE.
package spiffeauth
