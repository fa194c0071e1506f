package proxy_test

import (
	"fmt"

	"github.com/wardsec/ward/proxy"
)

func ExampleParseConfig() {
	_, err := proxy.ParseConfig("proxy.yaml", []byte(`upstream: {url: "http://127.0.0.1:8080"}
allow: [10.0.0.0/8, 10.1.2.3/8]
`))
	fmt.Println(err)
	// Output: proxy.yaml:2: allow[1]: "10.1.2.3/8" has host bits set (did you mean 10.0.0.0/8?)
}
