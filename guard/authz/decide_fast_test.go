package authz

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRequestFromHTTPLocalAddr: the destination taken from a *net.TCPAddr
// directly is what parsing its text gives.
func TestRequestFromHTTPLocalAddr(t *testing.T) {
	for _, a := range []net.Addr{
		&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 8443},
		&net.TCPAddr{IP: net.ParseIP("192.0.2.1").To4(), Port: 1},
		&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 443},
		&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 443, Zone: "eth0"},
		&net.TCPAddr{Port: 80},
		&net.UDPAddr{IP: net.ParseIP("192.0.2.9"), Port: 53},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, a))
		got := RequestFromHTTP(r)
		want := RequestFromHTTP(r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, textAddr(a.String()))))
		if got.DestinationIP != want.DestinationIP || got.Port != want.Port {
			t.Errorf("%v: %v %d, want %v %d", a, got.DestinationIP, got.Port, want.DestinationIP, want.Port)
		}
	}
}

type textAddr string

func (a textAddr) Network() string { return "tcp" }
func (a textAddr) String() string  { return string(a) }
