package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/store"
)

// watchStoreFlags are ward watch's --store and --retention.
type watchStoreFlags struct {
	path      string
	retention time.Duration
}

func (s *watchStoreFlags) register(f *pflag.FlagSet) {
	f.StringVar(&s.path, "store", "", "keep alerts and the learned baseline in this SQLite file (default for live and followed sources: $XDG_STATE_HOME/ward/watch.db, else ~/.local/state/ward/watch.db; replays of files and standard input keep none unless given); none: keep nothing")
	f.DurationVar(&s.retention, "retention", store.DefaultRetention, "delete stored incidents whose last report is older than this (at start and hourly)")
}

// given reports whether --store names a store.
func (s *watchStoreFlags) given() bool { return s.path != "" && s.path != "none" }

// open opens the store: the one --store names, else the default one for
// a long-running watch (running), else none.
func (s *watchStoreFlags) open(running bool, onError func(error)) (*store.Store, error) {
	if s.retention <= 0 {
		return nil, fmt.Errorf("--retention %v: must be positive", s.retention)
	}
	path := s.path
	switch {
	case path == "none", path == "" && !running:
		return nil, nil
	case path == "":
		var err error
		if path, err = store.DefaultPath(); err != nil {
			return nil, err
		}
	}
	return store.Open(path, store.Config{Retention: s.retention, OnError: onError})
}

// closeStore closes st and says what it kept; alert reports it could not
// keep are an error (as a webhook's are).
func closeStore(st *store.Store, stderr io.Writer) error {
	s, err := st.Close()
	fmt.Fprintf(stderr, "ward: watch: store %s: %d alert reports and %d baseline keys written, %d alert reports dropped, %d old incidents deleted\n",
		st.Path(), s.Reports, s.Keys, s.Dropped, s.Pruned)
	if err == nil && s.Dropped > 0 {
		err = fmt.Errorf("store %s: %d alert reports were not stored", st.Path(), s.Dropped)
	}
	return err
}

func watchAlertsCmd(e *env) *cobra.Command {
	var path, out, detector string
	var since time.Duration
	c := &cobra.Command{
		Use:   "alerts [--store PATH] [--since DURATION] [--detector NAME] [-o text|json]",
		Short: "List the incidents ward watch stored, newest first",
		Long: `List the incidents a ward watch kept in its store (--store; by default
the one a live or followed watch keeps), the latest report of each, newest
last report first. -o json writes each report as ward watch emitted it
(JSON lines).`,
		Example: `  ward watch alerts --since 24h
  ward watch alerts --detector new-peer -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := outputFlag(out, "text", "json"); err != nil {
				return err
			}
			if since < 0 {
				return fail(ExitError, fmt.Errorf("--since %v: must not be negative", since))
			}
			if path == "" {
				var err error
				if path, err = store.DefaultPath(); err != nil {
					return fail(ExitError, err)
				}
			}
			if detector != "" && !slices.Contains(detectorNames, detector) {
				return fail(ExitError, fmt.Errorf("--detector %q: no such detector (want %s)", detector, orList(detectorNames)))
			}
			if path == "none" {
				return fail(ExitError, errors.New("--store none: no store to list"))
			}
			st, err := store.Open(path, store.Config{Existing: true})
			if err != nil {
				return fail(ExitError, err)
			}
			defer func() { _, _ = st.Close() }()
			q := store.Query{Detector: detector}
			if since > 0 {
				q.Since = time.Now().Add(-since)
			}
			alerts, err := st.Alerts(q)
			if err != nil {
				return fail(ExitError, err)
			}
			for _, a := range alerts {
				if out == "json" {
					fmt.Fprintf(e.stdout, "%s\n", a.Report)
					continue
				}
				fmt.Fprintf(e.stdout, "%s %-8s %-17s %-6s %s > %s: %s (incident %s, %d)\n",
					a.Last.Format(time.RFC3339), a.Severity, a.Detector, a.State, a.Source, a.Dest, a.Summary, a.ID, a.Count)
			}
			if _, err := st.Close(); err != nil {
				return fail(ExitError, err)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&path, "store", "", "the store (default: $XDG_STATE_HOME/ward/watch.db, else ~/.local/state/ward/watch.db)")
	f.DurationVar(&since, "since", 0, "only incidents whose last report is at most this old (0: all)")
	f.StringVar(&detector, "detector", "", "only this detector's incidents (port-scan, new-peer, ...)")
	f.StringVarP(&out, "output", "o", "text", "format: text, or json (the stored reports, one per line)")
	return c
}

// detectorNames are the detectors whose incidents the store holds, in
// docs/watch.md's order.
var detectorNames = []string{
	detect.ViolationName, detect.StaleRuleName, detect.AssertionName, detect.EgressName,
	detect.PortScanName, detect.SYNFloodName, detect.ICMPFloodName,
	detect.NewListenerName, detect.NewPeerName, detect.ZoneXferName, detect.TunnelName,
	detect.SpoofName, detect.SaturatedName,
}
