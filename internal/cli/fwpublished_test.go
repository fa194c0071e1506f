package cli

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
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

// fwPublishedPolicies: web admits client, and the gateway (the proxy's
// onward leg); client may reach web; outsider may reach anything but web.
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
    - from: [{podSelector: {matchLabels: {app: client}}}, {ipBlock: {cidr: FRONT_GW/32}}]
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

	cases := func(o *firewall.Oracle) []*fwProbe {
		var out []*fwProbe
		for _, s := range []string{"client", "outsider", "web"} {
			src := ctrs[s].nets[frontNet]
			// Through the host: the proxy's two legs, each as Ward judges it.
			out = append(out, &fwProbe{from: s, to: "web via " + hp.String(), via: ctrs[s].name, src: src, dst: gw, dial: hp,
				proto: portset.TCP, port: hp.Port(), hook: firewall.Input, docker: true,
				want: o.Allows(firewall.Input, src, gw, portset.TCP, hp.Port()) && o.Allows(firewall.Output, gw, webIP, portset.TCP, 8080)})
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
		return out
	}
	o, inv := e.oracle()
	e.check("before apply (Docker alone)", dockerOnly(cases(o), "no ward table"))

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
	for _, c := range cases(o) {
		want := map[string]bool{"client web via": true, "outsider web via": false, "web web via": true, "client web@front": true, "outsider web@front": false, "host web via": true}
		key := c.from + " " + strings.SplitN(c.to, " ", 2)[0]
		if strings.HasPrefix(c.to, "web via") {
			key = c.from + " web via"
		}
		if w, ok := want[key]; ok && w != c.want {
			t.Fatalf("engine: %s -> %s: %v, the test expects %v", c.from, c.to, c.want, w)
		}
	}

	out, errOut, code := run(t, "", "fw", "apply", e.policies, "--docker", "--lock", e.lock)
	if code != ExitOK {
		t.Fatalf("ward fw apply --docker: exit %d\n%s%s", code, out, errOut)
	}
	t.Cleanup(func() {
		if _, _, code := run(t, "", "fw", "remove", "--lock", e.lock); code != ExitOK {
			t.Errorf("cleanup: ward fw remove: exit %d", code)
		}
	})
	_, ward := e.ruleset()
	if !strings.Contains(ward, fmt.Sprintf("tcp dport %d jump pub_1", hp.Port())) {
		t.Errorf("the loaded table does not judge the published port %d:\n%s", hp.Port(), ward)
	}
	o, _ = e.oracle()
	e.check("after apply", cases(o))
}
