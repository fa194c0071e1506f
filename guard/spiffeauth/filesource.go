package spiffeauth

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/wardsec/ward/internal/filestamp"
	"github.com/wardsec/ward/internal/regfile"
)

// FileSource is an X.509 SVID and trust bundle read from PEM files (the
// SVID's chain and key, and the bundle's CA certificates), reloaded within
// a second of the files changing. A reload that fails keeps the previous
// SVID and bundle and is reported by Err. It implements x509svid.Source
// and x509bundle.Source and is safe for concurrent use.
type FileSource struct {
	certFile, keyFile, bundleFile string

	svid    atomic.Pointer[x509svid.SVID]
	bundle  atomic.Pointer[x509bundle.Bundle]
	checked atomic.Int64

	mu     sync.Mutex
	stamps [3]filestamp.Stamp
	err    error
}

// NewFileSource loads the files; the trust domain is the SVID's.
func NewFileSource(certFile, keyFile, bundleFile string) (*FileSource, error) {
	s := &FileSource{certFile: certFile, keyFile: keyFile, bundleFile: bundleFile}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// stampAll stamps the files: device, inode, change time, size and
// modification time (filestamp). Modification time and size alone missed
// a bundle replaced by another of the same size and modification time
// (`cp -p`, a rename of a prepared file): a CA removed from it stayed
// trusted.
func (s *FileSource) stampAll() ([3]filestamp.Stamp, error) {
	var st [3]filestamp.Stamp
	for i, f := range []string{s.certFile, s.keyFile, s.bundleFile} {
		fs, err := filestamp.Of(f)
		if err != nil {
			return st, err
		}
		st[i] = fs
	}
	return st, nil
}

// Reload reads the files again.
func (s *FileSource) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.stampAll()
	if err == nil {
		var svid *x509svid.SVID
		svid, err = loadSVID(s.certFile, s.keyFile)
		if err == nil {
			var b *x509bundle.Bundle
			b, err = loadBundle(svid.ID.TrustDomain(), s.bundleFile)
			if err == nil {
				s.svid.Store(svid)
				s.bundle.Store(b)
				s.stamps = st
			}
		}
	}
	if err != nil {
		err = fmt.Errorf("spiffeauth: %w", err)
	}
	s.err = err
	return err
}

// Err returns the error of the last reload, or nil.
func (s *FileSource) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *FileSource) maybeReload() {
	now := time.Now().UnixNano()
	last := s.checked.Load()
	if now-last < int64(time.Second) || !s.checked.CompareAndSwap(last, now) {
		return
	}
	st, err := s.stampAll()
	s.mu.Lock()
	changed := err == nil && st != s.stamps
	s.mu.Unlock()
	if changed {
		_ = s.Reload() // keeps the previous files' content on error; Err reports it
	}
}

// GetX509SVID implements x509svid.Source.
func (s *FileSource) GetX509SVID() (*x509svid.SVID, error) {
	s.maybeReload()
	return s.svid.Load(), nil
}

// GetX509BundleForTrustDomain implements x509bundle.Source.
func (s *FileSource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	s.maybeReload()
	b := s.bundle.Load()
	if b.TrustDomain() != td {
		return nil, fmt.Errorf("spiffeauth: no bundle for trust domain %q", td)
	}
	return b, nil
}

// loadSVID is x509svid.Load reading through regfile: the files are read
// again on every change, in the handshake that noticed it, so a named
// pipe or /dev/zero put in their place would hang every handshake (the
// reload holds mu) or exhaust memory.
func loadSVID(certFile, keyFile string) (*x509svid.SVID, error) {
	cert, err := regfile.Read(certFile, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot read certificate file: %w", err)
	}
	key, err := regfile.Read(keyFile, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot read key file: %w", err)
	}
	return x509svid.Parse(cert, key)
}

// loadBundle is x509bundle.Load reading through regfile.
func loadBundle(td spiffeid.TrustDomain, path string) (*x509bundle.Bundle, error) {
	b, err := regfile.Read(path, 0)
	if err != nil {
		return nil, fmt.Errorf("unable to load X.509 bundle file: %w", err)
	}
	return x509bundle.Parse(td, b)
}
