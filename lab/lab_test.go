package lab_test

// Tests with real packets, as root, in network namespaces of their own.
// Under CI=true they may not skip (internal/testenv).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/cli"
	"github.com/wardsec/ward/internal/testenv"
	"github.com/wardsec/ward/lab"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

// Probe settings of the tests: short, since an attempt that disagrees is
// repeated with three times the timeout before it counts.
const (
	testTimeout  = 400 * time.Millisecond
	testParallel = 128
)

func requireLab(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireNetns(t)
	// The lab checks for SCTP once per process, at its first Start: let
	// testenv load the module first, so that both see the same kernel.
	testenv.LoadModule(t, "sctp")
}

// sctpNotRun is how many of n SCTP probes of t cannot run here, recorded
// by testenv (it never fails: this project's kernels have no SCTP, and
// modprobe cannot add it). Their verdicts stay covered by the firewall
// package's TestDifferentialLabPlans, which runs every probe of the lab's
// plans through the ruleset interpreter.
func sctpNotRun(t *testing.T, n int) int {
	t.Helper()
	return testenv.KernelLacks(t, "sctp", n, "SCTP probes")
}

// requireGone fails unless no namespace name starts with prefix, as
// `ip netns list` would show them.
func requireGone(t *testing.T, prefix string) {
	t.Helper()
	names, err := lab.Namespaces(prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) > 0 {
		t.Errorf("namespaces left behind: %v", names)
	}
}

// labLink matches the names of the links a lab makes.
var labLink = regexp.MustCompile(`^(br0|h[0-9]+)$`)

func linkNames(t *testing.T) []string {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	slices.Sort(names)
	return names
}

type jsonOutput struct {
	Run    string `json:"run"`
	Probes []struct {
		Src, Dst, SrcAddr, DstAddr string
		Port                       int
		Protocol                   string
		Expected, Observed, Status string
		Reply, Reason              string
	} `json:"probes"`
	Summary lab.Counts `json:"summary"`
}

// TestShop runs `ward lab examples/shop -o json` in-process: every probe
// that ran matched, and the counts are those computed from the manifests
// (dual-stack: the shop's workloads get addresses of both pools). No
// link of the lab shows up in the root namespace, and the run's
// namespaces are gone.
func TestShop(t *testing.T) {
	requireLab(t)
	t.Parallel()
	total, sctp := wantProbes(loadManifests(t, "../examples/shop"), 2)
	notRun := sctpNotRun(t, sctp)
	before := linkNames(t)
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"lab", "../examples/shop", "-o", "json",
		"--timeout", testTimeout.String(), "--parallel", fmt.Sprint(testParallel)}, strings.NewReader(""), &stdout, &stderr)
	if code != cli.ExitOK {
		t.Fatalf("ward lab examples/shop: exit %d\n%s\n%s", code, stderr.String(), stdout.String())
	}
	var out jsonOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	want := lab.Counts{Total: total, Ran: total - notRun, Matched: total - notRun, NotRun: notRun}
	got := out.Summary
	got.NotRunReasons = nil
	if !reflect.DeepEqual(got, want) || got.Ran+got.NotRun != total || len(out.Probes) != total {
		t.Errorf("summary %+v (%d probes), want %+v", out.Summary, len(out.Probes), want)
	}
	// The table is not trivial: both verdicts were observed, over both
	// families, and every answer came from the destination itself.
	seen := map[string]bool{}
	for _, p := range out.Probes {
		seen[p.Observed] = true
		if strings.Contains(p.SrcAddr, ":") && p.Status == "match" {
			seen["ipv6"] = true
		}
		if p.Observed == "allowed" && p.Reply != p.Dst {
			t.Errorf("%s -> %s answered by %q", p.Src, p.Dst, p.Reply)
		}
	}
	for _, k := range []string{"allowed", "blocked", "ipv6"} {
		if !seen[k] {
			t.Errorf("no %s probe in the shop's results", k)
		}
	}
	if !strings.Contains(stderr.String(), "probing") {
		t.Errorf("no progress on stderr:\n%s", stderr.String())
	}
	requireGone(t, out.Run)
	// Docker may add and remove links of its own meanwhile: check that
	// none of the lab's link names (br0, h<n>) appeared in the root
	// namespace and that no link the lab could have touched went away.
	after := linkNames(t)
	for _, name := range after {
		if !slices.Contains(before, name) && labLink.MatchString(name) {
			t.Errorf("link %s appeared in the root namespace", name)
		}
	}
	for _, name := range before {
		if !slices.Contains(after, name) && !strings.HasPrefix(name, "veth") && !strings.HasPrefix(name, "br-") {
			t.Errorf("link %s of the root namespace went away", name)
		}
	}
}

// startLab starts a lab for hosts, closed (and checked gone) when the
// test ends.
func startLab(t *testing.T, hosts []*lab.Host) *lab.Lab {
	t.Helper()
	l, err := lab.Start(context.Background(), hosts, lab.Options{Timeout: testTimeout, Parallel: testParallel})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
		requireGone(t, l.Name())
	})
	return l
}

func probe(t *testing.T, l *lab.Lab, plan *lab.Plan, rs *firewall.Ruleset) *lab.Result {
	t.Helper()
	if err := l.Load(rs); err != nil {
		t.Fatal(err)
	}
	outs, err := l.Probe(context.Background(), plan.Probes)
	if err != nil {
		t.Fatal(err)
	}
	return &lab.Result{Plan: plan, Run: l.Name(), Outcomes: outs}
}

func text(r *lab.Result) string {
	var b bytes.Buffer
	_ = r.WriteText(&b)
	return b.String()
}

// TestE2EFixtures runs every e2e scenario exported from netpol's tests
// (testdata/e2e, at least 20 of them) through the lab: each loads its
// manifests, builds the engine and the ruleset, and probes the 432
// flows of the x/y/z model (9 pods, ports 80 and 81, three protocols)
// with zero mismatches. The pods and their IPs are the same in every
// scenario, so one lab serves them all, each scenario loading its
// ruleset and starting from an empty conntrack table.
func TestE2EFixtures(t *testing.T) {
	requireLab(t)
	t.Parallel()
	files, err := filepath.Glob("testdata/e2e/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("%d e2e fixtures, want at least 20 (go test ./netpol -run TestE2EExport -update)", len(files))
	}
	sctpAll := 0
	for _, f := range files {
		_, sctp := wantProbes(loadManifests(t, f), 1)
		sctpAll += sctp
	}
	noSCTP := sctpNotRun(t, sctpAll) > 0
	l := startLab(t, planFor(t, files[0]).Hosts)
	observed := map[lab.Observation]int{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			set := loadManifests(t, f)
			plan := planFor(t, f)
			res := probe(t, l, plan, plan.Ruleset)
			total, sctp := wantProbes(set, 1)
			notRun := 0
			if noSCTP {
				notRun = sctp
			}
			c := res.Counts()
			if total != 9*8*2*3 || c.Total != total || c.Ran+c.NotRun != total || c.NotRun != notRun || c.Mismatched != 0 || c.Matched != c.Ran {
				t.Errorf("counts %+v, want %d probes, %d not run, no mismatch\n%s", c, total, notRun, text(res))
			}
			for _, o := range res.Outcomes {
				observed[o.Observed]++
			}
		})
	}
	if observed[lab.Allowed] == 0 || observed[lab.Blocked] == 0 {
		t.Errorf("observations %v: want both verdicts across the scenarios", observed)
	}
}

// withChain returns a copy of rs whose chain name's rules are edit's
// result (rs is left as it was).
func withChain(t *testing.T, rs *firewall.Ruleset, name string, edit func([]firewall.Rule) []firewall.Rule) *firewall.Ruleset {
	t.Helper()
	out := *rs
	out.Chains = slices.Clone(rs.Chains)
	for i, c := range out.Chains {
		if c.Name == name {
			cc := *c
			cc.Rules = edit(slices.Clone(c.Rules))
			out.Chains[i] = &cc
			return &out
		}
	}
	t.Fatalf("no chain %s in the ruleset", name)
	return nil
}

// ingressChain names the ingress chain of the pod holding ip.
func ingressChain(t *testing.T, plan *lab.Plan, ip string) string {
	t.Helper()
	ep := plan.Engine.EndpointOfIP(netip.MustParseAddr(ip))
	if ep.IsExternal() {
		t.Fatalf("%s belongs to no pod", ip)
	}
	return firewall.IngressChain(netpol.ClassID(ep.Class()))
}

type flow struct {
	src, dst string
	port     uint16
	proto    portset.Protocol
}

// mismatches returns the flows of r's mismatches, checking that each one
// observed obs and was confirmed by a second attempt.
func mismatches(t *testing.T, r *lab.Result, obs lab.Observation) map[flow]bool {
	t.Helper()
	out := map[flow]bool{}
	for _, o := range r.Mismatches() {
		if o.Observed != obs || !o.Retried {
			t.Errorf("%s: observed %s (retried %v), want %s confirmed by a second attempt", &o.Probe, o.Observed, o.Retried, obs)
		}
		out[flow{o.Src.ID, o.Dst.ID, o.Port, o.Protocol}] = true
	}
	return out
}

// TestNegativeControl proves that the lab can fail: loaded with a
// sabotaged ruleset instead of the compiled one, it reports mismatches
// for exactly the probes the sabotage affects, computed here from the
// scenarios' policies, and none for the others.
func TestNegativeControl(t *testing.T) {
	requireLab(t)
	t.Parallel()
	// x/a admits x/b only (every port). Without its grant rules, x/b ->
	// x/a is blocked on every runnable port and protocol.
	const grantFile = "testdata/e2e/AllowFromPodSelectorWithinNamespace.yaml"
	grant := planFor(t, grantFile)
	runnable := []portset.Protocol{portset.TCP, portset.UDP}
	// Three truth tables of these hosts are probed below.
	if _, sctp := wantProbes(loadManifests(t, grantFile), 1); sctpNotRun(t, 3*sctp) == 0 {
		runnable = append(runnable, portset.SCTP)
	}
	l := startLab(t, grant.Hosts)
	if res := probe(t, l, grant, grant.Ruleset); res.Counts().Mismatched != 0 {
		t.Fatalf("the compiled ruleset already mismatches:\n%s", text(res))
	}
	removed := 0
	noGrant := withChain(t, grant.Ruleset, ingressChain(t, grant, "10.0.0.1"), func(rules []firewall.Rule) []firewall.Rule {
		return slices.DeleteFunc(rules, func(r firewall.Rule) bool {
			if r.Verdict.Kind == firewall.Return {
				removed++
				return true
			}
			return false
		})
	})
	if removed == 0 {
		t.Fatal("x/a's ingress chain has no grant rule to remove")
	}
	want := map[flow]bool{}
	for _, port := range []uint16{80, 81} {
		for _, proto := range runnable {
			want[flow{"x/b", "x/a", port, proto}] = true
		}
	}
	res := probe(t, l, grant, noGrant)
	if got := mismatches(t, res, lab.Blocked); !reflect.DeepEqual(got, want) {
		t.Errorf("grant removed: mismatches %v, want %v\n%s", got, want, text(res))
	}

	// Every pod of x is closed to ingress. An accept of 80/TCP on top of
	// their ingress chains opens x to every other pod on that port only.
	deny := planFor(t, "testdata/e2e/DefaultDenyIngress.yaml")
	open := deny.Ruleset
	done := map[string]bool{}
	for _, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		name := ingressChain(t, deny, ip)
		if done[name] {
			continue
		}
		done[name] = true
		open = withChain(t, open, name, func(rules []firewall.Rule) []firewall.Rule {
			accept := firewall.Rule{
				L4:      &firewall.L4{Protocols: []portset.Protocol{portset.TCP}, Ports: []firewall.PortRange{{Lo: 80, Hi: 80}}},
				Verdict: firewall.Verdict{Kind: firewall.Accept},
			}
			return append([]firewall.Rule{accept}, rules...)
		})
	}
	want = map[flow]bool{}
	for _, src := range []string{"x/a", "x/b", "x/c", "y/a", "y/b", "y/c", "z/a", "z/b", "z/c"} {
		for _, dst := range []string{"x/a", "x/b", "x/c"} {
			if src != dst {
				want[flow{src, dst, 80, portset.TCP}] = true
			}
		}
	}
	res = probe(t, l, deny, open)
	if got := mismatches(t, res, lab.Allowed); !reflect.DeepEqual(got, want) {
		t.Errorf("accept added: %d mismatches %v, want %d %v\n%s", len(got), got, len(want), want, text(res))
	}
	if !strings.Contains(text(res), "MISMATCHES (24)") {
		t.Errorf("the text output does not list 24 mismatches:\n%s", text(res))
	}
}

// buildWard builds the ward binary into a temporary directory.
func buildWard(t *testing.T) string {
	t.Helper()
	testenv.RequireCommand(t, "go")
	bin := filepath.Join(t.TempDir(), "ward")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/wardsec/ward/cmd/ward") // #nosec G204 -- fixed arguments
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestSignals sends SIGTERM, then SIGINT, to a `ward lab` process while
// it probes (with a timeout long enough that probing would outlast the
// test) and checks that it exits with status 2 saying it was interrupted,
// and that none of its namespaces remain.
func TestSignals(t *testing.T) {
	requireLab(t)
	t.Parallel()
	bin := buildWard(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard, not a measurement
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "lab", "testdata/e2e/DefaultDenyAll.yaml", "--timeout", "1m", "--parallel", "8") // #nosec G204 -- the binary this test built
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			prefix := fmt.Sprintf("%s%d-", lab.Prefix, cmd.Process.Pid)
			sc := bufio.NewScanner(stderr)
			var lines []string
			for sc.Scan() {
				lines = append(lines, sc.Text())
				if strings.Contains(sc.Text(), ": probing ") {
					break
				}
			}
			names, err := lab.Namespaces(prefix)
			if err != nil || len(names) != 10 {
				t.Errorf("while probing: namespaces %v (%v), want the router's and 9 hosts'", names, err)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != cli.ExitError {
				t.Errorf("exit: %v, want status %d", err, cli.ExitError)
			}
			if all := strings.Join(lines, "\n"); !strings.Contains(all, "interrupted") || !strings.Contains(all, "removed 10 network namespaces") {
				t.Errorf("stderr does not say it was interrupted and cleaned up:\n%s", all)
			}
			requireGone(t, prefix)
		})
	}
}

// TestCleanup leaves namespaces behind as a killed run would (made with
// `ip netns add`, with a veth between them, named after a process that
// is gone) and checks that `ward lab --cleanup` removes them and nothing
// else: a namespace named after a live process (this one) stays.
func TestCleanup(t *testing.T) {
	requireLab(t)
	testenv.RequireCommand(t, "ip")
	t.Parallel()
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil { // #nosec G204 -- fixed program, the test's own arguments
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The id of a process that has exited (and whose id no process has
	// taken again since).
	pid := 0
	for range 10 {
		dead := exec.Command("true")
		if err := dead.Run(); err != nil {
			t.Fatal(err)
		}
		if err := unix.Kill(dead.Process.Pid, 0); errors.Is(err, unix.ESRCH) {
			pid = dead.Process.Pid
			break
		}
	}
	if pid == 0 {
		t.Fatal("no process id of an exited process found")
	}
	deadPrefix := fmt.Sprintf("%s%d-0badc0de-", lab.Prefix, pid)
	live := fmt.Sprintf("%s%d-0badc0de-r", lab.Prefix, os.Getpid())
	leaked := []string{deadPrefix + "h0", deadPrefix + "r"}
	for _, name := range append(slices.Clone(leaked), live) {
		ip("netns", "add", name)
	}
	t.Cleanup(func() {
		for _, name := range append(slices.Clone(leaked), live) {
			_ = exec.Command("ip", "netns", "delete", name).Run() // #nosec G204 -- names made here
		}
	})
	ip("-n", deadPrefix+"r", "link", "add", "h0", "type", "veth", "peer", "name", "eth0", "netns", deadPrefix+"h0")

	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"lab", "--cleanup"}, strings.NewReader(""), &stdout, &stderr)
	if code != cli.ExitOK {
		t.Fatalf("ward lab --cleanup: exit %d\n%s", code, stderr.String())
	}
	for _, name := range leaked {
		if !strings.Contains(stdout.String(), name) {
			t.Errorf("--cleanup output does not name %s:\n%s", name, stdout.String())
		}
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range leaked {
		if strings.Contains(string(out), name) {
			t.Errorf("%s still listed by ip netns list:\n%s", name, out)
		}
	}
	if !strings.Contains(string(out), live) {
		t.Errorf("--cleanup removed %s, whose process is alive:\n%s", live, out)
	}
}

// withoutBridgeTable returns a copy of rs as Ward loads it where no port
// can be bound: no bindings, so no bridge table, and no bridge closed
// (Ruleset.Bridges, with the inet table's chain prerouting).
func withoutBridgeTable(rs *firewall.Ruleset) *firewall.Ruleset {
	out := *rs
	out.Bindings, out.Bridges, out.NoLinkLocalLearn = nil, nil, nil
	out.Chains = slices.DeleteFunc(slices.Clone(rs.Chains), func(c *firewall.Chain) bool { return c.Name == firewall.ChainPrerouting })
	return &out
}

// spoofDrops returns whether the router of l holds Ward's bridge table
// and, if so, the packets its drop counter counted.
func spoofDrops(t *testing.T, l *lab.Lab) (present bool, drops uint64) {
	t.Helper()
	return bridgeDrops(t, l, firewall.BridgeChain)
}

// bridgeDrops sums the counters of chain of the lab's bridge table, and
// reports whether the table is there.
func bridgeDrops(t *testing.T, l *lab.Lab, chain string) (present bool, drops uint64) {
	t.Helper()
	h, err := netns.GetFromPath(filepath.Join(lab.NetnsDir, l.Name()+"-r"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	conn, err := nftables.New(nftables.WithNetNSFd(int(h)))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyBridge)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if tb.Name != firewall.TableName {
			continue
		}
		rules, err := conn.GetRules(tb, &nftables.Chain{Name: chain, Table: tb})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			for _, e := range r.Exprs {
				if c, ok := e.(*expr.Counter); ok {
					drops += c.Packets
				}
			}
		}
		return true, drops
	}
	return false, 0
}

// udpCounters reads, in namespace name, the UDP datagrams of family fam
// (4 or 6) delivered to sockets and those dropped for a bad checksum.
func udpCounters(t *testing.T, name string, fam int) (in, csumErrors uint64) {
	t.Helper()
	type result struct {
		data []byte
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine rather than
		// going back to the runtime in the host's namespace.
		runtime.LockOSThread()
		h, err := netns.GetFromPath(filepath.Join(lab.NetnsDir, name))
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			ch <- result{nil, err}
			return
		}
		file := "/proc/thread-self/net/snmp"
		if fam == 6 {
			file += "6"
		}
		data, err := os.ReadFile(file) // #nosec G304 -- a fixed procfs path
		ch <- result{data, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	// IPv4: a line of names and a line of values, both starting "Udp:";
	// IPv6: a name and a value per line.
	values := map[string]uint64{}
	lines := strings.Split(string(r.data), "\n")
	for i, line := range lines {
		f := strings.Fields(line)
		switch {
		case fam == 6 && len(f) == 2:
			values[f[0]], _ = strconv.ParseUint(f[1], 10, 64)
		case fam == 4 && len(f) > 1 && f[0] == "Udp:" && i+1 < len(lines):
			v := strings.Fields(lines[i+1])
			for j := 1; j < len(f) && j < len(v); j++ {
				values["Udp"+f[j]], _ = strconv.ParseUint(v[j], 10, 64)
			}
			return values["UdpInDatagrams"], values["UdpInCsumErrors"]
		}
	}
	if fam == 4 {
		t.Fatalf("no Udp counters in %s's snmp", name)
	}
	return values["Udp6InDatagrams"], values["Udp6InCsumErrors"]
}

// TestSpoof proves the anti-spoofing bridge table with hand-made frames:
// c admits b on 53/UDP and a on 54/UDP only (testdata/spoof). With the
// plan's bindings (every host bound to its bridge port), the whole truth
// table matches, and a UDP datagram a sends to c's 53 claiming b's
// address never reaches c while the bridge table's drop counter grows;
// a's and b's datagrams from their own addresses to the ports c admits
// them on do reach c. The negative control: the same ruleset without
// bindings lets the spoofed datagram through (the inet ruleset, which
// judges by source address, admits it as b's), while a's own address on
// 53 is still blocked there. Over IPv4 and IPv6.
func TestSpoof(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	hosts := map[string]*lab.Host{}
	var want []firewall.Binding
	for i, h := range plan.Hosts {
		hosts[h.ID] = h
		want = append(want, firewall.Binding{Port: fmt.Sprintf("h%d", i), Addrs: h.Addrs, MACs: []net.HardwareAddr{lab.HostMAC(i)}})
	}
	a, b, c := hosts["spoof/a"], hosts["spoof/b"], hosts["spoof/c"]
	if a == nil || b == nil || c == nil || len(plan.Hosts) != 3 {
		t.Fatalf("hosts %v: want spoof/a, spoof/b and spoof/c", plan.Hosts)
	}
	got := slices.Clone(plan.Ruleset.Bindings)
	for i := range got {
		got[i].Mark = 0 // the broadcast marks are TestAttack*'s
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("bindings %+v, want %+v", got, want)
	}
	// What the engine says, which the frames below rely on.
	for _, fam := range []int{4, 6} {
		for _, e := range []struct {
			src, dst string
			port     uint16
			allowed  bool
		}{{"spoof/b", "spoof/c", 53, true}, {"spoof/a", "spoof/c", 53, false}, {"spoof/a", "spoof/c", 54, true}} {
			if p := find(t, plan, e.src, e.dst, e.port, portset.UDP, fam); p.Expect != e.allowed {
				t.Fatalf("engine: %s allowed %v, want %v", &p, p.Expect, e.allowed)
			}
		}
	}

	l := startLab(t, plan.Hosts)
	cns := fmt.Sprintf("%s-h%d", l.Name(), slices.Index(plan.Hosts, c))
	// The whole truth table holds with the bridge table loaded.
	if res := probe(t, l, plan, plan.Ruleset); res.Counts().Mismatched != 0 || res.Counts().Ran == 0 {
		t.Fatalf("with bindings: %+v\n%s", res.Counts(), text(res))
	}
	present, before := spoofDrops(t, l)
	if !present {
		t.Fatal("no bridge table in the router after loading a ruleset with bindings")
	}

	ctx := context.Background()
	addr := func(h *lab.Host, fam int) netip.Addr { return hostAddr(t, h, fam) }
	type send struct {
		name       string
		from, as   *lab.Host
		port       uint16
		bound, raw bool // delivered with bindings, without
	}
	sends := []send{
		{"a claiming b's address to c:53", a, b, 53, false, true},
		{"a from its own address to c:54", a, a, 54, true, true},
		{"b from its own address to c:53", b, b, 53, true, true},
		{"a from its own address to c:53", a, a, 53, false, false},
	}
	check := func(t *testing.T, bound bool) {
		for _, fam := range []int{4, 6} {
			for _, s := range sends {
				_, d0 := spoofDrops(t, l)
				in0, bad0 := udpCounters(t, cns, fam)
				got, err := l.Spoof(ctx, s.from, addr(s.as, fam), c, addr(c, fam), s.port)
				if err != nil {
					t.Fatal(err)
				}
				_, d1 := spoofDrops(t, l)
				// A datagram seen at c's eth0 is a valid one: c's UDP
				// stack took it (checksums right) to its listener. The
				// packet socket sees the frame before the stack counts it,
				// so the counter is given a moment to catch up.
				if got {
					in1, bad1 := udpCounters(t, cns, fam)
					for wait := time.Now().Add(2 * time.Second); in1 <= in0 && bad1 == bad0 && time.Now().Before(wait); {
						time.Sleep(10 * time.Millisecond)
						in1, bad1 = udpCounters(t, cns, fam)
					}
					if in1 <= in0 || bad1 != bad0 {
						t.Errorf("IPv%d %s: c's UDP datagrams %d -> %d, checksum errors %d -> %d", fam, s.name, in0, in1, bad0, bad1)
					}
				}
				want := s.raw
				if bound {
					want = s.bound
				}
				if got != want {
					t.Errorf("IPv%d %s: delivered %v, want %v", fam, s.name, got, want)
				}
				// Only the spoofed frames, with bindings, meet the
				// bridge table's drop.
				if spoofed := bound && s.as != s.from; spoofed != (d1 > d0) {
					t.Errorf("IPv%d %s: bridge drops %d -> %d", fam, s.name, d0, d1)
				}
			}
		}
	}
	t.Run("bound", func(t *testing.T) { check(t, true) })
	if _, after := spoofDrops(t, l); after <= before {
		t.Errorf("bridge drop counter %d -> %d: no spoofed frame dropped", before, after)
	}

	unbound := *withoutBridgeTable(plan.Ruleset)
	if err := l.Load(&unbound); err != nil {
		t.Fatal(err)
	}
	if present, _ := spoofDrops(t, l); present {
		t.Fatal("the bridge table is still loaded without bindings")
	}
	t.Run("unbound", func(t *testing.T) { check(t, false) })
}

// hostAddr returns h's first address of IPv4 (fam 4) or IPv6.
func hostAddr(t *testing.T, h *lab.Host, fam int) netip.Addr {
	t.Helper()
	for _, x := range h.Addrs {
		if x.Is4() == (fam == 4) {
			return x
		}
	}
	t.Fatalf("%s has no IPv%d address", h.ID, fam)
	return netip.Addr{}
}
