// Package tlsconf builds crypto/tls configurations for the Mozilla
// server-side TLS profiles and reloads certificates from files without a
// restart.
//
// Intermediate (the default, the zero Profile) allows TLS 1.2 and 1.3 and,
// for TLS 1.2, only the six ECDHE suites with AES-GCM or ChaCha20-Poly1305:
// Go's own defaults still offer CBC suites that scanners flag. Modern
// allows TLS 1.3 only. There is no option to add a weak suite or an older
// version: a configuration that needs one is out of scope by design.
// Curves are X25519MLKEM768 (post-quantum hybrid), X25519, P-256 and P-384.
// Go servers never renegotiate, and session tickets stay on: code that
// authorizes peers must do it in VerifyConnection (or per request), which
// runs on resumed sessions too, never only in VerifyPeerCertificate, which
// does not (package spiffeauth does this).
//
// KeyPair serves a certificate and key from files and picks up new files
// within a second of them changing (a stat per handshake at most once a
// second; device, inode, change time, size and modification time are
// compared, so that a pair replaced by one of the same sizes and
// modification times, as `cp -p` leaves it, counts), keeping the previous pair when the new one does not load, or
// is not a regular file of at most 16 MiB (a named pipe in a file's place
// hung every handshake; /dev/zero exhausted memory).
// NewSelfSigned makes an ECDSA P-256 pair for tests and development.
package tlsconf
