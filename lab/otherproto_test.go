package lab_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
)

// rawDelivered sends payload from host from to address dst as IP protocol
// proto through a raw socket of from's own stack (its own source address,
// which its binding admits), three times, and reports whether a raw socket
// of that protocol in host to reads it before the lab's timeout.
func rawDelivered(t *testing.T, l labHosts, from, to string, dst netip.Addr, proto int, payload []byte) bool {
	t.Helper()
	af, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Addr: dst.As16()})
	if dst.Is4() {
		af, sa = unix.AF_INET, &unix.SockaddrInet4{Addr: dst.As4()}
	}
	var rfd int
	if err := l.InHost(to, func() (err error) {
		rfd, err = unix.Socket(af, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rfd)
	if err := unix.SetsockoptTimeval(rfd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: testTimeout.Microseconds()}); err != nil {
		t.Fatal(err)
	}
	if err := l.InHost(from, func() error {
		fd, err := unix.Socket(af, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		for range 3 {
			if err := unix.Sendto(fd, payload, 0, sa); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("IP protocol %d to %s: %v", proto, dst, err)
	}
	buf := make([]byte, 4096)
	for deadline := time.Now().Add(testTimeout); time.Now().Before(deadline); {
		n, _, err := unix.Recvfrom(rfd, buf, 0)
		if err != nil {
			return false
		}
		if bytes.Contains(buf[:n], payload[8:]) {
			return true
		}
	}
	return false
}

// labHosts is what rawDelivered needs of a lab.
type labHosts interface {
	InHost(id string, f func() error) error
}

// TestOtherProtocols attacks the spoof scenario (c admits a on 54/UDP
// only) with packets of IP protocols a NetworkPolicy cannot name (GRE,
// ESP, DCCP, UDP-Lite, IPIP, IPv6-in-IP, an experimental 253, no next
// header 59) and SCTP, from a's own address to c's, over IPv4 and IPv6,
// each carrying ports 40000 to 7000 where TCP and UDP keep theirs: only a
// grant of every port of every protocol admits other protocols, and c's
// has ports, so none may reach c. Raw sockets in c read what its stack
// takes. Without Ward's ruleset (negative control) every one arrives.
//
// Not in parallel with the other lab tests, as TestHeaderEvasion, whose
// IPv6 datagrams with unusual headers were once seen lost then.
func TestOtherProtocols(t *testing.T) {
	requireLab(t)
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	l := startLab(t, plan.Hosts)
	hostEth0(t, l, "spoof/c") // c takes IPv6 once its link is ready
	protos := []int{unix.IPPROTO_GRE, unix.IPPROTO_ESP, unix.IPPROTO_DCCP, unix.IPPROTO_UDPLITE, unix.IPPROTO_SCTP,
		unix.IPPROTO_IPIP, unix.IPPROTO_IPV6, 253, unix.IPPROTO_NONE}
	o := firewall.NewOracle(plan.Engine, plan.Inventory, firewall.Options{})
	pairs := [][2]netip.Addr{
		{netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.3")},
		{netip.MustParseAddr("fd00:9::1"), netip.MustParseAddr("fd00:9::3")},
	}
	for _, p := range pairs {
		if o.AllowsAnyProtocol(firewall.Forward, p[0], p[1]) {
			t.Fatalf("engine allows every protocol from %s to %s; the test needs c's ingress to name ports", p[0], p[1])
		}
	}
	n := 0
	send := func(dst netip.Addr, proto int) bool {
		n++
		payload := append([]byte{0x9c, 0x40, 0x1b, 0x58, 0, 0, 0, 0}, fmt.Sprintf("ward-proto-%d-%d", os.Getpid(), n)...)
		return rawDelivered(t, l, "spoof/a", "spoof/c", dst, proto, payload)
	}

	if err := l.Load(plan.Ruleset); err != nil {
		t.Fatal(err)
	}
	for _, p := range pairs {
		for _, proto := range protos {
			if send(p[1], proto) {
				t.Errorf("IP protocol %d from a to c (%s) reached c, whose ingress admits a on 54/UDP only", proto, p[1])
			}
		}
	}

	// Without Ward's tables (negative control), every one arrives.
	if err := l.Load(&firewall.Ruleset{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range pairs {
		for _, proto := range protos {
			if !send(p[1], proto) {
				t.Errorf("without Ward's ruleset, IP protocol %d from a to c (%s) did not arrive: the test cannot see the attack", proto, p[1])
			}
		}
	}
}
