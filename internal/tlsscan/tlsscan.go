// Package tlsscan runs sslscan, the independent TLS scanner from Debian,
// against a server and judges the result against Ward's TLS profiles. It
// is for tests: a TLS configuration is only as good as what an outside
// client can negotiate with it.
package tlsscan

import (
	"encoding/xml"
	"fmt"
	"os/exec"
	"strings"
)

// Result is what sslscan reports about one server.
type Result struct {
	// Protocols maps "ssl2", "ssl3", "tls1.0" ... "tls1.3" to enabled.
	Protocols map[string]bool
	// Ciphers are the accepted suites as "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256".
	Ciphers []string
	// InsecureRenegotiation is set when the server renegotiates insecurely.
	InsecureRenegotiation bool
}

type xmlResult struct {
	Tests []struct {
		Protocols []struct {
			Type    string `xml:"type,attr"`
			Version string `xml:"version,attr"`
			Enabled string `xml:"enabled,attr"`
		} `xml:"protocol"`
		Ciphers []struct {
			Status  string `xml:"status,attr"`
			Version string `xml:"sslversion,attr"`
			Cipher  string `xml:"cipher,attr"`
		} `xml:"cipher"`
		Renegotiation []struct {
			Supported string `xml:"supported,attr"`
			Secure    string `xml:"secure,attr"`
		} `xml:"renegotiation"`
	} `xml:"ssltest"`
}

// Scan runs `sslscan --xml=-` against addr (host:port).
func Scan(addr string) (*Result, error) {
	out, err := exec.Command("sslscan", "--xml=-", "--no-colour", "--no-heartbleed", addr).Output() // #nosec G204 -- a fixed program; addr is the test's own server
	if err != nil {
		return nil, fmt.Errorf("sslscan %s: %w\n%s", addr, err, out)
	}
	var x xmlResult
	if err := xml.Unmarshal(out, &x); err != nil || len(x.Tests) == 0 {
		return nil, fmt.Errorf("sslscan %s: unreadable output (%v):\n%s", addr, err, out)
	}
	r := &Result{Protocols: map[string]bool{}}
	t := x.Tests[0]
	for _, p := range t.Protocols {
		r.Protocols[p.Type+p.Version] = p.Enabled == "1"
	}
	for _, c := range t.Ciphers {
		if c.Status == "accepted" || c.Status == "preferred" {
			r.Ciphers = append(r.Ciphers, c.Version+" "+c.Cipher)
		}
	}
	for _, rn := range t.Renegotiation {
		r.InsecureRenegotiation = r.InsecureRenegotiation || rn.Supported == "1" && rn.Secure != "1"
	}
	return r, nil
}

// aead reports whether a suite name (OpenSSL or IANA style) is an AEAD.
func aead(name string) bool {
	return strings.Contains(name, "GCM") || strings.Contains(name, "CHACHA20") || strings.HasPrefix(name, "TLS_AES")
}

// Problems returns what the result shows against the intermediate profile
// (modern false) or the modern one: old protocols, non-AEAD suites, TLS
// 1.2 in modern, insecure renegotiation, or nothing accepted at all.
func (r *Result) Problems(modern bool) []string {
	var out []string
	for _, v := range []string{"ssl2", "ssl3", "tls1.0", "tls1.1"} {
		if r.Protocols[v] {
			out = append(out, v+" enabled")
		}
	}
	if !r.Protocols["tls1.3"] {
		out = append(out, "tls1.3 not offered")
	}
	if r.Protocols["tls1.2"] == modern {
		out = append(out, fmt.Sprintf("tls1.2 enabled=%v", r.Protocols["tls1.2"]))
	}
	for _, c := range r.Ciphers {
		version, name, _ := strings.Cut(c, " ")
		if !aead(name) {
			out = append(out, "non-AEAD suite "+c)
		}
		if modern && version != "TLSv1.3" {
			out = append(out, "modern accepts "+c)
		}
	}
	if len(r.Ciphers) == 0 {
		out = append(out, "no accepted suite: the scan did not work")
	}
	if r.InsecureRenegotiation {
		out = append(out, "insecure renegotiation")
	}
	return out
}

// Weak reports whether the result shows TLS 1.0 and a CBC suite: what a
// deliberately weak control server must show for a scan to be trusted.
func (r *Result) Weak() bool {
	cbc := false
	for _, c := range r.Ciphers {
		cbc = cbc || strings.HasSuffix(c, "-SHA")
	}
	return r.Protocols["tls1.0"] && cbc
}
