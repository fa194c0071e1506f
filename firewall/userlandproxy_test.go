package firewall_test

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/testenv"
	"github.com/wardsec/ward/portset"
)

// proxyCgroup is the firewall's view of a cgroup the test made.
func proxyCgroup(t *testing.T, cg testenv.Cgroup) firewall.Cgroup {
	t.Helper()
	path, err := filepath.Rel("/sys/fs/cgroup", cg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return firewall.Cgroup{Path: path, Level: cg.Level, ID: cg.ID}
}

// TestUserlandProxyOnwardLeg is the second half of hole 5 with real
// sockets: Docker's userland proxy connects onward to a container's
// published port from the host, and only the proxy's sockets (root, in
// the proxy's cgroup exactly) may do so whatever the container's ingress
// says. Processes in a "host" namespace connect to a "container"'s port
// 8080 (published) and 9090 (not published), the container admitting
// only app=client: as root in the proxy's cgroup (admitted on 8080 only),
// as nobody in it, as root in a cgroup below it and in a sibling, and from
// the root cgroup (all refused). With the proxy in the root cgroup, root
// there is admitted and the others still refused. Without the
// userland_proxy chain's rules, the proxy is refused too.
func TestUserlandProxyOnwardLeg(t *testing.T) {
	for _, c := range []string{"setpriv", "timeout", "bash"} {
		testenv.RequireCommand(t, c)
	}
	l := newAttackLab(t, 78)
	host := l.host
	serveWeb(t, l.ctr, netip.AddrPortFrom(l.ctrIP, 8080).String(), netip.AddrPortFrom(l.ctrIP, 9090).String())

	base := fmt.Sprintf("ward-up-%d", os.Getpid())
	testenv.NewCgroup(t, base)
	proxy := testenv.NewCgroup(t, base+"/proxy")
	below := testenv.NewCgroup(t, base+"/proxy/worker")
	sibling := testenv.NewCgroup(t, base+"/other")

	// dial connects from the host namespace to target as uid, in cgroup
	// (the test's own, the root here, when nil), and reports whether the
	// server's answer came back.
	dial := func(uid int, cg *testenv.Cgroup, target string) bool {
		addr := netip.MustParseAddrPort(target)
		args := []string{"netns", "exec", host}
		if uid != 0 {
			args = append(args, "setpriv", fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", uid), "--clear-groups")
		}
		args = append(args, "timeout", "2", "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%d && head -c 3 <&3", addr.Addr(), addr.Port()))
		cmd := exec.Command("ip", args...) // #nosec G204 -- fixed programs, the test's own targets
		if cg != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: cg.FD}
		}
		out, _ := cmd.Output()
		return string(out) == "web"
	}
	type probe struct {
		who    string
		uid    int
		cg     *testenv.Cgroup
		target string
	}
	web8080, web9090 := netip.AddrPortFrom(l.ctrIP, 8080).String(), netip.AddrPortFrom(l.ctrIP, 9090).String()
	probes := []probe{
		{"root in the proxy's cgroup", 0, &proxy, web8080},
		{"root in the proxy's cgroup, to a port nobody publishes", 0, &proxy, web9090},
		{"nobody in the proxy's cgroup", 65534, &proxy, web8080},
		{"root in a cgroup below the proxy's", 0, &below, web8080},
		{"root in a sibling cgroup", 0, &sibling, web8080},
		{"root in the root cgroup", 0, nil, web8080},
		{"nobody in the root cgroup", 65534, nil, web8080},
	}
	// reach dials every probe at once (a refused one waits for its
	// timeout).
	reach := func(ps []probe) []bool {
		got := make([]bool, len(ps))
		var wg sync.WaitGroup
		for i, p := range ps {
			wg.Go(func() { got[i] = dial(p.uid, p.cg, p.target) })
		}
		wg.Wait()
		return got
	}
	for i, ok := range reach(probes) {
		if p := probes[i]; !ok {
			t.Fatalf("without Ward, %s does not reach %s: the test proves nothing", p.who, p.target)
		}
	}

	inv := l.inventory(portset.TCP, nil)
	m := webPolicy(t, inv, `[{from: [{podSelector: {matchLabels: {app: client}}}]}]`)
	check := func(phase string, up *firewall.UserlandProxy, edit func(*firewall.Ruleset), admitted ...string) {
		t.Helper()
		inv.UserlandProxy = up
		rs := compile(t, m, firewall.Options{})
		if edit != nil {
			edit(rs)
		}
		if err := firewall.Apply(l.conn, rs); err != nil {
			t.Fatal(err)
		}
		got := reach(probes)
		for i, p := range probes {
			want := slices.Contains(admitted, p.who)
			if got[i] != want {
				t.Errorf("%s: %s to %s: reached %t, want %t", phase, p.who, p.target, got[i], want)
			}
		}
	}
	inCgroup := &firewall.UserlandProxy{UID: 0, Cgroup: proxyCgroup(t, proxy)}
	check("the proxy in a cgroup of its own", inCgroup, nil, "root in the proxy's cgroup")
	check("the proxy in the root cgroup", &firewall.UserlandProxy{UID: 0, Cgroup: firewall.Cgroup{Level: 0}}, nil, "root in the root cgroup")
	check("no proxy identified", nil, nil)
	// Negative control: the chain emptied, the proxy is judged as the
	// host, which web does not admit.
	check("without the userland_proxy rules", inCgroup, func(rs *firewall.Ruleset) {
		c := rs.Chain(firewall.ChainUserlandProxy)
		if c == nil {
			t.Fatal("no userland_proxy chain")
		}
		c.Rules = nil
	})
}

// TestPublishedPortTightening is hole 3 at a published port, with real
// packets: a host process streams both ways through a userland proxy (the
// test's own relay, admitted as the proxy by its cgroup) on 127.0.0.1 to
// a container, the container's ingress admitting 127.0.0.0/8. Tightened
// to deny all, with FlushDenied, nothing of the stream is delivered in
// either direction after a second, although both ends keep sending and
// the proxy's onward leg is kept (it is the proxy's). Without the output
// chain's drops of segments from the published port that conntrack does
// not know, or without its judgement of lo's packets to the published
// port, the relay's or the client's next segment picks the client's
// connection up again (the kernel's nf_conntrack_tcp_loose; over lo,
// conntrack confirms a connection in output, before input judges it) and
// the stream goes on.
func TestPublishedPortTightening(t *testing.T) {
	l := newAttackLab(t, 79)
	inv := l.inventory(portset.TCP, ownProxy(t))
	open, closed := webPolicy(t, inv, `[{from: [{ipBlock: {cidr: 127.0.0.0/8}}], ports: [{port: 8080}]}]`), webPolicy(t, inv, `[]`)
	host := l.host

	// web streams a byte every 20 ms and counts what it receives; so
	// does the client; the relay copies both ways.
	var webGot, clientGot streamCount
	keep := l.keep
	l.serveStream(t, &webGot)
	if err := inNetns(t, host, func() error {
		ln, err := net.Listen("tcp", "127.0.0.1:18080")
		if err != nil {
			return err
		}
		keep(ln)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				keep(c)
				var up net.Conn
				if err := inNetns(t, host, func() (err error) {
					up, err = net.DialTimeout("tcp", netip.AddrPortFrom(l.ctrIP, 8080).String(), 2*time.Second)
					return err
				}); err != nil {
					_ = c.Close()
					continue
				}
				keep(up)
				go func() { _, _ = io.Copy(up, c) }()
				go func() { _, _ = io.Copy(c, up) }()
			}
		}()
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// run streams through the relay under the open policy, tightens, and
	// reports how many bytes each end received from 1 s to 2.5 s after.
	run := func(edit func(*firewall.Ruleset)) (toWeb, toClient int64, ended int) {
		t.Helper()
		if err := firewall.Apply(l.conn, compile(t, open, firewall.Options{})); err != nil {
			t.Fatal(err)
		}
		var c net.Conn
		if err := inNetns(t, host, func() (err error) {
			c, err = net.DialTimeout("tcp", "127.0.0.1:18080", 2*time.Second)
			return err
		}); err != nil {
			t.Fatalf("the open policy: %v", err)
		}
		defer c.Close()
		w0, c0 := webGot.Load(), clientGot.Load()
		streamTCP(c, &clientGot)
		waitStreaming(t, &webGot, &clientGot, w0, c0)
		rs := compile(t, closed, firewall.Options{})
		if edit != nil {
			edit(rs)
		}
		if err := firewall.Apply(l.conn, rs); err != nil {
			t.Fatal(err)
		}
		ended, err := firewall.FlushDenied(l.ct, firewall.NewOracle(closed.eng, inv, firewall.Options{}), l.local)
		if err != nil {
			t.Fatal(err)
		}
		toWeb, toClient = measure(&webGot, &clientGot)
		return toWeb, toClient, ended
	}
	toWeb, toClient, ended := run(nil)
	if ended == 0 || toWeb != 0 || toClient != 0 {
		t.Errorf("tightened: %d connections ended; from 1 s to 2.5 s after, web received %d bytes and the client %d, want none", ended, toWeb, toClient)
	}
	// Negative controls: without the output chain's drops of segments
	// that conntrack does not know, from the published port (the
	// relay's) or to it (the client's, over lo).
	for what, drop := range map[string]func(firewall.Rule) bool{
		"drops of unknown segments from the published port": func(r firewall.Rule) bool { return r.TCPNotSYN && r.L4 != nil && r.L4.Src },
		"judgement of lo's packets to the published port":   func(r firewall.Rule) bool { return r.Oif == "lo" && r.Verdict.Kind == firewall.Jump },
	} {
		toWeb, toClient, _ = run(func(rs *firewall.Ruleset) {
			out := rs.Chain(firewall.ChainOutput)
			out.Rules = slices.DeleteFunc(out.Rules, drop)
		})
		if toWeb == 0 && toClient == 0 {
			t.Errorf("without the output chain's %s the stream is still cut: this test cannot see the pick-up", what)
		}
	}
}
