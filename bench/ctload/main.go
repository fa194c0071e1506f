// Command ctload measures ward watch's conntrack source under load: a
// client namespace opens new flows to a server namespace over a veth pair
// at a fixed rate (UDP, each from a new source port, so each is a new
// connection to connection tracking; -tcp for real TCP connections), and
// the source reads the server namespace's events. It prints the flows
// started, the ConnNew events delivered and the events the kernel reported
// lost, with the loss ratio (issue 15's target: at most 0.1% at 20,000 new
// connections a second). It needs root.
//
//	go build -o /tmp/ctload ./bench/ctload && /tmp/ctload -rate 20000 -d 10s
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/internal/netnsfile"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/kernel"
)

func main() {
	rate := flag.Int("rate", 20000, "new flows a second")
	dur := flag.Duration("d", 10*time.Second, "how long to generate")
	buf := flag.Int("buffer", 0, "the source's receive buffer in bytes (0: kernel.DefaultReadBuffer)")
	flag.Parse()
	if err := run(*rate, *dur, *buf); err != nil {
		fmt.Fprintln(os.Stderr, "ctload:", err)
		os.Exit(1)
	}
}

// sink counts ConnNew events to the server's port range.
type sink struct {
	news atomic.Uint64
	lost atomic.Uint64
	mu   sync.Mutex
	errs []error
}

func (s *sink) Deliver(b []event.Event) error {
	n := uint64(0)
	for i := range b {
		if b[i].Kind == event.ConnNew && b[i].Proto == event.UDP && b[i].DstPort == 9 {
			n++
		}
	}
	s.news.Add(n)
	return nil
}

func (s *sink) Problem(p event.Problem) {
	s.lost.Add(p.Lost)
	if p.Lost == 0 {
		s.mu.Lock()
		s.errs = append(s.errs, p.Err)
		s.mu.Unlock()
	}
}

func run(rate int, dur time.Duration, buf int) error {
	client, err := netnsfile.New()
	if err != nil {
		return err
	}
	defer client.Close()
	server, err := netnsfile.New()
	if err != nil {
		return err
	}
	defer server.Close()
	if err := wire(client, server); err != nil {
		return err
	}
	src := &kernel.Conntrack{NetNS: int(server.Fd()), ReadBuffer: buf}
	s := &sink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, s) }()
	time.Sleep(300 * time.Millisecond) // the source joins its groups

	var sent uint64
	var serr error
	start := time.Now()
	err = inNetns(client, func() error {
		// Each flow needs its own 5-tuple: 256 sockets (source ports)
		// sending to rotating destination addresses of the server's /16.
		socks := make([]net.PacketConn, 0, 256)
		defer func() {
			for _, s := range socks {
				_ = s.Close()
			}
		}()
		interval := time.Second / time.Duration(rate)
		next := time.Now()
		end := next.Add(dur)
		for i := 0; time.Now().Before(end); i++ {
			if len(socks) < cap(socks) {
				s, err := net.ListenPacket("udp", "10.99.0.1:0")
				if err != nil {
					return err
				}
				socks = append(socks, s)
			}
			// 65,536 destination addresses from each of 256 source ports in turn.
			dst := netip.AddrFrom4([4]byte{10, 98, byte(i >> 8), byte(i)})
			if _, err := socks[(i>>16)%len(socks)].WriteTo([]byte("x"), &net.UDPAddr{IP: dst.AsSlice(), Port: 9}); err != nil {
				serr = err
				continue
			}
			sent++
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
		}
		return nil
	})
	took := time.Since(start)
	if err != nil {
		cancel()
		return err
	}
	// Let the source catch up and read the last drop count.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && s.news.Load()+s.lost.Load() < sent {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(kernel.DropCheck + 200*time.Millisecond)
	cancel()
	<-done
	news, lost := s.news.Load(), s.lost.Load()
	// Unaccounted: started but neither delivered nor reported lost
	// (negative: counted twice).
	unaccounted := fmt.Sprint(sent - news - lost)
	if news+lost > sent {
		unaccounted = fmt.Sprint("-", news+lost-sent)
	}
	fmt.Printf("sent %d flows in %v (%.0f/s), delivered %d ConnNew, lost %d (%.4f%%), unaccounted %s\n",
		sent, took.Round(time.Millisecond), float64(sent)/took.Seconds(), news, lost, 100*float64(lost)/float64(max(sent, 1)), unaccounted)
	if serr != nil {
		fmt.Println("send errors, last:", serr)
	}
	for _, e := range s.errs {
		fmt.Println("problem:", e)
	}
	return nil
}

// wire joins the namespaces with a veth pair (client 10.99.0.1/16, server
// 10.99.0.2/16), routes the server's 10.98.0.0/16 via it, and gives the
// server a ruleset that uses connection tracking.
func wire(client, server *os.File) error {
	cnl, err := netlink.NewHandleAt(netns.NsHandle(client.Fd()))
	if err != nil {
		return err
	}
	defer cnl.Close()
	snl, err := netlink.NewHandleAt(netns.NsHandle(server.Fd()))
	if err != nil {
		return err
	}
	defer snl.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "c0", Namespace: netlink.NsFd(client.Fd())},
		PeerName: "s0", PeerNamespace: netlink.NsFd(server.Fd())}
	if err := cnl.LinkAdd(veth); err != nil {
		return fmt.Errorf("veth: %w", err)
	}
	for _, x := range []struct {
		h    *netlink.Handle
		link string
		addr string
	}{{cnl, "c0", "10.99.0.1/16"}, {snl, "s0", "10.99.0.2/16"}} {
		l, err := x.h.LinkByName(x.link)
		if err != nil {
			return err
		}
		a, _ := netlink.ParseAddr(x.addr)
		if err := x.h.AddrAdd(l, a); err != nil {
			return err
		}
		if err := x.h.LinkSetUp(l); err != nil {
			return err
		}
		lo, _ := x.h.LinkByName("lo")
		_ = x.h.LinkSetUp(lo)
	}
	c0, _ := cnl.LinkByName("c0")
	_, dst, _ := net.ParseCIDR("10.98.0.0/16")
	if err := cnl.RouteAdd(&netlink.Route{LinkIndex: c0.Attrs().Index, Dst: dst, Gw: net.IPv4(10, 99, 0, 2)}); err != nil {
		return fmt.Errorf("route: %w", err)
	}
	// The server takes 10.98.0.0/16 as its own (a local route), so each
	// address is a flow's destination.
	s0, _ := snl.LinkByName("s0")
	if err := snl.RouteAdd(&netlink.Route{LinkIndex: s0.Attrs().Index, Dst: dst, Type: unix.RTN_LOCAL, Table: unix.RT_TABLE_LOCAL, Scope: netlink.SCOPE_HOST}); err != nil {
		return fmt.Errorf("local route: %w", err)
	}
	nft, err := nftables.New(nftables.WithNetNSFd(int(server.Fd())))
	if err != nil {
		return err
	}
	tab := nft.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "ctload"})
	pol := nftables.ChainPolicyAccept
	ch := nft.AddChain(&nftables.Chain{Name: "in", Table: tab, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &pol})
	// Any ct match makes the kernel track the namespace's connections.
	// Nothing listens on port 9: the flows are answered by (rate-limited)
	// ICMP errors, and confirmed, which a drop would prevent (connection
	// tracking reports a connection once its first packet is accepted).
	nft.AddRule(&nftables.Rule{Table: tab, Chain: ch, Exprs: []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
		&expr.Counter{},
	}})
	return nft.Flush()
}

func inNetns(f *os.File, fn func() error) error {
	ch := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- err
			return
		}
		ch <- fn()
	}()
	return <-ch
}
