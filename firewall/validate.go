package firewall

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/wardsec/ward/manifest"
)

// Validate checks an inventory built in memory (package dockerinv builds
// one from the Docker Engine) with the rules ParseInventory applies to a
// file: container names, namespaces, label keys and values, port names and
// numbers, addresses (one per container at least, none twice, each in a
// declared subnet, none of a quarantined container), MAC addresses
// (unicast), and no container or network declared twice. Every problem
// is a *manifest.Error naming inv.File, the object and its Line when known
// (0: none), wrapping ErrInvalid, ErrMissingAddress, ErrBadAddress,
// ErrOutsideNetworks or ErrDuplicate; all are reported, joined.
func (inv *Inventory) Validate() error {
	var errs []error
	fail := func(line int, object string, kind error, format string, args ...any) {
		errs = append(errs, &manifest.Error{File: inv.File, Line: line, Object: object,
			Err: &inventoryError{fmt.Sprintf(format, args...), kind}})
	}
	networks := map[string]*Network{}
	for _, n := range inv.Networks {
		if n.Name == "" {
			fail(n.Line, "network", ErrInvalid, "network without a name")
			continue
		}
		object := "network " + n.Name
		if prev := networks[n.Name]; prev != nil {
			fail(n.Line, object, ErrDuplicate, "network %q already declared%s", n.Name, onLine(prev.Line))
			continue
		}
		networks[n.Name] = n
		if len(n.Subnets) == 0 {
			fail(n.Line, object, ErrInvalid, "network without subnets")
		}
		for _, s := range n.Subnets {
			if !s.IsValid() || s.Masked() != s || s.Addr().Is4In6() {
				fail(n.Line, object, ErrBadAddress, "invalid subnet %s", s)
			}
		}
		if n.Bridge != "" {
			if bad := badInterface(n.Bridge); bad != "" {
				fail(n.Line, object, ErrInvalid, "bridge: %s", bad)
			}
		}
	}
	containers := map[string]*Container{}
	var ips []ipNode
	for _, c := range inv.Containers {
		if c.Name == "" {
			fail(c.Line, "container", ErrInvalid, "container without a name")
			continue
		}
		object := "container " + c.ID()
		if prev := containers[c.ID()]; prev != nil {
			fail(c.Line, object, ErrDuplicate, "container %s already declared%s", c.ID(), onLine(prev.Line))
			continue
		}
		containers[c.ID()] = c
		if bad := badName(c.Name); bad != "" {
			fail(c.Line, object, ErrInvalid, "name %q: %s", c.Name, bad)
		}
		if bad := badNamespace(c.Namespace); bad != "" {
			fail(c.Line, object, ErrInvalid, "%s", bad)
		}
		for k, v := range c.Labels {
			if bad := badLabelKey(k); bad != "" {
				fail(c.Line, object, ErrInvalid, "%s", bad)
			} else if bad := badLabelValue(k, v); bad != "" {
				fail(c.Line, object, ErrInvalid, "%s", bad)
			}
		}
		if len(c.IPs) == 0 && !c.HostNetwork {
			fail(c.Line, object, ErrMissingAddress, "%s", noAddress)
		}
		for _, a := range c.IPs {
			if bad := badAddress(a); bad != "" {
				fail(c.Line, object, ErrBadAddress, "%s", bad)
				continue
			}
			ips = append(ips, ipNode{c, a.Unmap(), c.Line})
		}
		for _, name := range c.Interfaces {
			if bad := badInterface(name); bad != "" {
				fail(c.Line, object, ErrInvalid, "%s", bad)
			}
		}
		for _, m := range c.MACs {
			if bad := badMAC(m); bad != "" {
				fail(c.Line, object, ErrBadAddress, "%s", bad)
			}
		}
		names := map[string]bool{}
		for _, p := range c.Ports {
			if p.Port == 0 {
				fail(c.Line, object, ErrInvalid, "port 0: want a number from 1 to 65535")
			}
			if p.Name == "" {
				continue
			}
			if bad := badPortName(p.Name); bad != "" {
				fail(c.Line, object, ErrInvalid, "%s", bad)
			}
			if names[p.Name] {
				fail(c.Line, object, ErrDuplicate, "port name %q used twice", p.Name)
			}
			names[p.Name] = true
		}
	}
	checkAddresses(inv, ips, 0, fail)
	ports := map[string]string{} // by port: what it is
	for _, c := range inv.Containers {
		for _, name := range c.Interfaces {
			ports[name] = "the bridge port of container " + c.ID()
		}
	}
	for _, n := range inv.Networks {
		if what, dup := ports[n.Bridge]; dup && n.Bridge != "" {
			fail(n.Line, "network "+n.Name, ErrDuplicate, "bridge %q is already %s", n.Bridge, what)
		}
	}
	for _, name := range inv.UnknownPorts {
		if bad := badInterface(name); bad != "" {
			fail(0, "unknown port", ErrInvalid, "%s", bad)
			continue
		}
		if what, dup := ports[name]; dup {
			fail(0, "unknown port", ErrDuplicate, "interface %q is already %s", name, what)
			continue
		}
		ports[name] = "an unknown port"
	}
	// A quarantined address is dropped: no container may own it too.
	quarantined := inv.quarantineOwners()
	for _, ip := range ips {
		if q := quarantined[ip.addr]; q != nil {
			fail(ip.line, "container "+ip.c.ID(), ErrDuplicate, "%s is also the address of quarantined container %s", ip.addr, q.Name)
		}
	}
	return errors.Join(errs...)
}

// The checks ParseInventory and Validate share: each returns why a value
// cannot be, or "".

const noAddress = "no ips: a container needs an address for rules to name it"

func badNamespace(ns string) string {
	if msgs := validation.IsValidLabelValue(ns); len(msgs) > 0 || strings.Contains(ns, "/") || ns == "" {
		return fmt.Sprintf("namespace %q: not a valid label value, so no namespaceSelector could name it", ns)
	}
	return ""
}

func badLabelKey(k string) string {
	if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
		return fmt.Sprintf("label key %q: %s", k, msgs[0])
	}
	return ""
}

func badLabelValue(k, v string) string {
	if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
		return fmt.Sprintf("label %s: value %q: %s", k, v, msgs[0])
	}
	return ""
}

func badPortName(name string) string {
	if msgs := validation.IsValidPortName(name); len(msgs) > 0 {
		return fmt.Sprintf("port name %q: %s", name, msgs[0])
	}
	return ""
}

func badAddress(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "an invalid address"
	case a.Zone() != "":
		return fmt.Sprintf("%s: an address with a zone cannot be a container's", a)
	}
	a = a.Unmap()
	if a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() {
		return fmt.Sprintf("%s cannot be a container's address (unspecified, loopback, multicast or link-local)", a)
	}
	return ""
}

// parseMAC parses a container's MAC address, as an inventory writes it
// (02:42:0a:14:02:0b), or says why it cannot be one.
func parseMAC(text string) (net.HardwareAddr, string) {
	m, err := net.ParseMAC(strings.TrimSpace(text))
	if err != nil {
		return nil, fmt.Sprintf("%q is not a MAC address", text)
	}
	if bad := badMAC(m); bad != "" {
		return nil, bad
	}
	return m, ""
}

// badMAC explains why m cannot be a container interface's MAC address:
// not 6 bytes (EUI-48), a group address, or all zeros.
func badMAC(m net.HardwareAddr) string {
	switch {
	case len(m) != 6:
		return fmt.Sprintf("MAC address %s: want 6 bytes (EUI-48)", m)
	case m[0]&1 != 0:
		return fmt.Sprintf("MAC address %s: a group (multicast) address cannot be an interface's", m)
	case bytes.Equal(m, make([]byte, 6)):
		return fmt.Sprintf("MAC address %s cannot be an interface's", m)
	}
	return ""
}

// badInterface explains why name cannot be a network interface's.
func badInterface(name string) string {
	if name == "" || len(name) > 15 || strings.ContainsAny(name, "/ \t\r\n\x00\"") || name == "." || name == ".." {
		return fmt.Sprintf("interface %q: not an interface name (1 to 15 characters, no '/', spaces or quotes)", name)
	}
	return ""
}

// onLine is " on line N", or "" for an object without a line.
func onLine(line int) string {
	if line <= 0 {
		return ""
	}
	return fmt.Sprintf(" on line %d", line)
}
