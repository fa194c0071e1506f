// Command server is the program in the test images of packages dockerinv
// and cli.
//
// As a server (the default): it listens on the ports given as arguments
// ("8080/tcp", "53/udp") on every address of the container, IPv4 and
// IPv6, answers TCP connections with its hostname, echoes UDP datagrams
// from the address they were sent to, and exits on SIGTERM or SIGINT.
// With no argument it only waits for the signal.
//
// As a client, "server probe TIMEOUT TARGET..." (TARGET: ADDR:PORT/tcp or
// ADDR:PORT/udp, such as 10.0.0.2:8080/tcp or [fd00::2]:53/udp) tries every
// target at once and prints one line per target, in order: the target,
// "open" or "closed", and what happened. A target is open when it replied
// within TIMEOUT (such as 400ms): for TCP, a line read from the
// connection (a connection that is accepted and closed without a word,
// as a proxy whose backend is unreachable does, is closed); for UDP, the
// echo of a datagram. The exit code is 0 when every target is open, 1
// when any is closed and 2 on a usage error.
//
// "server spoof --from-ip A --src S --dst D:PORT --dst-mac MAC --marker M"
// sends, on the container's interface holding address A, from its MAC
// address to MAC, a few raw Ethernet frames (an AF_PACKET socket, which
// needs CAP_NET_RAW, Docker's default) carrying a UDP datagram from S, any
// address (another container's: a forged source), to D:PORT, whose
// payload is M: they bypass the container's IP stack.
//
// "server sniff --ip A --src S --port PORT --marker M" listens with an
// AF_PACKET socket on the container's interface holding A, prints "ready"
// once it does, then "seen" as soon as a UDP datagram from S to A:PORT
// whose payload holds M arrives, or "not seen" when its standard input
// has been closed for --grace (200ms) or --timeout (10s) has passed.
//
// It is built static (CGO_ENABLED=0) into a FROM scratch image.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wardsec/ward/internal/ethframe"
	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "probe":
			os.Exit(probeMain(os.Args[2:]))
		case "spoof":
			os.Exit(spoofMain(os.Args[2:]))
		case "sniff":
			os.Exit(sniffMain(os.Args[2:]))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	host, _ := os.Hostname()
	for _, arg := range os.Args[1:] {
		port, proto, _ := strings.Cut(arg, "/")
		switch strings.ToLower(proto) {
		case "", "tcp":
			ln, err := net.Listen("tcp", ":"+port) // #nosec G102 -- a test server in its own container, answering on every address of it
			if err != nil {
				fail(err)
			}
			go serveTCP(ln, host)
		case "udp":
			pc, err := net.ListenPacket("udp", ":"+port)
			if err != nil {
				fail(err)
			}
			go serveUDP(pc)
		default:
			fail(fmt.Errorf("%s: unknown protocol %q (want tcp or udp)", arg, proto))
		}
	}
	<-ctx.Done()
}

func serveTCP(ln net.Listener, host string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		_, _ = fmt.Fprintln(c, host)
		_ = c.Close()
	}
}

// serveUDP echoes datagrams. The echo leaves from the address the
// datagram was sent to: a container on several networks, reached on one
// from another (as the host routes IPv6 between Docker's networks) would
// otherwise answer from its address on the network of the route back,
// which the client, connected to the one it dialled, drops.
func serveUDP(pc net.PacketConn) {
	uc, ok := pc.(*net.UDPConn)
	if !ok || !recvPktinfo(uc) {
		// An IPv4-only socket (no IPv6 in the container): no choice.
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buf[:n], addr)
		}
	}
	buf, oob := make([]byte, 1500), make([]byte, 256)
	for {
		n, oobn, _, addr, err := uc.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			return
		}
		_, _, _ = uc.WriteMsgUDPAddrPort(buf[:n], replyFrom(oob[:oobn]), addr)
	}
}

// recvPktinfo asks the kernel for the destination address of each
// datagram of an IPv6 socket (IPv4-mapped for those of IPv4).
func recvPktinfo(uc *net.UDPConn) bool {
	rc, err := uc.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
	}); err != nil {
		return false
	}
	return serr == nil
}

// replyFrom turns the IPV6_PKTINFO of a received datagram into that of
// its reply: the same local address, the interface left to the routes.
func replyFrom(oob []byte) []byte {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	for _, m := range msgs {
		if m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_PKTINFO && len(m.Data) >= 16 {
			var info unix.Inet6Pktinfo
			copy(info.Addr[:], m.Data[:16])
			return unix.PktInfo6(&info)
		}
	}
	return nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "server:", err)
	os.Exit(1)
}

// probeMain runs "probe TIMEOUT TARGET...".
func probeMain(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: server probe TIMEOUT ADDR:PORT/tcp|udp...")
		return 2
	}
	timeout, err := time.ParseDuration(args[0])
	if err != nil || timeout <= 0 {
		fmt.Fprintf(os.Stderr, "server probe: bad timeout %q\n", args[0])
		return 2
	}
	targets := args[1:]
	for _, tg := range targets {
		if _, _, err := splitTarget(tg); err != nil {
			fmt.Fprintln(os.Stderr, "server probe:", err)
			return 2
		}
	}
	results := make([]string, len(targets))
	open := make([]bool, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Go(func() {
			addr, proto, _ := splitTarget(tg)
			open[i], results[i] = probe(addr, proto, timeout)
		})
	}
	wg.Wait()
	code := 0
	for i, tg := range targets {
		verdict := "open"
		if !open[i] {
			verdict, code = "closed", 1
		}
		fmt.Printf("%s %s %s\n", tg, verdict, results[i])
	}
	return code
}

// splitTarget splits ADDR:PORT/PROTO.
func splitTarget(tg string) (addr, proto string, err error) {
	addr, proto, ok := strings.Cut(tg, "/")
	proto = strings.ToLower(proto)
	if !ok || (proto != "tcp" && proto != "udp") {
		return "", "", fmt.Errorf("target %q: want ADDR:PORT/tcp or ADDR:PORT/udp", tg)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", "", fmt.Errorf("target %q: %w", tg, err)
	}
	return addr, proto, nil
}

// probe tries one target, reporting whether it replied and what happened.
func probe(addr, proto string, timeout time.Duration) (bool, string) {
	deadline := time.Now().Add(timeout)
	c, err := net.DialTimeout(proto, addr, timeout) // #nosec G704 -- a test probe dials the targets its caller names, by design
	if err != nil {
		return false, describe(err)
	}
	defer c.Close()
	_ = c.SetDeadline(deadline)
	if proto == "udp" {
		msg := []byte("ward-probe")
		if _, err := c.Write(msg); err != nil {
			return false, describe(err)
		}
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil {
			return false, describe(err)
		}
		if string(buf[:n]) != string(msg) {
			return false, fmt.Sprintf("unexpected reply %q", buf[:n])
		}
		return true, "echo"
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return false, "connected, no reply: " + describe(err)
	}
	return true, "reply " + strings.TrimSpace(line)
}

// describe names an error briefly: timeout, refused, unreachable or the
// error itself.
func describe(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

// spoofMain runs "spoof": it sends --count frames, --interval apart.
func spoofMain(args []string) int {
	fs := flag.NewFlagSet("server spoof", flag.ContinueOnError)
	fromIP := fs.String("from-ip", "", "the container's address on the interface to send on")
	srcArg := fs.String("src", "", "the source address of the datagram, forged or not")
	dstArg := fs.String("dst", "", "the destination ADDR:PORT")
	macArg := fs.String("dst-mac", "", "the destination's MAC address")
	marker := fs.String("marker", "", "the payload")
	count := fs.Int("count", 3, "how many frames to send")
	interval := fs.Duration("interval", 20*time.Millisecond, "the time between two frames")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *marker == "" || *count < 1 {
		fmt.Fprintln(os.Stderr, "usage: server spoof --from-ip A --src S --dst D:PORT --dst-mac MAC --marker M [--count N] [--interval D]")
		return 2
	}
	ifi, err := interfaceOf(*fromIP)
	if err != nil {
		return failed("spoof", err)
	}
	src, err := netip.ParseAddr(*srcArg)
	if err != nil {
		return failed("spoof", err)
	}
	dst, err := netip.ParseAddrPort(*dstArg)
	if err != nil {
		return failed("spoof", err)
	}
	dstMAC, err := net.ParseMAC(*macArg)
	if err != nil {
		return failed("spoof", err)
	}
	frame, err := ethframe.UDP(ifi.HardwareAddr, dstMAC, netip.AddrPortFrom(src, 40000), dst, []byte(*marker))
	if err != nil {
		return failed("spoof", err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return failed("spoof", fmt.Errorf("packet socket: %w", err))
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Protocol: ethframe.Htons(ethframe.EtherType(src)), Halen: 6}
	copy(to.Addr[:], dstMAC)
	for i := range *count {
		if i > 0 {
			time.Sleep(*interval)
		}
		if err := unix.Sendto(fd, frame, 0, to); err != nil {
			return failed("spoof", fmt.Errorf("send on %s: %w", ifi.Name, err))
		}
	}
	fmt.Printf("sent %d frames on %s: %s -> %s\n", *count, ifi.Name, src, dst)
	return 0
}

// sniffMain runs "sniff".
func sniffMain(args []string) int {
	fs := flag.NewFlagSet("server sniff", flag.ContinueOnError)
	ipArg := fs.String("ip", "", "the container's address to watch, on the interface holding it")
	srcArg := fs.String("src", "", "the source address of the datagram awaited")
	port := fs.Uint("port", 0, "the destination port of the datagram awaited")
	marker := fs.String("marker", "", "what its payload holds")
	grace := fs.Duration("grace", 200*time.Millisecond, "how long to wait once standard input is closed")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait at most")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *marker == "" || *port == 0 || *port > 65535 {
		fmt.Fprintln(os.Stderr, "usage: server sniff --ip A --src S --port PORT --marker M [--grace D] [--timeout D]")
		return 2
	}
	ip, err := netip.ParseAddr(*ipArg)
	if err != nil {
		return failed("sniff", err)
	}
	src, err := netip.ParseAddr(*srcArg)
	if err != nil {
		return failed("sniff", err)
	}
	ifi, err := interfaceOf(*ipArg)
	if err != nil {
		return failed("sniff", err)
	}
	et := ethframe.EtherType(ip)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(ethframe.Htons(et)))
	if err != nil {
		return failed("sniff", fmt.Errorf("packet socket: %w", err))
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: ethframe.Htons(et), Ifindex: ifi.Index}); err != nil {
		return failed("sniff", fmt.Errorf("bind packet socket to %s: %w", ifi.Name, err))
	}
	// Reads return every 50ms to look at the deadline.
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 50000}); err != nil {
		return failed("sniff", err)
	}
	var mu sync.Mutex
	deadline := time.Now().Add(*timeout)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		mu.Lock()
		defer mu.Unlock()
		if end := time.Now().Add(*grace); end.Before(deadline) {
			deadline = end
		}
	}()
	fmt.Println("ready")
	buf := make([]byte, 2048)
	for {
		mu.Lock()
		over := time.Now().After(deadline)
		mu.Unlock()
		if over {
			fmt.Println("not seen")
			return 0
		}
		n, from, err := unix.Recvfrom(fd, buf, 0)
		switch {
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return failed("sniff", err)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if d, ok := ethframe.ParseUDP(buf[:n]); ok && d.Src.Addr() == src && d.Dst.Addr() == ip && uint(d.Dst.Port()) == *port && bytes.Contains(d.Payload, []byte(*marker)) {
			fmt.Println("seen")
			return 0
		}
	}
}

// interfaceOf returns the interface holding address a.
func interfaceOf(a string) (*net.Interface, error) {
	ip, err := netip.ParseAddr(a)
	if err != nil {
		return nil, err
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, ifi := range ifs {
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, err
		}
		for _, ad := range addrs {
			if n, ok := ad.(*net.IPNet); ok {
				if x, ok := netip.AddrFromSlice(n.IP); ok && x.Unmap() == ip {
					if len(ifi.HardwareAddr) != 6 {
						return nil, fmt.Errorf("%s (holding %s) has no Ethernet address", ifi.Name, ip)
					}
					return &ifi, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no interface holds %s", ip)
}

func failed(mode string, err error) int {
	fmt.Fprintf(os.Stderr, "server %s: %v\n", mode, err)
	return 1
}
