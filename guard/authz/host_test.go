package authz_test

import (
	"testing"

	"github.com/wardsec/ward/guard/authz"
)

// TestCanonicalHost: the Host routed, checked and forwarded is in one
// form, and one already in that form is passed as it is.
func TestCanonicalHost(t *testing.T) {
	for in, want := range map[string]string{
		"api.example.com":       "api.example.com",
		"api.example.com:8443":  "api.example.com:8443",
		"API.Example.com":       "api.example.com",
		"api.example.com.":      "api.example.com",
		"api.example.com.:8443": "api.example.com:8443",
		"10.0.0.1":              "10.0.0.1",
		"10.0.0.1:80":           "10.0.0.1:80",
		"[FE80::1]:80":          "[fe80::1]:80",
		"[::1]":                 "[::1]",
		"[::1]:":                "[::1]",
		"[0:0::1]:443":          "[::1]:443",
		"[2001:DB8:0:0::1]":     "[2001:db8::1]",
		"api.example.com:":      "api.example.com",
		"api.example.com.:":     "api.example.com",
		"api.example.com:65535": "api.example.com:65535",
		"my_svc~1:1":            "my_svc~1:1",
		"XN--DMIN-QOA.example":  "xn--dmin-qoa.example",
		"a1.example":            "a1.example",
		"0xg.example":           "0xg.example",
	} {
		if got, ok := authz.CanonicalHost(in); got != want || !ok {
			t.Errorf("authz.CanonicalHost(%q) = %q, %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", ":80", ".", "a..b", ".a", "a..", "a..:80", "a b", "a%2eb", "a/b", "a:1:2", "a:x", "a:+1", "a:-1",
		"a:0", "a:0443", "a:65536", "a:99999", "a:123456", "[::1", "[::1]x", "[::1]:1:2", "[1.2.3.4]", "[fe80::1%25eth0]",
		"[::ffff:127.0.0.1]", "[::FFFF:7f00:1]", "127.1", "0x7f.1", "0x7F000001", "2130706433", "0127.0.0.1", "127.0.0.01",
		"1.2.3.4.5", "example.123", "example.0x1", "127.0.0.1.:80:", "xn--admin-.example.com", "xn--a-ecp.ru", "xn--", "xn--zz.example",
		"ädmin.example.com", "admin\uff0eexample.com"} {
		if got, ok := authz.CanonicalHost(in); ok {
			t.Errorf("authz.CanonicalHost(%q) = %q, want it refused", in, got)
		}
	}
	for _, in := range []string{"api.example.com:8443", "api.example.com", "10.0.0.1:80", "[::1]:8443"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = authz.CanonicalHost(in) }); n != 0 {
			t.Errorf("%v allocations for %s, already in form", n, in)
		}
	}
}
