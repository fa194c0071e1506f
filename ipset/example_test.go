package ipset_test

import (
	"fmt"
	"net/netip"

	"github.com/wardsec/ward/ipset"
)

func Example() {
	all := ipset.Of(ipset.FromPrefix(netip.MustParsePrefix("0.0.0.0/0")))
	private := ipset.Of(ipset.FromPrefix(netip.MustParsePrefix("10.0.0.0/8")))
	internet := all.Subtract(private)
	fmt.Println(internet.Describe())
	fmt.Println(internet)
	fmt.Println(internet.Contains(netip.MustParseAddr("10.1.2.3")), internet.Contains(netip.MustParseAddr("8.8.8.8")))
	// Output:
	// 0.0.0.0/0 except 10.0.0.0/8
	// 0.0.0.0/5, 8.0.0.0/7, 11.0.0.0/8, 12.0.0.0/6, 16.0.0.0/4, 32.0.0.0/3, 64.0.0.0/2, 128.0.0.0/1
	// false true
}
