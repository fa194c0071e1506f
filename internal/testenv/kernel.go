package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// NotRunFile is the environment variable naming the file to which
// KernelLacks appends a line for every record of checks that could not
// run; .ci/run sets it and sums the file up at the end of its output.
// Each line holds, separated by tabs: the feature, the number of checks,
// what they are, the test binary and test, and the reason.
const NotRunFile = "WARD_NOT_RUN_FILE"

// kernelFeature is a kernel feature a test may need: how to see whether
// the kernel has it, and the module that gives it.
type kernelFeature struct {
	module string
	probe  func() error // nil when the kernel has the feature
	// mayLack puts the feature on KernelLacks's allow-list: modprobe
	// cannot add it to a kernel built without it (this project's
	// machines have no SCTP at all), so a test that needs it records
	// what could not run instead of failing under CI.
	mayLack bool
	state   func() error // probe, after a modprobe if needed, once
}

// kernelFeatures are the kernel features tests name. Only "sctp" may be
// missing under CI; everything else CI must provide.
var kernelFeatures = map[string]*kernelFeature{
	"sctp":         newKernelFeature("sctp", sctpSocket, true),
	"br_netfilter": newKernelFeature("br_netfilter", bridgeSysctl, false),
}

func newKernelFeature(module string, probe func() error, mayLack bool) *kernelFeature {
	f := &kernelFeature{module: module, probe: probe, mayLack: mayLack}
	f.state = sync.OnceValue(func() error { return withModprobe(f.module, f.probe) })
	return f
}

// withModprobe probes; when that fails, it runs `modprobe module` and
// probes again. The error says why the feature is missing and why
// modprobe could not add it.
func withModprobe(module string, probe func() error) error {
	err := probe()
	if err == nil {
		return nil
	}
	out, merr := exec.Command("modprobe", module).CombinedOutput() // #nosec G204 -- a module name of the list above
	if merr != nil {
		return fmt.Errorf("%w; modprobe %s: %v %s", err, module, merr, strings.TrimSpace(string(out)))
	}
	if err := probe(); err != nil {
		return fmt.Errorf("%w (after modprobe %s)", err, module)
	}
	return nil
}

// sctpSocket opens and closes an SCTP socket.
func sctpSocket() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("SCTP sockets: not Linux (%s)", runtime.GOOS)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
	if err != nil {
		return fmt.Errorf("no SCTP sockets: %w", err)
	}
	return unix.Close(fd)
}

// bridgeSysctl checks that br_netfilter's switches exist, in this
// process's network namespace.
func bridgeSysctl() error {
	_, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables")
	return err
}

// lookup returns the feature called name, failing t when there is none.
func lookup(t testing.TB, name string) (*kernelFeature, bool) {
	t.Helper()
	f, ok := kernelFeatures[name]
	if !ok {
		t.Fatalf("testenv: unknown kernel feature %q", name)
	}
	return f, ok
}

// LoadModule makes sure that the kernel feature's module was loaded, if
// the kernel lacks the feature and modprobe can load it (tried once per
// test binary); it reports nothing, which RequireKernel and KernelLacks
// do. Call it before code under test that checks the kernel itself once
// per process (package lab does, for SCTP), so that the code and the
// test see the same kernel.
func LoadModule(t testing.TB, name string) {
	t.Helper()
	if f, ok := lookup(t, name); ok {
		_ = f.state()
	}
}

// RequireKernel skips t unless the kernel has the feature ("sctp",
// "br_netfilter"), after trying to load its module with modprobe. Under
// CI a missing feature fails t, like every Require function, unless it is
// on KernelLacks's allow-list: then the skip is recorded as KernelLacks
// records, and never fails.
func RequireKernel(t testing.TB, name string) {
	t.Helper()
	f, ok := lookup(t, name)
	if !ok {
		return
	}
	err := f.state()
	switch {
	case err == nil:
	case f.mayLack:
		record(t, name, 1, "test", err)
		t.Skipf("testenv: skipping: the kernel lacks %s: %v", name, err)
	default:
		unavailable(t, "needs %s in the kernel: %v", name, err)
	}
}

// KernelLacks returns how many of n checks of t (probes, subtests: what
// names them, as "SCTP probes") cannot run because the kernel lacks the
// feature: 0 when it has it, after trying to load its module with
// modprobe, else n. A test calls it before it runs the checks, and goes
// on with the others; it never fails t, even under CI.
//
// When it returns n > 0 it records them: a "testenv: NOT RUN" line in t's
// log and, when the environment variable named by NotRunFile is set, a
// line in that file, which CI sums up at the end of its output.
//
// This is the only way a test may leave something untested under CI, and
// only for the features of its allow-list, which modprobe cannot add to a
// kernel built without them: "sctp". Any other feature fails t.
func KernelLacks(t testing.TB, name string, n int, what string) int {
	t.Helper()
	f, ok := lookup(t, name)
	if !ok {
		return 0
	}
	if !f.mayLack {
		t.Fatalf("testenv: KernelLacks(%q): not a feature a test may do without (allowed: the features modprobe cannot add, %s); use RequireKernel", name, strings.Join(allowList(), ", "))
		return 0
	}
	err := f.state()
	if err == nil || n == 0 {
		return 0
	}
	record(t, name, n, what, err)
	return n
}

// allowList returns KernelLacks's features, sorted.
func allowList() []string {
	var out []string
	for name, f := range kernelFeatures {
		if f.mayLack {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// record logs that n checks of t could not run and appends them to the
// file named by NotRunFile, if any.
func record(t testing.TB, name string, n int, what string, why error) {
	t.Helper()
	reason := strings.Join(strings.Fields(why.Error()), " ")
	t.Logf("testenv: NOT RUN: %d %s: the kernel lacks %s: %s", n, what, name, reason)
	path := os.Getenv(NotRunFile)
	if path == "" {
		return
	}
	test := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test") + "." + t.Name()
	line := strings.Join([]string{name, fmt.Sprint(n), what, test, reason}, "\t") + "\n"
	// One write with O_APPEND: test binaries of several packages append
	// concurrently, and lines do not interleave.
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600) // #nosec G304 G703 -- the file CI names, in a test helper
	if err == nil {
		_, err = file.WriteString(line)
		err = errors.Join(err, file.Close())
	}
	if err != nil {
		t.Fatalf("testenv: recording what could not run in $%s: %v", NotRunFile, err)
	}
}
