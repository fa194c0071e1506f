package firewall_test

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/google/nftables"
	vnetns "github.com/vishvananda/netns"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/testenv"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/portset"
)

// TestPublishedPortHairpin is the other path of hole 5, Docker without its
// userland proxy: a published port is DNATed in prerouting for the
// containers of the bridge too, and a container reaching its own
// published port comes back to itself through the bridge (hairpin) and a
// masquerade. Real packets between namespaces: a "host" namespace with a
// bridge and br_netfilter, web, client and other on it; web's port 80 is
// published on the gateway as 8080. The forward chain sees the real
// client: client (admitted by web's ingress) gets through, other does
// not, and web reaches itself (a pod always reaches itself) although its
// ingress admits only client; without the self rules web is cut off from
// its own port.
func TestPublishedPortHairpin(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireNetns(t)
	testenv.RequireCommand(t, "ip")
	testenv.RequireCommand(t, "nft")
	pid := os.Getpid()
	host := fmt.Sprintf("ward-hp-%d-h", pid)
	names := map[string]string{"web": fmt.Sprintf("ward-hp-%d-w", pid), "client": fmt.Sprintf("ward-hp-%d-c", pid), "other": fmt.Sprintf("ward-hp-%d-o", pid)}
	addrs := map[string]string{"web": "10.88.0.3", "client": "10.88.0.2", "other": "10.88.0.4"}
	for _, ns := range append([]string{host}, names["web"], names["client"], names["other"]) {
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", ns).Run() })
	}
	sh(t, "ip", "-n", host, "link", "add", "br0", "type", "bridge")
	sh(t, "ip", "-n", host, "addr", "add", "10.88.0.1/24", "dev", "br0")
	sh(t, "ip", "-n", host, "link", "set", "br0", "up")
	sh(t, "ip", "-n", host, "link", "set", "lo", "up")
	for _, s := range []string{"web", "client", "other"} {
		port := "v" + s
		sh(t, "ip", "-n", host, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", names[s])
		sh(t, "ip", "-n", host, "link", "set", port, "master", "br0", "up")
		sh(t, "ip", "-n", names[s], "addr", "add", addrs[s]+"/24", "dev", "eth0")
		sh(t, "ip", "-n", names[s], "link", "set", "eth0", "up")
		sh(t, "ip", "-n", names[s], "link", "set", "lo", "up")
		sh(t, "ip", "-n", names[s], "route", "add", "default", "via", "10.88.0.1")
	}
	// Docker's hairpin mode on the published container's port.
	sh(t, "ip", "-n", host, "link", "set", "vweb", "type", "bridge_slave", "hairpin", "on")
	// Routing, and bridged traffic through the inet hooks (per namespace).
	sh(t, "ip", "netns", "exec", host, "sh", "-c",
		"echo 1 > /proc/sys/net/ipv4/ip_forward && echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables")
	nat := `table ip docker_like {
	chain prerouting { type nat hook prerouting priority -100; ip daddr 10.88.0.1 tcp dport 8080 dnat to 10.88.0.3:80; }
	chain postrouting { type nat hook postrouting priority 100; ip saddr 10.88.0.3 ip daddr 10.88.0.3 tcp dport 80 masquerade; }
}
`
	nftIn(t, host, nat)
	serveWeb(t, names["web"], "10.88.0.3:80")
	dial := func(from, target string) bool { return dialWeb(t, names[from], target) }
	published := "10.88.0.1:8080"
	for _, s := range []string{"web", "client", "other"} {
		if !dial(s, published) {
			t.Fatalf("without Ward, %s does not reach web through %s: the test proves nothing", s, published)
		}
	}

	inv := &firewall.Inventory{Networks: []*firewall.Network{{Name: "br0", Subnets: []netip.Prefix{netip.MustParsePrefix("10.88.0.0/24")}}}}
	for _, s := range []string{"web", "client", "other"} {
		inv.Containers = append(inv.Containers, &firewall.Container{Name: s, Namespace: "default", Labels: map[string]string{"app": s},
			IPs: []netip.Addr{netip.MustParseAddr(addrs[s])}, Ports: []firewall.Port{{Port: 80, Protocol: portset.TCP}}})
	}
	set, err := manifest.Parse(manifest.Options{}, "policy.yaml", []byte(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	m := build(t, inv, set)
	rs := compile(t, m, firewall.Options{})
	o := firewall.NewOracle(m.eng, inv, firewall.Options{})
	h, err := vnetns.GetFromName(host)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	conn, err := firewall.NewConn(nftables.WithNetNSFd(int(h)))
	if err != nil {
		t.Fatal(err)
	}
	if err := firewall.Apply(conn, rs); err != nil {
		t.Fatal(err)
	}
	web := netip.MustParseAddr(addrs["web"])
	for _, s := range []string{"web", "client", "other"} {
		want := o.Allows(firewall.Forward, netip.MustParseAddr(addrs[s]), web, portset.TCP, 80)
		if got := dial(s, published); got != want {
			t.Errorf("%s -> web through %s (hairpin NAT): delivered %v, the engine says %v", s, published, got, want)
		}
	}
	if !o.Allows(firewall.Forward, web, web, portset.TCP, 80) || o.Allows(firewall.Forward, netip.MustParseAddr(addrs["other"]), web, portset.TCP, 80) {
		t.Fatal("the engine's verdicts are not those this test is about")
	}

	// Without the self rules, web is cut off from its own published port.
	noSelf := *rs
	noSelf.Chains = slices.Clone(rs.Chains)
	for i, c := range noSelf.Chains {
		if c.Name == firewall.ChainForward {
			cc := *c
			cc.Rules = slices.DeleteFunc(slices.Clone(c.Rules), func(r firewall.Rule) bool { return r.Pair != nil })
			noSelf.Chains[i] = &cc
		}
	}
	if err := firewall.Apply(conn, &noSelf); err != nil {
		t.Fatal(err)
	}
	if dial("web", published) {
		t.Error("without the self rules web still reaches its own published port: this test cannot see the hole")
	}
}
