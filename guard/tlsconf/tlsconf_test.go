package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardsec/ward/internal/regfile"
	"github.com/wardsec/ward/internal/testenv"
)

// handshake runs one TLS handshake over loopback TCP and returns the
// client's view of it.
func handshake(t *testing.T, server, client *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		done <- conn.(*tls.Conn).Handshake()
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err != nil {
		<-done
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.ConnectionState(), <-done
}

func TestProfiles(t *testing.T) {
	cert, certPEM, _, err := NewSelfSigned("ward.test")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	get := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
	client := func(min, max uint16, suites ...uint16) *tls.Config {
		return &tls.Config{RootCAs: roots, ServerName: "ward.test", MinVersion: min, MaxVersion: max, CipherSuites: suites}
	}
	tests := []struct {
		name    string
		profile Profile
		client  *tls.Config
		ok      bool
		version uint16
	}{
		{"intermediate: TLS 1.3", Intermediate, client(tls.VersionTLS13, tls.VersionTLS13), true, tls.VersionTLS13},
		{"intermediate: TLS 1.2 AES-GCM", Intermediate, client(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), true, tls.VersionTLS12},
		{"intermediate: TLS 1.2 ChaCha20", Intermediate, client(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256), true, tls.VersionTLS12},
		{"intermediate: TLS 1.2 CBC refused", Intermediate, client(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA), false, 0},
		{"intermediate: TLS 1.1 refused", Intermediate, client(tls.VersionTLS10, tls.VersionTLS11), false, 0},
		{"modern: TLS 1.3", Modern, client(tls.VersionTLS13, tls.VersionTLS13), true, tls.VersionTLS13},
		{"modern: TLS 1.2 refused", Modern, client(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := handshake(t, Server(tt.profile, get), tt.client)
			if (err == nil) != tt.ok {
				t.Fatalf("handshake error = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && st.Version != tt.version {
				t.Errorf("version %x, want %x", st.Version, tt.version)
			}
		})
	}
	for _, p := range []Profile{Intermediate, Modern} {
		for _, s := range p.CipherSuites() {
			for _, bad := range tls.InsecureCipherSuites() {
				if s == bad.ID {
					t.Errorf("%s allows insecure suite %s", p, bad.Name)
				}
			}
		}
	}
	if _, err := ParseProfile("old"); err == nil {
		t.Error(`ParseProfile("old") succeeded`)
	}
}

func write(t *testing.T, path string, data []byte, mod time.Time) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

// TestKeyPairReload: new files are served after they change, without a
// restart; files that do not load leave the previous pair in use.
func TestKeyPairReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	_, c1, k1, err := NewSelfSigned("one.test")
	if err != nil {
		t.Fatal(err)
	}
	_, c2, k2, err := NewSelfSigned("two.test")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour)
	write(t, certFile, c1, t0)
	write(t, keyFile, k1, t0)
	kp, err := LoadKeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func() string {
		c, err := x509.ParseCertificate(kp.Certificate().Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return c.DNSNames[0]
	}
	if got := leaf(); got != "one.test" {
		t.Fatalf("serving %s, want one.test", got)
	}
	write(t, certFile, c2, t0.Add(time.Minute))
	write(t, keyFile, k2, t0.Add(time.Minute))
	kp.checked.Store(0) // as if a second had passed
	if got := leaf(); got != "two.test" {
		t.Errorf("after the files changed: serving %s, want two.test", got)
	}
	// A broken key: the previous pair stays, the error is reported.
	write(t, keyFile, bytes.Repeat([]byte("x"), 10), t0.Add(2*time.Minute))
	kp.checked.Store(0)
	if got := leaf(); got != "two.test" {
		t.Errorf("after a broken key: serving %s, want two.test still", got)
	}
	if kp.Err() == nil {
		t.Error("Err() = nil after a failed reload")
	}
	if _, err := LoadKeyPair(filepath.Join(dir, "missing.crt"), keyFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadKeyPair(missing) = %v, want ErrNotExist", err)
	}
}

// TestKeyPairNotRegular: a certificate swapped for a named pipe hung the
// handshake that noticed the change (os.ReadFile under the pair's
// lock), and every later one; a key linked to /dev/zero was read until
// memory ran out. The previous pair stays, and Err names the file.
func TestKeyPairNotRegular(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	_, c, k, err := NewSelfSigned("one.test")
	if err != nil {
		t.Fatal(err)
	}
	write(t, certFile, c, time.Now().Add(-time.Hour))
	write(t, keyFile, k, time.Now().Add(-time.Hour))
	kp, err := LoadKeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	testenv.FIFO(t, fifo) // unblocked at cleanup: the old code waited to open it
	for _, tt := range []struct {
		file string
		put  func(tmp string) error
	}{
		{certFile, func(tmp string) error { return os.Link(fifo, tmp) }},
		{keyFile, func(tmp string) error { return os.Symlink("/dev/zero", tmp) }},
	} {
		good, err := os.ReadFile(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		if err := tt.put(tt.file + ".new"); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tt.file+".new", tt.file); err != nil {
			t.Fatal(err)
		}
		kp.checked.Store(0) // as if a second had passed
		done := make(chan *tls.Certificate, 1)
		go func() { done <- kp.Certificate() }()
		select {
		case got := <-done:
			leaf, err := x509.ParseCertificate(got.Certificate[0])
			if err != nil || leaf.DNSNames[0] != "one.test" {
				t.Errorf("%s swapped: serving %v, %v; want the previous pair", tt.file, leaf, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s swapped: Certificate still blocked after 5 s", tt.file)
		}
		if err := kp.Err(); !errors.Is(err, regfile.ErrNotRegular) || !strings.Contains(err.Error(), tt.file) {
			t.Errorf("%s swapped: Err() = %v, want one naming it", tt.file, err)
		}
		if err := os.Remove(tt.file); err != nil {
			t.Fatal(err)
		}
		write(t, tt.file, good, time.Now())
		if err := kp.Reload(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKeyPairSameSizeSameMtime: a certificate and key replaced by
// another pair of the same sizes with the same modification times (`cp
// -p`, `tar -x`, a rename of a prepared pair) were not reloaded: only
// modification time and size were compared, and the old certificate,
// revoked or expiring, was served on. The files' device, inode and
// change time are compared too now.
func TestKeyPairSameSizeSameMtime(t *testing.T) {
	_, c1, k1, err := NewSelfSigned("one.test")
	if err != nil {
		t.Fatal(err)
	}
	// A second pair of the same sizes (an ECDSA signature's length
	// varies by a byte or two).
	var c2, k2 []byte
	for i := 0; i < 200 && (len(c2) != len(c1) || len(k2) != len(k1)); i++ {
		if _, c2, k2, err = NewSelfSigned("two.test"); err != nil {
			t.Fatal(err)
		}
	}
	if len(c2) != len(c1) || len(k2) != len(k1) {
		t.Fatal("no pair of the same sizes")
	}
	t0 := time.Now().Add(-time.Hour)
	for _, tc := range []struct {
		name string
		put  func(t *testing.T, path string, data []byte)
	}{
		{"renamed over", func(t *testing.T, path string, data []byte) {
			write(t, path+".new", data, t0)
			if err := os.Rename(path+".new", path); err != nil {
				t.Fatal(err)
			}
		}},
		{"rewritten in place", func(t *testing.T, path string, data []byte) { write(t, path, data, t0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
			write(t, certFile, c1, t0)
			write(t, keyFile, k1, t0)
			kp, err := LoadKeyPair(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(30 * time.Millisecond) // past the change time's granularity
			tc.put(t, certFile, c2)
			tc.put(t, keyFile, k2)
			kp.checked.Store(0) // as if a second had passed
			leaf, err := x509.ParseCertificate(kp.Certificate().Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			if leaf.DNSNames[0] != "two.test" {
				t.Errorf("serving %s after the pair was replaced, want two.test", leaf.DNSNames[0])
			}
		})
	}
}
