// Command server is the program in the test images of package dockerinv:
// it listens on the ports given as arguments ("8080/tcp", "53/udp") on
// every address of the container, answers TCP connections with its
// hostname, echoes UDP datagrams, and exits on SIGTERM or SIGINT. With no
// argument it only waits for the signal. It is built static
// (CGO_ENABLED=0) into a FROM scratch image.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
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

func serveUDP(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		_, _ = pc.WriteTo(buf[:n], addr)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "server:", err)
	os.Exit(1)
}
