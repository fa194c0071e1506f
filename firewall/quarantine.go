package firewall

import (
	"net/netip"

	"github.com/wardsec/ward/ipset"
)

// dropped returns the addresses Compile sends to the unclassified chain,
// both ways: those of the managed networks that no workload owns (owned),
// unless opts.AllowUnclassified, and those of quarantined containers,
// always.
func dropped(inv *Inventory, opts Options, owned ipset.Set) ipset.Set {
	if inv == nil {
		return ipset.Set{}
	}
	var rs []ipset.Range
	if !opts.AllowUnclassified {
		rs = append(rs, inv.Managed().Ranges()...)
	}
	rs = append(rs, inv.quarantined().Ranges()...)
	return subtract(ipset.Of(rs...), owned)
}

// quarantined returns the addresses of the quarantined containers.
func (inv *Inventory) quarantined() ipset.Set {
	var rs []ipset.Range
	for _, q := range inv.Quarantined {
		for _, a := range q.IPs {
			if a.IsValid() {
				a = a.Unmap()
				rs = append(rs, ipset.Range{From: a, To: a})
			}
		}
	}
	return ipset.Of(rs...)
}

// quarantineOwners returns the quarantined container of each quarantined
// address.
func (inv *Inventory) quarantineOwners() map[netip.Addr]*Quarantined {
	out := map[netip.Addr]*Quarantined{}
	for _, q := range inv.Quarantined {
		for _, a := range q.IPs {
			out[a.Unmap()] = q
		}
	}
	return out
}
