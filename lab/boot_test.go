package lab_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardsec/ward/lab"
)

// TestBootClosed replays a reboot: no table of Ward's survives it, Docker
// starts before `ward fw run` (which reads Docker) and restarts its
// containers, which then talked past every policy until the daemon's
// first sync. In the spoof scenario's lab with no ruleset loaded (the
// negative control: what a reboot leaves), every probe the hosts can
// make connects. After `ward fw close --bridge br0` (what
// deploy/systemd/ward-fw-close.service runs before Docker starts, with
// Docker's bridge names) none does, TCP or UDP, IPv4 or IPv6, whatever
// the policies say; then the plan's ruleset replaces the table, as the
// daemon's first sync does, and every probe matches the engine.
func TestBootClosed(t *testing.T) {
	requireLab(t)
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	l := startLab(t, plan.Hosts)
	observe := func() (int, int) { return connected(t, l, plan) }
	settle(t, l, plan)
	for try := 1; ; try++ {
		ran, allowed := observe()
		if ran > 0 && allowed == ran {
			break
		}
		if try == 3 {
			t.Fatalf("no ruleset (after a reboot): %d of %d probes connected; want all", allowed, ran)
		}
	}

	ward := buildWard(t)
	args := []string{"fw", "close", "--bridge", "br0", "--netns", filepath.Join(lab.NetnsDir, l.Name()+"-r"), "--lock", filepath.Join(t.TempDir(), "fw.lock")}
	out, err := exec.Command(ward, args...).CombinedOutput() // #nosec G204 -- the test's own binary and arguments
	if err != nil || !strings.Contains(string(out), "closed: table inet ward drops all traffic through br0") {
		t.Fatalf("ward %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if ran, allowed := observe(); ran == 0 || allowed != 0 {
		t.Errorf("closed: %d of %d probes connected; want none", allowed, ran)
	}

	r := probe(t, l, plan, plan.Ruleset)
	if c := r.Counts(); c.Mismatched != 0 || c.Ran == 0 {
		t.Errorf("the plan's ruleset after close: %d of %d probes mismatched:\n%s", c.Mismatched, c.Ran, text(r))
	}
}

// connected probes plan's probes and counts those that ran and those that
// connected.
func connected(t *testing.T, l *lab.Lab, plan *lab.Plan) (ran, allowed int) {
	t.Helper()
	outs, err := l.Probe(context.Background(), plan.Probes)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		switch o.Observed {
		case lab.Allowed:
			ran++
			allowed++
		case lab.Blocked:
			ran++
		}
	}
	return ran, allowed
}

// settle waits for the hosts to be usable (IPv6 addresses, neighbours):
// a negative control that expects every probe to connect tries each
// once.
func settle(t *testing.T, l *lab.Lab, plan *lab.Plan) {
	t.Helper()
	for _, h := range plan.Hosts {
		hostEth0(t, l, h.ID)
	}
}
