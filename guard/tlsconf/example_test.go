package tlsconf_test

import (
	"crypto/tls"
	"fmt"

	"github.com/wardsec/ward/guard/tlsconf"
)

func ExampleServer() {
	cert, _, _, err := tlsconf.NewSelfSigned("localhost")
	if err != nil {
		panic(err)
	}
	cfg := tlsconf.Server(tlsconf.Intermediate, func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil })
	fmt.Println(tls.VersionName(cfg.MinVersion), len(cfg.CipherSuites), "TLS 1.2 suites")
	// Output: TLS 1.2 6 TLS 1.2 suites
}
