package kernel

import (
	"bufio"
	"bytes"
	"fmt"
	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// inNetns runs f on a thread in the network namespace fd (0: the
// caller's). Files f opens under /proc/thread-self/net and /proc/sys/net
// stay bound to that namespace after f returns.
func inNetns(fd int, f func() error) error {
	if fd == 0 {
		return f()
	}
	ch := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			ch <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		ch <- f()
	}()
	return <-ch
}

// sysctl sets a /proc/sys value (a path below /proc/sys) in the network
// namespace fd, unless it already has that value.
func sysctl(fd int, path, value string) error {
	return inNetns(fd, func() error {
		p := "/proc/sys/" + path
		old, err := os.ReadFile(p) // #nosec G304 -- a fixed path below /proc/sys
		if err != nil {
			return err
		}
		if string(bytes.TrimSpace(old)) == value {
			return nil
		}
		return os.WriteFile(p, []byte(value), 0o644) // #nosec G306 -- a sysctl, not a file Ward creates
	})
}

// dropCounter reads the kernel's count of messages it could not queue to
// one netlink socket (sk_drops, the Drops column of /proc/net/netlink):
// after an ENOBUFS it says exactly how many events were lost, which the
// error itself does not.
type dropCounter struct {
	f     *os.File
	inode uint64
}

// newDropCounter finds the socket behind rc in the namespace fd's
// /proc/net/netlink.
func newDropCounter(fd int, rc syscall.RawConn) (*dropCounter, error) {
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(s uintptr) { serr = unix.Fstat(int(s), &st) }); err != nil { // #nosec G115 -- a file descriptor
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	d := &dropCounter{inode: st.Ino}
	err := inNetns(fd, func() error {
		f, err := os.Open("/proc/thread-self/net/netlink")
		d.f = f
		return err
	})
	if err != nil {
		return nil, err
	}
	if _, err := d.read(); err != nil {
		_ = d.f.Close()
		return nil, err
	}
	return d, nil
}

// read returns the socket's drop count.
func (d *dropCounter) read() (uint64, error) {
	if _, err := d.f.Seek(0, 0); err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(d.f)
	for sc.Scan() {
		// sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
		fs := bytes.Fields(sc.Bytes())
		if len(fs) < 10 {
			continue
		}
		ino, err := strconv.ParseUint(string(fs[9]), 10, 64)
		if err != nil || ino != d.inode {
			continue
		}
		return strconv.ParseUint(string(fs[8]), 10, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("netlink socket inode %d not in /proc/net/netlink", d.inode)
}

func (d *dropCounter) close() { _ = d.f.Close() }

// forceReadBuffer sets the socket's receive buffer to n bytes, beyond
// net.core.rmem_max when the process may (CAP_NET_ADMIN), else as far as
// rmem_max allows.
func forceReadBuffer(rc syscall.RawConn, n int) error {
	var serr error
	err := rc.Control(func(s uintptr) {
		serr = unix.SetsockoptInt(int(s), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) // #nosec G115 -- a file descriptor
		if serr != nil {
			serr = unix.SetsockoptInt(int(s), unix.SOL_SOCKET, unix.SO_RCVBUF, n) // #nosec G115 -- a file descriptor
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// keepTracking adds a table whose only rule matches a connection-tracking
// state, which makes the kernel track the namespace's connections for as
// long as the table exists; undo deletes it.
func keepTracking(fd int) (undo func(), err error) {
	var opts []nftables.ConnOption
	if fd != 0 {
		opts = append(opts, nftables.WithNetNSFd(fd))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, err
	}
	tab := &nftables.Table{Family: nftables.TableFamilyINet, Name: "ward_watch_" + strconv.Itoa(os.Getpid())}
	c.AddTable(tab)
	pol := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{Name: "track", Table: tab, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityFilter, Policy: &pol})
	c.AddRule(&nftables.Rule{Table: tab, Chain: ch, Exprs: []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
		&expr.Counter{},
	}})
	if err := c.Flush(); err != nil {
		return nil, err
	}
	return func() {
		c.DelTable(tab)
		_ = c.Flush()
	}, nil
}
