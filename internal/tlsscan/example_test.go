package tlsscan_test

import (
	"fmt"

	"github.com/wardsec/ward/internal/tlsscan"
)

func ExampleResult_Problems() {
	r := &tlsscan.Result{
		Protocols: map[string]bool{"tls1.0": true, "tls1.2": true, "tls1.3": true},
		Ciphers:   []string{"TLSv1.3 TLS_AES_128_GCM_SHA256", "TLSv1.2 ECDHE-ECDSA-AES128-SHA"},
	}
	for _, p := range r.Problems(false) {
		fmt.Println(p)
	}
	// Output:
	// tls1.0 enabled
	// non-AEAD suite TLSv1.2 ECDHE-ECDSA-AES128-SHA
}
