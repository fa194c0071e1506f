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
// It is built static (CGO_ENABLED=0) into a FROM scratch image.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		os.Exit(probeMain(os.Args[2:]))
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
