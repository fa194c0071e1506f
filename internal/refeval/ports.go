package refeval

import (
	"slices"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/wardsec/ward/manifest"
)

// InterestingPorts returns the ports where allowed port sets of set can
// start or end, which differential tests probe: every policy port and
// endPort and every container port with their neighbours, the extremes,
// and the extra ports given; sorted, within 1-65535.
func InterestingPorts(set *manifest.Set, extra ...int) []int {
	ports := append([]int{1, 2, 65534, 65535}, extra...)
	near := func(n int) { ports = append(ports, n-1, n, n+1) }
	for _, p := range set.Policies {
		var all []networkingv1.NetworkPolicyPort
		for _, r := range p.Spec.Ingress {
			all = append(all, r.Ports...)
		}
		for _, r := range p.Spec.Egress {
			all = append(all, r.Ports...)
		}
		for _, np := range all {
			if np.Port != nil && np.Port.StrVal == "" {
				near(int(np.Port.IntVal))
			}
			if np.EndPort != nil {
				near(int(*np.EndPort))
			}
		}
	}
	for _, w := range set.Workloads {
		for _, p := range w.Ports {
			near(int(p.Port))
		}
	}
	slices.Sort(ports)
	ports = slices.Compact(ports)
	return slices.DeleteFunc(ports, func(p int) bool { return p < 1 || p > 65535 })
}
