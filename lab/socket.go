package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/portset"
)

// replyPrefix starts every answer of a listener, followed by the ID of
// the host that answers, so a probe knows it reached the right one.
const replyPrefix = "ward-lab "

// maxReply bounds what a probe reads.
const maxReply = 512

// sctpSupport reports, once, why this kernel cannot open SCTP sockets,
// or nil when it can.
var sctpSupport = sync.OnceValue(func() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
	if err != nil {
		return fmt.Errorf("SCTP is not supported by this kernel (socket: %w)", err)
	}
	_ = unix.Close(fd)
	return nil
})

func ipproto(p portset.Protocol) int {
	switch p {
	case portset.UDP:
		return unix.IPPROTO_UDP
	case portset.SCTP:
		return unix.IPPROTO_SCTP
	}
	return unix.IPPROTO_TCP
}

func sockaddr(a netip.Addr, port uint16) (int, unix.Sockaddr) {
	if a.Is4() {
		return unix.AF_INET, &unix.SockaddrInet4{Port: int(port), Addr: a.As4()}
	}
	return unix.AF_INET6, &unix.SockaddrInet6{Port: int(port), Addr: a.As16()}
}

// streamSocket opens a non-blocking stream socket of proto (TCP or SCTP)
// bound to addr:port, in the calling thread's network namespace.
func streamSocket(proto int, addr netip.Addr, port uint16) (int, error) {
	fam, sa := sockaddr(addr, port)
	fd, err := unix.Socket(fam, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if port != 0 {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	if err == nil && fam == unix.AF_INET6 {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	if err == nil {
		err = unix.Bind(fd, sa)
		if err != nil {
			err = fmt.Errorf("bind %s: %w", netip.AddrPortFrom(addr, port), err)
		}
	}
	if err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// listener is a server socket of a host, closed by Close.
type listener interface{ Close() error }

// listenStream starts a TCP or SCTP server on addr:port answering reply
// to every connection. It must run in the host's namespace; the server
// goroutine it starts does not need to.
func listenStream(proto portset.Protocol, addr netip.Addr, port uint16, reply []byte) (listener, error) {
	fd, err := streamSocket(ipproto(proto), addr, port)
	if err != nil {
		return nil, err
	}
	if err := unix.Listen(fd, 128); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("listen: %w", err)
	}
	ln := os.NewFile(uintptr(fd), fmt.Sprintf("%s listener %s", proto, netip.AddrPortFrom(addr, port))) // #nosec G115 -- a descriptor the kernel just returned
	go serveStream(ln, reply)
	return ln, nil
}

// serveStream accepts connections until ln is closed, writing reply on
// each and closing it.
func serveStream(ln *os.File, reply []byte) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return
	}
	for {
		var nfd int
		var aerr error
		err := rc.Read(func(fd uintptr) bool {
			nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) // #nosec G115 -- a descriptor fits an int
			return !errors.Is(aerr, unix.EAGAIN)
		})
		if err != nil {
			return // closed
		}
		if aerr != nil {
			continue // the client gave up (ECONNABORTED) or a signal (EINTR)
		}
		go func() {
			c := os.NewFile(uintptr(nfd), "accepted") // #nosec G115 -- a descriptor the kernel just returned
			defer c.Close()
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Write(reply)
		}()
	}
}

// listenUDP starts a UDP server on addr:port answering reply followed by
// the request to every datagram. It must run in the host's namespace.
func listenUDP(addr netip.Addr, port uint16, reply []byte) (listener, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, port)))
	if err != nil {
		return nil, err
	}
	go func() {
		buf := make([]byte, maxReply)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			msg := append(append([]byte{}, reply...), buf[:n]...)
			_, _ = conn.WriteToUDPAddrPort(msg, from)
		}
	}()
	return conn, nil
}

// errTimeout is a probe that got no answer in time: what a drop looks
// like.
var errTimeout = errors.New("no answer")

// dialStream connects from src to dst:port over TCP or SCTP and returns
// what the server wrote. The socket is made by in (the source host's
// namespace); connecting and reading happen on any thread.
func dialStream(ctx context.Context, in *worker, proto portset.Protocol, src, dst netip.Addr, port uint16, deadline time.Time) (string, error) {
	var fd int
	if err := in.do(func() (err error) {
		fd, err = streamSocket(ipproto(proto), src, 0)
		return err
	}); err != nil {
		return "", err
	}
	f := os.NewFile(uintptr(fd), "probe") // #nosec G115 -- a descriptor the kernel just returned
	defer f.Close()
	if err := f.SetDeadline(deadline); err != nil {
		return "", fmt.Errorf("deadline: %w", err)
	}
	// Ending ctx wakes the probe up at once.
	defer context.AfterFunc(ctx, func() { _ = f.SetDeadline(time.Now()) })()
	rc, err := f.SyscallConn()
	if err != nil {
		return "", err
	}
	_, sa := sockaddr(dst, port)
	started := false
	var cerr error
	err = rc.Write(func(fd uintptr) bool {
		s := int(fd) // #nosec G115 -- a descriptor fits an int
		if !started {
			started = true
			cerr = unix.Connect(s, sa)
			return !errors.Is(cerr, unix.EINPROGRESS)
		}
		n, err := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case err != nil:
			cerr = err
		case n == 0:
			// Writable without an error; connected unless the wakeup
			// was spurious.
			if _, err := unix.Getpeername(s); errors.Is(err, unix.ENOTCONN) {
				return false
			}
			cerr = nil
		default:
			e := unix.Errno(n) // #nosec G115 -- SO_ERROR holds an errno
			if e == unix.EINPROGRESS || e == unix.EALREADY || e == unix.EINTR {
				return false
			}
			cerr = e
		}
		return true
	})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "", errTimeout
	}
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	if cerr != nil {
		return "", fmt.Errorf("connect: %w", cerr)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxReply))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "", fmt.Errorf("connected but no reply in time: %w", errTimeout)
	}
	if err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	return parseReply(data, "")
}

// dialUDP sends a datagram from src to dst:port, again every quarter of
// the time left, until the server answers or deadline passes.
func dialUDP(ctx context.Context, in *worker, src, dst netip.Addr, port uint16, deadline time.Time) (string, error) {
	var conn *net.UDPConn
	if err := in.do(func() (err error) {
		conn, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)),
			net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, port)))
		return err
	}); err != nil {
		return "", err
	}
	defer conn.Close()
	defer context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })()
	nonce := fmt.Sprintf("%x", time.Now().UnixNano())
	interval := time.Until(deadline) / 4
	buf := make([]byte, maxReply)
	for {
		if _, err := conn.Write([]byte(nonce)); err != nil {
			return "", fmt.Errorf("send: %w", err)
		}
		wait := time.Now().Add(interval)
		if wait.After(deadline) {
			wait = deadline
		}
		if err := conn.SetReadDeadline(wait); err != nil {
			return "", err
		}
		n, err := conn.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if !time.Now().Before(deadline) || ctx.Err() != nil {
				return "", errTimeout
			}
			continue
		}
		if err != nil {
			return "", fmt.Errorf("receive: %w", err)
		}
		return parseReply(buf[:n], nonce)
	}
}

// parseReply returns the host ID a listener answered with, checking
// the echoed nonce of a UDP answer.
func parseReply(data []byte, nonce string) (string, error) {
	rest, ok := bytes.CutPrefix(data, []byte(replyPrefix))
	if !ok {
		return "", fmt.Errorf("unexpected answer %q", data)
	}
	id, echoed, _ := strings.Cut(strings.TrimSuffix(string(rest), "\n"), "\n")
	if nonce != "" && echoed != nonce {
		return "", fmt.Errorf("answer %q does not echo the probe's %q", data, nonce)
	}
	return id, nil
}

// replyFor is what the listeners of host id answer: a line with the ID;
// the UDP listener appends the request.
func replyFor(id string) []byte { return []byte(replyPrefix + id + "\n") }
