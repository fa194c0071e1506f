package spiffeauth_test

import (
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/wardsec/ward/guard/spiffeauth"
)

func ExampleAllowPatterns() {
	authorize := spiffeauth.AllowPatterns(
		spiffeauth.MustParsePattern("spiffe://example.org/ns/shop/**"),
		spiffeauth.MustParsePattern("spiffe://example.org/ns/*/sa/prometheus"),
	)
	for _, id := range []string{
		"spiffe://example.org/ns/shop/sa/web",
		"spiffe://example.org/ns/monitoring/sa/prometheus",
		"spiffe://example.org/ns/other/sa/web",
	} {
		fmt.Println(id, authorize(spiffeid.RequireFromString(id)) == nil)
	}
	// Output:
	// spiffe://example.org/ns/shop/sa/web true
	// spiffe://example.org/ns/monitoring/sa/prometheus true
	// spiffe://example.org/ns/other/sa/web false
}
