package identity_test

import (
	"fmt"
	"net/netip"

	"github.com/wardsec/ward/watch/identity"
)

func Example() {
	tab := identity.NewTable(netip.MustParsePrefix("10.244.0.0/16"))
	ip := netip.MustParseAddr("10.244.0.9")
	tab.Add(identity.Claim{Addr: ip, From: 100, To: 200, Who: &identity.Workload{Namespace: "shop", Kind: "Job", Name: "migrate"}})
	tab.Add(identity.Claim{Addr: ip, From: 300, To: identity.Open, Who: &identity.Workload{Namespace: "shop", Kind: "StatefulSet", Name: "db"}})
	for _, t := range []int64{150, 250, 350} {
		w, res := tab.Resolve(ip, t)
		if w != nil {
			fmt.Println(t, res, w.ID())
		} else {
			fmt.Println(t, res)
		}
	}
	// Output:
	// 150 resolved shop/Job/migrate
	// 250 unknown
	// 350 resolved shop/StatefulSet/db
}
