package kernel

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/internal/testenv"
	"github.com/wardsec/ward/watch/event"
)

// collector is a Sink keeping what it is given.
type collector struct {
	mu       sync.Mutex
	events   []event.Event
	problems []event.Problem
	gate     chan struct{} // when set, Deliver waits for it to close
}

func (c *collector) Deliver(b []event.Event) error {
	if c.gate != nil {
		<-c.gate
	}
	c.mu.Lock()
	c.events = append(c.events, b...)
	c.mu.Unlock()
	return nil
}

func (c *collector) Problem(p event.Problem) {
	c.mu.Lock()
	c.problems = append(c.problems, p)
	c.mu.Unlock()
}

func (c *collector) snapshot() ([]event.Event, []event.Problem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event.Event(nil), c.events...), append([]event.Problem(nil), c.problems...)
}

// waitFor polls the collector until cond holds (10 s at most).
func (c *collector) waitFor(t *testing.T, what string, cond func([]event.Event) bool) []event.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, _ := c.snapshot()
		if cond(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen in 10 s; events:\n%v", what, evs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testNS is a network namespace of the test's own with lo up and a ruleset
// that uses connection tracking (without one, the kernel tracks nothing
// there) and logs and drops UDP to port 9999 to nflog group 7, with ward
// fw's prefix for an ingress chain.
func testNS(t *testing.T) *os.File {
	t.Helper()
	testenv.RequireRoot(t)
	f := testenv.NewNetns(t)
	nl, err := vnl.NewHandleAt(netns.NsHandle(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	lo, err := nl.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := nl.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	tab := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "t"})
	pol := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{Name: "out", Table: tab, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: &pol})
	c.AddRule(&nftables.Rule{Table: tab, Chain: ch, Exprs: []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
		&expr.Verdict{Kind: expr.VerdictAccept},
	}})
	c.AddRule(&nftables.Rule{Table: tab, Chain: ch, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(9999)},
		&expr.Log{Key: 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX, Group: 7, Data: []byte("ward-drop ingress c3 ")},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	return f
}

// inNS runs f on a thread in the namespace: sockets it opens stay there.
func inNS(t *testing.T, ns *os.File, f func() error) {
	t.Helper()
	if err := inNetns(int(ns.Fd()), f); err != nil {
		t.Fatal(err)
	}
}

// run starts src and waits until it listens.
func run(t *testing.T, src event.Source, ready chan struct{}) *collector {
	t.Helper()
	return runInto(t, src, ready, &collector{})
}

func runInto(t *testing.T, src event.Source, ready chan struct{}, col *collector) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, col) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run after cancel: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5 s of its context's end")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("source not listening after 5 s")
	}
	return col
}

func flushConntrack(t *testing.T, ns *os.File) {
	t.Helper()
	c, err := conntrack.Dial(&netlink.Config{NetNS: int(ns.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestConntrack(t *testing.T) {
	ns := testNS(t)
	clock := event.NewManualClock(time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC))
	src := &Conntrack{NetNS: int(ns.Fd()), Node: "host-a", Clock: clock, ready: make(chan struct{})}
	col := run(t, src, src.ready)
	local := netip.MustParseAddr("127.0.0.1")

	// Three TCP connections that exchange data, one refused, one UDP
	// flow nobody answers.
	var ln net.Listener
	inNS(t, ns, func() (err error) { ln, err = net.Listen("tcp", "127.0.0.1:8080"); return err })
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.Copy(c, c)
			_ = c.Close()
		}
	}()
	for range 3 {
		inNS(t, ns, func() error {
			c, err := net.Dial("tcp", "127.0.0.1:8080")
			if err != nil {
				return err
			}
			defer c.Close()
			if _, err := c.Write([]byte("hello")); err != nil {
				return err
			}
			_, err = io.ReadFull(c, make([]byte, 5))
			return err
		})
	}
	inNS(t, ns, func() error {
		if _, err := net.Dial("tcp", "127.0.0.1:8081"); err == nil {
			return errors.New("port 8081 accepted")
		}
		c, err := net.Dial("udp", "127.0.0.1:7777")
		if err != nil {
			return err
		}
		_, _ = c.Write([]byte("anyone?"))
		return c.Close()
	})
	count := func(evs []event.Event, kind event.Kind, port uint16) int {
		n := 0
		for _, e := range evs {
			if e.Kind == kind && e.DstPort == port {
				n++
			}
		}
		return n
	}
	col.waitFor(t, "4 TCP and 1 UDP ConnNew", func(evs []event.Event) bool {
		return count(evs, event.ConnNew, 8080) == 3 && count(evs, event.ConnNew, 8081) == 1 && count(evs, event.ConnNew, 7777) == 1
	})
	// Destroying the entries ends them now, with their counts.
	flushConntrack(t, ns)
	evs := col.waitFor(t, "5 ConnEnd", func(evs []event.Event) bool {
		return count(evs, event.ConnEnd, 8080) == 3 && count(evs, event.ConnEnd, 8081) == 1 && count(evs, event.ConnEnd, 7777) == 1
	})
	ids := map[uint64]bool{}
	for _, e := range evs {
		if e.Origin != event.OriginConntrack || e.Node != "host-a" || e.Src != local || e.Dst != local || e.PreDNAT.IsValid() || e.PostSNAT.IsValid() {
			t.Errorf("event %+v", e)
		}
		if ids[e.ID] {
			t.Errorf("ID %x twice", e.ID)
		}
		ids[e.ID] = true
		if e.Time == 0 || e.When().Before(time.Now().Add(-time.Minute)) && e.When() != clock.Now() {
			t.Errorf("time %v", e.When())
		}
		switch {
		case e.Kind == event.ConnEnd && e.DstPort == 8080:
			if e.Proto != event.TCP || e.Packets < 3 || e.ReplyPackets < 3 || e.Bytes == 0 || e.ReplyBytes == 0 || e.Reason != "" || e.Failed() {
				t.Errorf("an echoed TCP connection: %+v (failed %v)", e, e.Failed())
			}
		case e.Kind == event.ConnEnd && e.DstPort == 8081:
			if e.Proto != event.TCP || e.Reason != event.ReasonNotEstablished || !e.Failed() {
				t.Errorf("a refused TCP connection: %+v (failed %v)", e, e.Failed())
			}
		case e.Kind == event.ConnEnd && e.DstPort == 7777:
			if e.Proto != event.UDP || e.Packets != 1 || e.ReplyPackets != 0 || !e.Failed() {
				t.Errorf("an unanswered UDP flow: %+v (failed %v)", e, e.Failed())
			}
		}
	}
	if _, ps := col.snapshot(); len(ps) != 0 {
		t.Errorf("problems: %v", ps)
	}
}

// TestConntrackLossCounted: a reader whose sink stalls while thousands of
// connections start loses events to its full buffer; each one is counted,
// exactly: delivered + lost = started.
func TestConntrackLossCounted(t *testing.T) {
	ns := testNS(t)
	src := &Conntrack{NetNS: int(ns.Fd()), ReadBuffer: 4096, ready: make(chan struct{})}
	col := runInto(t, src, src.ready, &collector{gate: make(chan struct{})})
	const flows = 4000
	inNS(t, ns, func() error {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer c.Close()
		for i := range flows {
			to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 20000 + i}
			_, _ = c.WriteTo([]byte("x"), to)
		}
		return nil
	})
	close(col.gate)
	news := func() (int, uint64) {
		evs, ps := col.snapshot()
		n := 0
		for _, e := range evs {
			if e.Kind == event.ConnNew && e.Proto == event.UDP && e.DstPort >= 20000 && e.DstPort < 20000+flows {
				n++
			}
		}
		var lost uint64
		for _, p := range ps {
			lost += p.Lost
		}
		return n, lost
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, lost := news()
		if n+int(lost) >= flows || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	n, lost := news()
	if lost == 0 {
		t.Fatalf("no loss with a %d-byte buffer and a stalled sink: %d of %d delivered", 4096, n, flows)
	}
	if n+int(lost) != flows {
		t.Errorf("delivered %d + lost %d = %d, want %d", n, lost, n+int(lost), flows)
	}
	t.Logf("delivered %d, lost %d (all counted)", n, lost)
}

func TestNFLog(t *testing.T) {
	ns := testNS(t)
	src := &NFLog{Group: 7, NetNS: int(ns.Fd()), Node: "host-a", ready: make(chan struct{})}
	col := run(t, src, src.ready)
	// A second reader of the group fails instead of starving.
	if err := (&NFLog{Group: 7, NetNS: int(ns.Fd())}).Run(context.Background(), &collector{}); err == nil {
		t.Error("a second reader of group 7 ran")
	}
	inNS(t, ns, func() error {
		for _, dst := range []string{"127.0.0.1:9999", "[::1]:9999", "127.0.0.1:9998"} {
			c, err := net.Dial("udp", dst)
			if err != nil {
				return err
			}
			_, _ = c.Write([]byte("payload"))
			_ = c.Close()
		}
		return nil
	})
	col.waitFor(t, "two drops", func(evs []event.Event) bool { return len(evs) >= 2 })
	time.Sleep(200 * time.Millisecond) // the third packet, to port 9998, must not arrive late
	evs, ps := col.snapshot()
	if len(evs) != 2 || len(ps) != 0 {
		t.Fatalf("events %v, problems %v; want the two packets to port 9999", evs, ps)
	}
	for i, want := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")} {
		e := evs[i]
		if e.Origin != event.OriginNFLog || e.Kind != event.Flow || e.Verdict != event.Dropped || e.Rule != "ingress c3" ||
			e.Src != want || e.Dst != want || e.Proto != event.UDP || e.DstPort != 9999 || e.Packets != 1 || e.Node != "host-a" ||
			e.When().Before(time.Now().Add(-time.Minute)) || e.ID == 0 {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	if evs[0].ID == evs[1].ID {
		t.Error("two drops with one ID")
	}
}

func TestRuleOfPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"ward-drop ingress c3 ":         "ingress c3",
		"ward-drop published 8080/tcp ": "published 8080/tcp",
		"ward-drop unclassified ":       "unclassified",
		"ward-spoof ":                   "spoof",
		"other ":                        "other",
	} {
		if got := RuleOfPrefix(in); got != want {
			t.Errorf("RuleOfPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
