package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardsec/ward/dockerinv"
	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/testenv"
	"github.com/wardsec/ward/portset"
)

// fwQuarantineCompose is the project of TestFwDockerQuarantine: web on
// front, a dual stack network. The other containers are started by the
// test. IMAGE and the subnets are filled in by the test.
const fwQuarantineCompose = `version: "2.4"
services:
  web:
    image: IMAGE
    command: ["8080/tcp"]
    expose: ["8080"]
    labels:
      app: web
      ward.dev/ports: "http=8080/TCP"
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

// fwQuarantinePolicies: default deny both ways in NS; monitors reach
// web's http; "other" containers admit the host (front's gateways) on
// their probe port.
const fwQuarantinePolicies = `apiVersion: networking.k8s.io/v1
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
  ingress:
    - from: [{podSelector: {matchLabels: {role: monitor}}}]
      ports: [{port: http}]
    - from: [{ipBlock: {cidr: 192.0.2.0/24}}, {ipBlock: {cidr: "2001:db8:7::/48"}}]
      ports: [{port: 5353, protocol: UDP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: monitor, namespace: NS}
spec:
  podSelector: {matchLabels: {role: monitor}}
  policyTypes: [Egress]
  egress:
    - to: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: other, namespace: NS}
spec:
  podSelector: {matchLabels: {app: other}}
  ingress:
    - from: [{ipBlock: {cidr: FRONT_GW/32}}, {ipBlock: {cidr: "FRONT6_GW/128"}}]
      ports: [{port: probe}]
`

// runOracle is oracle as ward fw run compiles: containers Ward cannot
// classify quarantined.
func (e *fwDockerEnv) runOracle(allowUnclassified bool) (*firewall.Oracle, *firewall.Inventory) {
	e.t.Helper()
	ce := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, log: slog.New(slog.DiscardHandler)}
	f := &fwFlags{docker: true, quarantine: true, allowUnclassified: allowUnclassified}
	p, err := ce.fwPlan(e.ctx, f, []string{e.policies})
	if err != nil {
		e.t.Fatalf("plan: %v", err)
	}
	return firewall.NewOracle(p.eng, p.inv, p.opts), p.inv
}

// unclassifiedDrops returns the packets counted by chain unclassified of
// table inet ward (its drop only counts).
func (e *fwDockerEnv) unclassifiedDrops() uint64 {
	e.t.Helper()
	out := e.cmd("nft", "list", "chain", "inet", firewall.TableName, firewall.ChainUnclassified)
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

// quarantineProbes are the flows of a quarantined container q on network
// n that Ward must drop whatever the policies say: q to web's http (which
// its labels, a monitor's, would be granted), and the host to q's probe
// port (which Docker alone lets through), over IPv4 and IPv6.
func (e *fwDockerEnv) quarantineProbes(o *firewall.Oracle, n string, q, web *fwCtr) []*fwProbe {
	e.t.Helper()
	var out []*fwProbe
	for _, v6 := range []bool{false, true} {
		qa, _ := q.on(n, v6)
		wa, _ := web.on(n, v6)
		gw := e.gw[n]
		if v6 {
			gw = e.gw6[n]
		}
		if !o.Quarantined(qa) {
			e.t.Fatalf("%s's address %s is not quarantined in the oracle of ward fw run", q.name, qa)
		}
		out = append(out,
			&fwProbe{from: q.short, to: "web@front" + suffix6(v6), via: q.name, src: qa, dst: wa, dial: netip.AddrPortFrom(wa, 8080),
				proto: portset.TCP, port: 8080, hook: firewall.Forward, want: o.Allows(firewall.Forward, qa, wa, portset.TCP, 8080), docker: true, why: "quarantined"},
			&fwProbe{from: "host", to: q.short + "@front" + suffix6(v6), src: gw, dst: qa, dial: netip.AddrPortFrom(qa, 7070),
				proto: portset.TCP, port: 7070, hook: firewall.Output, want: o.Allows(firewall.Output, gw, qa, portset.TCP, 7070), docker: true, why: "quarantined"})
	}
	for _, c := range out {
		if c.want {
			e.t.Fatalf("the oracle of ward fw run allows %s to %s on %d: a quarantined container's flow", c.from, c.to, c.port)
		}
	}
	return out
}

// TestFwDockerQuarantine is hole 2 of issue 10 against the real Docker
// Engine: one container with a label Ward cannot parse must not freeze
// enforcement. Under ward fw run --docker:
//
//   - a container with ward.dev/ports=oops, labelled as a monitor, is
//     quarantined: named with its ID in the log, counted in the sync
//     lines, its flows to web (which a monitor's labels are granted) and
//     from the host dropped for real, and chain unclassified's counter
//     grows;
//   - ward fw apply --docker still refuses it (exit 2), leaving the
//     loaded table as it was;
//   - a monitor started meanwhile is synced and reaches web;
//   - the monitor is removed and, at once, an unrelated container takes
//     its static addresses: from the first sync that read the inventory
//     after the monitor's die event (its stale window, printed and
//     logged), the newcomer does not reach web, and once classified it
//     gets its own grants;
//   - with --allow-unclassified the quarantined container is still
//     dropped both ways; removed, it leaves quarantine.
func TestFwDockerQuarantine(t *testing.T) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e, rnd := newFwDockerEnv(t, ctx, "wardq", "ward-fwq-test:")
	// Ward's table lives in the machine's namespace: wait for another
	// test's (TestFwDocker) to be gone rather than replace it.
	for deadline := time.Now().Add(4 * time.Minute); ; time.Sleep(2 * time.Second) {
		_, ward := e.ruleset()
		if ward == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a table inet ward is loaded in this machine's namespace (another ward fw?); not replacing it:\n%s", ward)
		}
	}
	e.server = testenv.ServerImage(t, filepath.Join(root, "dockerinv", "testdata", "server"), e.image)

	oct := 64 + int(rnd[0])%128
	front := fmt.Sprintf("10.%d.%d.0/24", oct, rnd[1])
	frontGW := netip.MustParsePrefix(front).Addr().Next()
	var rnd6 [5]byte
	if _, err := rand.Read(rnd6[:]); err != nil {
		t.Fatal(err)
	}
	front6 := netip.MustParsePrefix(fmt.Sprintf("fd%02x:%02x%02x:%02x%02x:f::/64", rnd6[0], rnd6[1], rnd6[2], rnd6[3], rnd6[4]))
	frontGW6 := front6.Addr().Next()
	frontNet := e.project + "_front"
	e.gw[frontNet], e.gw6[frontNet] = frontGW, frontGW6
	fill := strings.NewReplacer("IMAGE", e.image, "NS", e.project, "FRONT_SUBNET", front, "FRONT_GW", frontGW.String(),
		"FRONT6_SUBNET", front6.String(), "FRONT6_GW", frontGW6.String())
	e.policies = filepath.Join(t.TempDir(), "policies")
	if err := os.Mkdir(e.policies, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.policies, "policies.yaml"), []byte(fill.Replace(fwQuarantinePolicies)), 0o600); err != nil {
		t.Fatal(err)
	}
	dc := testenv.ComposeUp(t, e.project, fill.Replace(fwQuarantineCompose))
	web := e.inspect("web", strings.TrimSpace(e.cmd("docker-compose", append(dc, "ps", "-q", "web")...)))
	ctrs := []*fwCtr{web}
	t.Logf("project %s up: front %s and %s (%s so far)", e.project, front, front6, time.Since(began).Round(time.Millisecond))

	t.Cleanup(func() {
		var out, errOut strings.Builder
		if code := Run(context.Background(), []string{"fw", "remove", "--lock", e.lock}, strings.NewReader(""), &out, &errOut); code != ExitOK {
			t.Errorf("cleanup: ward fw remove: exit %d: %s%s", code, out.String(), errOut.String())
		}
	})
	var extras []string
	t.Cleanup(func() {
		for _, n := range extras {
			if out, err := cmdErr(context.Background(), e.dir, "docker", "rm", "-f", n); err != nil && !strings.Contains(out, "No such container") {
				t.Errorf("docker rm -f %s: %v\n%s", n, err, out)
			}
		}
	})
	// extra starts a container of the namespace on front serving 7070/tcp,
	// with the ward.dev/ports label given, on the static addresses given
	// if any.
	extra := func(short string, ip, ip6 netip.Addr, ports string, labels ...string) *fwCtr {
		t.Helper()
		name := e.project + "-" + short
		extras = append(extras, name)
		args := []string{"run", "-d", "--name", name, "--network", frontNet, "--label", dockerinv.LabelNamespace + "=" + e.project,
			"--label", dockerinv.LabelPorts + "=" + ports}
		if ip.IsValid() {
			args = append(args, "--ip", ip.String(), "--ip6", ip6.String())
		}
		for _, l := range labels {
			args = append(args, "--label", l)
		}
		e.cmd("docker", append(args, e.image, "7070/tcp")...)
		return e.inspect(short, name)
	}
	involves := func(names ...string) func(from, to string) bool {
		return func(from, to string) bool {
			for _, n := range names {
				if from == n || to == n {
					return true
				}
			}
			return false
		}
	}

	// daemon starts ward fw run --docker with extra flags; the returned
	// function stops it (once).
	type daemonRun struct {
		out, err testenv.SyncBuffer
		stop     func()
	}
	startDaemon := func(flags ...string) *daemonRun {
		d := &daemonRun{}
		dctx, stop := context.WithCancel(ctx)
		done := make(chan int, 1)
		args := append([]string{"fw", "run", e.policies, "--docker", "--lock", e.lock, "--interval", "500ms", "--debounce", "50ms"}, flags...)
		go func() { done <- Run(dctx, args, strings.NewReader(""), &d.out, &d.err) }()
		stopped := false
		d.stop = func() {
			if stopped {
				return
			}
			stopped = true
			stop()
			select {
			case code := <-done:
				if code != ExitOK {
					t.Errorf("ward fw run %s: exit %d\n%s", strings.Join(flags, " "), code, d.err.String())
				}
			case <-time.After(30 * time.Second):
				t.Errorf("ward fw run did not stop\n%s", d.err.String())
			}
			if t.Failed() {
				t.Logf("ward fw run %s: stdout:\n%s\nstderr:\n%s", strings.Join(flags, " "), d.out.String(), d.err.String())
			} else {
				t.Logf("ward fw run %s: syncs:\n%s", strings.Join(flags, " "), strings.TrimSpace(d.out.String()))
			}
		}
		t.Cleanup(d.stop) // before the removal of the table, registered earlier
		return d
	}
	wait := func(d *daemonRun, what string, match func(line string) bool) string {
		t.Helper()
		for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			for _, l := range strings.Split(d.out.String(), "\n") {
				if match(l) {
					return l
				}
			}
		}
		t.Fatalf("timed out waiting for %s\nward fw run's stdout:\n%s\nstderr:\n%s", what, d.out.String(), d.err.String())
		return ""
	}
	windowOf := regexp.MustCompile(`unclassified window (\S+)`)
	staleOf := regexp.MustCompile(`stale window (\S+)`)
	started := func(d *daemonRun, c *fwCtr) string {
		t.Helper()
		return wait(d, "the sync of "+c.name+"'s start", func(l string) bool {
			return strings.HasPrefix(l, "synced (") && strings.Contains(l, "container "+c.name+" (") &&
				strings.Contains(l, ": start") && windowOf.MatchString(l)
		})
	}

	d := startDaemon()
	wait(d, "ward fw run's first sync", func(l string) bool { return strings.HasPrefix(l, "synced (start)") })

	// A container whose ward.dev/ports does not parse, labelled as a
	// monitor: quarantined, not classified.
	bad := extra("bad", netip.Addr{}, netip.Addr{}, "oops", "app=monitor", "role=monitor")
	badID := strings.TrimSpace(e.cmd("docker", "inspect", "--format", "{{.Id}}", bad.name))
	line := started(d, bad)
	if !strings.Contains(line, ", 1 quarantined") || !strings.Contains(line, ", 1 bridge port closed") {
		t.Fatalf("the sync of %s's start does not count it quarantined, its port closed: %q", bad.name, line)
	}
	wantQ := fmt.Sprintf(`quarantined: container %s (%s): label ward.dev/ports="oops"`, bad.name, badID[:12])
	if !strings.Contains(d.out.String(), wantQ) {
		t.Errorf("ward fw run's stdout does not say %q:\n%s", wantQ, d.out.String())
	}
	for _, s := range []string{"container quarantined", "container=" + bad.name, "id=" + badID[:12], "ward.dev/ports"} {
		if !strings.Contains(d.err.String(), s) {
			t.Errorf("ward fw run's log does not say %q:\n%s", s, d.err.String())
		}
	}
	o, _ := e.runOracle(false)
	drops := e.unclassifiedDrops()
	e.check("a container with ward.dev/ports=oops, quarantined", e.quarantineProbes(o, frontNet, bad, web))
	if now := e.unclassifiedDrops(); now <= drops {
		t.Errorf("chain unclassified's counter went from %d to %d: the quarantined container's packets were not dropped there", drops, now)
	} else {
		t.Logf("chain unclassified dropped %d packets of the quarantined container (its counter %d -> %d)", now-drops, drops, now)
	}

	// Its bridge port is closed: it cannot pass for a client web admits
	// (an external address: the inet table judges a datagram by its
	// source), a raw datagram that bypasses its own IP stack included.
	// Before unknown ports were closed, these reached web.
	spoofBefore := e.spoofDrops()
	e.spoof("the quarantined container forging a source web admits", []*fwSpoof{
		{from: bad, as: bad, forge: netip.MustParseAddr("192.0.2.7"), to: web, net: frontNet, port: 5353, want: false},
		{from: bad, as: bad, forge: netip.MustParseAddr("2001:db8:7::7"), to: web, net: frontNet, v6: true, port: 5353, want: false},
	})
	if now := e.spoofDrops(); now < spoofBefore+2 {
		t.Errorf("table bridge ward's drop counter went from %d to %d: the quarantined container's forged frames were not dropped there", spoofBefore, now)
	}

	// ward fw apply keeps refusing it, and leaves the table as it was.
	_, before := e.ruleset()
	out, errOut, code := run(t, "", "fw", "apply", e.policies, "--docker", "--lock", e.lock)
	if code != ExitError || !strings.Contains(errOut, bad.name) || !strings.Contains(errOut, "ward.dev/ports") {
		t.Errorf("ward fw apply --docker with %s running: exit %d\n%s%s\nwant exit %d naming the container and its label", bad.name, code, out, errOut, ExitError)
	}
	if _, after := e.ruleset(); after != before {
		t.Errorf("the refused ward fw apply changed Ward's table:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// Other containers keep syncing: a monitor, on static addresses,
	// reaches web.
	static := netip.MustParsePrefix(front).Addr().As4()
	static[3] = 200
	staticIP := netip.AddrFrom4(static)
	static6 := front6.Addr().As16()
	static6[15] = 200
	staticIP6 := netip.AddrFrom16(static6)
	mon := extra("mon", staticIP, staticIP6, "probe=7070/TCP", "app=monitor", "role=monitor")
	line = started(d, mon)
	t.Logf("ward fw run classified %s beside the quarantined %s: %s", mon.name, bad.name, line)
	ctrs = append(ctrs, mon)
	o, inv := e.runOracle(false)
	monCases := e.cases(o, inv, ctrs, involves("mon"))
	e.check("a monitor started beside the quarantined container", monCases)
	for _, to := range []string{"web@front", "web@front6"} {
		if c := find(t, monCases, "mon", to, 8080, portset.TCP); !c.want || !c.got {
			t.Fatalf("mon to web's http on %s: engine %s, real %s; want open, or the rest proves nothing", to, verdict(c.want), verdict(c.got))
		}
	}

	// The monitor is destroyed, and at once an unrelated container takes
	// its addresses. From the first sync that read the inventory after
	// the monitor's die event, they have no monitor's grant.
	afterRm := len(d.out.String())
	e.cmd("docker", "rm", "-f", mon.name)
	succ := extra("succ", staticIP, staticIP6, "probe=7070/TCP", "app=other")
	// The first sync since the removal that measured a stale window.
	line = wait(d, "the sync after "+mon.name+"'s die", func(l string) bool {
		return strings.HasPrefix(l, "synced (") && staleOf.MatchString(l) && strings.Index(d.out.String(), l) >= afterRm
	})
	stale := staleOf.FindStringSubmatch(line)[1]
	early := []*fwProbe{}
	for _, v6 := range []bool{false, true} {
		sa, _ := succ.on(frontNet, v6)
		wa, _ := web.on(frontNet, v6)
		early = append(early, &fwProbe{from: "succ", to: "web@front" + suffix6(v6), via: succ.name, src: sa, dst: wa, dial: netip.AddrPortFrom(wa, 8080),
			proto: portset.TCP, port: 8080, hook: firewall.Forward, want: false, docker: true, why: "the removed monitor's address"})
	}
	e.check("right after the sync of the monitor's removal, its successor on its addresses", early)
	t.Logf("ward fw run revoked %s's addresses %s and %s: stale window %s (from Docker's die event to the ruleset loaded and read back): %s",
		mon.name, staticIP, staticIP6, stale, line)
	if succ.nets[frontNet] != staticIP || succ.nets6[frontNet] != staticIP6 {
		t.Fatalf("%s has addresses %s and %s, want the removed monitor's %s and %s", succ.name, succ.nets[frontNet], succ.nets6[frontNet], staticIP, staticIP6)
	}
	line = started(d, succ)
	t.Logf("ward fw run classified %s on the removed monitor's addresses: %s", succ.name, line)
	ctrs[len(ctrs)-1] = succ
	o, inv = e.runOracle(false)
	succCases := e.cases(o, inv, ctrs, involves("succ"))
	e.check("a container on the removed monitor's addresses", succCases)
	for _, s := range []struct {
		from, to string
		port     uint16
		want     bool
	}{
		{"succ", "web@front", 8080, false}, {"succ", "web@front6", 8080, false},
		{"host", "succ@front", 7070, true}, {"host", "succ@front6", 7070, true},
	} {
		if c := find(t, succCases, s.from, s.to, s.port, portset.TCP); c.want != s.want || c.got != s.want {
			t.Errorf("%s to %s on %d/TCP: engine %s, real %s; want %s", s.from, s.to, s.port, verdict(c.want), verdict(c.got), verdict(s.want))
		}
	}
	d.stop()

	// With --allow-unclassified, the quarantined container is still
	// dropped both ways.
	d = startDaemon("--allow-unclassified")
	line = wait(d, "ward fw run --allow-unclassified's first sync", func(l string) bool { return strings.HasPrefix(l, "synced (start)") })
	if !strings.Contains(line, ", 1 quarantined") {
		t.Fatalf("ward fw run --allow-unclassified's first sync does not count %s quarantined: %q", bad.name, line)
	}
	o, _ = e.runOracle(true)
	e.check("--allow-unclassified, the quarantined container", e.quarantineProbes(o, frontNet, bad, web))
	// Removed, it leaves quarantine, and the log says so.
	e.cmd("docker", "rm", "-f", bad.name)
	wait(d, bad.name+" out of quarantine", func(l string) bool {
		return l == fmt.Sprintf("out of quarantine: container %s (%s)", bad.name, badID[:12])
	})
	d.stop()
	t.Logf("done in %s", time.Since(began).Round(time.Millisecond))
}
