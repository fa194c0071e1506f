package ipallow_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/wardsec/ward/guard/clientip"
	"github.com/wardsec/ward/guard/ipallow"
)

func Example() {
	l, err := ipallow.New(
		[]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")},
		[]netip.Prefix{netip.MustParsePrefix("10.66.0.0/16")},
	)
	if err != nil {
		panic(err)
	}
	for _, s := range []string{"10.1.2.3", "10.66.0.1", "::ffff:10.1.2.3", "2001:db8::1", "192.0.2.1"} {
		fmt.Println(s, l.Allowed(netip.MustParseAddr(s)))
	}
	// Output:
	// 10.1.2.3 true
	// 10.66.0.1 false
	// ::ffff:10.1.2.3 true
	// 2001:db8::1 true
	// 192.0.2.1 false
}

func ExampleFilter() {
	// Behind a proxy at 10.0.0.5, admit only clients from 198.51.100.0/24.
	resolver, err := clientip.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")})
	if err != nil {
		panic(err)
	}
	list, err := ipallow.New([]netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}, nil)
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") })
	h := resolver.Handler(ipallow.NewFilter(list).Handler(app))

	for _, client := range []string{"198.51.100.7", "203.0.113.7"} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = "10.0.0.5:40000"
		req.Header.Set("X-Forwarded-For", client)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Printf("%s: %d %q\n", client, rec.Code, rec.Body.String())
	}
	// Output:
	// 198.51.100.7: 200 "hello"
	// 203.0.113.7: 403 "Forbidden\n"
}
