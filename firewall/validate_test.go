package firewall_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/portset"
)

// TestValidate checks in-memory inventories with the file format's rules:
// each problem is reported with its kind, naming the container, and
// without a line when the container has none.
func TestValidate(t *testing.T) {
	ip := netip.MustParseAddr
	good := func() *firewall.Inventory {
		return &firewall.Inventory{
			File:     "docker:///var/run/docker.sock",
			Networks: []*firewall.Network{{Name: "backend", Subnets: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24")}}},
			Containers: []*firewall.Container{
				{Name: "api", Namespace: "shop", Labels: map[string]string{"app": "api"}, IPs: []netip.Addr{ip("10.1.0.2")},
					Ports: []firewall.Port{{Name: "http", Port: 8080, Protocol: portset.TCP}}},
				{Name: "db", Namespace: "shop", Labels: map[string]string{"app": "db"}, IPs: []netip.Addr{ip("10.1.0.3")}},
			},
		}
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("a valid inventory: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(inv *firewall.Inventory)
		kind   error
		want   string
	}{
		{"no address", func(inv *firewall.Inventory) { inv.Containers[0].IPs = nil }, firewall.ErrMissingAddress, "container shop/api: no ips"},
		{"outside the networks", func(inv *firewall.Inventory) { inv.Containers[0].IPs = []netip.Addr{ip("10.2.0.2")} }, firewall.ErrOutsideNetworks, "10.2.0.2 is in none of the declared subnets"},
		{"family mismatch", func(inv *firewall.Inventory) { inv.Containers[0].IPs = []netip.Addr{ip("fd00::2")} }, firewall.ErrOutsideNetworks, "no declared network has an IPv6 subnet"},
		{"address twice", func(inv *firewall.Inventory) { inv.Containers[1].IPs = inv.Containers[0].IPs }, firewall.ErrDuplicate, "10.1.0.2 is already the address of shop/api"},
		{"name twice", func(inv *firewall.Inventory) { inv.Containers[1].Name = "api" }, firewall.ErrDuplicate, "container shop/api already declared"},
		{"loopback", func(inv *firewall.Inventory) { inv.Containers[0].IPs = []netip.Addr{ip("127.0.0.1")} }, firewall.ErrBadAddress, "cannot be a container's address"},
		{"label key", func(inv *firewall.Inventory) { inv.Containers[0].Labels["bad key"] = "x" }, firewall.ErrInvalid, `label key "bad key"`},
		{"label value", func(inv *firewall.Inventory) { inv.Containers[0].Labels["path"] = "/etc/compose.yaml" }, firewall.ErrInvalid, "label path: value"},
		{"namespace", func(inv *firewall.Inventory) { inv.Containers[0].Namespace = "a/b" }, firewall.ErrInvalid, `namespace "a/b"`},
		{"port name", func(inv *firewall.Inventory) { inv.Containers[0].Ports[0].Name = "Not_A_Name" }, firewall.ErrInvalid, `port name "Not_A_Name"`},
		{"port name twice", func(inv *firewall.Inventory) {
			inv.Containers[0].Ports = append(inv.Containers[0].Ports, firewall.Port{Name: "http", Port: 9090, Protocol: portset.TCP})
		}, firewall.ErrDuplicate, `port name "http" used twice`},
		{"network twice", func(inv *firewall.Inventory) { inv.Networks = append(inv.Networks, inv.Networks[0]) }, firewall.ErrDuplicate, `network "backend" already declared`},
		{"no networks", func(inv *firewall.Inventory) { inv.Networks = nil }, firewall.ErrInvalid, "no networks"},
		{"unknown port a container's", func(inv *firewall.Inventory) {
			inv.Containers[0].Interfaces = []string{"veth1a2b3c4"}
			inv.UnknownPorts = []string{"veth1a2b3c4"}
		}, firewall.ErrDuplicate, `unknown port: interface "veth1a2b3c4" is already the bridge port of container shop/api`},
		{"unknown port twice", func(inv *firewall.Inventory) { inv.UnknownPorts = []string{"veth9", "veth9"} }, firewall.ErrDuplicate, `interface "veth9" is already an unknown port`},
		{"unknown port name", func(inv *firewall.Inventory) { inv.UnknownPorts = []string{"a/b"} }, firewall.ErrInvalid, `interface "a/b": not an interface name`},
	} {
		inv := good()
		tc.change(inv)
		err := inv.Validate()
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want %v saying %q", tc.name, err, tc.kind, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "line") || !strings.HasPrefix(err.Error(), "docker:///var/run/docker.sock") {
			t.Errorf("%s: %q: want the source named and no line", tc.name, err)
		}
	}
}

// TestValidateParsed: what ParseInventory accepts, Validate accepts.
func TestValidateParsed(t *testing.T) {
	for _, f := range []string{"testdata/shop-inventory.yaml", "testdata/xyz-inventory.yaml"} {
		inv, err := firewall.LoadInventory(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := inv.Validate(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
