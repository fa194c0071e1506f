package testenv_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/internal/testenv"
)

// notRunLines returns the lines KernelLacks wrote to the file of
// testenv.NotRunFile, which the test points at a file of its own.
func notRunLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestKernelLacks: for a feature of the allow-list that the kernel lacks,
// KernelLacks counts the checks that cannot run, logs them, appends them
// to $WARD_NOT_RUN_FILE and never fails or skips, whatever CI says; for
// one the kernel has it counts nothing; any feature off the allow-list
// (br_netfilter, which modprobe can load, or one it does not know) fails
// the test, present or not.
func TestKernelLacks(t *testing.T) {
	testenv.AddKernelFeature(t, "ward-lacking", true, errors.New("no ward-lacking sockets: protocol not supported"))
	testenv.AddKernelFeature(t, "ward-present", true, nil)
	testenv.AddKernelFeature(t, "ward-loadable", false, errors.New("ward-loadable is not loaded"))
	testenv.AddKernelFeature(t, "ward-loaded", false, nil)
	for _, ci := range ciValues {
		t.Run(fmt.Sprintf("CI=%q", ci), func(t *testing.T) {
			t.Setenv("CI", ci)
			file := filepath.Join(t.TempDir(), "not-run")
			t.Setenv(testenv.NotRunFile, file)

			r := &recorder{}
			if got := testenv.KernelLacks(r, "ward-lacking", 144, "SCTP probes"); got != 144 {
				t.Errorf("lacking: got %d, want 144", got)
			}
			if got := testenv.KernelLacks(r, "ward-lacking", 2, "subtests"); got != 2 {
				t.Errorf("lacking, again: got %d, want 2", got)
			}
			if got := testenv.KernelLacks(r, "ward-lacking", 0, "SCTP probes"); got != 0 {
				t.Errorf("lacking, no checks: got %d, want 0", got)
			}
			if got := testenv.KernelLacks(r, "ward-present", 144, "SCTP probes"); got != 0 {
				t.Errorf("present: got %d, want 0", got)
			}
			if r.skip != "" || r.fatal != "" {
				t.Errorf("got skip %q, fatal %q; want neither", r.skip, r.fatal)
			}
			wantLogs := []string{
				"testenv: NOT RUN: 144 SCTP probes: the kernel lacks ward-lacking: no ward-lacking sockets: protocol not supported",
				"testenv: NOT RUN: 2 subtests: the kernel lacks ward-lacking: no ward-lacking sockets: protocol not supported",
			}
			if diff := cmp.Diff(wantLogs, r.logs); diff != "" {
				t.Errorf("logs (-want +got):\n%s", diff)
			}
			wantLines := []string{
				"ward-lacking\t144\tSCTP probes\ttestenv.TestRecorded\tno ward-lacking sockets: protocol not supported",
				"ward-lacking\t2\tsubtests\ttestenv.TestRecorded\tno ward-lacking sockets: protocol not supported",
			}
			if diff := cmp.Diff(wantLines, notRunLines(t, file)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", testenv.NotRunFile, diff)
			}

			for _, name := range []string{"ward-loadable", "ward-loaded", "br_netfilter"} {
				r := &recorder{}
				if got := testenv.KernelLacks(r, name, 144, "probes"); got != 0 || !strings.Contains(r.fatal, "not a feature a test may do without") || r.skip != "" {
					t.Errorf("%s: got %d, skip %q, fatal %q; want 0 and a fatal: not on the allow-list", name, got, r.skip, r.fatal)
				}
			}
			r = &recorder{}
			if testenv.KernelLacks(r, "ward-no-such-feature", 1, "probes"); !strings.Contains(r.fatal, "unknown kernel feature") {
				t.Errorf("unknown feature: fatal %q", r.fatal)
			}
			if diff := cmp.Diff(wantLines, notRunLines(t, file)); diff != "" {
				t.Errorf("refused calls recorded (-want +got):\n%s", diff)
			}
		})
	}
}

// TestKernelLacksSCTP asks about this kernel's SCTP, which KernelLacks
// must report as a socket of this test sees it (after the modprobe it
// tries), never failing.
func TestKernelLacksSCTP(t *testing.T) {
	t.Setenv("CI", "true")
	t.Setenv(testenv.NotRunFile, "")
	r := &recorder{}
	got := testenv.KernelLacks(r, "sctp", 3, "SCTP probes")
	want := 3
	if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_SCTP); err == nil {
		_ = unix.Close(fd)
		want = 0
	}
	if got != want || r.skip != "" || r.fatal != "" {
		t.Errorf("got %d, skip %q, fatal %q; want %d, neither skip nor fatal", got, r.skip, r.fatal, want)
	}
	if want > 0 && (len(r.logs) != 1 || !strings.Contains(r.logs[0], "modprobe sctp")) {
		t.Errorf("logs %q: want one line saying why modprobe sctp could not help", r.logs)
	}
}

// TestRequireKernel: a feature the kernel has passes; one of
// KernelLacks's allow-list that it lacks skips the test, counted, even
// under CI; any other it lacks is a requirement like RequireCommand's:
// a skip, a failure under CI.
func TestRequireKernel(t *testing.T) {
	testenv.AddKernelFeature(t, "ward-lacking", true, errors.New("no ward-lacking sockets"))
	testenv.AddKernelFeature(t, "ward-present", true, nil)
	testenv.AddKernelFeature(t, "ward-loadable", false, errors.New("ward-loadable is not loaded"))
	testenv.AddKernelFeature(t, "ward-loaded", false, nil)
	for _, ci := range ciValues {
		t.Run(fmt.Sprintf("CI=%q", ci), func(t *testing.T) {
			t.Setenv("CI", ci)
			file := filepath.Join(t.TempDir(), "not-run")
			t.Setenv(testenv.NotRunFile, file)
			for _, name := range []string{"ward-present", "ward-loaded"} {
				r := &recorder{}
				testenv.RequireKernel(r, name)
				check(t, r, true, name)
			}
			r := &recorder{}
			testenv.RequireKernel(r, "ward-loadable")
			check(t, r, false, "ward-loadable is not loaded")

			r = &recorder{}
			testenv.RequireKernel(r, "ward-lacking")
			if r.fatal != "" || !strings.Contains(r.skip, "the kernel lacks ward-lacking") {
				t.Errorf("lacking: skip %q, fatal %q; want a skip only", r.skip, r.fatal)
			}
			want := []string{"ward-lacking\t1\ttest\ttestenv.TestRecorded\tno ward-lacking sockets"}
			if diff := cmp.Diff(want, notRunLines(t, file)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", testenv.NotRunFile, diff)
			}
		})
	}
}
