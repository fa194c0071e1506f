package firewall_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/portset"
)

func TestParseInventory(t *testing.T) {
	inv, err := firewall.LoadInventory("testdata/xyz-inventory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Containers) != 10 || len(inv.Networks) != 3 {
		t.Fatalf("%d containers and %d networks, want 10 and 3", len(inv.Containers), len(inv.Networks))
	}
	a := inv.Containers[0]
	want := &firewall.Container{
		Name: "a", Namespace: "x", Labels: map[string]string{"pod": "a"},
		IPs:  []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00::1")},
		Line: 15,
	}
	for _, port := range []uint16{80, 81} {
		for _, proto := range portset.Protocols {
			want.Ports = append(want.Ports, firewall.Port{Name: fmt.Sprintf("serve-%d-%s", port, strings.ToLower(proto.String())), Port: port, Protocol: proto})
		}
	}
	if diff := cmp.Diff(want, a, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("first container (-want +got):\n%s", diff)
	}
	h := inv.Containers[9]
	if h.ID() != "x/h" || !h.HostNetwork || h.Ports[0].Protocol != portset.TCP {
		t.Errorf("last container = %+v, want x/h, hostNetwork, port 9100/TCP", h)
	}
	z := inv.Networks[2]
	if z.Name != "z" || !z.Internal || len(z.Subnets) != 2 || z.Subnets[1] != netip.MustParsePrefix("fd00:0:0:2::/64") {
		t.Errorf("network z = %+v", z)
	}
}

// TestInventoryBadInput checks that each kind of bad input is an error of
// its kind at the offending line, named file:line.
func TestInventoryBadInput(t *testing.T) {
	const nets = "networks:\n  - {name: n, subnets: [10.0.0.0/24]}\n"
	for _, tc := range []struct {
		name string
		data string
		line int
		kind error
	}{
		{"empty file", "", 0, firewall.ErrInvalid},
		{"empty document", "# nothing\n---\n", 0, firewall.ErrInvalid},
		{"syntax", nets + "containers: [\n", 3, firewall.ErrInvalid},
		{"two documents", nets + "---\n" + nets, 3, firewall.ErrInvalid},
		{"not a mapping", "- a\n", 1, firewall.ErrInvalid},
		{"unknown top field", nets + "container: []\n", 3, firewall.ErrUnknownField},
		{"repeated top field", nets + "networks: []\n", 3, firewall.ErrInvalid},
		{"containers not a list", nets + "containers: {name: a}\n", 3, firewall.ErrInvalid},
		{"unknown container field", nets + "containers:\n  - name: a\n    ip: [10.0.0.5]\n", 5, firewall.ErrUnknownField},
		{"unknown port field", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    ports:\n      - {port: 80, proto: TCP}\n", 7, firewall.ErrUnknownField},
		{"published without a container port", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    published:\n      - {hostPort: 8080}\n", 7, firewall.ErrInvalid},
		{"published host port out of range", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    published:\n      - {hostPort: 70000, port: 80}\n", 7, firewall.ErrInvalid},
		{"published protocol", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    published:\n      - {hostPort: 80, port: 80, protocol: ICMP}\n", 7, firewall.ErrInvalid},
		{"unknown published field", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    published:\n      - {hostPort: 80, port: 80, hostIP: 0.0.0.0}\n", 7, firewall.ErrUnknownField},
		{"no name", nets + "containers:\n  - ips: [10.0.0.5]\n", 4, firewall.ErrInvalid},
		{"name with slash", nets + "containers:\n  - name: a/b\n    ips: [10.0.0.5]\n", 4, firewall.ErrInvalid},
		{"bad namespace", nets + "containers:\n  - name: a\n    namespace: Web Shop\n    ips: [10.0.0.5]\n", 4, firewall.ErrInvalid},
		{"no address", nets + "containers:\n  - name: a\n    labels: {app: a}\n", 4, firewall.ErrMissingAddress},
		{"bad label value", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    labels:\n      path: /etc/compose.yaml\n", 7, firewall.ErrInvalid},
		{"empty address list", nets + "containers:\n  - name: a\n    ips: []\n", 4, firewall.ErrMissingAddress},
		{"bad address", nets + "containers:\n  - name: a\n    ips:\n      - 10.0.0.300\n", 6, firewall.ErrBadAddress},
		{"loopback address", nets + "containers:\n  - name: a\n    ips: [127.0.0.1]\n", 5, firewall.ErrBadAddress},
		{"address with zone", nets + "containers:\n  - name: a\n    ips: ['fe80::1%eth0']\n", 5, firewall.ErrBadAddress},
		{"outside the networks", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n  - name: b\n    ips:\n      - 10.0.0.6\n      - 10.1.0.6\n", 9, firewall.ErrOutsideNetworks},
		{"family mismatch", nets + "containers:\n  - name: a\n    ips: [10.0.0.5, 'fd00::5']\n", 5, firewall.ErrOutsideNetworks},
		{"no networks", "containers:\n  - name: a\n    ips: [10.0.0.5]\n", 1, firewall.ErrInvalid},
		{"duplicate address", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n  - name: b\n    ips: [10.0.0.5]\n", 7, firewall.ErrDuplicate},
		{"duplicate name", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n  - name: a\n    ips: [10.0.0.6]\n", 6, firewall.ErrDuplicate},
		{"same name in two namespaces is fine, duplicate port name is not", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n  - name: a\n    namespace: b\n    ips: [10.0.0.6]\n    ports:\n      - {name: http, port: 80}\n      - {name: http, port: 81}\n", 11, firewall.ErrDuplicate},
		{"port out of range", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    ports:\n      - {name: http, port: 65536}\n", 7, firewall.ErrInvalid},
		{"port not a number", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    ports:\n      - port: http\n", 7, firewall.ErrInvalid},
		{"port without number", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    ports:\n      - {name: http}\n", 7, firewall.ErrInvalid},
		{"bad protocol", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    ports:\n      - {port: 80, protocol: ICMP}\n", 7, firewall.ErrInvalid},
		{"bad port name", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    ports:\n      - {name: HTTP_1, port: 80}\n", 7, firewall.ErrInvalid},
		{"hostNetwork not a bool", nets + "containers:\n  - name: a\n    hostNetwork: yes\n", 5, firewall.ErrInvalid},
		{"label not a string", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    labels:\n      app: [a]\n", 7, firewall.ErrInvalid},
		{"bad label key", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    labels: {'-app': a}\n", 6, firewall.ErrInvalid},
		{"subnet with host bits", "networks:\n  - name: n\n    subnets: [10.0.0.1/24]\n", 3, firewall.ErrBadAddress},
		{"subnet not a CIDR", "networks:\n  - name: n\n    subnets:\n      - 10.0.0.0\n", 4, firewall.ErrBadAddress},
		{"network without subnets", "networks:\n  - name: n\n", 2, firewall.ErrInvalid},
		{"network without name", "networks:\n  - subnets: [10.0.0.0/24]\n", 2, firewall.ErrInvalid},
		{"duplicate network", nets + "  - {name: n, subnets: [10.0.1.0/24]}\n", 3, firewall.ErrDuplicate},
		{"unknown network field", "networks:\n  - name: n\n    subnets: [10.0.0.0/24]\n    driver: bridge\n", 4, firewall.ErrUnknownField},
		{"bad MAC address", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    macs:\n      - '02:42:0a:00:00:zz'\n", 7, firewall.ErrBadAddress},
		{"group MAC address", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    macs: ['01:00:5e:00:00:01']\n", 6, firewall.ErrBadAddress},
		{"zero MAC address", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    macs: ['00:00:00:00:00:00']\n", 6, firewall.ErrBadAddress},
		{"EUI-64 MAC address", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    macs: ['02:00:00:00:00:00:00:01']\n", 6, firewall.ErrBadAddress},
		{"MACs not a list", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    macs: '02:42:0a:00:00:05'\n", 6, firewall.ErrInvalid},
		{"one MAC address for two containers is fine, a bad one is not", nets + "containers:\n  - name: a\n    ips: [10.0.0.5]\n    macs: ['02:42:0a:00:00:05']\n  - name: b\n    ips: [10.0.0.6]\n    macs:\n      - '02:42:0A:00:00:05'\n      - '02:42:0a:00:00'\n", 11, firewall.ErrBadAddress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := firewall.ParseInventory("bad.yaml", []byte(tc.data))
			if err == nil {
				t.Fatalf("ParseInventory = %+v, want an error", inv)
			}
			var me *manifest.Error
			if !errors.As(err, &me) {
				t.Fatalf("error %q (%T) is not a *manifest.Error", err, err)
			}
			if me.Line != tc.line || me.File != "bad.yaml" {
				t.Errorf("error at %s:%d, want bad.yaml:%d: %v", me.File, me.Line, tc.line, err)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %q is not %q", err, tc.kind)
			}
			prefix := "bad.yaml: "
			if tc.line > 0 {
				prefix = fmt.Sprintf("bad.yaml:%d: ", tc.line)
			}
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not start with %q", err, prefix)
			}
		})
	}
}

// TestInventoryAllErrors checks that one parse reports every error.
func TestInventoryAllErrors(t *testing.T) {
	data := "networks:\n  - {name: n, subnets: [10.0.0.0/24]}\ncontainers:\n  - name: a\n    ips: [10.0.0.5, bogus]\n  - name: b\n    color: red\n    ips: [10.1.0.1]\n"
	_, err := firewall.ParseInventory("bad.yaml", []byte(data))
	var lines []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var me *manifest.Error
		if errors.As(e, &me) {
			lines = append(lines, fmt.Sprint(me.Line))
		}
	}
	if got, want := strings.Join(lines, ","), "5,7,8"; got != want {
		t.Errorf("errors on lines %s, want %s:\n%v", got, want, err)
	}
}

func TestInventorySet(t *testing.T) {
	m := load(t, "testdata/shop-inventory.yaml", "../examples/shop")
	var ids []string
	for _, w := range m.set.Workloads {
		ids = append(ids, w.ID())
		if w.Kind != "Pod" || w.Source.File != "testdata/shop-inventory.yaml" || w.Source.Line == 0 {
			t.Errorf("workload %s from %s, want a Pod from the inventory", w.ID(), w.Source)
		}
	}
	want := []string{"api/Pod/catalog", "api/Pod/orders", "data/Pod/postgres", "data/Pod/redis",
		"ingress-nginx/Pod/controller", "kube-system/Pod/coredns", "payments/Pod/payments", "web/Pod/frontend"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("workloads (-want +got): the shop's Deployments must give way to the containers\n%s", diff)
	}
	shop, err := manifest.Load(manifest.Options{}, "../examples/shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.set.Policies) != len(shop.Policies) || len(shop.Policies) == 0 {
		t.Errorf("%d policies, want the shop's %d", len(m.set.Policies), len(shop.Policies))
	}
	if !m.set.PodIPsKnown {
		t.Errorf("PodIPsKnown = false")
	}
	web := m.set.Namespace("web")
	if web == nil || !web.Declared || web.Labels["team"] != "storefront" {
		t.Errorf("namespace web = %+v, want the shop's declared namespace with its labels", web)
	}
	if ks := m.set.Namespace("kube-system"); ks == nil || ks.Labels[manifest.MetadataNameLabel] != "kube-system" {
		t.Errorf("namespace kube-system = %+v, want one made for the container", ks)
	}
	// The model answers like the shop's story: the frontend reaches
	// catalog on http, orders' price lookups are dropped (named port
	// mistake), and redis is open to everyone.
	allowed := func(src, dst string) portset.Set {
		return m.eng.Allowed(m.eng.EndpointOfIP(netip.MustParseAddr(src)), m.eng.EndpointOfIP(netip.MustParseAddr(dst)))
	}
	for _, tc := range []struct{ src, dst, want string }{
		{"10.20.1.10", "10.20.2.10", "8080/TCP"}, // frontend -> catalog
		{"10.20.2.11", "10.20.2.10", "none"},     // orders -> catalog
		{"192.0.2.1", "10.20.3.11", "6379/TCP"},  // internet -> redis
	} {
		if got := allowed(tc.src, tc.dst).String(); got != tc.want {
			t.Errorf("%s -> %s allows %q, want %q", tc.src, tc.dst, got, tc.want)
		}
	}
}

func TestInventorySetWithoutPolicies(t *testing.T) {
	inv, err := firewall.ParseInventory("inv.yaml", []byte("networks: [{name: n, subnets: [10.0.0.0/24]}]\ncontainers: [{name: a, ips: [10.0.0.5]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := inv.Set(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Workloads) != 1 || set.Workloads[0].ID() != "default/Pod/a" || len(set.Policies) != 0 {
		t.Errorf("Set(nil) = %d workloads (%v), %d policies", len(set.Workloads), set.Workloads, len(set.Policies))
	}
}
