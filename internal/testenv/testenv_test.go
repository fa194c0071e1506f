package testenv_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/wardsec/ward/internal/testenv"
)

// recorder is a testing.TB that records Skipf and Fatalf instead of
// stopping the goroutine. Any other method panics on the nil embedded TB,
// which flags an unexpected call.
type recorder struct {
	testing.TB
	skip, fatal string
	logs        []string
}

func (r *recorder) Helper() {}

func (r *recorder) Name() string { return "TestRecorded" }

func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func (r *recorder) Skipf(format string, args ...any) { r.skip = fmt.Sprintf(format, args...) }

func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }

// check asserts what a Require function did to r: nothing when the
// requirement holds, otherwise a skip, or a failure when CI is "true".
func check(t *testing.T, r *recorder, holds bool, want string) {
	t.Helper()
	switch {
	case holds:
		if r.skip != "" || r.fatal != "" {
			t.Fatalf("requirement holds, got skip %q, fatal %q; want neither", r.skip, r.fatal)
		}
	case os.Getenv("CI") == "true":
		if r.fatal == "" || r.skip != "" {
			t.Fatalf("under CI=true got skip %q, fatal %q; want a fatal only", r.skip, r.fatal)
		}
		if !strings.Contains(r.fatal, want) {
			t.Errorf("fatal message %q does not mention %q", r.fatal, want)
		}
	default:
		if r.skip == "" || r.fatal != "" {
			t.Fatalf("outside CI got skip %q, fatal %q; want a skip only", r.skip, r.fatal)
		}
		if !strings.Contains(r.skip, want) {
			t.Errorf("skip message %q does not mention %q", r.skip, want)
		}
	}
}

// ciValues are the values of CI the tests run under: only "true" turns
// a skip into a failure.
var ciValues = []string{"true", "", "false", "1"}

func TestRequireCommand(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, ci := range ciValues {
		for _, tc := range []struct {
			label, name string
			holds       bool
		}{
			{"present", self, true},
			{"missing", "ward-testenv-no-such-command", false},
		} {
			t.Run(fmt.Sprintf("CI=%q/%s", ci, tc.label), func(t *testing.T) {
				t.Setenv("CI", ci)
				r := &recorder{}
				testenv.RequireCommand(r, tc.name)
				check(t, r, tc.holds, tc.name)
			})
		}
	}
}

func TestRequireRoot(t *testing.T) {
	for _, ci := range ciValues {
		t.Run(fmt.Sprintf("CI=%q", ci), func(t *testing.T) {
			t.Setenv("CI", ci)
			r := &recorder{}
			testenv.RequireRoot(r)
			check(t, r, os.Geteuid() == 0, "root")
		})
	}
}

// TestRequireNetns checks the non-root path with a recorder and, as root,
// runs the real probe: under CI it must find network namespaces usable and
// leave no probe namespace behind.
func TestRequireNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		for _, ci := range ciValues {
			t.Run(fmt.Sprintf("CI=%q", ci), func(t *testing.T) {
				t.Setenv("CI", ci)
				r := &recorder{}
				testenv.RequireNetns(r)
				check(t, r, false, "root")
			})
		}
		return
	}
	testenv.RequireNetns(t)
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	if strings.Contains(string(out), "ward-testenv-probe-") {
		t.Errorf("probe namespace left behind:\n%s", out)
	}
}

// TestRequireDocker checks a daemon that is not there through a recorder
// and, when this machine has a daemon, the real one: under CI it must
// answer.
func TestRequireDocker(t *testing.T) {
	for _, ci := range ciValues {
		t.Run(fmt.Sprintf("CI=%q", ci), func(t *testing.T) {
			t.Setenv("CI", ci)
			t.Setenv("DOCKER_HOST", "unix://"+t.TempDir()+"/no-docker.sock")
			r := &recorder{}
			testenv.RequireDocker(r)
			check(t, r, false, "Docker Engine")
		})
	}
	if _, err := os.Stat("/var/run/docker.sock"); err == nil || os.Getenv("CI") == "true" {
		t.Setenv("DOCKER_HOST", "")
		testenv.RequireDocker(t)
	}
}
