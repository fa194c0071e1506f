package portset_test

import (
	"fmt"

	"github.com/wardsec/ward/portset"
)

func Example() {
	egress, _ := portset.Parse("80-90/TCP, 53/UDP")
	ingress, _ := portset.Parse("85/TCP, 8080/TCP")
	fmt.Println(egress.Intersect(ingress))
	fmt.Println(egress.Union(ingress))
	fmt.Println(egress.Contains(portset.UDP, 53), egress.Contains(portset.TCP, 53))
	// Output:
	// 85/TCP
	// 80-90/TCP, 8080/TCP, 53/UDP
	// true false
}
