package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardsec/ward/internal/testenv"
)

// watchDockerCompose: client and db on one network; Docker alone lets
// client reach db.
const watchDockerCompose = `version: "2.4"
services:
  client:
    image: IMAGE
    command: ["8080/tcp"]
    labels: {app: client, ward.dev/ports: "http=8080/TCP"}
    networks: [net]
  late:
    image: IMAGE
    command: ["8081/tcp"]
    labels: {app: late, ward.dev/ports: "http=8081/TCP"}
    networks: [net]
  db:
    image: IMAGE
    command: ["5432/tcp"]
    labels: {app: db, ward.dev/ports: "pg=5432/TCP"}
    networks: [net]
networks:
  net:
    enable_ipv6: true
    ipam:
      config: [{subnet: SUBNET}, {subnet: SUBNET6}]
`

// watchDockerPolicies: db admits nobody.
const watchDockerPolicies = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-isolated, namespace: NS}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
`

// TestWatchDocker: on a real Docker host, ward fw enforces the policy
// and logs its drops to nflog; ward watch reads them and the kernel's
// connection tracking. A flow the policy forbids is dropped (no alert);
// once someone deletes ward's table, the same flow gets through and ward
// watch raises a critical policy-violation, and nothing else about these
// containers. A container started after ward watch (late) is known by
// name when it does the same: ward watch follows the Docker Engine.
func TestWatchDocker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	e, rnd := newFwDockerEnv(t, ctx, "wardwatch", "ward-watch-test:")
	if _, ward := e.ruleset(); ward != "" {
		t.Fatalf("a table inet ward is already loaded in this machine's namespace (another ward fw?); not replacing it:\n%s", ward)
	}
	e.server = testenv.ServerImage(t, filepath.Join(root, "dockerinv", "testdata", "server"), e.image)
	subnet := fmt.Sprintf("10.%d.%d.0/24", 64+int(rnd[0])%128, rnd[1])
	subnet6 := fmt.Sprintf("fd%02x:%02x%02x:%02x%02x::/64", rnd[2], rnd[3], rnd[0], rnd[1], rnd[2])
	fill := strings.NewReplacer("IMAGE", e.image, "NS", e.project, "SUBNET6", subnet6, "SUBNET", subnet)
	e.policies = filepath.Join(t.TempDir(), "policies")
	if err := os.Mkdir(e.policies, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.policies, "policies.yaml"), []byte(fill.Replace(watchDockerPolicies)), 0o600); err != nil {
		t.Fatal(err)
	}
	dc := testenv.ComposeUp(t, e.project, fill.Replace(watchDockerCompose))
	client := e.inspect("client", strings.TrimSpace(e.cmd("docker-compose", append(dc, "ps", "-q", "client")...)))
	db := e.inspect("db", strings.TrimSpace(e.cmd("docker-compose", append(dc, "ps", "-q", "db")...)))
	lateID := strings.TrimSpace(e.cmd("docker-compose", append(dc, "ps", "-q", "late")...))
	e.cmd("docker-compose", append(dc, "stop", "-t", "1", "late")...) // started again once ward watch runs
	dbAddr, ok := db.anyAddr(false)
	if !ok {
		t.Fatal("db has no IPv4 address")
	}
	clientAddr, _ := client.anyAddr(false)

	run := func(args ...string) (int, string) {
		var out, errOut strings.Builder
		code := Run(ctx, args, strings.NewReader(""), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	t.Cleanup(func() {
		if code, out := run("fw", "remove", "--lock", e.lock); code != ExitOK {
			t.Errorf("cleanup: ward fw remove: exit %d: %s", code, out)
		}
	})
	if code, out := run("fw", "apply", "--docker", "--log-group", "43", "--log-rate", "1000", "--lock", e.lock, e.policies); code != ExitOK {
		t.Fatalf("ward fw apply: exit %d: %s", code, out)
	}

	// ward watch, as root on the host, until cancelled.
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	alerts := &testenv.SyncBuffer{}
	var errOut strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- Run(wctx, []string{"watch", "--conntrack", "--nflog", "43", "--docker", "--manifests", e.policies, "-o", "json"},
			strings.NewReader(""), alerts, &errOut)
	}()
	time.Sleep(time.Second) // the sources bind their groups

	probe := func(from string) bool {
		// The probe client exits 1 when a target is closed.
		out, _ := cmdErr(ctx, e.dir, "docker", "exec", from, "/server", "probe", "1s", netip.AddrPortFrom(dbAddr, 5432).String()+"/tcp")
		if !strings.Contains(out, " open") && !strings.Contains(out, " closed") {
			t.Fatalf("probe: %s", out)
		}
		return strings.Contains(out, " open")
	}
	if probe(client.name) {
		t.Fatal("client reached db:5432 with ward's table loaded")
	}
	// A port scan of db, which ward fw drops (and logs).
	scan := []string{"exec", client.name, "/server", "probe", "300ms"}
	for port := 1000; port < 1020; port++ {
		scan = append(scan, netip.AddrPortFrom(dbAddr, uint16(port)).String()+"/tcp") // #nosec G115 -- test ports
	}
	if out, _ := cmdErr(ctx, e.dir, "docker", scan...); strings.Contains(out, " open") {
		t.Fatalf("the scan reached db through ward's table:\n%s", out)
	}
	// An egress no policy names: the host's own address outside Docker's
	// networks, which client's open egress and Docker let it reach.
	hostAddr := outsideAddr(t)
	ln, err := net.Listen("tcp", netip.AddrPortFrom(hostAddr, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hello from the host\n")) // the probe wants a line
			_ = c.Close()
		}
	}()
	if out, _ := cmdErr(ctx, e.dir, "docker", "exec", client.name, "/server", "probe", "2s", ln.Addr().String()+"/tcp"); !strings.Contains(out, " open") {
		t.Fatalf("client did not reach the host at %s: %s", ln.Addr(), out)
	}
	e.cmd("docker-compose", append(dc, "start", "late")...)
	late := e.inspect("late", lateID)
	lateAddr, _ := late.anyAddr(false)
	time.Sleep(2 * time.Second) // ward watch reads the inventory again
	// Someone deletes ward's tables.
	e.cmd("nft", "delete", "table", "inet", "ward")
	_, _ = cmdErr(ctx, e.dir, "nft", "delete", "table", "bridge", "ward")
	if !probe(client.name) || !probe(late.name) {
		t.Fatal("client or late did not reach db:5432 once ward's table was gone (Docker alone allows it)")
	}
	deadline := time.Now().Add(15 * time.Second)
	for (strings.Count(alerts.String(), `"policy-violation"`) < 2 || !strings.Contains(alerts.String(), `"port-scan"`) || !strings.Contains(alerts.String(), `"unexpected-egress"`)) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	var code int
	select {
	case code = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("ward watch did not stop within 15 s of its context")
	}
	if code != ExitFindings {
		t.Errorf("ward watch: exit %d, want %d (alerts raised): %s", code, ExitFindings, errOut.String())
	}
	// Every alert about these containers: the violations from client and
	// late to db, client's scan of db, client's egress to the host.
	ours := map[string]bool{clientAddr.String(): true, dbAddr.String(): true, lateAddr.String(): true}
	var violations int
	fromLate, scanned, egress := false, false, false
	for _, line := range strings.Split(strings.TrimSpace(alerts.String()), "\n") {
		var a struct {
			Detector string `json:"detector"`
			Severity string `json:"severity"`
			Source   struct{ Address, Workload string }
			Dest     struct{ Address, Workload string } `json:"destination"`
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("alert line %q: %v", line, err)
		}
		if !ours[a.Source.Address] && !ours[a.Dest.Address] {
			continue // the host's own traffic
		}
		switch {
		case a.Detector == "port-scan" && a.Source.Address == clientAddr.String():
			scanned = true
		case a.Detector == "unexpected-egress" && a.Source.Address == clientAddr.String() && a.Dest.Address == hostAddr.String():
			egress = true
		case a.Detector == "policy-violation" && a.Severity == "critical" && a.Dest.Address == dbAddr.String() &&
			(a.Source.Address == clientAddr.String() || a.Source.Address == lateAddr.String()):
			if a.Source.Address == lateAddr.String() {
				// Known by name: the inventory was read again.
				if !strings.Contains(a.Source.Workload, "late") {
					t.Errorf("late's violation does not name it: %s", line)
				}
				fromLate = true
			}
			violations++
		default:
			t.Errorf("unexpected alert: %s", line)
		}
	}
	if !scanned || !egress {
		t.Errorf("port scan alerted %v, egress alerted %v; alerts:\n%s", scanned, egress, alerts.String())
	}
	t.Logf("%d policy-violation reports from client and late, a port scan and an egress; ward watch said: %s", violations, strings.TrimSpace(errOut.String()))
	if violations == 0 || !fromLate {
		t.Errorf("no policy-violation from client and from late to db; alerts:\n%s\nstderr:\n%s", alerts.String(), errOut.String())
	}
}

// outsideAddr is one of the host's IPv4 addresses outside Docker's
// networks (not on a bridge, a veth or lo).
func outsideAddr(t *testing.T) netip.Addr {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 ||
			strings.HasPrefix(i.Name, "br-") || strings.HasPrefix(i.Name, "docker") || strings.HasPrefix(i.Name, "veth") {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && p.Addr().IsGlobalUnicast() {
				return p.Addr()
			}
		}
	}
	t.Fatal("the host has no IPv4 address outside Docker's networks to play the internet")
	return netip.Addr{}
}
