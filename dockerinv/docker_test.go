package dockerinv_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/dockerinv"
	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/testenv"
	"github.com/wardsec/ward/portset"
)

// composeFile is the project of TestDockerEngine: web (two replicas) on
// front and back, api (ward.dev/namespace) and db on back, which is
// internal, agent on the host network and batch on none. IMAGE, NS and
// the IPv6 lines are filled in by the test.
const composeFile = `version: "2.4"
services:
  web:
    image: IMAGE
    command: ["8080/tcp", "9100/tcp"]
    scale: 2
    expose: ["8080", "9100"]
    labels:
      app: web
      tier: frontend
      ward.dev/ports: "http=8080/TCP,metrics=9100/TCP"
      ward.test.junk: "/not/a/label/value"
    networks: [front, back]
  api:
    image: IMAGE
    command: ["9090/tcp", "53/udp"]
    expose: ["9090", "53/udp", "7000"]
    labels:
      app: api
      ward.dev/namespace: NS
      ward.dev/ports: "grpc=9090/TCP, dns=53/UDP"
    networks: [back]
  db:
    image: IMAGE
    command: ["5432/tcp"]
    expose: ["5432"]
    labels: {app: db}
    networks: [back]
  agent:
    image: IMAGE
    network_mode: host
    labels: {app: agent}
  batch:
    image: IMAGE
    network_mode: none
    labels: {app: batch}
networks:
  front:
IPV6
  back:
    internal: true
`

// run runs a command with a bound on its time, failing t with its output.
func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	out, err := testenv.Cmd(dir, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// inspected is what the test reads from `docker inspect`, independently
// of the client under test.
type inspected struct {
	ID     string `json:"Id"`
	Name   string
	Config struct {
		Labels map[string]string
	}
	HostConfig struct {
		NetworkMode string
	}
	NetworkSettings struct {
		SandboxKey string
		Networks   map[string]struct {
			IPAddress         string
			GlobalIPv6Address string
		}
	}
}

// hostPorts returns, independently of the client, the host-side names of
// the veths of a container's network namespace: inside it (nsenter), each
// "eth0@ifN" names the index N of its peer, which the host's `ip -o link`
// lists by name.
func hostPorts(t *testing.T, sandboxKey string) []string {
	t.Helper()
	inside := run(t, "", "nsenter", "--net="+sandboxKey, "ip", "-o", "link", "show", "type", "veth")
	host := run(t, "", "ip", "-o", "link", "show", "type", "veth")
	byIndex := map[string]string{}
	for _, l := range strings.Split(host, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 {
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			byIndex[strings.TrimSuffix(f[0], ":")] = name
		}
	}
	var out []string
	for _, l := range strings.Split(inside, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		if _, peer, ok := strings.Cut(strings.TrimSuffix(f[1], ":"), "@if"); ok && byIndex[peer] != "" {
			out = append(out, byIndex[peer])
		}
	}
	slices.Sort(out)
	return out
}

// innerMACs returns the MAC addresses of the veths in the network
// namespace sandboxKey, sorted.
func innerMACs(t *testing.T, sandboxKey string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(run(t, "", "nsenter", "--net="+sandboxKey, "ip", "-o", "link", "show", "type", "veth"), "\n") {
		if _, rest, ok := strings.Cut(l, "link/ether "); ok {
			out = append(out, strings.Fields(rest)[0])
		}
	}
	slices.Sort(out)
	return out
}

// TestDockerEngine reads the inventory of a Compose project on the real
// engine and checks it against `docker inspect`; then follows the events
// of a container started and removed beside it. It creates its own image,
// project, networks and containers, with unique names, and removes them.
func TestDockerEngine(t *testing.T) {
	testenv.RequireDocker(t)
	testenv.RequireCommand(t, "docker")
	testenv.RequireCommand(t, "docker-compose")
	testenv.RequireCommand(t, "go")
	dir := t.TempDir()
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	unique := hex.EncodeToString(rnd[:])
	project := "wardinv" + unique
	ns := "wardns" + unique
	image := "ward-dockerinv-test:" + unique

	// A static server, in a FROM scratch image.
	pkg, err := filepath.Abs(filepath.Join("testdata", "server"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.ServerImage(t, pkg, image)

	// IPv6 on front if the daemon allows it.
	v6 := fmt.Sprintf("fd%02x:%02x%02x:%02x00::/64", rnd[0], rnd[1], rnd[2], rnd[3])
	ipv6 := "    enable_ipv6: true\n    ipam:\n      config:\n        - subnet: \"" + v6 + "\""
	probe := "ward-probe-" + unique
	if out, err := testenv.Cmd(dir, "docker", "network", "create", "--ipv6", "--subnet", v6, probe); err != nil {
		t.Logf("IPv6 not tested: the daemon refuses an IPv6 network: %v: %s", err, strings.TrimSpace(out))
		ipv6, v6 = "    {}", ""
	} else {
		run(t, dir, "docker", "network", "rm", probe)
	}
	compose := strings.NewReplacer("IMAGE", image, "NS", ns, "IPV6", ipv6).Replace(composeFile)
	testenv.ComposeUp(t, project, compose)

	// What docker inspect says of the project's containers and networks.
	ids := strings.Fields(run(t, dir, "docker", "ps", "-q", "--no-trunc", "--filter", "label=com.docker.compose.project="+project))
	if len(ids) != 6 {
		t.Fatalf("docker ps: %d containers, want 6 (web x2, api, db, agent, batch)", len(ids))
	}
	var ctrs []inspected
	if err := json.Unmarshal([]byte(run(t, dir, "docker", append([]string{"inspect"}, ids...)...)), &ctrs); err != nil {
		t.Fatal(err)
	}
	var nets []struct {
		Name     string
		Internal bool
		IPAM     struct{ Config []struct{ Subnet string } }
	}
	if err := json.Unmarshal([]byte(run(t, dir, "docker", "network", "inspect", project+"_front", project+"_back")), &nets); err != nil {
		t.Fatal(err)
	}

	c, err := dockerinv.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var skipped []dockerinv.Skipped
	c.OnSkip = func(s dockerinv.Skipped) { skipped = append(skipped, s) }
	var unbound []dockerinv.Skipped
	c.OnUnbound = func(s dockerinv.Skipped) { unbound = append(unbound, s) }
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inv, err := c.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Networks: subnets and Internal as docker says, IPv6 on front.
	for _, n := range nets {
		i := slices.IndexFunc(inv.Networks, func(fn *firewall.Network) bool { return fn.Name == n.Name })
		if i < 0 {
			t.Errorf("network %s missing from the inventory", n.Name)
			continue
		}
		var want, got []string
		for _, s := range n.IPAM.Config {
			want = append(want, netip.MustParsePrefix(s.Subnet).Masked().String())
		}
		for _, s := range inv.Networks[i].Subnets {
			got = append(got, s.String())
		}
		if !slices.Equal(want, got) || inv.Networks[i].Internal != n.Internal {
			t.Errorf("network %s: subnets %v internal %v; docker says %v, %v", n.Name, got, inv.Networks[i].Internal, want, n.Internal)
		}
		if n.Name == project+"_front" && v6 != "" && !slices.Contains(got, netip.MustParsePrefix(v6).String()) {
			t.Errorf("network %s: subnets %v, want the IPv6 subnet %s", n.Name, got, v6)
		}
		if want := n.Name == project+"_back"; n.Internal != want {
			t.Errorf("network %s: docker says internal %v, want %v", n.Name, n.Internal, want)
		}
	}

	// Containers: each as docker inspect describes it.
	byID := map[string]*firewall.Container{}
	for _, fc := range inv.Containers {
		byID[fc.ID()] = fc
	}
	tcp := func(name string, port uint16) firewall.Port {
		return firewall.Port{Name: name, Port: port, Protocol: portset.TCP}
	}
	wantPorts := map[string][]firewall.Port{
		"web":   {tcp("http", 8080), tcp("metrics", 9100)},
		"api":   {tcp("grpc", 9090), {Name: "dns", Port: 53, Protocol: portset.UDP}, tcp("", 7000)},
		"db":    {tcp("", 5432)},
		"agent": nil,
	}
	seen := 0
	for _, d := range ctrs {
		service := d.Config.Labels["com.docker.compose.service"]
		if service == "batch" {
			if !slices.ContainsFunc(skipped, func(s dockerinv.Skipped) bool { return s.ID == d.ID }) {
				t.Errorf("batch (network none): not reported left out; skipped: %v", skipped)
			}
			continue
		}
		name, namespace := service, project
		if service == "web" {
			name = "web-" + d.Config.Labels["com.docker.compose.container-number"]
		}
		if service == "api" {
			namespace = ns
		}
		fc := byID[namespace+"/"+name]
		if fc == nil {
			t.Errorf("%s (%s): no container %s/%s in the inventory", d.Name, d.ID[:12], namespace, name)
			continue
		}
		seen++
		var wantIPs, gotIPs []string
		for _, ep := range d.NetworkSettings.Networks {
			for _, a := range []string{ep.IPAddress, ep.GlobalIPv6Address} {
				if a != "" {
					wantIPs = append(wantIPs, a)
				}
			}
		}
		for _, a := range fc.IPs {
			gotIPs = append(gotIPs, a.String())
		}
		slices.Sort(wantIPs)
		slices.Sort(gotIPs)
		if service == "agent" {
			wantIPs = nil
			if !fc.HostNetwork || d.HostConfig.NetworkMode != "host" {
				t.Errorf("agent: hostNetwork %v, docker network mode %q", fc.HostNetwork, d.HostConfig.NetworkMode)
			}
		}
		if !slices.Equal(wantIPs, gotIPs) {
			t.Errorf("%s: IPs %v, docker says %v", fc.ID(), gotIPs, wantIPs)
		}
		if service != "agent" {
			// Its bridge ports, one per network, bound to its addresses.
			if want := hostPorts(t, d.NetworkSettings.SandboxKey); len(want) != len(d.NetworkSettings.Networks) || !slices.Equal(fc.Interfaces, want) {
				t.Errorf("%s: interfaces %v; its veths' host sides are %v (%d networks)", fc.ID(), fc.Interfaces, want, len(d.NetworkSettings.Networks))
			}
			// Its MAC addresses: those of its interfaces, as its own
			// namespace has them.
			var got []string
			for _, m := range fc.MACs {
				got = append(got, m.String())
			}
			if want := innerMACs(t, d.NetworkSettings.SandboxKey); len(want) != len(d.NetworkSettings.Networks) || !slices.Equal(got, want) {
				t.Errorf("%s: MAC addresses %v; its interfaces have %v (%d networks)", fc.ID(), got, want, len(d.NetworkSettings.Networks))
			}
		}
		if service == "web" && v6 != "" && !slices.ContainsFunc(fc.IPs, func(a netip.Addr) bool { return netip.MustParsePrefix(v6).Contains(a) }) {
			t.Errorf("%s: IPs %v, want one in %s", fc.ID(), gotIPs, v6)
		}
		if diff := cmp.Diff(wantPorts[service], fc.Ports, cmpOpts); diff != "" {
			t.Errorf("%s: ports (-want +got):\n%s", fc.ID(), diff)
		}
		// Labels: the valid ones as docker has them, the others gone.
		for k, v := range d.Config.Labels {
			valid := !strings.ContainsAny(v, "/=, ") && len(v) <= 63 && k != "ward.test.junk" && k != dockerinv.LabelPorts &&
				!strings.HasPrefix(k, "com.docker.compose.project.") && k != "com.docker.compose.config-hash"
			if got, ok := fc.Labels[k]; valid && (!ok || got != v) {
				t.Errorf("%s: label %s=%q, docker says %q", fc.ID(), k, got, v)
			} else if !valid && ok && (k == "ward.test.junk" || k == dockerinv.LabelPorts) {
				t.Errorf("%s: label %s=%q kept, but it is not a Kubernetes label", fc.ID(), k, got)
			}
		}
		if fc.Labels["app"] != service {
			t.Errorf("%s: label app=%q, want %q", fc.ID(), fc.Labels["app"], service)
		}
	}
	if seen != 5 {
		t.Errorf("found %d of the project's 5 addressable containers in the inventory", seen)
	}

	// The networks' bridges are found, and a port on one that leads to
	// no container (a veth added by hand, as a container's is before
	// Ward's next sync) is an unknown port, closed by the firewall.
	for _, s := range unbound {
		if strings.Contains(s.Name, project) {
			t.Errorf("OnUnbound: %v", s)
		}
	}
	for _, fc := range inv.Containers {
		for _, p := range fc.Interfaces {
			if slices.Contains(inv.UnknownPorts, p) {
				t.Errorf("%s: its port %s is also an unknown port", fc.ID(), p)
			}
		}
	}
	frontID := strings.TrimSpace(run(t, dir, "docker", "network", "inspect", "-f", "{{.Id}}", project+"_front"))
	stray := "wst" + unique
	run(t, dir, "ip", "link", "add", stray, "type", "veth", "peer", "name", "wsp"+unique)
	t.Cleanup(func() { _, _ = testenv.Cmd(dir, "ip", "link", "del", stray) })
	run(t, dir, "ip", "link", "set", stray, "master", "br-"+frontID[:12])
	var reported []dockerinv.UnknownPort
	c.OnUnknownPort = func(u dockerinv.UnknownPort) { reported = append(reported, u) }
	inv2, err := c.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(inv2.UnknownPorts, stray) || !slices.ContainsFunc(reported, func(u dockerinv.UnknownPort) bool {
		return u.Port == stray && u.Network == project+"_front" && u.Bridge == "br-"+frontID[:12]
	}) {
		t.Errorf("a veth on %s's bridge: unknown ports %v, reported %v; want %s among them", project+"_front", inv2.UnknownPorts, reported, stray)
	}
	run(t, dir, "ip", "link", "del", stray)

	// Events of a container started beside the project and removed.
	extra := project + "-extra"
	events := make(chan dockerinv.Event, 100)
	wctx, stopWatch := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Watch(wctx, func(e dockerinv.Event) { events <- e }) }()
	defer func() {
		stopWatch()
		<-done
	}()
	next := func() dockerinv.Event {
		select {
		case e := <-events:
			return e
		case <-ctx.Done():
			t.Fatal("timed out waiting for an event")
			return dockerinv.Event{}
		}
	}
	if e := next(); e.Kind != dockerinv.Resync {
		t.Fatalf("first event %v, want Resync", e)
	}
	t.Cleanup(func() { _, _ = testenv.Cmd(dir, "docker", "rm", "-f", extra) })
	id := strings.TrimSpace(run(t, dir, "docker", "run", "-d", "--name", extra, "--network", project+"_back", image))
	run(t, dir, "docker", "rm", "-f", extra)
	var got []string
	for !slices.Contains(got, "destroy") {
		e := next()
		if e.ContainerID != id {
			continue // another container of this host
		}
		got = append(got, e.Kind.String())
		if e.Kind == dockerinv.Start && e.Container != extra {
			t.Errorf("start event names %q, want %q", e.Container, extra)
		}
		if (e.Kind == dockerinv.Connect || e.Kind == dockerinv.Disconnect) && e.Network != project+"_back" {
			t.Errorf("%v: network %q, want %q", e.Kind, e.Network, project+"_back")
		}
	}
	if diff := cmp.Diff([]string{"connect", "start", "die", "disconnect", "destroy"}, got); diff != "" {
		t.Errorf("events of %s (-want +got):\n%s", extra, diff)
	}
}
