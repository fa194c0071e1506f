package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/spf13/cobra"

	"github.com/wardsec/ward/firewall"
)

// trigger is a reason to re-sync.
type trigger struct {
	reason string
	// at is when the change happened (a container's start), zero when
	// unknown: the unclassified window is measured from it.
	at time.Time
}

func fwRunCmd(e *env, f *fwFlags) *cobra.Command {
	var interval, debounce, maxBackoff time.Duration
	c := &cobra.Command{
		Use:   "run POLICY_PATH... (--docker | --inventory FILE)",
		Short: "Keep the ruleset in sync with containers and policies (daemon)",
		Long: `Apply the ruleset, then keep it in sync: re-apply when Docker starts,
stops or reconnects a container (--docker), when a policy or inventory file
changes, and when Ward's table is deleted or altered, or bridged traffic
stops meeting netfilter, behind its back (checked every --interval). Each change is logged with its differences. A
failed sync (an invalid policy, the Docker Engine unreachable) leaves the
previous ruleset in place and is retried with backoff.

With --docker, a container Ward cannot classify (a ward.dev/ports label
that does not parse, an invalid ward.dev/namespace, a namespace/name or
an address another container has too) does not fail the sync: it is
quarantined, all its traffic dropped both ways and counted (even with
--allow-unclassified), and named in the log, while every other container
is synced as usual. "ward fw apply" refuses such input (exit 2).

On SIGINT or SIGTERM it stops and leaves the ruleset loaded (fail closed):
"ward fw remove" deletes it.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			h, err := openHost(f.netns)
			if err != nil {
				return fail(ExitError, err)
			}
			defer h.Close()
			f.quarantine = true
			d := &daemon{e: e, f: f, h: h, paths: args, interval: interval, debounce: debounce, maxBackoff: maxBackoff}
			return d.run(ctx)
		},
	}
	c.Flags().DurationVar(&interval, "interval", 2*time.Second, "how often to check that the live table is still Ward's")
	c.Flags().DurationVar(&debounce, "debounce", 100*time.Millisecond, "wait this long after a change for more before syncing")
	c.Flags().DurationVar(&maxBackoff, "max-backoff", 30*time.Second, "longest wait between retries of a failed sync")
	f.addApplyFlags(c)
	return c
}

type daemon struct {
	e                              *env
	f                              *fwFlags
	h                              *host
	paths                          []string
	interval, debounce, maxBackoff time.Duration
	last                           *plan // what was last applied
	// quarantined are the containers the last applied plan quarantined,
	// by Docker ID.
	quarantined map[string]*firewall.Quarantined
	gone        deaths
}

// deaths records Docker's die events for the syncs: when the first of
// them since the last inventory read happened, and how many there were
// so far.
type deaths struct {
	mu    sync.Mutex
	first time.Time
	n     uint64
}

// add records an event at t (zero: now).
func (g *deaths) add(t time.Time) {
	if t.IsZero() {
		t = time.Now()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	if g.first.IsZero() || t.Before(g.first) {
		g.first = t
	}
}

// take returns the time of the first event not taken yet (zero: none)
// and the count of events so far; a sync that fails gives the time back.
func (g *deaths) take() (time.Time, uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	first := g.first
	g.first = time.Time{}
	return first, g.n
}

// giveBack restores a time taken by a sync that failed.
func (g *deaths) giveBack(t time.Time) {
	if t.IsZero() {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.first.IsZero() || t.Before(g.first) {
		g.first = t
	}
}

func (g *deaths) count() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

func (d *daemon) run(ctx context.Context) error {
	triggers := make(chan trigger, 64)
	send := func(t trigger) {
		select {
		case triggers <- t:
		default: // a sync is pending anyway
		}
	}
	if d.f.docker {
		go func() {
			if err := watchDocker(ctx, d.e, d.f.dockerHost, &d.gone, send); err != nil && ctx.Err() == nil {
				d.e.log.Error("docker events", "err", err)
			}
		}()
	}
	w, err := d.watchFiles(send)
	if err != nil {
		return fail(ExitError, err)
	}
	defer func() { _ = w.Close() }()

	// The first sync must succeed: a daemon that never enforced anything
	// must not look healthy.
	if err := d.sync(ctx, trigger{reason: "start"}); err != nil {
		return err
	}
	tick := time.NewTicker(d.interval)
	defer tick.Stop()
	backoff := time.Duration(0)
	var retry <-chan time.Time
	var pending []trigger
	var settle <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			d.e.log.Info("stopping; the ruleset stays loaded", "reason", context.Cause(ctx))
			return nil
		case t := <-triggers:
			pending = append(pending, t)
			if settle == nil {
				settle = time.After(d.debounce)
			}
			continue
		case <-settle:
		case <-retry:
			pending = append(pending, trigger{reason: "retry"})
		case <-tick.C:
			// Reading the table back costs time on a large host: keep
			// it under a tenth of the daemon's time.
			checked := time.Now()
			err := d.checkTamper()
			tick.Reset(max(d.interval, 10*time.Since(checked)))
			if err == nil {
				continue
			}
			d.e.log.Warn("Ward's table or bridge netfilter was changed behind its back; re-applying", "diff", err)
			pending = append(pending, trigger{reason: "tampering"})
		}
		settle = nil
		if len(pending) == 0 {
			continue
		}
		reasons := make([]string, 0, len(pending))
		var since time.Time
		for _, t := range pending {
			reasons = append(reasons, t.reason)
			if !t.at.IsZero() && (since.IsZero() || t.at.Before(since)) {
				since = t.at
			}
		}
		pending = nil
		if err := d.sync(ctx, trigger{reason: strings.Join(dedupe(reasons), ", "), at: since}); err != nil {
			backoff = min(max(2*backoff, 500*time.Millisecond), d.maxBackoff)
			d.e.log.Error("sync failed; the previous ruleset stays", "err", err, "retry in", backoff)
			retry = time.After(backoff)
			continue
		}
		backoff, retry = 0, nil
	}
}

// sync compiles and applies, logging what changed.
func (d *daemon) sync(ctx context.Context, t trigger) (err error) {
	unlock, err := d.f.takeLock(ctx, d.e)
	if err != nil {
		return err
	}
	defer unlock()
	// A container that dies while the inventory is read may be in it:
	// read it again, so that the ruleset loaded next is without it (its
	// address may go to a new container at once). gone is the first
	// such death since the last inventory read, from which the stale
	// window is measured.
	var gone time.Time
	defer func() {
		if err != nil {
			d.gone.giveBack(gone)
		}
	}()
	var p *plan
	for try := 0; ; try++ {
		first, n := d.gone.take()
		if gone.IsZero() || (!first.IsZero() && first.Before(gone)) {
			gone = first
		}
		if p, err = d.e.fwPlan(ctx, d.f, d.paths); err != nil {
			return err
		}
		if d.gone.count() == n || try == 2 {
			break
		}
	}
	// What changed since the last sync, from the plans: reading the live
	// table back before applying costs seconds on a large host, and the
	// apply reads it back after anyway.
	var prev *firewall.Ruleset
	if d.last != nil {
		prev = d.last.rs
	}
	diff := firewall.Changes(prev, p.rs)
	res, err := d.h.apply(p, applyOptions{enableBr: d.f.enableBrNetfilter, flush: !d.f.noFlush})
	if err != nil {
		return err
	}
	res.warn(d.e.log)
	d.last = p
	loaded := time.Now()
	window := loaded.Sub(t.at).Round(time.Millisecond)
	stale := loaded.Sub(gone).Round(time.Millisecond)
	d.logQuarantine(p.inv.Quarantined)
	attrs := []any{"reason", t.reason, "containers", len(p.inv.Containers), "quarantined", len(p.inv.Quarantined),
		"rules", res.stats.Rules, "elements", res.stats.Elements,
		"changes", len(diff), "compile", res.compile.Round(time.Microsecond), "load", res.load.Round(time.Microsecond), "connections ended", res.flushed}
	if len(p.inv.Quarantined) > 0 {
		names := make([]string, 0, len(p.inv.Quarantined))
		for _, q := range p.inv.Quarantined {
			names = append(names, fmt.Sprintf("%s (%s)", q.Name, shortID(q.ID)))
		}
		attrs = append(attrs, "quarantine", strings.Join(head(names, 20), ", "))
	}
	if n := len(p.inv.UnknownPorts); n > 0 {
		// Bridge ports of no classified container, bound to no address
		// (quarantined ones, new ones until their start's sync).
		attrs = append(attrs, "closed ports", strings.Join(head(p.inv.UnknownPorts, 20), ", "))
	}
	if !t.at.IsZero() {
		// The unclassified window: from the container's start to its
		// rules landing. Until then its traffic was dropped (or, with
		// --allow-unclassified, treated as external).
		attrs = append(attrs, "window", window)
	}
	if !gone.IsZero() {
		// The stale window: from a container's die to the ruleset
		// without it landing. Until then its addresses kept its
		// grants, which a container given one of them would have had.
		attrs = append(attrs, "stale window", stale)
	}
	if len(diff) > 0 {
		attrs = append(attrs, "diff", strings.Join(head(diff, 20), "; "))
	}
	d.e.log.Info("ruleset synced", attrs...)
	fmt.Fprintf(d.e.stdout, "synced (%s): %d changes, %d rules, %d elements", t.reason, len(diff), res.stats.Rules, res.stats.Elements)
	if n := len(p.inv.Quarantined); n > 0 {
		fmt.Fprintf(d.e.stdout, ", %d quarantined", n)
	}
	if n := len(p.inv.UnknownPorts); n > 0 {
		word := "ports"
		if n == 1 {
			word = "port"
		}
		fmt.Fprintf(d.e.stdout, ", %d bridge %s closed", n, word)
	}
	if !t.at.IsZero() {
		fmt.Fprintf(d.e.stdout, ", unclassified window %s", window)
	}
	if !gone.IsZero() {
		fmt.Fprintf(d.e.stdout, ", stale window %s", stale)
	}
	fmt.Fprintln(d.e.stdout)
	// What changed, as "ward fw plan" shows it: the first lines, so that
	// a big change does not flood the log.
	for _, l := range head(diff, 10) {
		fmt.Fprintf(d.e.stdout, "  %s\n", l)
	}
	return nil
}

// logQuarantine logs, and prints, the containers that entered or left
// quarantine since the last sync, by name and Docker ID, with the reason.
func (d *daemon) logQuarantine(now []*firewall.Quarantined) {
	cur := make(map[string]*firewall.Quarantined, len(now))
	for _, q := range now {
		cur[q.ID] = q
		if prev := d.quarantined[q.ID]; prev == nil || prev.Reason != q.Reason {
			d.e.log.Warn("container quarantined: Ward cannot classify it, so all its traffic is dropped (counted in chain unclassified); fix it or remove it",
				"container", q.Name, "id", shortID(q.ID), "reason", q.Reason)
			fmt.Fprintf(d.e.stdout, "quarantined: container %s\n", q)
		}
	}
	for id, q := range d.quarantined {
		if cur[id] == nil {
			d.e.log.Info("container out of quarantine (fixed, stopped or removed)", "container", q.Name, "id", shortID(id))
			fmt.Fprintf(d.e.stdout, "out of quarantine: container %s (%s)\n", q.Name, shortID(id))
		}
	}
	d.quarantined = cur
}

// shortID is the 12-character form of a Docker ID.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// checkTamper reports how the live table differs from the last applied
// ruleset, and whether bridged traffic has stopped meeting netfilter
// (br_netfilter unloaded, a bridge-nf-call switch turned off): containers
// of one bridge then talk past every rule of the table until the next
// sync, which a Docker event may not bring for hours. The sync it
// triggers turns the switches back on with --enable-br-netfilter, and
// otherwise fails, loudly, until they are.
func (d *daemon) checkTamper() error {
	if d.last == nil {
		return nil
	}
	if err := d.h.do(func() error { return firewall.CheckBridgeNetfilter("") }); err != nil {
		return err
	}
	diff, err := firewall.Diff(d.h.nft, d.last.rs)
	if err != nil {
		return err
	}
	if len(diff) > 0 {
		return errors.New(strings.Join(head(diff, 10), "; "))
	}
	return nil
}

// watchFiles watches the policy paths and the inventory file: a change
// to any of them is a trigger. Directories are watched with their
// subdirectories.
func (d *daemon) watchFiles(send func(trigger)) (*fsnotify.Watcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch files: %w", err)
	}
	paths := append([]string(nil), d.paths...)
	if d.f.inventory != "" {
		paths = append(paths, d.f.inventory)
	}
	for _, p := range paths {
		if p == "-" {
			continue
		}
		err := filepath.WalkDir(p, func(path string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if de.IsDir() || path == p {
				return w.Add(path)
			}
			return nil
		})
		if err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("watch %s: %w", p, err)
		}
		// A file replaced by rename (editors, kubectl, git) is seen
		// through its directory.
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			_ = w.Add(filepath.Dir(p))
		}
	}
	go func() {
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if ev.Has(fsnotify.Chmod) {
					continue
				}
				send(trigger{reason: "file " + filepath.Base(ev.Name)})
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				d.e.log.Warn("file watch", "err", err)
			}
		}
	}()
	return w, nil
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func head(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("... %d more", len(s)-n))
	}
	return s
}
