package nflog_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/internal/nflog"
	"github.com/wardsec/ward/internal/testenv"
)

// logNS is a namespace of the test's own whose output chain logs UDP to
// port 9999 to nflog group 7 (prefix "ward-drop test ") and drops it.
func logNS(t *testing.T) *os.File {
	t.Helper()
	testenv.RequireRoot(t)
	f := testenv.NewNetns(t)
	nl, err := netlink.NewHandleAt(netns.NsHandle(f.Fd()))
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
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(9999)},
		&expr.Log{Key: 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX, Group: 7, Data: []byte("ward-drop test ")},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	return f
}

// udpIn opens a UDP socket in the namespace (a socket stays in the
// namespace it was made in).
func udpIn(t *testing.T, f *os.File, dst string) *net.UDPConn {
	t.Helper()
	type res struct {
		c   *net.UDPConn
		err error
	}
	ch := make(chan res)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- res{err: err}
			return
		}
		c, err := net.Dial("udp", dst)
		if err != nil {
			ch <- res{err: err}
			return
		}
		ch <- res{c: c.(*net.UDPConn)}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { _ = r.c.Close() })
	return r.c
}

func TestReceive(t *testing.T) {
	f := logNS(t)
	c, err := nflog.Open(nflog.Config{Group: 7, NetNS: int(f.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A second reader of the group is refused, not silently starved.
	if c2, err := nflog.Open(nflog.Config{Group: 7, NetNS: int(f.Fd())}); err == nil {
		_ = c2.Close()
		t.Fatal("a second Open of group 7 succeeded")
	}
	u := udpIn(t, f, "127.0.0.1:9999")
	// Control: a packet to another port is not logged.
	ctl := udpIn(t, f, "127.0.0.1:9998")
	_, _ = ctl.Write([]byte("control"))
	before := time.Now().Add(-time.Second)
	for range 3 {
		_, _ = u.Write([]byte("dropped")) // EPERM: the drop is in output
	}
	var got []nflog.Packet
	for len(got) < 3 {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		ps, err := c.Receive()
		if err != nil {
			t.Fatalf("after %d packets: %v", len(got), err)
		}
		got = append(got, ps...)
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if ps, err := c.Receive(); err == nil {
		t.Fatalf("more than the 3 packets logged: %+v", ps)
	}
	local := netip.MustParseAddr("127.0.0.1")
	for i, p := range got {
		if p.Prefix != "ward-drop test " || p.Family != unix.NFPROTO_IPV4 || p.Hook != unix.NF_INET_LOCAL_OUT {
			t.Errorf("packet %d: prefix %q family %d hook %d", i, p.Prefix, p.Family, p.Hook)
		}
		if p.Time.Before(before) || p.Time.After(time.Now().Add(time.Second)) {
			t.Errorf("packet %d: time %v", i, p.Time)
		}
		h, err := nflog.ParseHeaders(p.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if h.Src != local || h.Dst != local || h.Proto != unix.IPPROTO_UDP || h.DstPort != 9999 || h.Length != 20+8+len("dropped") {
			t.Errorf("packet %d: %+v", i, h)
		}
	}
	if c.Lost() != 0 {
		t.Errorf("lost %d", c.Lost())
	}
}

// TestLossCounted floods a reader that does not read: every packet is
// either delivered or counted as lost, none vanishes.
func TestLossCounted(t *testing.T) {
	f := logNS(t)
	c, err := nflog.Open(nflog.Config{Group: 7, NetNS: int(f.Fd()), ReadBuffer: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	u := udpIn(t, f, "127.0.0.1:9999")
	const flood = 3000
	for range flood {
		_, _ = u.Write([]byte("flood"))
	}
	received, overrun := 0, false
	drain := func() {
		for {
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			ps, err := c.Receive()
			if errors.Is(err, nflog.ErrLost) {
				overrun = true
				continue
			}
			if err != nil {
				return
			}
			received += len(ps)
		}
	}
	drain()
	// One more packet after the flood shows the gap before it.
	_, _ = u.Write([]byte("last"))
	drain()
	if !overrun || c.Overruns() == 0 {
		t.Errorf("a %d-byte buffer did not overflow with %d packets", 4096, flood)
	}
	if received+int(c.Lost()) != flood+1 {
		t.Errorf("received %d + lost %d != sent %d", received, c.Lost(), flood+1)
	}
	if c.Lost() == 0 {
		t.Error("nothing counted as lost")
	}
}
