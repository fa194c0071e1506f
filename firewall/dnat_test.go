package firewall_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	vnetns "github.com/vishvananda/netns"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/testenv"
	"github.com/wardsec/ward/manifest"
)

// inNetns runs f on a thread in the named namespace (under /run/netns).
func inNetns(t *testing.T, name string, f func() error) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		h, err := vnetns.GetFromName(name)
		if err != nil {
			errc <- err
			return
		}
		defer h.Close()
		if err := vnetns.Set(h); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil { // #nosec G204 -- the test's own commands
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// nftIn loads ruleset text into the named namespace's nftables.
func nftIn(t *testing.T, ns, text string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-") // #nosec G204 -- fixed program, the test's namespace
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f in %s: %v\n%s", ns, err, out)
	}
}

// serveWeb listens on each of addrs in the named namespace, answering
// "web" to every connection, until the test ends.
func serveWeb(t *testing.T, ns string, addrs ...string) {
	t.Helper()
	var lns []net.Listener
	t.Cleanup(func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	})
	if err := inNetns(t, ns, func() error {
		for _, a := range addrs {
			ln, err := net.Listen("tcp", a)
			if err != nil {
				return err
			}
			lns = append(lns, ln)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					_, _ = c.Write([]byte("web\n"))
					_ = c.Close()
				}
			}()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// dialWeb connects from the named namespace to target and reports
// whether serveWeb's answer came back within 700 ms.
func dialWeb(t *testing.T, ns, target string) bool {
	t.Helper()
	var ok bool
	if err := inNetns(t, ns, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
		defer cancel()
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", target)
		if err != nil {
			// A timeout (a drop), or a neighbour not resolved (IPv6
			// neighbour discovery still under way): not reached.
			if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "i/o timeout") ||
				errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
				return nil
			}
			return err
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
		buf := make([]byte, 4)
		n, _ := c.Read(buf)
		ok = string(buf[:n]) == "web\n"
		return nil
	}); err != nil {
		t.Fatalf("dial %s from %s: %v", target, ns, err)
	}
	return ok
}

// TestPublishedPortThroughOwnAddress is hole 1 with real packets: a
// "host" namespace publishes a "container"'s port 80 as 8080 the way
// Docker does (DNAT in nat output for the host's own addresses), and
// connects to its own address:8080 and to its gateway address:8080, over
// IPv4 and IPv6. The
// packet leaves through lo at the filter output hook, after the DNAT: the
// container's ingress, which admits only app=client, must refuse the
// host exactly as it refuses a direct connection;
// a policy admitting the host's address lets it through; and with the
// DNAT rules of the output chain removed (the hole reopened) the
// connection gets through.
func TestPublishedPortThroughOwnAddress(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireNetns(t)
	testenv.RequireCommand(t, "ip")
	host, ctr := fmt.Sprintf("ward-dnat-%d-h", os.Getpid()), fmt.Sprintf("ward-dnat-%d-c", os.Getpid())
	for _, ns := range []string{host, ctr} {
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", ns).Run() })
	}
	sh(t, "ip", "-n", host, "link", "add", "veth-h", "type", "veth", "peer", "name", "eth0", "netns", ctr)
	sh(t, "ip", "-n", host, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p") // the host's uplink, a stand-in
	for _, c := range [][]string{
		{host, "addr", "add", "10.77.0.1/24", "dev", "veth-h"},
		{host, "addr", "add", "fd77::1/64", "dev", "veth-h", "nodad"},
		{host, "addr", "add", "192.0.2.1/32", "dev", "eth0"},
		{host, "addr", "add", "2001:db8::1/128", "dev", "eth0", "nodad"},
		{host, "link", "set", "lo", "up"}, {host, "link", "set", "eth0", "up"}, {host, "link", "set", "eth0p", "up"}, {host, "link", "set", "veth-h", "up"},
		{ctr, "addr", "add", "10.77.0.2/24", "dev", "eth0"},
		{ctr, "addr", "add", "fd77::2/64", "dev", "eth0", "nodad"},
		{ctr, "link", "set", "lo", "up"}, {ctr, "link", "set", "eth0", "up"},
		{ctr, "route", "add", "default", "via", "10.77.0.1"},
		{ctr, "-6", "route", "add", "default", "via", "fd77::1"},
	} {
		sh(t, append([]string{"ip", "-n", c[0]}, c[1:]...)...)
	}
	// Docker's published port: DNAT of the host's own addresses in nat
	// output (and prerouting, for others).
	nat := `table ip docker_like {
	chain output { type nat hook output priority -100; ip daddr { 192.0.2.1, 10.77.0.1 } tcp dport 8080 dnat to 10.77.0.2:80; }
}
table ip6 docker_like {
	chain output { type nat hook output priority -100; ip6 daddr { 2001:db8::1, fd77::1 } tcp dport 8080 dnat to [fd77::2]:80; }
}
`
	nftIn(t, host, nat)
	serveWeb(t, ctr, "10.77.0.2:80", "[fd77::2]:80")
	dial := func(target string) bool { return dialWeb(t, host, target) }
	targets := []string{"192.0.2.1:8080", "10.77.0.1:8080", "10.77.0.2:80", "[2001:db8::1]:8080", "[fd77::1]:8080", "[fd77::2]:80"}
	// IPv6 needs neighbour discovery first, which can take longer than
	// one dial (the container's link-local address is still tentative).
	var unreached []string
	for _, target := range targets {
		ok := false
		for try := 0; try < 10 && !ok; try++ {
			ok = dial(target)
		}
		if !ok {
			unreached = append(unreached, target)
		}
	}
	if len(unreached) > 0 {
		t.Fatalf("without Ward, %v do not reach the container: the test proves nothing", unreached)
	}

	inv := &firewall.Inventory{
		Networks: []*firewall.Network{{Name: "net", Subnets: []netip.Prefix{netip.MustParsePrefix("10.77.0.0/24"), netip.MustParsePrefix("fd77::/64")}}},
		Containers: []*firewall.Container{{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"},
			IPs: []netip.Addr{netip.MustParseAddr("10.77.0.2"), netip.MustParseAddr("fd77::2")}}},
	}
	compileWith := func(from string) *firewall.Ruleset {
		set, err := manifest.Parse(manifest.Options{}, "policy.yaml", []byte(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [`+from+`]
`))
		if err != nil {
			t.Fatal(err)
		}
		return compile(t, build(t, inv, set), firewall.Options{})
	}
	h, err := vnetns.GetFromName(host)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	conn, err := firewall.NewConn(nftables.WithNetNSFd(int(h)))
	if err != nil {
		t.Fatal(err)
	}
	apply := func(rs *firewall.Ruleset) {
		t.Helper()
		if err := firewall.Apply(conn, rs); err != nil {
			t.Fatal(err)
		}
	}

	apply(compileWith(`{podSelector: {matchLabels: {app: client}}}`))
	for _, target := range targets {
		if dial(target) {
			t.Errorf("the container admits only app=client, yet the host reached it through %s", target)
		}
	}
	// The host admitted by address: judged, not dropped wholesale.
	apply(compileWith(`{ipBlock: {cidr: 192.0.2.1/32}}, {ipBlock: {cidr: 2001:db8::1/128}}`))
	for _, target := range []string{"192.0.2.1:8080", "[2001:db8::1]:8080"} {
		if !dial(target) {
			t.Errorf("a policy admits the host's address, yet %s does not reach the container", target)
		}
	}
	// The hole reopened: without the DNAT rules, oif lo lets it through.
	rs := compileWith(`{podSelector: {matchLabels: {app: client}}}`)
	for _, c := range rs.Chains {
		if c.Name == firewall.ChainOutput {
			c.Rules = slices.DeleteFunc(c.Rules, func(r firewall.Rule) bool { return r.CtStatus != "" })
		}
	}
	apply(rs)
	if !dial("192.0.2.1:8080") || !dial("10.77.0.1:8080") || !dial("[2001:db8::1]:8080") || !dial("[fd77::1]:8080") {
		t.Error("without the output chain's DNAT rules the host's connection through its own address is still refused: this test cannot see the hole")
	}
}
