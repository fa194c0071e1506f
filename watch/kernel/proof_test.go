package kernel_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/testenv"
	"github.com/wardsec/ward/lab"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/watch"
	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
	"github.com/wardsec/ward/watch/kernel"
)

// proofGroup is the nflog group the proof's ruleset logs its drops to.
const proofGroup = 41

// proof is a lab built from testdata/proof.yaml with ward fw's ruleset
// (drops logged to proofGroup) loaded in its router namespace.
type proof struct {
	lab                   *lab.Lab
	plan                  *lab.Plan
	eng                   *netpol.Engine
	rs                    *firewall.Ruleset
	table                 *identity.Table
	client, web, db       *lab.Host
	clientIP, webIP, dbIP netip.Addr
}

func newProof(t *testing.T) *proof {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireNetns(t)
	set, err := manifest.Load(manifest.Options{}, "testdata/proof.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := firewall.FromManifests(set, firewall.DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := lab.NewPlan(set, inv)
	if err != nil {
		t.Fatal(err)
	}
	// One model for the engine and the identity table (the detectors
	// find a workload's endpoints by its manifest object), with the
	// addresses and bridge ports of the lab's hosts.
	model, err := plan.Inventory.Set(set)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(model)
	if err != nil {
		t.Fatal(err)
	}
	// The rate is raised from the default 10 a second, which would log
	// only the start of a fast scan (docs/watch.md).
	rs, err := firewall.Compile(eng, plan.Inventory, firewall.Options{LogGroup: proofGroup, LogRate: 10000})
	if err != nil {
		t.Fatal(err)
	}
	p := &proof{plan: plan, eng: eng, rs: rs, table: identity.FromManifests(model)}
	for _, h := range plan.Hosts {
		switch h.Container.Labels["app"] {
		case "client":
			p.client, p.clientIP = h, h.Addrs[0]
		case "web":
			p.web, p.webIP = h, h.Addrs[0]
		case "db":
			p.db, p.dbIP = h, h.Addrs[0]
		}
	}
	if p.client == nil || p.web == nil || p.db == nil || !p.clientIP.Is4() {
		t.Fatalf("hosts %v", plan.Hosts)
	}
	l, err := lab.Start(context.Background(), plan.Hosts, lab.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	p.lab = l
	return p
}

// watchRun runs the kernel sources of the router namespace into a fresh
// pipeline while traffic runs, until done reports true (or 30 s), then
// for settle more, and returns the pipeline's summary.
func (p *proof) watchRun(t *testing.T, traffic func() error, done func(watch.Summary) bool, settle time.Duration) watch.Summary {
	t.Helper()
	// Load resets the ruleset and flushes conntrack: each scenario starts
	// with no connection the previous one left.
	if err := p.lab.Load(p.rs); err != nil {
		t.Fatal(err)
	}
	pl, err := watch.New(watch.Options{Config: detect.Default(), Table: p.table, Engine: p.eng, Clock: event.SystemClock{},
		Problem: func(pr event.Problem) { t.Logf("problem: %v (lost %d)", pr.Err, pr.Lost) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	ct := &kernel.Conntrack{NetNS: p.lab.RouterNS(), Node: "lab"}
	nf := &kernel.NFLog{NetNS: p.lab.RouterNS(), Group: proofGroup, Node: "lab"}
	go func() {
		_, err := watch.Run(ctx, pl, ct, nf)
		runDone <- err
	}()
	time.Sleep(300 * time.Millisecond) // the sources bind their groups
	if err := traffic(); err != nil {
		cancel()
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !done(pl.Summary()) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(settle)
	cancel()
	select {
	case err := <-runDone:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("watch.Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch.Run did not end within 10 s of its context")
	}
	return pl.Summary()
}

// only checks that the summary raised detector's alert and no other.
func only(t *testing.T, s watch.Summary, detector string) {
	t.Helper()
	if s.Alerts[detector] == 0 {
		t.Errorf("no %s alert; alerts %v, summary %+v", detector, s.Alerts, s)
	}
	if others := slices.DeleteFunc(slices.Sorted(maps.Keys(s.Alerts)), func(d string) bool { return d == detector || s.Alerts[d] == 0 }); len(others) > 0 {
		t.Errorf("other detectors raised alerts: %v (all: %v)", others, s.Alerts)
	}
}

func raised(d string) func(watch.Summary) bool {
	return func(s watch.Summary) bool { return s.Alerts[d] > 0 }
}

// dial connects from a host, with a short timeout, and closes.
func dial(network, addr string) error {
	c, err := net.DialTimeout(network, addr, 300*time.Millisecond)
	if err != nil {
		return err
	}
	return c.Close()
}

// TestProof replays, with real packets between the lab's namespaces, the
// four attacks ward watch must see through its kernel sources (conntrack
// and ward fw's nflog drops in the router namespace), each in a fresh
// pipeline: each raises its alert and no other detector's.
func TestProof(t *testing.T) {
	p := newProof(t)
	web := func(port int) string { return netip.AddrPortFrom(p.webIP, uint16(port)).String() } // #nosec G115 -- test ports

	t.Run("port scan dropped by ward fw", func(t *testing.T) {
		s := p.watchRun(t, func() error {
			return p.lab.InHost(p.client.ID, func() error {
				for port := 1000; port < 1020; port++ {
					if dial("tcp", web(port)) == nil {
						return fmt.Errorf("port %d of web reached through the firewall", port)
					}
				}
				return nil
			})
		}, raised(detect.PortScanName), time.Second)
		only(t, s, detect.PortScanName)
		if s.BySource["nflog"] == 0 {
			t.Errorf("no drop read from nflog: %+v", s)
		}
	})

	t.Run("SYN flood on an allowed port", func(t *testing.T) {
		s := p.watchRun(t, func() error {
			return p.lab.InHost(p.client.ID, func() error { return synFlood(p.clientIP, p.webIP, 80, 5000, 4*time.Second) })
		}, raised(detect.SYNFloodName), time.Second)
		only(t, s, detect.SYNFloodName)
	})

	t.Run("unexpected egress", func(t *testing.T) {
		// An address outside every managed network, on the router: egress
		// is open, so the firewall lets it through, and no policy names it.
		outside := netip.MustParseAddr("203.0.113.5")
		stop := listenOnRouter(t, p.lab.RouterNS(), outside, 443, netip.PrefixFrom(p.clientIP, 16).Masked())
		defer stop()
		s := p.watchRun(t, func() error {
			return p.lab.InHost(p.client.ID, func() error { return dial("tcp", netip.AddrPortFrom(outside, 443).String()) })
		}, raised(detect.EgressName), time.Second)
		only(t, s, detect.EgressName)
	})

	t.Run("forbidden flow once the firewall is gone", func(t *testing.T) {
		s := p.watchRun(t, func() error {
			// Control: with the ruleset loaded, client does not reach db.
			if err := p.lab.InHost(p.client.ID, func() error { return dial("tcp", netip.AddrPortFrom(p.dbIP, 5432).String()) }); err == nil {
				return errors.New("client reached db:5432 through the firewall")
			}
			// Someone removes ward's tables from the router.
			for _, tab := range [][]string{{"inet", "ward"}, {"bridge", "ward"}} {
				out, err := exec.Command("nsenter", fmt.Sprintf("--net=/proc/%d/fd/%d", os.Getpid(), p.lab.RouterNS()), "nft", "delete", "table", tab[0], tab[1]).CombinedOutput() // #nosec G204 -- fixed program and arguments
				if err != nil && tab[0] == "inet" {
					return fmt.Errorf("nft delete table %v: %v: %s", tab, err, out)
				}
			}
			return p.lab.InHost(p.client.ID, func() error { return dial("tcp", netip.AddrPortFrom(p.dbIP, 5432).String()) })
		}, raised(detect.ViolationName), time.Second)
		only(t, s, detect.ViolationName)
	})
}

// synFlood sends n TCP SYNs from src (each from another source port) to
// dst:port over a raw socket, paced over d.
func synFlood(src, dst netip.Addr, port uint16, n int, d time.Duration) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_TCP)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	to := &unix.SockaddrInet4{Addr: dst.As4()}
	gap := d / time.Duration(n)
	next := time.Now()
	for i := range n {
		seg := make([]byte, 20)
		binary.BigEndian.PutUint16(seg, uint16(20000+i%40000)) // #nosec G115 -- below 65536
		binary.BigEndian.PutUint16(seg[2:], port)
		binary.BigEndian.PutUint32(seg[4:], uint32(i)*7919) // #nosec G115 -- a sequence number
		seg[12], seg[13] = 5<<4, 0x02                       // data offset 5 words, SYN
		binary.BigEndian.PutUint16(seg[14:], 64240)
		binary.BigEndian.PutUint16(seg[16:], tcpChecksum(src, dst, seg))
		if err := unix.Sendto(fd, seg, 0, to); err != nil {
			return fmt.Errorf("SYN %d: %w", i, err)
		}
		next = next.Add(gap)
		if w := time.Until(next); w > 0 {
			time.Sleep(w)
		}
	}
	return nil
}

func tcpChecksum(src, dst netip.Addr, seg []byte) uint16 {
	s, d := src.As4(), dst.As4()
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(s[:])
	add(d[:])
	add([]byte{0, unix.IPPROTO_TCP, byte(len(seg) >> 8), byte(len(seg))})
	add(seg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum) // #nosec G115 -- folded to 16 bits
}

// listenOnRouter gives the router's bridge addr, with an on-link route
// back to the hosts' network, and accepts TCP on port there until stop.
func listenOnRouter(t *testing.T, router int, addr netip.Addr, port uint16, hosts netip.Prefix) (stop func()) {
	t.Helper()
	nl, err := netlink.NewHandleAt(netns.NsHandle(router))
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	br, err := nl.LinkByName("br0")
	if err != nil {
		t.Fatal(err)
	}
	if err := nl.AddrAdd(br, &netlink.Addr{IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(32, 32)}}); err != nil {
		t.Fatal(err)
	}
	if err := nl.RouteAdd(&netlink.Route{LinkIndex: br.Attrs().Index, Scope: netlink.SCOPE_LINK,
		Dst: &net.IPNet{IP: hosts.Addr().AsSlice(), Mask: net.CIDRMask(hosts.Bits(), 32)}}); err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	ch := make(chan error)
	go func() {
		// A thread of its own in the router's namespace.
		err := func() error {
			if err := lockAndEnter(router); err != nil {
				return err
			}
			var err error
			ln, err = net.Listen("tcp", netip.AddrPortFrom(addr, port).String())
			return err
		}()
		ch <- err
	}()
	if err := <-ch; err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return func() { _ = ln.Close() }
}

// lockAndEnter moves the calling goroutine, for good, to a thread of its
// own in the namespace fd.
func lockAndEnter(fd int) error {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	return unix.Setns(fd, unix.CLONE_NEWNET)
}
