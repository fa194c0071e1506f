package clientip_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/wardsec/ward/guard/clientip"
)

func Example() {
	// Trust the load balancers in 10.0.0.0/8 and nothing else.
	r, err := clientip.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	if err != nil {
		panic(err)
	}

	// Via the load balancer: the client wrote "6.6.6.6" itself; the load
	// balancer appended the address it saw.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.0.0.5:41000"
	req.Header.Set("X-Forwarded-For", "6.6.6.6, 203.0.113.7")
	fmt.Println(r.ClientIP(req))

	// Straight from the internet: the header is ignored.
	req.RemoteAddr = "[2001:db8::1]:52000"
	fmt.Println(r.ClientIP(req))

	// A hop that cannot be read makes the client unknown.
	req.RemoteAddr = "10.0.0.5:41000"
	req.Header.Set("X-Forwarded-For", "203.0.113.7, unknown")
	fmt.Println(r.ClientIP(req).IsValid())
	// Output:
	// 203.0.113.7
	// 2001:db8::1
	// false
}

func ExampleResolver_Handler() {
	r, err := clientip.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	if err != nil {
		panic(err)
	}
	h := r.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ip, _ := clientip.FromContext(req.Context())
		fmt.Println(ip, req.Header.Get("X-Forwarded-For") == "")
	}))

	// An untrusted peer's forwarding headers are removed before the
	// handler sees them.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "198.51.100.4:3000"
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output:
	// 198.51.100.4 true
}

func ExampleWithHeaders() {
	r, err := clientip.New(
		[]netip.Prefix{netip.MustParsePrefix("2001:db8:1::/48")},
		clientip.WithHeaders(clientip.Forwarded),
	)
	if err != nil {
		panic(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "[2001:db8:1::2]:443"
	req.Header.Set("Forwarded", `for="[2001:db8:cafe::17]:4711";proto=https`)
	fmt.Println(r.ClientIP(req))
	// Output:
	// 2001:db8:cafe::17
}
