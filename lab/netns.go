package lab

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vishvananda/netns"
	"github.com/wardsec/ward/internal/netnsfile"
	"golang.org/x/sys/unix"
)

// Prefix starts the name of every network namespace a lab makes:
// "wardlab-<pid>-<random>-r" for the router and "wardlab-<pid>-<random>-h<n>"
// for the hosts, bind-mounted under NetnsDir as `ip netns add` does, so
// that `ip netns list` shows them and Cleanup finds the leftovers of a
// killed run by the process id in their name.
const Prefix = "wardlab-"

// NetnsDir is where named network namespaces live.
const NetnsDir = "/run/netns"

// newRunName returns a fresh run name, Prefix + "<pid>-<8 hex digits>".
func newRunName() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("lab: run name: %w", err)
	}
	return fmt.Sprintf("%s%d-%s", Prefix, os.Getpid(), hex.EncodeToString(b[:])), nil
}

// runPID returns the process id in a namespace name made by a lab, or 0.
func runPID(name string) int {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok {
		return 0
	}
	num, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(num)
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// createNamespace makes a new network namespace named name (under
// NetnsDir) and returns a handle to it. The namespace starts with a
// loopback interface only, down, as `ip netns add` leaves it.
func createNamespace(name string) (netns.NsHandle, error) {
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil { // #nosec G301 -- the permissions `ip netns` gives this directory
		return netns.None(), fmt.Errorf("lab: %w", err)
	}
	path := filepath.Join(NetnsDir, name)
	ns, err := netnsfile.New()
	if err != nil {
		return netns.None(), fmt.Errorf("lab: create network namespace %s: %w", name, err)
	}
	defer func() { _ = ns.Close() }()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444) // #nosec G302 G304 -- a mount point the lab names under NetnsDir, read-only as ip netns makes it
	if err != nil {
		return netns.None(), fmt.Errorf("lab: create network namespace %s: %w", name, err)
	}
	_ = f.Close()
	// The bind mount names the namespace: it lives on after ns closes.
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", ns.Fd()), path, "none", unix.MS_BIND, ""); err != nil {
		_ = os.Remove(path)
		return netns.None(), fmt.Errorf("lab: create network namespace %s: bind mount %s: %w", name, path, err)
	}
	h, err := netns.GetFromPath(path)
	if err != nil {
		return netns.None(), fmt.Errorf("lab: create network namespace %s: %w", name, err)
	}
	return h, nil
}

// deleteNamespace removes the name of a namespace; the kernel frees the
// namespace, with its links, once nothing else holds it.
func deleteNamespace(name string) error {
	path := filepath.Join(NetnsDir, name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("lab: unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("lab: remove %s: %w", path, err)
	}
	return nil
}

// Namespaces lists the network namespaces under NetnsDir whose name
// starts with prefix (use Prefix for every lab's), sorted.
func Namespaces(prefix string) ([]string, error) {
	entries, err := os.ReadDir(NetnsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// Cleanup removes the namespaces of labs whose process is gone (killed
// before it could clean up), with the links inside them, and returns
// their names. Namespaces of running labs, whose process id in the name
// is alive (this process's own included), are left alone and reported
// on progress, if not nil.
func Cleanup(progress io.Writer) ([]string, error) {
	names, err := Namespaces(Prefix)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, name := range names {
		if pid := runPID(name); alive(pid) {
			if progress != nil {
				fmt.Fprintf(progress, "lab: keeping %s: its lab (process %d) is still running\n", name, pid)
			}
			continue
		}
		if err := deleteNamespace(name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}

// worker runs functions on an OS thread that stays in one network
// namespace, so that sockets, sysctls and netlink sockets are created
// there. Sockets stay in the namespace they were created in, whatever
// thread later uses them.
type worker struct {
	reqs   chan func()
	mu     sync.RWMutex // held for reading by do, for writing by stop
	closed bool
}

func newWorker(h netns.NsHandle) (*worker, error) {
	w := &worker{reqs: make(chan func())}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine rather than
		// going back to the runtime in a foreign namespace.
		runtime.LockOSThread()
		if err := netns.Set(h); err != nil {
			errc <- fmt.Errorf("lab: enter network namespace: %w", err)
			return
		}
		errc <- nil
		for f := range w.reqs {
			f()
		}
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return w, nil
}

// errClosed is the error of a worker (a lab) that was closed.
var errClosed = errors.New("lab: closed")

// do runs f in the worker's namespace and returns its error.
func (w *worker) do(f func() error) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return errClosed
	}
	errc := make(chan error, 1)
	w.reqs <- func() { errc <- f() }
	return <-errc
}

// stop ends the worker's thread once the calls of do in progress return;
// later calls fail.
func (w *worker) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		close(w.reqs)
	}
}
