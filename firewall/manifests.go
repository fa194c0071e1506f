package firewall

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/portset"
)

// Pool is where FromManifests takes the addresses of workloads whose
// manifests give no pod IP. A zero prefix assigns no address of that
// family.
type Pool struct {
	IPv4, IPv6 netip.Prefix
}

// DefaultPool is the pool of `ward lab`: 10.250.0.0/16 and
// fd77:6172:6400::/64 (a unique local prefix spelling "ward" in ASCII).
var DefaultPool = Pool{
	IPv4: netip.MustParsePrefix("10.250.0.0/16"),
	IPv6: netip.MustParsePrefix("fd77:6172:6400::/64"),
}

// LabNetwork is the name of the one network FromManifests declares.
const LabNetwork = "lab"

// FromManifests builds an inventory from the workloads of set, for a lab
// of test hosts: one container per workload, in the workload's namespace,
// with its pod template's labels and the ports of all its containers.
// Its addresses are the workload's known pod IPs (status.podIP(s) of its
// own Pod or of its instance pods) when the manifests give any, so that
// ipBlock rules are exercised; otherwise one address of each family of
// pool, in order, skipping addresses that manifests use. The inventory
// declares one network, LabNetwork, whose subnets cover every address:
// the pool's prefixes, and the /24 (IPv4) or /64 (IPv6) of each pod IP
// outside them.
//
// HostNetwork workloads share their node's network stack: they become
// hostNetwork containers without addresses (several of them share a
// node's), which policies never select and selectors never match.
//
// Two workloads of one namespace and name (a Deployment and a StatefulSet
// both named "db") become containers "db" and "db-statefulset". Errors
// (a pod IP used by two workloads, an address that cannot be a pod's, a
// pool too small) are *manifest.Error values naming the workload's file
// and line, wrapping ErrDuplicate, ErrBadAddress or ErrInvalid.
func FromManifests(set *manifest.Set, pool Pool) (*Inventory, error) {
	inv := &Inventory{}
	if set == nil {
		return inv, nil
	}
	var errs []error
	fail := func(w *manifest.Workload, kind error, format string, args ...any) {
		errs = append(errs, &manifest.Error{File: w.Source.File, Line: w.Source.Line, Object: w.ID(),
			Err: &inventoryError{fmt.Sprintf(format, args...), kind}})
	}
	owner := map[netip.Addr]*manifest.Workload{}
	names := map[string]bool{}
	var unaddressed []*Container
	var subnets []netip.Prefix
	for _, w := range set.Workloads {
		c := &Container{
			Name:        w.Name,
			Namespace:   cmp.Or(w.Namespace, "default"),
			Labels:      maps.Clone(w.Labels),
			HostNetwork: w.HostNetwork,
			Line:        w.Source.Line,
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		if names[c.ID()] {
			c.Name = w.Name + "-" + strings.ToLower(w.Kind)
		}
		if names[c.ID()] {
			fail(w, ErrDuplicate, "workload %s: container name %s already taken", w.ID(), c.ID())
			continue
		}
		names[c.ID()] = true
		for _, p := range w.Ports {
			port, err := containerPort(p)
			if err != nil {
				fail(w, ErrInvalid, "%v", err)
				continue
			}
			if !slices.Contains(c.Ports, port) {
				c.Ports = append(c.Ports, port)
			}
		}
		if !w.HostNetwork {
			for _, a := range w.IPs {
				a = a.Unmap()
				if a.Zone() != "" || a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() {
					fail(w, ErrBadAddress, "pod IP %s cannot be a container's address (zone, unspecified, loopback, multicast or link-local)", a)
					continue
				}
				if prev, dup := owner[a]; dup {
					fail(w, ErrDuplicate, "pod IP %s is also the address of %s (%s)", a, prev.ID(), prev.Source)
					continue
				}
				owner[a] = w
				c.IPs = append(c.IPs, a)
				if !inPool(pool, a) {
					subnets = append(subnets, podSubnet(a))
				}
			}
			if len(c.IPs) == 0 {
				unaddressed = append(unaddressed, c)
			}
		}
		inv.Containers = append(inv.Containers, c)
	}
	if len(unaddressed) > 0 {
		if !pool.IPv4.IsValid() && !pool.IPv6.IsValid() {
			errs = append(errs, &manifest.Error{Err: &inventoryError{"workloads without pod IPs and no address pool to assign from", ErrInvalid}})
		}
		for _, pfx := range []netip.Prefix{pool.IPv4, pool.IPv6} {
			if !pfx.IsValid() {
				continue
			}
			pfx = pfx.Masked()
			subnets = append(subnets, pfx)
			next := pfx.Addr().Next() // not the subnet's own address
			for _, c := range unaddressed {
				for next.IsValid() && pfx.Contains(next) && owner[next] != nil {
					next = next.Next()
				}
				// The last address is kept out too (IPv4's broadcast).
				if !next.IsValid() || !pfx.Contains(next) || !pfx.Contains(next.Next()) {
					errs = append(errs, &manifest.Error{Err: &inventoryError{fmt.Sprintf("address pool %s is too small for %d workloads", pfx, len(unaddressed)), ErrInvalid}})
					break
				}
				c.IPs = append(c.IPs, next)
				next = next.Next()
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(subnets) > 0 {
		inv.Networks = []*Network{{Name: LabNetwork, Subnets: coverSubnets(subnets), Internal: true}}
	}
	return inv, nil
}

// containerPort converts a workload's port.
func containerPort(p manifest.Port) (Port, error) {
	if p.Port < portset.MinPort || p.Port > portset.MaxPort {
		return Port{}, fmt.Errorf("container port %d: want a number from 1 to 65535", p.Port)
	}
	proto, err := portset.ParseProtocol(cmp.Or(string(p.Protocol), "TCP"))
	if err != nil {
		return Port{}, fmt.Errorf("container port %d: %w", p.Port, err)
	}
	return Port{Name: p.Name, Port: uint16(p.Port), Protocol: proto}, nil // #nosec G115 -- checked to lie in 1..65535 above
}

func inPool(pool Pool, a netip.Addr) bool {
	return (pool.IPv4.IsValid() && pool.IPv4.Masked().Contains(a)) || (pool.IPv6.IsValid() && pool.IPv6.Masked().Contains(a))
}

// podSubnet is the /24 or /64 holding a pod IP.
func podSubnet(a netip.Addr) netip.Prefix {
	bits := 24
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits) // cannot fail: bits fits the family
	return p
}

// coverSubnets sorts and deduplicates prefixes, leaving out those inside
// another.
func coverSubnets(ps []netip.Prefix) []netip.Prefix {
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Bits(), b.Bits())
	})
	var out []netip.Prefix
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].Overlaps(p) && out[n-1].Bits() <= p.Bits() {
			continue
		}
		out = append(out, p)
	}
	return out
}
