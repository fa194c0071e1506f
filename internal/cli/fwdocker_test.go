package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wardsec/ward/dockerinv"
	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/testenv"
	"github.com/wardsec/ward/portset"
)

// fwDockerCompose is the project of TestFwDocker: web (published on the
// host's loopback) on front, db on back, which is internal, and api and
// rogue (which no policy allows anything) on both. Both networks are dual
// stack, an IPv4 /24 and an IPv6 ULA /64 each. IMAGE and the subnets are
// filled in by the test.
const fwDockerCompose = `version: "2.4"
services:
  web:
    image: IMAGE
    command: ["8080/tcp", "9100/tcp"]
    expose: ["8080", "9100"]
    ports: ["127.0.0.1::8080", "127.0.0.1::9100"]
    labels:
      app: web
      tier: frontend
      ward.dev/ports: "http=8080/TCP,metrics=9100/TCP"
    networks: [front]
  api:
    image: IMAGE
    command: ["9090/tcp", "5353/udp"]
    expose: ["9090", "5353/udp"]
    labels:
      app: api
      tier: backend
      ward.dev/ports: "grpc=9090/TCP,dns=5353/UDP"
    networks: [front, back]
  db:
    image: IMAGE
    command: ["5432/tcp"]
    expose: ["5432"]
    labels:
      app: db
      ward.dev/ports: "pg=5432/TCP"
    networks: [back]
  rogue:
    image: IMAGE
    command: ["6379/tcp", "5353/udp"]
    expose: ["6379", "5353/udp"]
    labels:
      app: rogue
      ward.dev/ports: "redis=6379/TCP"
    networks: [front, back]
networks:
  front:
    enable_ipv6: true
    ipam:
      config:
        - subnet: FRONT_SUBNET
          gateway: FRONT_GW
        - subnet: "FRONT6_SUBNET"
          gateway: "FRONT6_GW"
  back:
    internal: true
    enable_ipv6: true
    ipam:
      config:
        - subnet: BACK_SUBNET
          gateway: BACK_GW
        - subnet: "BACK6_SUBNET"
          gateway: "BACK6_GW"
`

// fwDockerPolicies are the policies of TestFwDocker, in namespace NS (the
// Compose project): default deny both ways, then web's http from anywhere
// and its metrics (a named port) from monitors, web to api (named ports,
// TCP and UDP), api from the frontend tier and, by ipBlock, from the host
// through front's gateway: its grpc from the IPv4 gateway, its dns from
// the IPv6 one, api to db and db from api, both through the namespace's
// labels, and monitors to any metrics port.
const fwDockerPolicies = `apiVersion: v1
kind: Namespace
metadata:
  name: NS
  labels: {team: shop, stage: test}
---
apiVersion: networking.k8s.io/v1
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
  policyTypes: [Ingress, Egress]
  ingress:
    - ports: [{port: http}]
    - from: [{podSelector: {matchLabels: {role: monitor}}}]
      ports: [{port: metrics}]
  egress:
    - to: [{podSelector: {matchLabels: {app: api}}}]
      ports: [{port: grpc}, {port: dns, protocol: UDP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: NS}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress, Egress]
  ingress:
    - from: [{podSelector: {matchLabels: {tier: frontend}}}]
      ports: [{port: grpc}, {port: dns, protocol: UDP}]
    - from: [{ipBlock: {cidr: FRONT_GW/32}}]
      ports: [{port: grpc}]
    - from: [{ipBlock: {cidr: "FRONT6_GW/128"}}]
      ports: [{port: dns, protocol: UDP}]
  egress:
    - to:
        - namespaceSelector: {matchLabels: {team: shop}}
          podSelector: {matchLabels: {app: db}}
      ports: [{port: 5432}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: NS}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {team: shop}}
          podSelector: {matchLabels: {app: api}}
      ports: [{port: pg}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: monitor, namespace: NS}
spec:
  podSelector: {matchLabels: {role: monitor}}
  policyTypes: [Egress]
  egress:
    - to: [{podSelector: {}}]
      ports: [{port: metrics}]
`

const (
	fwProbeTimeout = 400 * time.Millisecond
	// fwRetryTimeout is the patience of the second try of a probe that
	// the engine allows but that got no reply in fwProbeTimeout (a slow
	// exec, an ARP resolution): a denied flow is never retried.
	fwRetryTimeout = 2 * time.Second
)

// fwCtr is a container of the test: its Docker name and its IPv4 and
// IPv6 addresses on each network.
type fwCtr struct {
	short string // for the tables: "web", "late"
	name  string // Docker's
	nets  map[string]netip.Addr
	nets6 map[string]netip.Addr
	macs  map[string]string // network name -> its MAC address there
}

func (c *fwCtr) sortedNets() []string {
	return slices.Sorted(maps.Keys(c.nets))
}

// on returns the container's address of a family on network n.
func (c *fwCtr) on(n string, v6 bool) (netip.Addr, bool) {
	if v6 {
		a, ok := c.nets6[n]
		return a, ok
	}
	a, ok := c.nets[n]
	return a, ok
}

// anyAddr returns the container's address of a family on the first of its
// networks that gives it one: the source of what it sends to a network it
// is not on, through its default gateway.
func (c *fwCtr) anyAddr(v6 bool) (netip.Addr, bool) {
	for _, n := range c.sortedNets() {
		if a, ok := c.on(n, v6); ok {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// suffix6 marks the IPv6 destinations in the tables: "api@front6".
func suffix6(v6 bool) string {
	if v6 {
		return "6"
	}
	return ""
}

// fwProbe is one flow tried for real, with the engine's verdict.
type fwProbe struct {
	from, to string           // for the table
	via      string           // the container dialling, "" for the host
	src, dst netip.Addr       // the addresses Ward's ruleset sees
	dial     netip.AddrPort   // what is dialled (a published port: 127.0.0.1:P)
	proto    portset.Protocol // TCP or UDP
	port     uint16           // the port Ward's ruleset sees
	hook     firewall.Hook
	want     bool
	why      string // set when something else than Ward decides want
	docker   bool   // whether Docker alone lets it through
	routed   bool   // between two of Docker's networks, through the host
	got      bool
	detail   string
}

func (p *fwProbe) target() string {
	return p.dial.String() + "/" + strings.ToLower(p.proto.String())
}

// newFwDockerEnv checks what the Docker tests need (root, a Docker
// Engine, docker, docker-compose, go and nft) and returns the state of
// one whose project and image names are prefixes with a random suffix,
// and the random bytes the suffix is made of (for its subnets).
func newFwDockerEnv(t *testing.T, ctx context.Context, project, image string) (*fwDockerEnv, [4]byte) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireDocker(t)
	for _, c := range []string{"docker", "docker-compose", "go", "nft"} {
		testenv.RequireCommand(t, c)
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	unique := hex.EncodeToString(rnd[:])
	e := &fwDockerEnv{t: t, ctx: ctx, dir: t.TempDir(), project: project + unique, image: image + unique,
		gw: map[string]netip.Addr{}, gw6: map[string]netip.Addr{}}
	e.lock = filepath.Join(e.dir, "fw.lock")
	return e, rnd
}

// fwDockerEnv is the state of TestFwDocker.
type fwDockerEnv struct {
	t       *testing.T
	ctx     context.Context
	dir     string
	project string
	image   string
	server  string // the image's program, built for the host: its probes from the host
	// hostAs are the host's other probe clients, by fwProbe.via: as
	// another user, in another cgroup.
	hostAs map[string]*hostProber
	// host, when set, is the host's probe client instead of the test
	// process (which may pass for docker-proxy).
	host     *hostProber
	policies string
	lock     string
	gw       map[string]netip.Addr // network name -> the host's IPv4 address on it
	gw6      map[string]netip.Addr // network name -> the host's IPv6 address on it
	// iso6 is whether Docker isolates its networks over IPv6 too (its
	// ip6tables option): without it, the host routes IPv6 between them.
	iso6 bool
}

func verdict(ok bool) string {
	if ok {
		return "open"
	}
	return "closed"
}

// cmdErr runs a command with a bound on its time.
func cmdErr(ctx context.Context, dir, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...) // #nosec G204 -- docker, docker-compose, go and nft with the test's own arguments
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e *fwDockerEnv) cmd(name string, args ...string) string {
	e.t.Helper()
	out, err := cmdErr(e.ctx, e.dir, name, args...)
	if err != nil {
		e.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// ruleset lists the machine's whole nftables ruleset with counter values
// blanked, split into Ward's tables (inet ward, bridge ward) and
// everything else (Docker's).
func (e *fwDockerEnv) ruleset() (docker, ward string) {
	e.t.Helper()
	out, err := exec.CommandContext(e.ctx, "nft", "list", "ruleset").Output() // #nosec G204 -- fixed command
	if err != nil {
		e.t.Fatalf("nft list ruleset: %v", err)
	}
	var d, w strings.Builder
	in := false
	for _, l := range strings.SplitAfter(testenv.BlankCounters(string(out)), "\n") {
		if l == "table inet ward {\n" || l == "table bridge ward {\n" || l == "table arp ward {\n" {
			in = true
		}
		if in {
			w.WriteString(l)
		} else {
			d.WriteString(l)
		}
		if in && l == "}\n" {
			in = false
		}
	}
	return d.String(), w.String()
}

// inspect reads a container's addresses from docker inspect.
func (e *fwDockerEnv) inspect(short, name string) *fwCtr {
	e.t.Helper()
	var nets map[string]struct{ IPAddress, GlobalIPv6Address, MacAddress string }
	if err := json.Unmarshal([]byte(e.cmd("docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", name)), &nets); err != nil {
		e.t.Fatalf("docker inspect %s: %v", name, err)
	}
	c := &fwCtr{short: short, name: name, nets: map[string]netip.Addr{}, nets6: map[string]netip.Addr{}, macs: map[string]string{}}
	for n, ep := range nets {
		a, err := netip.ParseAddr(ep.IPAddress)
		if err != nil || !a.Is4() {
			e.t.Fatalf("%s on %s: IPv4 address %q: %v", name, n, ep.IPAddress, err)
		}
		c.nets[n] = a
		c.macs[n] = ep.MacAddress
		// Every network of the project is dual stack.
		a6, err := netip.ParseAddr(ep.GlobalIPv6Address)
		if err != nil || !a6.Is6() || a6.Is4In6() {
			e.t.Fatalf("%s on %s: IPv6 address %q: %v", name, n, ep.GlobalIPv6Address, err)
		}
		c.nets6[n] = a6
	}
	return c
}

// oracle reads the inventory from the engine and compiles the policies
// as ward fw does (fwPlan), into the oracle of the ruleset it applies.
func (e *fwDockerEnv) oracle() (*firewall.Oracle, *firewall.Inventory) {
	e.t.Helper()
	ce := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, log: slog.New(slog.DiscardHandler)}
	p, err := ce.fwPlan(e.ctx, &fwFlags{docker: true}, []string{e.policies})
	if err != nil {
		e.t.Fatalf("plan: %v", err)
	}
	return firewall.NewOracle(p.eng, p.inv, p.opts), p.inv
}

// cases lists, with the engine's verdicts, the flows to every declared
// TCP and UDP port of every address of the containers, IPv4 and IPv6:
// from each other container and from the host (whose source is its
// address of the family on the destination's network). involve selects
// the (source, destination) pairs by short name, "host" for the host. A
// container that shares no network with the destination's address can
// only reach it through the host, through its default gateway (even on an
// internal network: Docker gives its containers one there too, and only
// its iptables rules stop them). Over IPv4, Docker's isolation of its
// networks drops it: that verdict is Docker's, not Ward's. Over IPv6,
// unless Docker manages ip6tables (iso6), nothing of Docker's does: the
// host routes it, and Ward decides it like any other.
func (e *fwDockerEnv) cases(o *firewall.Oracle, inv *firewall.Inventory, ctrs []*fwCtr, involve func(from, to string) bool) []*fwProbe {
	e.t.Helper()
	byIP := map[netip.Addr]*firewall.Container{}
	for _, c := range inv.Containers {
		for _, a := range c.IPs {
			byIP[a] = c
		}
	}
	var out []*fwProbe
	for _, dst := range ctrs {
		for _, n := range dst.sortedNets() {
			for _, v6 := range []bool{false, true} {
				d, ok := dst.on(n, v6)
				if !ok {
					continue
				}
				fc := byIP[d]
				if fc == nil {
					e.t.Fatalf("%s (%s on %s) is not in the inventory", dst.name, d, n)
				}
				gw := e.gw
				if v6 {
					gw = e.gw6
				}
				to := dst.short + "@" + strings.TrimPrefix(n, e.project+"_") + suffix6(v6)
				for _, p := range fc.Ports {
					if p.Protocol != portset.TCP && p.Protocol != portset.UDP {
						continue
					}
					base := fwProbe{to: to, dst: d, dial: netip.AddrPortFrom(d, p.Port), proto: p.Protocol, port: p.Port}
					for _, src := range ctrs {
						if src == dst || !involve(src.short, dst.short) {
							continue
						}
						c := base
						c.from, c.via, c.hook = src.short, src.name, firewall.Forward
						s, shared := src.on(n, v6)
						if !shared {
							s, _ = src.anyAddr(v6)
						}
						c.src = s
						switch {
						case shared:
							c.docker, c.want = true, o.Allows(firewall.Forward, s, d, p.Protocol, p.Port)
						case !s.IsValid():
							c.why = "docker: no address of the family"
						case v6 && !e.iso6:
							c.docker, c.routed, c.want = true, true, o.Allows(firewall.Forward, s, d, p.Protocol, p.Port)
							c.why = "no shared network, routed: docker does not isolate IPv6"
						default:
							c.why = fmt.Sprintf("docker: no shared network; ward: %s", verdict(o.Allows(firewall.Forward, s, d, p.Protocol, p.Port)))
						}
						out = append(out, &c)
					}
					if involve("host", dst.short) {
						c := base
						c.from, c.src, c.hook, c.docker = "host", gw[n], firewall.Output, true
						c.want = o.Allows(firewall.Output, c.src, d, p.Protocol, p.Port)
						if !c.want && e.host == nil && o.Relayed(d, p.Protocol, p.Port) && passesForProxy(e.t, inv) {
							c.want, c.why = true, "root in docker-proxy's cgroup passes for it"
						}
						out = append(out, &c)
					}
				}
			}
		}
	}
	return out
}

// published lists the flows from the host to web's ports published on
// its loopback: judged at the input hook as 127.0.0.1's connections to
// web's ports; docker-proxy connects onward from front's gateway.
func (e *fwDockerEnv) published(o *firewall.Oracle, web *fwCtr, ports map[uint16]netip.AddrPort) []*fwProbe {
	frontNet := e.project + "_front"
	var out []*fwProbe
	for _, p := range slices.Sorted(maps.Keys(ports)) {
		gw, d, hp := e.gw[frontNet], web.nets[frontNet], ports[p]
		out = append(out, &fwProbe{from: "host", to: fmt.Sprintf("web:%d", p), src: hp.Addr(), dst: hp.Addr(), dial: hp, proto: portset.TCP, port: p,
			hook: firewall.Input, why: "published, via docker-proxy", docker: true,
			want: o.Allows(firewall.Input, hp.Addr(), hp.Addr(), portset.TCP, hp.Port()) &&
				(o.Allows(firewall.Output, gw, d, portset.TCP, p) || o.Relayed(d, portset.TCP, p))})
	}
	return out
}

// dockerOnly copies cases with Docker's verdicts: what they are without
// Ward.
func dockerOnly(cases []*fwProbe, why string) []*fwProbe {
	out := make([]*fwProbe, len(cases))
	for i, c := range cases {
		d := *c
		d.want, d.got, d.detail, d.why = c.docker, false, "", why
		if !c.docker {
			d.why = why + "; " + c.why
		} else if c.routed {
			d.why = why + "; routed between Docker's networks"
		}
		out[i] = &d
	}
	return out
}

// probe tries every case for real with the image's probe client: in the
// containers through docker exec, on the host directly (one run per
// source, its targets at once); a few at a time.
func (e *fwDockerEnv) probe(cases []*fwProbe, timeout time.Duration) {
	e.t.Helper()
	groups := map[string][]*fwProbe{}
	for _, c := range cases {
		groups[c.via] = append(groups[c.via], c)
	}
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for via, g := range groups {
		cmd := []string{"docker", "exec", via, "/server"}
		var attr *syscall.SysProcAttr
		switch {
		case via == "" && e.host != nil:
			cmd, attr = []string{e.host.server}, e.host.attr
		case via == "":
			cmd = []string{e.server}
		case e.hostAs[via] != nil:
			cmd, attr = []string{e.hostAs[via].server}, e.hostAs[via].attr
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := execProbe(e.ctx, cmd, attr, g, timeout); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		e.t.Fatal(err)
	}
}

// execProbe runs the probe client, cmd, with "probe" for cases, as attr
// says when not nil (another user, another cgroup).
func execProbe(ctx context.Context, cmd []string, attr *syscall.SysProcAttr, cases []*fwProbe, timeout time.Duration) error {
	args := append(slices.Clone(cmd[1:]), "probe", timeout.String())
	for _, c := range cases {
		args = append(args, c.target())
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, cmd[0], args...) // #nosec G204 -- the test's own probe client, in its own container or on the host
	c.SysProcAttr = attr
	out, err := c.Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		return fmt.Errorf("%s %s: %v\n%s", cmd[0], strings.Join(args, " "), err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(cases) {
		return fmt.Errorf("%s %s: %d result lines for %d targets:\n%s", cmd[0], strings.Join(args, " "), len(lines), len(cases), out)
	}
	for i, l := range lines {
		f := strings.SplitN(l, " ", 3)
		if len(f) < 2 || f[0] != cases[i].target() || (f[1] != "open" && f[1] != "closed") {
			return fmt.Errorf("%s probe: line %q, want %q and a verdict", strings.Join(cmd, " "), l, cases[i].target())
		}
		cases[i].got = f[1] == "open"
		if len(f) == 3 {
			cases[i].detail = f[2]
		}
	}
	return nil
}

// check probes cases, tries again with more patience those the engine
// allows that got no reply, and fails t with the whole table on any
// mismatch.
func (e *fwDockerEnv) check(phase string, cases []*fwProbe) {
	e.t.Helper()
	start := time.Now()
	e.probe(cases, fwProbeTimeout)
	var again []*fwProbe
	for _, c := range cases {
		if c.want && !c.got {
			again = append(again, c)
		}
	}
	if len(again) > 0 {
		e.probe(again, fwRetryTimeout)
	}
	var bad, open, v6, open6 int
	for _, c := range cases {
		if c.got != c.want {
			bad++
		}
		if c.got {
			open++
		}
		if c.dst.Is6() {
			v6++
			if c.got {
				open6++
			}
		}
	}
	e.t.Logf("%s: %d probes (%d open, %d closed; IPv4 %d, %d open; IPv6 %d, %d open; %d retried), %d mismatches, in %s",
		phase, len(cases), open, len(cases)-open, len(cases)-v6, open-open6, v6, open6, len(again), bad, time.Since(start).Round(time.Millisecond))
	if os.Getenv("WARD_SHOW_PROBES") != "" {
		e.t.Logf("%s:\n%s", phase, probeTable(cases))
	}
	if bad > 0 {
		e.t.Errorf("%s: %d of %d real flows disagree with the engine:\n%s", phase, bad, len(cases), probeTable(cases))
	}
}

func probeTable(cases []*fwProbe) string {
	sorted := slices.Clone(cases)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.from != b.from {
			return a.from < b.from
		}
		return a.to < b.to
	})
	var b strings.Builder
	fmt.Fprintf(&b, "    %-10s %-7s %-22s -> %-17s %-30s %-5s %-7s %-7s %s\n", "from", "hook", "source", "to", "dialled", "", "engine", "real", "detail")
	for _, c := range sorted {
		mark := "  "
		if c.got != c.want {
			mark = "!!"
		}
		why := ""
		if c.why != "" {
			why = " [" + c.why + "]"
		}
		fmt.Fprintf(&b, "%s  %-10s %-7s %-22s -> %-17s %-30s %-5s %-7s %-7s %s%s\n", mark, c.from, c.hook, c.src, c.to, c.dial, c.proto,
			verdict(c.want), verdict(c.got), c.detail, why)
	}
	return b.String()
}

// fwSpoof is one UDP datagram sent as raw Ethernet frames from a
// container's port on a network to another container's, with a source
// address of the sender's own or forged (another container's).
type fwSpoof struct {
	from, to *fwCtr
	as       *fwCtr     // whose address on the network is the source
	forge    netip.Addr // when valid, the source instead of as's
	net      string     // the network of all three
	v6       bool       // the family
	port     uint16     // UDP
	want     bool       // whether it must be delivered
	src, dst netip.Addr // filled in by spoof
	got      bool
	detail   string
}

func (c *fwSpoof) String() string {
	who := c.from.short
	switch {
	case c.forge.IsValid():
		who += " as " + c.forge.String()
	case c.as != c.from:
		who += " as " + c.as.short
	}
	return fmt.Sprintf("%s (%s) -> %s (%s) %d/udp on %s", who, c.src, c.to.short, c.dst, c.port, c.net)
}

// spoof sends every case at once: "server spoof" in the sending container
// while "server sniff", started before it, watches the destination's
// interface, then is told (its standard input closed) that the frames are
// gone. It fails t on any case whose delivery is not the one wanted.
func (e *fwDockerEnv) spoof(phase string, cases []*fwSpoof) {
	e.t.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(cases))
	for i, c := range cases {
		var ok1, ok2 bool
		if c.forge.IsValid() {
			c.src, ok1 = c.forge, true
		} else {
			c.src, ok1 = c.as.on(c.net, c.v6)
		}
		c.dst, ok2 = c.to.on(c.net, c.v6)
		if _, ok3 := c.from.on(c.net, c.v6); !ok1 || !ok2 || !ok3 || c.to.macs[c.net] == "" {
			e.t.Fatalf("%s: %s, %s and %s are not all on %s", phase, c.from.name, c.as.name, c.to.name, c.net)
		}
		wg.Go(func() { errs[i] = e.spoofOne(c) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		e.t.Fatalf("%s: %v", phase, err)
	}
	var b strings.Builder
	bad := 0
	for _, c := range cases {
		mark := "  "
		if c.got != c.want {
			mark, bad = "!!", bad+1
		}
		fmt.Fprintf(&b, "%s  %-70s want %-13s got %-13s (%s)\n", mark, c, delivered(c.want), delivered(c.got), c.detail)
	}
	e.t.Logf("%s: %d raw datagrams, %d mismatches, in %s:\n%s", phase, len(cases), bad, time.Since(start).Round(time.Millisecond), b.String())
	if bad > 0 {
		e.t.Errorf("%s: %d of %d raw datagrams not as wanted", phase, bad, len(cases))
	}
}

func delivered(ok bool) string {
	if ok {
		return "delivered"
	}
	return "not delivered"
}

// spoofOne sends one case and watches for it.
func (e *fwDockerEnv) spoofOne(c *fwSpoof) error {
	via, _ := c.from.on(c.net, c.v6)
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	marker := "ward-spoof-" + hex.EncodeToString(rnd[:])
	ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
	defer cancel()
	sniff := exec.CommandContext(ctx, "docker", "exec", "-i", c.to.name, "/server", "sniff", "--ip", c.dst.String(), // #nosec G204 -- docker exec of the test's own container
		"--src", c.src.String(), "--port", fmt.Sprint(c.port), "--marker", marker)
	stdin, err := sniff.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := sniff.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	sniff.Stderr = &stderr
	if err := sniff.Start(); err != nil {
		return err
	}
	r := bufio.NewReader(stdout)
	ready, _ := r.ReadString('\n')
	if strings.TrimSpace(ready) != "ready" {
		_ = stdin.Close()
		rest, _ := io.ReadAll(r)
		return fmt.Errorf("%s: sniff in %s: %v: %s%s%s", c, c.to.name, sniff.Wait(), ready, rest, stderr.String())
	}
	sent, serr := cmdErr(ctx, e.dir, "docker", "exec", c.from.name, "/server", "spoof", "--from-ip", via.String(), "--src", c.src.String(),
		"--dst", netip.AddrPortFrom(c.dst, c.port).String(), "--dst-mac", c.to.macs[c.net], "--marker", marker)
	_ = stdin.Close()
	rest, _ := io.ReadAll(r)
	werr := sniff.Wait()
	if serr != nil {
		return fmt.Errorf("%s: spoof in %s: %v\n%s", c, c.from.name, serr, sent)
	}
	switch strings.TrimSpace(string(rest)) {
	case "seen":
		c.got = true
	case "not seen":
	default:
		return fmt.Errorf("%s: sniff in %s: %v: %q%s", c, c.to.name, werr, rest, stderr.String())
	}
	c.detail = strings.TrimSpace(sent)
	return nil
}

var nftPackets = regexp.MustCompile(`counter packets (\d+)`)

// spoofDrops returns the packets counted by the rules of table bridge
// ward's chain (its drop only counts).
func (e *fwDockerEnv) spoofDrops() uint64 {
	e.t.Helper()
	out := e.cmd("nft", "list", "chain", "bridge", firewall.TableName, firewall.BridgeChain)
	var n uint64
	for _, m := range nftPackets.FindAllStringSubmatch(out, -1) {
		v, err := strconv.ParseUint(m[1], 10, 64)
		if err != nil {
			e.t.Fatalf("nft list chain: %v", err)
		}
		n += v
	}
	return n
}

// find returns the case from from to to on port and protocol.
func find(t *testing.T, cases []*fwProbe, from, to string, port uint16, proto portset.Protocol) *fwProbe {
	t.Helper()
	for _, c := range cases {
		if c.from == from && c.to == to && c.port == port && c.proto == proto {
			return c
		}
	}
	t.Fatalf("no probe from %s to %s on %d/%s", from, to, port, proto)
	return nil
}

// TestFwDocker is the acceptance test of ward fw against the real Docker
// Engine, in the machine's own network namespace, where Docker's bridges
// are: the one place a test loads Ward's table into the root namespace.
// It removes it on exit, failed or not, and never touches Docker's own
// tables.
//
// A Compose project of labelled services on two user-defined dual stack
// networks (one internal), a FROM scratch image of the project's own
// server and probe client, NetworkPolicies of the project's namespace
// with a Namespace object. Then:
//
//   - before apply, every flow between the containers, from the host and
//     to the published ports, TCP and UDP, IPv4 and IPv6, tried for real,
//     gets Docker's verdict (every listener answers; over IPv6, unless
//     Docker manages ip6tables, even between its networks);
//   - ward fw apply --docker leaves Docker's ruleset as it was, and every
//     flow matches the engine's verdict;
//   - raw Ethernet frames (server spoof) from rogue forging web's address,
//     IPv4 and IPv6, do not reach api's dns, which web may reach (server
//     sniff watches api's interface), while the same from web's own
//     address do, and table bridge ward counts the drops;
//   - a container started after a one-shot apply is unclassified: all its
//     flows are dropped, even those its labels will be granted;
//   - ward fw run --docker classifies it, and one started under it,
//     reporting the unclassified window; a container started on the
//     static address of a removed one gets its own verdicts, not the
//     removed one's permissions;
//   - ward fw remove leaves exactly the ruleset there was before apply,
//     and every flow gets Docker's verdict again, those Ward denied
//     included, and rogue's forged frames reach api.
func TestFwDocker(t *testing.T) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e, rnd := newFwDockerEnv(t, ctx, "wardfw", "ward-fw-test:")
	if _, ward := e.ruleset(); ward != "" {
		t.Fatalf("a table inet ward is already loaded in this machine's namespace (another ward fw?); not replacing it:\n%s", ward)
	}

	// The image: the static server and probe client, FROM scratch.
	e.server = testenv.ServerImage(t, filepath.Join(root, "dockerinv", "testdata", "server"), e.image)
	// The host's probes come from a cgroup of their own: the test
	// process, root in the root cgroup like dockerd here, passes for
	// docker-proxy at web's published ports (TestFwDockerPublished).
	e.host = hostProbers(t, e.server)["host in another cgroup"]

	// The project, on subnets of its own.
	oct := 64 + int(rnd[0])%128
	front, back := fmt.Sprintf("10.%d.%d.0/24", oct, rnd[1]&0xfe), fmt.Sprintf("10.%d.%d.0/24", oct, rnd[1]|1)
	frontGW := netip.MustParsePrefix(front).Addr().Next()
	backGW := netip.MustParsePrefix(back).Addr().Next()
	// And random ULA /64s, the gateways ::1.
	var rnd6 [5]byte
	if _, err := rand.Read(rnd6[:]); err != nil {
		t.Fatal(err)
	}
	ula := fmt.Sprintf("fd%02x:%02x%02x:%02x%02x", rnd6[0], rnd6[1], rnd6[2], rnd6[3], rnd6[4])
	front6, back6 := netip.MustParsePrefix(ula+":f::/64"), netip.MustParsePrefix(ula+":b::/64")
	frontGW6, backGW6 := front6.Addr().Next(), back6.Addr().Next()
	frontNet, backNet := e.project+"_front", e.project+"_back"
	e.gw[frontNet], e.gw[backNet] = frontGW, backGW
	e.gw6[frontNet], e.gw6[backNet] = frontGW6, backGW6
	fill := strings.NewReplacer("IMAGE", e.image, "NS", e.project, "FRONT_SUBNET", front, "BACK_SUBNET", back,
		"FRONT_GW", frontGW.String(), "BACK_GW", backGW.String(),
		"FRONT6_SUBNET", front6.String(), "BACK6_SUBNET", back6.String(), "FRONT6_GW", frontGW6.String(), "BACK6_GW", backGW6.String())
	e.policies = filepath.Join(t.TempDir(), "policies")
	if err := os.Mkdir(e.policies, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.policies, "policies.yaml"), []byte(fill.Replace(fwDockerPolicies)), 0o600); err != nil {
		t.Fatal(err)
	}
	dc := testenv.ComposeUp(t, e.project, fill.Replace(fwDockerCompose))
	var ctrs []*fwCtr
	for _, s := range []string{"web", "api", "db", "rogue"} {
		id := strings.TrimSpace(e.cmd("docker-compose", append(dc, "ps", "-q", s)...))
		ctrs = append(ctrs, e.inspect(s, id))
	}
	web := ctrs[0]
	published := map[uint16]netip.AddrPort{}
	for _, p := range []uint16{8080, 9100} {
		hp, err := netip.ParseAddrPort(strings.TrimSpace(e.cmd("docker", "port", web.name, fmt.Sprintf("%d/tcp", p))))
		if err != nil {
			t.Fatalf("docker port %s %d: %v", web.name, p, err)
		}
		published[p] = hp
	}
	// Whether Docker isolates its networks over IPv6 as over IPv4: only
	// with its ip6tables option, which puts its chains in table ip6 filter.
	_, iso6Err := cmdErr(ctx, e.dir, "nft", "list", "chain", "ip6", "filter", "DOCKER-ISOLATION-STAGE-1")
	e.iso6 = iso6Err == nil
	t.Logf("project %s up: front %s and %s, back %s and %s (internal); web's 8080 and 9100 published on %s and %s; Docker isolates IPv6: %t (%s so far)",
		e.project, front, front6, back, back6, published[8080], published[9100], e.iso6, time.Since(began).Round(time.Millisecond))

	all := func(string, string) bool { return true }
	// Without Ward: Docker's verdicts, every listener answering.
	o, inv := e.oracle()
	e.check("before apply (Docker alone)", dockerOnly(append(e.cases(o, inv, ctrs, all), e.published(o, web, published)...), "no ward table"))
	dockerBefore, _ := e.ruleset()

	// ward fw apply --docker.
	t.Cleanup(func() {
		var out, errOut strings.Builder
		if code := Run(context.Background(), []string{"fw", "remove", "--lock", e.lock}, strings.NewReader(""), &out, &errOut); code != ExitOK {
			t.Errorf("cleanup: ward fw remove: exit %d: %s%s", code, out.String(), errOut.String())
		}
		if out, err := exec.Command("nft", "list", "tables").Output(); err != nil || strings.Contains(string(out), "table inet ward") || strings.Contains(string(out), "table bridge ward") || strings.Contains(string(out), "table arp ward") { // #nosec G204 -- fixed command
			t.Errorf("cleanup: a table of Ward's is still loaded in the machine's namespace (%v); remove it with: ward fw remove", err)
		}
	})
	applyStart := time.Now()
	out, errOut, code := run(t, "", "fw", "apply", e.policies, "--docker", "--lock", e.lock)
	if code != ExitOK || !strings.HasPrefix(out, "applied table inet ward:") {
		t.Fatalf("ward fw apply --docker: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("ward fw apply --docker (%s): %s", time.Since(applyStart).Round(time.Millisecond), strings.TrimSpace(out))
	dockerNow, ward := e.ruleset()
	// Every container of the project is bound to its bridge ports.
	if !strings.Contains(ward, "table bridge ward {") || strings.Count(ward, "type ifname . ipv4_addr") != 1 {
		t.Errorf("no bridge table binding the containers' addresses to their ports:\n%s", ward)
	}
	if !strings.Contains(out, "addresses bound to") {
		t.Errorf("ward fw apply does not report the bindings: %q", out)
	}
	// And its bridges learn no MAC address from link-local frames
	// (LLDP's), read back by ward.
	if !strings.Contains(out, "no_linklocal_learn 1") || strings.Contains(errOut, "no_linklocal_learn not set") {
		t.Errorf("ward fw apply --docker did not set no_linklocal_learn on the managed bridges: %q\n%s", out, errOut)
	}
	if dockerNow != dockerBefore {
		t.Fatalf("ward fw apply changed Docker's ruleset:\nbefore:\n%s\nafter:\n%s", dockerBefore, dockerNow)
	}
	for _, a := range []netip.Addr{web.nets[frontNet], web.nets6[frontNet]} {
		if !strings.Contains(ward, a.String()) {
			t.Fatalf("the loaded table does not hold web's address %s:\n%s", a, ward)
		}
	}
	// And to their MAC addresses, Docker's for each endpoint.
	if !strings.Contains(ward, "set "+firewall.BridgeMACs+" {") || !strings.Contains(ward, "jump "+firewall.BridgeMACSpoof) {
		t.Errorf("the bridge table binds no MAC address:\n%s", ward)
	}
	for _, c := range ctrs {
		for n, m := range c.macs {
			if m == "" || !strings.Contains(ward, m) {
				t.Errorf("the loaded table does not bind %s's MAC address %q on %s:\n%s", c.short, m, n, ward)
			}
		}
	}

	// Every flow, for real, against the engine.
	o, inv = e.oracle()
	cases := append(e.cases(o, inv, ctrs, all), e.published(o, web, published)...)
	// The policies must make a test of it: what they are meant to allow
	// and deny, in every direction, per the engine.
	for _, s := range []struct {
		from, to string
		port     uint16
		proto    portset.Protocol
		want     bool
	}{
		{"web", "api@front", 9090, portset.TCP, true},
		{"web", "api@front", 5353, portset.UDP, true},
		{"api", "db@back", 5432, portset.TCP, true},
		{"host", "web@front", 8080, portset.TCP, true},
		{"host", "api@front", 9090, portset.TCP, true},
		{"host", "web:8080", 8080, portset.TCP, true},
		{"rogue", "web@front", 8080, portset.TCP, false},
		{"api", "web@front", 8080, portset.TCP, false},
		{"db", "api@back", 9090, portset.TCP, false},
		{"rogue", "api@back", 5353, portset.UDP, false},
		{"web", "rogue@front", 5353, portset.UDP, false},
		{"host", "api@back", 9090, portset.TCP, false},
		{"host", "web@front", 9100, portset.TCP, false},
		{"host", "web:9100", 9100, portset.TCP, false},
		// The same over IPv6, and the ipBlocks of one family only.
		{"web", "api@front6", 9090, portset.TCP, true},
		{"web", "api@front6", 5353, portset.UDP, true},
		{"api", "db@back6", 5432, portset.TCP, true},
		{"host", "web@front6", 8080, portset.TCP, true},
		{"host", "api@front6", 5353, portset.UDP, true},
		{"host", "api@front", 5353, portset.UDP, false},
		{"host", "api@front6", 9090, portset.TCP, false},
		{"rogue", "web@front6", 8080, portset.TCP, false},
		{"api", "web@front6", 8080, portset.TCP, false},
		{"db", "api@back6", 9090, portset.TCP, false},
		{"rogue", "api@back6", 5353, portset.UDP, false},
		{"host", "api@back6", 9090, portset.TCP, false},
		{"host", "web@front6", 9100, portset.TCP, false},
		// Across networks, which Docker drops over IPv6 only with its
		// ip6tables option.
		{"db", "web@front6", 8080, portset.TCP, false},
		{"web", "db@back6", 5432, portset.TCP, false},
	} {
		if c := find(t, cases, s.from, s.to, s.port, s.proto); c.want != s.want {
			t.Fatalf("the engine says %s from %s to %s on %d/%s; the test's policies mean it %s", verdict(c.want), s.from, s.to, s.port, s.proto, verdict(s.want))
		}
	}
	// Without it, Ward decides them: web's grpc to api on back, where web
	// is not, is allowed.
	if c := find(t, cases, "web", "api@back6", 9090, portset.TCP); !e.iso6 && (!c.routed || !c.want) {
		t.Fatalf("web to api@back6 on 9090/TCP: routed %t, engine %s; want a routed flow Ward allows", c.routed, verdict(c.want))
	}
	e.check("after apply", cases)

	// Anti-spoofing: rogue, denied api's dns, forges the address of web,
	// allowed it, on front. Raw frames (server spoof) bypass rogue's IP
	// stack: only table bridge ward stops them. The same tool from web's
	// own address shows that the method delivers what is allowed.
	api, rogue := ctrs[1], ctrs[3]
	for _, to := range []string{"api@front", "api@front6"} {
		if c := find(t, cases, "rogue", to, 5353, portset.UDP); c.want || c.got {
			t.Fatalf("rogue to %s on 5353/UDP: engine %s, real %s; want closed, or forging web's address proves nothing", to, verdict(c.want), verdict(c.got))
		}
		if c := find(t, cases, "web", to, 5353, portset.UDP); !c.want || !c.got {
			t.Fatalf("web to %s on 5353/UDP: engine %s, real %s; want open", to, verdict(c.want), verdict(c.got))
		}
	}
	forged := func(want bool) []*fwSpoof {
		return []*fwSpoof{
			{from: rogue, as: web, to: api, net: frontNet, port: 5353, want: want},
			{from: rogue, as: web, to: api, net: frontNet, v6: true, port: 5353, want: want},
		}
	}
	drops := e.spoofDrops()
	e.spoof("after apply, rogue forging web's address to api's dns, and web's own", append(forged(false),
		&fwSpoof{from: web, as: web, to: api, net: frontNet, port: 5353, want: true},
		&fwSpoof{from: web, as: web, to: api, net: frontNet, v6: true, port: 5353, want: true}))
	if now := e.spoofDrops(); now <= drops {
		t.Errorf("table bridge ward's drop counter went from %d to %d: no forged frame dropped there", drops, now)
	} else {
		t.Logf("table bridge ward dropped %d frames (its counter %d -> %d)", now-drops, drops, now)
	}

	extras := []string{}
	t.Cleanup(func() {
		for _, n := range extras {
			if out, err := cmdErr(context.Background(), e.dir, "docker", "rm", "-f", n); err != nil {
				t.Errorf("docker rm -f %s: %v\n%s", n, err, out)
			}
		}
	})
	// extra starts a container of the namespace on front, serving 7070/tcp
	// under the port name given, on the static addresses given if any.
	extra := func(short string, ip, ip6 netip.Addr, port string, labels ...string) *fwCtr {
		t.Helper()
		name := e.project + "-" + short
		extras = append(extras, name)
		args := []string{"run", "-d", "--name", name, "--network", frontNet, "--label", dockerinv.LabelNamespace + "=" + e.project,
			"--label", dockerinv.LabelPorts + "=" + port + "=7070/TCP"}
		if ip.IsValid() {
			args = append(args, "--ip", ip.String())
		}
		if ip6.IsValid() {
			args = append(args, "--ip6", ip6.String())
		}
		for _, l := range labels {
			args = append(args, "--label", l)
		}
		e.cmd("docker", append(args, e.image, "7070/tcp")...)
		return e.inspect(short, name)
	}
	involves := func(names ...string) func(from, to string) bool {
		return func(from, to string) bool { return slices.Contains(names, from) || slices.Contains(names, to) }
	}

	// A monitor started after a one-shot apply stays unclassified, and
	// every flow of it dropped, until the ruleset is applied again.
	applied := o
	early := extra("early", netip.Addr{}, netip.Addr{}, "probe", "app=monitor", "role=monitor")
	ctrs = append(ctrs, early)
	for _, a := range []netip.Addr{early.nets[frontNet], early.nets6[frontNet]} {
		if !applied.Unclassified(a) {
			t.Fatalf("%s's address %s is not unclassified in the applied ruleset's view", early.name, a)
		}
	}
	o, inv = e.oracle()
	earlyCases := e.cases(applied, inv, ctrs, involves("early"))
	classified := e.cases(o, inv, ctrs, involves("early"))
	for _, to := range []string{"web@front", "web@front6"} {
		if c := find(t, classified, "early", to, 9100, portset.TCP); !c.want {
			t.Fatalf("the engine denies early (a monitor) web's metrics on %s; the test's policies mean to allow it", to)
		}
	}
	e.check("a container started after apply, not classified yet", earlyCases)

	// ward fw run --docker.
	dctx, stop := context.WithCancel(ctx)
	var dout, derr testenv.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(dctx, []string{"fw", "run", e.policies, "--docker", "--lock", e.lock, "--interval", "500ms", "--debounce", "50ms"},
			strings.NewReader(""), &dout, &derr)
	}()
	stopped := false
	stopDaemon := func() {
		if stopped {
			return
		}
		stopped = true
		stop()
		select {
		case code := <-done:
			if code != ExitOK {
				t.Errorf("ward fw run: exit %d\n%s", code, derr.String())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("ward fw run did not stop\n%s", derr.String())
		}
	}
	t.Cleanup(stopDaemon) // before the removal of the table, registered earlier
	wait := func(what string, match func(line string) bool) string {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			for _, l := range strings.Split(dout.String(), "\n") {
				if match(l) {
					return l
				}
			}
		}
		t.Fatalf("timed out waiting for %s\nward fw run's stdout:\n%s\nstderr:\n%s", what, dout.String(), derr.String())
		return ""
	}
	wait("ward fw run's first sync", func(l string) bool { return strings.HasPrefix(l, "synced (start)") })
	windowOf := regexp.MustCompile(`unclassified window (\S+)`)
	startSynced := func(c *fwCtr) string {
		t.Helper()
		l := wait("the sync of "+c.name+"'s start", func(l string) bool {
			return strings.HasPrefix(l, "synced (") && strings.Contains(l, "container "+c.name+" (") &&
				strings.Contains(l, ": start") && windowOf.MatchString(l)
		})
		return windowOf.FindStringSubmatch(l)[1]
	}

	// Another monitor started under ward fw run, on static addresses of
	// front; the early one is classified by now too.
	static := netip.MustParsePrefix(front).Addr().As4()
	static[3] = 200
	staticIP := netip.AddrFrom4(static)
	static6 := front6.Addr().As16()
	static6[15] = 200
	staticIP6 := netip.AddrFrom16(static6)
	late := extra("late", staticIP, staticIP6, "probe", "app=monitor", "role=monitor")
	window := startSynced(late)
	t.Logf("ward fw run classified %s (%s, %s), started under it: unclassified window %s", late.name, staticIP, staticIP6, window)
	if late.nets[frontNet] != staticIP || late.nets6[frontNet] != staticIP6 {
		t.Fatalf("%s has addresses %s and %s on %s, want %s and %s", late.name, late.nets[frontNet], late.nets6[frontNet], frontNet, staticIP, staticIP6)
	}
	ctrs = append(ctrs, late)
	o, inv = e.oracle()
	lateCases := e.cases(o, inv, ctrs, involves("early", "late"))
	e.check("containers classified by ward fw run", lateCases)
	for _, m := range []string{"early", "late"} {
		for _, to := range []string{"web@front", "web@front6"} {
			if c := find(t, lateCases, m, to, 9100, portset.TCP); !c.want || !c.got {
				t.Fatalf("%s (a monitor) to web's metrics on %s: engine %s, real %s; want open, or the rest of the test proves nothing", m, to, verdict(c.want), verdict(c.got))
			}
		}
	}

	// The static addresses reused by a container with other labels (a
	// second web, whose http is 7070): it gets its own verdicts, not
	// late's permissions.
	e.cmd("docker", "rm", "-f", late.name)
	succ := extra("successor", staticIP, staticIP6, "http", "app=web", "tier=frontend")
	window = startSynced(succ)
	t.Logf("ward fw run classified %s on %s's addresses %s and %s: unclassified window %s", succ.name, late.name, staticIP, staticIP6, window)
	if succ.nets[frontNet] != staticIP || succ.nets6[frontNet] != staticIP6 {
		t.Fatalf("%s has addresses %s and %s on %s, want the removed container's %s and %s",
			succ.name, succ.nets[frontNet], succ.nets6[frontNet], frontNet, staticIP, staticIP6)
	}
	ctrs[len(ctrs)-1] = succ
	o, inv = e.oracle()
	succCases := e.cases(o, inv, ctrs, involves("successor"))
	e.check("a container on a removed container's address", succCases)
	for _, to := range []string{"web@front", "web@front6"} {
		if c := find(t, succCases, "successor", to, 9100, portset.TCP); c.want || c.got {
			t.Errorf("from %s, the address %s that reached web's metrics on %s as a monitor: engine %s, real %s; want closed (no inherited permission)",
				succ.name, c.src, to, verdict(c.want), verdict(c.got))
		}
	}
	for _, s := range []struct{ from, to string }{{"successor", "api@front"}, {"host", "successor@front"}, {"successor", "api@front6"}, {"host", "successor@front6"}} {
		port := map[string]uint16{"api@front": 9090, "successor@front": 7070}[strings.TrimSuffix(s.to, "6")]
		if c := find(t, succCases, s.from, s.to, port, portset.TCP); !c.want || !c.got {
			t.Errorf("%s to %s on %d/TCP, granted to the successor's own labels: engine %s, real %s; want open", s.from, s.to, port, verdict(c.want), verdict(c.got))
		}
	}
	if now, _ := e.ruleset(); now != dockerBefore {
		t.Errorf("under ward fw run, Docker's ruleset changed:\nbefore:\n%s\nnow:\n%s", dockerBefore, now)
	}
	stopDaemon()
	if t.Failed() {
		t.Logf("ward fw run's stdout:\n%s\nstderr:\n%s", dout.String(), derr.String())
	} else {
		t.Logf("ward fw run's syncs:\n%s", strings.TrimSpace(dout.String()))
	}

	// ward fw remove: Docker's ruleset exactly as before, and Docker's
	// verdicts for every flow again, the ones Ward denied included.
	out, errOut, code = run(t, "", "fw", "remove", "--lock", e.lock)
	if code != ExitOK || !strings.Contains(out, "removed table inet ward") {
		t.Fatalf("ward fw remove: exit %d\n%s%s", code, out, errOut)
	}
	if after, ward := e.ruleset(); after != dockerBefore || ward != "" {
		t.Errorf("after ward fw remove, the ruleset is not the one before apply:\nbefore:\n%s\nafter:\n%s%s", dockerBefore, after, ward)
	}
	o, inv = e.oracle()
	final := append(e.cases(o, inv, ctrs, all), e.published(o, web, published)...)
	denied, denied6 := 0, 0
	for _, c := range final {
		if c.docker && !c.want {
			denied++
			if c.dst.Is6() {
				denied6++
			}
		}
	}
	if denied6 == 0 || denied == denied6 {
		t.Fatalf("after remove: %d flows that Ward denies are among the probes, %d of them IPv6; want some of each family", denied, denied6)
	}
	e.check(fmt.Sprintf("after remove (Docker alone; %d flows Ward denied, %d IPv6)", denied, denied6), dockerOnly(final, "ward removed"))
	// Without Ward, nothing stops the forged frames.
	e.spoof("after remove (Docker alone), rogue forging web's address to api's dns", forged(true))
	t.Logf("done in %s", time.Since(began).Round(time.Millisecond))
}
