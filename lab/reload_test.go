package lab_test

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/ethframe"
	"github.com/wardsec/ward/lab"
	"github.com/wardsec/ward/portset"
)

// flood sends, from host from's eth0 (raw frames, bypassing its stack),
// UDP datagrams from src to dst (to's MAC address) carrying payload, each
// from a new source port (a new flow: conntrack never knows it), until
// stop is closed; it returns how many it sent once it has stopped.
func flood(t *testing.T, l *lab.Lab, from, to eth0Of, fromID string, src, dst netip.AddrPort, payload []byte, stop <-chan struct{}) func() int {
	t.Helper()
	var sent atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := l.InHost(fromID, func() error {
			fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			ll := &unix.SockaddrLinklayer{Ifindex: from.index, Protocol: ethframe.Htons(ethframe.EtherType(src.Addr())), Halen: 6}
			copy(ll.Addr[:], to.mac)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return nil
				default:
				}
				f, err := ethframe.UDP(from.mac, to.mac, netip.AddrPortFrom(src.Addr(), 10000+uint16(i%50000)), dst, payload) // #nosec G115 -- below 60000
				if err != nil {
					return err
				}
				if err := unix.Sendto(fd, f, 0, ll); err != nil && err != unix.ENOBUFS {
					return err
				}
				sent.Add(1)
				time.Sleep(10 * time.Microsecond)
			}
		}); err != nil {
			t.Errorf("flood from %s: %v", fromID, err)
		}
	})
	return func() int { wg.Wait(); return int(sent.Load()) }
}

// count counts the datagrams holding payload that reach c until stop is
// closed.
func count(c *net.UDPConn, payload []byte, stop <-chan struct{}) func() int {
	var n atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if k, _, err := c.ReadFromUDPAddrPort(buf); err == nil && bytes.Equal(buf[:k], payload) {
				n.Add(1)
			}
		}
	})
	return func() int { wg.Wait(); return int(n.Load()) }
}

// TestReloadWindow replaces the ruleset again and again (Lab.Load:
// firewall.Apply, then a conntrack flush), as `ward fw run` does on every
// sync, while a floods c with datagrams to a port c's ingress denies
// (spoof scenario: c admits only b on 53/UDP and a on 54/UDP), each of a
// new flow. None may reach c's socket. The kernel makes a batch's new
// rules live before lookups in its new interval maps find their elements:
// with the table replaced in one batch, c's address briefly had no
// element in the ingress map, its ingress stage was skipped, and a few
// datagrams in every hundred replacements got through. The negative
// control (c's ingress chain returning at once) shows the socket sees the
// flood.
func TestReloadWindow(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	l := startLab(t, plan.Hosts)
	a, c := hostEth0(t, l, "spoof/a"), hostEth0(t, l, "spoof/c")
	src, dst := netip.MustParseAddrPort("10.9.0.1:0"), netip.MustParseAddrPort("10.9.0.3:7777")
	if firewall.NewOracle(plan.Engine, plan.Inventory, firewall.Options{}).Allows(firewall.Forward, src.Addr(), dst.Addr(), portset.UDP, dst.Port()) {
		t.Fatalf("engine allows a -> c on %d/UDP; the test needs a denied port", dst.Port())
	}
	var sock *net.UDPConn
	if err := l.InHost("spoof/c", func() (err error) {
		sock, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(dst))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	payload := []byte("ward-reload-window")

	run := func(rs *firewall.Ruleset, reloads int) (sent, delivered int) {
		t.Helper()
		if err := l.Load(rs); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		got := count(sock, payload, stop)
		done := flood(t, l, a, c, "spoof/a", src, dst, payload, stop)
		for range reloads {
			if err := l.Load(rs); err != nil {
				close(stop)
				t.Fatal(err)
			}
		}
		time.Sleep(testTimeout)
		close(stop)
		return done(), got()
	}

	const reloads = 300
	if sent, delivered := run(plan.Ruleset, reloads); delivered != 0 || sent == 0 {
		t.Errorf("%d replacements of the ruleset: %d of %d denied datagrams reached c; want 0", reloads, delivered, sent)
	}
	open := withChain(t, plan.Ruleset, ingressChain(t, plan, "10.9.0.3"), func(rules []firewall.Rule) []firewall.Rule {
		return append([]firewall.Rule{{Verdict: firewall.Verdict{Kind: firewall.Return}}}, rules...)
	})
	if sent, delivered := run(open, 1); delivered == 0 {
		t.Errorf("c's ingress open: none of %d datagrams reached c: the test cannot see a leak", sent)
	}
}
