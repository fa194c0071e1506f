package cli

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/testenv"
	"github.com/wardsec/ward/portset"
)

// fwPublishedCompose: web publishes 8080 on front's gateway address, so
// that containers on front reach it through the host and Docker's
// userland proxy (Docker does not DNAT what comes from the network's own
// bridge), and the host through Docker's DNAT in nat output.
const fwPublishedCompose = `version: "2.4"
services:
  web:
    image: IMAGE
    command: ["8080/tcp"]
    expose: ["8080"]
    ports: ["FRONT_GW::8080"]
    labels:
      app: web
      ward.dev/ports: "http=8080/TCP"
    networks:
      front: {ipv4_address: WEB_IP}
  client:
    image: IMAGE
    command: ["7/tcp"]
    labels: {app: client}
    networks: [front]
  outsider:
    image: IMAGE
    command: ["7/tcp"]
    labels: {app: outsider}
    networks: [front]
networks:
  front:
    enable_ipv6: true
    ipam:
      config:
        - subnet: FRONT_SUBNET
          gateway: FRONT_GW
        - subnet: "FRONT6_SUBNET"
          gateway: "FRONT6_GW"
`

// fwPublishedPolicies: web admits client only (not the host, not its
// gateway address, from which docker-proxy connects onward); client may
// reach web; outsider may reach anything but web.
const fwPublishedPolicies = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: NS}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: NS}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
    - from: [{podSelector: {matchLabels: {app: client}}}]
      ports: [{port: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client, namespace: NS}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
    - to: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: outsider, namespace: NS}
spec:
  podSelector: {matchLabels: {app: outsider}}
  policyTypes: [Egress]
  egress:
    - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [WEB_IP/32]}}]
`

// TestFwDockerPublished is hole 5 of the firewall's attack list, against
// the real Docker Engine with its userland proxy (its default): a
// container on the same bridge as web reaches web's published port
// through the host, where docker-proxy relays the connection from the
// gateway address. Before, Ward judged that as the container's egress to
// the host's address, and so let outsider, whose egress excludes web,
// reach web; now the packet to the published port is judged as the
// connection to web's port. Every flow, direct and published, from the
// containers and the host (through Docker's DNAT of its own address),
// matches the engine's verdict for the connection it really is.
func TestFwDockerPublished(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	e, rnd := newFwDockerEnv(t, ctx, "wardpub", "ward-fw-test:")
	if _, ward := e.ruleset(); ward != "" {
		t.Fatalf("a table inet ward is already loaded in this machine's namespace (another ward fw?); not replacing it:\n%s", ward)
	}
	e.server = testenv.ServerImage(t, filepath.Join(root, "dockerinv", "testdata", "server"), e.image)

	front := netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/24", 64+int(rnd[0])%128, rnd[1]))
	gw := front.Addr().Next()
	webIP := gw.Next().Next().Next().Next() // .5
	front6 := netip.MustParsePrefix(fmt.Sprintf("fd%02x:%02x%02x:%02x::/64", rnd[2], rnd[3], rnd[0], rnd[1]))
	fill := strings.NewReplacer("IMAGE", e.image, "NS", e.project, "FRONT_SUBNET", front.String(), "FRONT_GW", gw.String(),
		"WEB_IP", webIP.String(), "FRONT6_SUBNET", front6.String(), "FRONT6_GW", front6.Addr().Next().String())
	e.policies = filepath.Join(t.TempDir(), "policies")
	if err := os.Mkdir(e.policies, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.policies, "policies.yaml"), []byte(fill.Replace(fwPublishedPolicies)), 0o600); err != nil {
		t.Fatal(err)
	}
	dc := testenv.ComposeUp(t, e.project, fill.Replace(fwPublishedCompose))
	frontNet := e.project + "_front"
	ctrs := map[string]*fwCtr{}
	for _, s := range []string{"web", "client", "outsider"} {
		id := strings.TrimSpace(e.cmd("docker-compose", append(dc, "ps", "-q", s)...))
		ctrs[s] = e.inspect(s, id)
	}
	hp, err := netip.ParseAddrPort(strings.TrimSpace(e.cmd("docker", "port", ctrs["web"].name, "8080/tcp")))
	if err != nil || hp.Addr() != gw {
		t.Fatalf("docker port web 8080: %v, %v; want it on %s", hp, err, gw)
	}
	if ctrs["web"].nets[frontNet] != webIP {
		t.Fatalf("web is at %s, want %s", ctrs["web"].nets[frontNet], webIP)
	}

	e.hostAs = hostProbers(t, e.server)
	cases := func(o *firewall.Oracle, inv *firewall.Inventory) []*fwProbe {
		var out []*fwProbe
		for _, s := range []string{"client", "outsider", "web"} {
			src := ctrs[s].nets[frontNet]
			// Through the host: the client's leg judged at the input
			// hook, docker-proxy's onward leg admitted as the proxy's.
			out = append(out, &fwProbe{from: s, to: "web via " + hp.String(), via: ctrs[s].name, src: src, dst: gw, dial: hp,
				proto: portset.TCP, port: hp.Port(), hook: firewall.Input, docker: true,
				want: o.Allows(firewall.Input, src, gw, portset.TCP, hp.Port()) &&
					(o.Allows(firewall.Output, gw, webIP, portset.TCP, 8080) || o.Relayed(webIP, portset.TCP, 8080))})
			if s != "web" {
				out = append(out, &fwProbe{from: s, to: "web@front", via: ctrs[s].name, src: src, dst: webIP, dial: netip.AddrPortFrom(webIP, 8080),
					proto: portset.TCP, port: 8080, hook: firewall.Forward, docker: true,
					want: o.Allows(firewall.Forward, src, webIP, portset.TCP, 8080)})
			}
		}
		// The host through its gateway address: Docker's DNAT in nat
		// output, the packet leaving through lo.
		out = append(out, &fwProbe{from: "host", to: "web via " + hp.String(), src: gw, dst: webIP, dial: hp, proto: portset.TCP, port: 8080,
			hook: firewall.Output, docker: true, want: o.Allows(firewall.Output, gw, webIP, portset.TCP, 8080)})
		// The host's other processes straight to web's port, from the
		// gateway address as docker-proxy's onward leg comes: another
		// user, and root in another cgroup, are judged as the host;
		// root in docker-proxy's own cgroup (dockerd runs in the root
		// cgroup here) passes for the proxy, as documented.
		for _, as := range slices.Sorted(maps.Keys(e.hostAs)) {
			out = append(out, &fwProbe{from: as, to: "web@front", via: as, src: gw, dst: webIP, dial: netip.AddrPortFrom(webIP, 8080),
				proto: portset.TCP, port: 8080, hook: firewall.Output, docker: true, want: o.Allows(firewall.Output, gw, webIP, portset.TCP, 8080)})
		}
		out = append(out, &fwProbe{from: "host", to: "web@front", src: gw, dst: webIP, dial: netip.AddrPortFrom(webIP, 8080),
			proto: portset.TCP, port: 8080, hook: firewall.Output, docker: true, why: "root in docker-proxy's cgroup passes for it",
			want: o.Allows(firewall.Output, gw, webIP, portset.TCP, 8080) || o.Relayed(webIP, portset.TCP, 8080) && passesForProxy(t, inv)})
		return out
	}
	o, inv := e.oracle()
	if inv.UserlandProxy == nil {
		t.Fatal("the inventory does not identify docker-proxy, which this engine runs (userland-proxy is its default)")
	}
	e.check("before apply (Docker alone)", dockerOnly(cases(o, inv), "no ward table"))

	// Docker's published port reaches the inventory, and the engine's
	// verdicts are those the test is about: outsider, whose egress
	// excludes web, may not reach it through the host either (Docker
	// alone lets it, above; Ward's egress stage alone judged the host's
	// address, which outsider may reach).
	var pubs int
	for _, c := range inv.Containers {
		pubs += len(c.Published)
		if c.Name == "web" && (len(c.Published) != 1 || c.Published[0] != (firewall.Published{HostPort: hp.Port(), Port: 8080, Protocol: portset.TCP})) {
			t.Fatalf("web's published ports from Docker: %+v, want %d -> 8080/TCP", c.Published, hp.Port())
		}
	}
	if pubs != 1 {
		t.Fatalf("%d published ports in the inventory, want web's one", pubs)
	}
	for _, c := range cases(o, inv) {
		want := map[string]bool{"client web via": true, "outsider web via": false, "web web via": true, "client web@front": true, "outsider web@front": false,
			"host web via": false, "host as nobody web@front": false, "host in another cgroup web@front": false, "host web@front": true}
		key := c.from + " " + strings.SplitN(c.to, " ", 2)[0]
		if strings.HasPrefix(c.to, "web via") {
			key = c.from + " web via"
		}
		if w, ok := want[key]; ok && w != c.want {
			t.Fatalf("engine: %s -> %s: %v, the test expects %v", c.from, c.to, c.want, w)
		}
	}

	t.Cleanup(func() {
		if _, _, code := run(t, "", "fw", "remove", "--lock", e.lock); code != ExitOK {
			t.Errorf("cleanup: ward fw remove: exit %d", code)
		}
	})
	out, errOut, code := run(t, "", "fw", "apply", e.policies, "--docker", "--lock", e.lock)
	if code != ExitOK {
		t.Fatalf("ward fw apply --docker: exit %d\n%s%s", code, out, errOut)
	}
	_, ward := e.ruleset()
	if !strings.Contains(ward, fmt.Sprintf("tcp dport %d jump pub_1", hp.Port())) {
		t.Errorf("the loaded table does not judge the published port %d:\n%s", hp.Port(), ward)
	}
	o, inv = e.oracle()
	e.check("after apply", cases(o, inv))

	// Negative control: without the rules that admit docker-proxy's
	// onward leg, client no longer reaches web through the host (the
	// leg is judged as the gateway's), and nothing else changes.
	e.cmd("nft", "flush", "chain", "inet", firewall.TableName, firewall.ChainUserlandProxy)
	control := cases(o, inv)
	for _, c := range control {
		if strings.HasPrefix(c.to, "web via") && c.from != "host" {
			c.want = c.want && o.Allows(firewall.Output, gw, webIP, portset.TCP, 8080)
		}
		if c.from == "host" && c.to == "web@front" {
			c.want = o.Allows(firewall.Output, gw, webIP, portset.TCP, 8080)
		}
	}
	if n := len(slices.DeleteFunc(slices.Clone(control), func(c *fwProbe) bool { return c.want })); n == len(control) || !slices.ContainsFunc(cases(o, inv), func(c *fwProbe) bool {
		return c.from == "client" && strings.HasPrefix(c.to, "web via") && c.want
	}) {
		t.Fatal("the control would show nothing")
	}
	e.check("without the userland proxy's rules", control)
}

// hostProber is a probe client of the host's other than the test
// process.
type hostProber struct {
	server string
	attr   *syscall.SysProcAttr
}

// hostProbers are the host's probe clients as another user (nobody) and
// as root in a cgroup of its own (removed when the test ends).
func hostProbers(t *testing.T, server string) map[string]*hostProber {
	t.Helper()
	// A copy nobody may run (t.TempDir is root's alone).
	dir, err := os.MkdirTemp("", "ward-probe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	b, err := os.ReadFile(server) // #nosec G304 -- the test's own build
	if err != nil {
		t.Fatal(err)
	}
	nobody := filepath.Join(dir, "server")
	if err := os.WriteFile(nobody, b, 0o755); err != nil { // #nosec G306 -- a program others must run
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // #nosec G302 -- nobody must reach the program
		t.Fatal(err)
	}
	cg := testenv.NewCgroup(t, fmt.Sprintf("ward-probe-%d", os.Getpid()))
	return map[string]*hostProber{
		"host as nobody":         {server: nobody, attr: &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}},
		"host in another cgroup": {server: server, attr: &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: cg.FD}},
	}
}

// passesForProxy reports whether the test process's sockets are the
// inventory's userland proxy's: its owner, in its cgroup.
func passesForProxy(t *testing.T, inv *firewall.Inventory) bool {
	t.Helper()
	up := inv.UserlandProxy
	return up != nil && uint32(os.Getuid()) == up.UID && testenv.OwnCgroup(t).ID == up.Cgroup.ID // #nosec G115 -- a uid
}
