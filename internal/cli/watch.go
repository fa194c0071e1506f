package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/wardsec/ward/assertion"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/srcpos"
	"github.com/wardsec/ward/watch"
	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
	"github.com/wardsec/ward/watch/live"
	"github.com/wardsec/ward/watch/source"
)

// maxShownProblems bounds the bad records printed one by one; the
// summary counts them all.
const maxShownProblems = 100

func watchCmd(e *env) *cobra.Command {
	var hubble, audit, coredns, manifests, clusterCIDRs []string
	var config, out, proxyAddr, metricsAddr, assertions string
	var follow bool
	var maxLine int
	host := &watchHostFlags{}
	var webhookURL, webhookSecret string
	var liveView bool
	var fl watchFleetFlags
	var sf watchStoreFlags
	c := &cobra.Command{
		Use:   "watch (--hubble FILE|- | --proxy-audit FILE|- | --coredns FILE|- | --conntrack | --nflog N) [--follow] [--manifests PATH] [--docker | --inventory FILE] [--config watch.yaml]",
		Short: "Judge observed flows against the policies; detect scans, floods, unexpected egress and DNS tunnels",
		Long: `Read flow records (Hubble flow exports, ward proxy audit records,
CoreDNS query logs) or,
on a host, the kernel's connection tracking and ward fw's logged drops
(--conntrack, --nflog N, as root, until interrupted), resolve every
address to the workload that owned it at that time, and raise alerts:
flows the NetworkPolicies deny that got through (critical: enforcement is
broken or bypassed), policy drops of flows they allow (stale rules),
egress outside every policy ipBlock, flows against ward.yaml's assertions
(--assertions), port scans, SYN and ICMP floods, DNS zone transfers and
DNS tunnels.
docs/watch.md describes every detector, its threshold and its known misses.

Alerts are JSON lines on standard output (-o json, the default) or text
lines (-o text): one report when an incident opens, one each time its
evidence doubles, one when it closes. Bad input lines are reported on
standard error with their file and line, and counted.

A live or followed watch (--conntrack, --nflog, --follow, --from) keeps
every alert report and the learned baseline in a store (--store), so a
restarted watch goes on from what it learned; replays of files and
standard input keep nothing unless --store is given. ward watch alerts
lists the stored incidents.

Exit codes: 0 nothing raised, 1 alerts raised, 2 usage or input error,
bad records, events the producer reports lost, or no event read at all
(never a clean result from input Ward did not read).`,
		Example: `  ward watch --hubble flows.json --manifests cluster-dump/ --config watch.yaml
  hubble observe -o json --follow | ward watch --hubble - --manifests k8s/
  kubectl logs -n kube-system -l k8s-app=kube-dns --timestamps | ward watch --coredns - --manifests k8s/
  ward watch --hubble /var/log/hubble/flows.json --follow --manifests k8s/ --metrics-addr 127.0.0.1:9464
  ward fw run --docker --log-group 41 policies/ &   # then, on the same Docker host:
  ward watch --conntrack --nflog 41 --docker --manifests policies/
  ward watch --conntrack --publish tls://nats:4222 --nats-ca ca.pem --nats-creds host.creds
  ward watch --from tls://nats:4222 --durable detectors --nats-ca ca.pem --nats-creds det.creds --manifests k8s/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := outputFlag(out, "json", "text"); err != nil {
				return err
			}
			if len(hubble)+len(audit)+len(coredns) == 0 && !host.live() && !fl.active() {
				return fail(ExitError, errors.New("watch needs an input: --hubble, --proxy-audit, --coredns, --conntrack, --nflog or --from"))
			}
			kernelSources, closeNS, err := host.sources()
			if err != nil {
				return fail(ExitError, err)
			}
			defer closeNS()
			cfg := detect.Default()
			if config != "" {
				data, err := readInput(config, e.maxInput)
				if err != nil {
					return fail(ExitError, err)
				}
				if cfg, err = detect.ParseConfig(config, data); err != nil {
					return fail(ExitError, err)
				}
			}
			for _, s := range clusterCIDRs {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					return fail(ExitError, fmt.Errorf("--cluster-cidr %q: %w", s, err))
				}
				cfg.ClusterCIDRs = append(cfg.ClusterCIDRs, p.Masked())
			}
			var proxy netip.AddrPort
			if proxyAddr != "" {
				var err error
				if proxy, err = netip.ParseAddrPort(proxyAddr); err != nil {
					return fail(ExitError, fmt.Errorf("--proxy-addr: %w", err))
				}
			}
			table := identity.NewTable(cfg.ClusterCIDRs...)
			var eng *netpol.Engine
			if len(manifests) > 0 || host.containers() {
				var set *manifest.Set
				var err error
				if host.containers() {
					var subnets []netip.Prefix
					set, subnets, err = host.model(cmd.Context(), e, manifests)
					cfg.ClusterCIDRs = append(cfg.ClusterCIDRs, subnets...)
				} else {
					set, err = e.load(manifests)
				}
				if err != nil {
					return err
				}
				if eng, err = e.compile(set); err != nil {
					return err
				}
				table = identity.FromManifests(set, cfg.ClusterCIDRs...)
				if !set.PodIPsKnown {
					fmt.Fprintln(e.stderr, "ward: warning: the manifests hold no pod IP (status.podIP): addresses resolve only through the flow source's pod names")
				}
			} else if fl.publish == "" {
				fmt.Fprintln(e.stderr, "ward: warning: no --manifests: no identities, no policy judgement, every egress is unexpected")
			}
			var asserts *assertion.Config
			if assertions != "" {
				if eng == nil {
					return fail(ExitError, errors.New("--assertions needs --manifests: assertions judge flows with the policies' workloads"))
				}
				var err error
				if asserts, err = assertion.ReadFile(assertions, e.maxInput); err != nil {
					return fail(ExitError, err)
				}
			}
			sources := kernelSources
			stdinUsed := false
			add := func(label, path string, dec source.Decoder) error {
				l := &source.Lines{Label: label, Path: path, Follow: follow, MaxLine: maxLine, Decoder: dec}
				if path == "-" {
					if stdinUsed {
						return errors.New("standard input (-) given twice")
					}
					if follow {
						return errors.New("--follow needs files: standard input is read until it ends")
					}
					stdinUsed, l.In = true, e.stdin
				}
				sources = append(sources, l)
				return nil
			}
			for _, p := range hubble {
				if err := add("hubble", p, source.NewHubble()); err != nil {
					return fail(ExitError, err)
				}
			}
			for _, p := range audit {
				if err := add("proxy-audit", p, &source.ProxyAudit{Proxy: proxy}); err != nil {
					return fail(ExitError, err)
				}
			}
			for _, p := range coredns {
				if err := add("coredns", p, &source.CoreDNS{Clock: event.SystemClock{}}); err != nil {
					return fail(ExitError, err)
				}
			}
			// Fleet mode (watchfleet.go): the sources go to NATS, or NATS is one.
			if fl.publish != "" {
				if sf.given() {
					return fail(ExitError, errors.New("--store needs the detectors here: with --publish they run where the events go"))
				}
				return fl.publishSources(cmd.Context(), e, sources)
			}
			closeFleet, err := fl.addSource(cmd.Context(), e, &sources)
			if err != nil {
				return fail(ExitError, err)
			}
			defer closeFleet()
			var shown int
			var mu sync.Mutex
			opts := watch.Options{Config: cfg, Table: table, Engine: eng, Assertions: asserts, Clock: event.SystemClock{}, Alerts: e.stdout, Text: out == "text",
				Problem: func(p event.Problem) {
					mu.Lock()
					defer mu.Unlock()
					if shown++; shown <= maxShownProblems {
						fmt.Fprintf(e.stderr, "ward: warning: %v\n", p.Err)
					} else if shown == maxShownProblems+1 {
						fmt.Fprintln(e.stderr, "ward: warning: further bad records are counted, not shown")
					}
				}}
			// A long-running watch keeps its alerts and baseline (by
			// default); a replay keeps them only where --store says.
			st, err := sf.open(follow || host.live() || fl.active(), func(err error) {
				mu.Lock()
				defer mu.Unlock()
				fmt.Fprintf(e.stderr, "ward: warning: %v\n", err)
			})
			if err != nil {
				return fail(ExitError, err)
			}
			if st != nil {
				defer func() { _, _ = st.Close() }()
				opts.Store = st
			}
			if follow || fl.active() {
				// A quiet followed file (or NATS stream) still lets time
				// pass: incidents close and windows expire.
				opts.Quiet = time.Second
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if metricsAddr != "" {
				reg := prometheus.NewRegistry()
				opts.Registerer = reg
				shutdown, err := serveMetrics(metricsAddr, reg)
				if err != nil {
					return fail(ExitError, err)
				}
				defer shutdown()
			}
			hook, err := webhookSender(webhookURL, webhookSecret, func(err error) {
				mu.Lock()
				defer mu.Unlock()
				fmt.Fprintf(e.stderr, "ward: warning: %v\n", err)
			})
			if err != nil {
				return fail(ExitError, err)
			}
			if hook != nil {
				opts.JSONAlerts = hook
			}
			// On a terminal, unless -o says otherwise, people get the live
			// view; alert reports then go only to the view (and --webhook).
			showLive := liveView || (!cmd.Flags().Changed("output") && isTerminal(e.stdout))
			var view *live.View
			if showLive {
				view = live.New(time.Now())
				opts.Alerts, opts.Observer, opts.OnAlert = nil, view.Observe, view.Alert
			}
			p, err := watch.New(opts)
			if err != nil {
				return fail(ExitError, err)
			}
			var viewDone chan error
			stopView := func() {}
			if view != nil {
				vctx, cancel := context.WithCancel(ctx)
				viewDone, stopView = make(chan error, 1), cancel
				go func() {
					viewDone <- view.Run(vctx, e.stdout, time.Second, time.Now, func() live.Status {
						s := p.Summary()
						return live.Status{Events: s.Events, Judged: s.Judged, Unjudged: s.Unjudged, Lost: s.Lost, BadRecords: s.BadRecords}
					})
				}()
			}
			if host.containers() && host.live() {
				// Containers come and go while ward watch runs: read the
				// inventory again on the Docker Engine's events, or when
				// the inventory or a policy file changes.
				go host.follow(ctx, e, manifests, cfg.ClusterCIDRs, p)
			}
			sum, err := watch.Run(ctx, p, sources...)
			if view != nil {
				stopView()
				if verr := <-viewDone; verr != nil && err == nil {
					err = fmt.Errorf("live view: %w", verr)
				}
			}
			if st != nil {
				if serr := closeStore(st, e.stderr); serr != nil && err == nil {
					err = serr
				}
			}
			if hook != nil {
				hctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				st := hook.Close(hctx)
				cancel()
				fmt.Fprintf(e.stderr, "ward: watch: webhook: %d alert reports delivered, %d dropped (%d requests, %d retries)\n", st.Delivered, st.Dropped, st.Attempts, st.Retries)
				if st.Dropped > 0 && err == nil {
					err = fmt.Errorf("webhook: %d alert reports were not delivered", st.Dropped)
				}
			}
			fmt.Fprintf(e.stderr, "ward: watch: %d events (%d judged by the policies, %d not judged: an end of unknown identity or no transport named), %d bad records, %d lost by producers, %s\n",
				sum.Events, sum.Judged, sum.Unjudged, sum.BadRecords, sum.Lost, alertCounts(sum.Alerts))
			var pe *srcpos.Error
			switch {
			case errors.As(err, &pe):
				return fail(ExitError, err)
			case err != nil:
				return fail(ExitError, err)
			case sum.BadRecords > 0:
				return fail(ExitError, fmt.Errorf("%d bad records: the input was not read whole", sum.BadRecords))
			case sum.Lost > 0:
				return fail(ExitError, fmt.Errorf("the producers lost %d events: they were never judged", sum.Lost))
			case sum.Events == 0:
				return fail(ExitError, errors.New("no event in the input: nothing was judged"))
			}
			var raised uint64
			for _, n := range sum.Alerts {
				raised += n
			}
			if raised > 0 {
				return fail(ExitFindings, nil)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringArrayVar(&hubble, "hubble", nil, "Hubble flow export (JSON lines, as 'hubble observe -o json' writes them) to read; - for standard input (repeatable)")
	f.StringArrayVar(&audit, "proxy-audit", nil, "ward proxy audit records to read; - for standard input (repeatable)")
	f.StringArrayVar(&coredns, "coredns", nil, "CoreDNS log plugin lines (its default format; a time prefix from kubectl logs --timestamps or a CRI log file is read) to read; - for standard input (repeatable)")
	f.StringVar(&proxyAddr, "proxy-addr", "", "the proxy's address (IP:port), the destination of its audited requests")
	f.BoolVar(&follow, "follow", false, "keep reading the files as they grow, across rotation (rename or copytruncate), until interrupted")
	f.StringArrayVar(&manifests, "manifests", nil, "Kubernetes manifests or a cluster dump (Pods with status.podIP give identities over time) (repeatable)")
	f.StringVar(&config, "config", "", "detector thresholds (YAML; see docs/watch.md)")
	f.StringVar(&assertions, "assertions", "", "ward.yaml whose assertions observed flows must also keep (needs --manifests)")
	f.StringArrayVar(&clusterCIDRs, "cluster-cidr", nil, "pod or Service address range: its unclaimed addresses are unknown workloads, not the internet (repeatable; adds to clusterCIDRs)")
	f.StringVarP(&out, "output", "o", "json", "alert format: json (JSON lines) or text; on a terminal, without -o, the live view")
	f.BoolVar(&liveView, "live", false, "show the live view (top talkers, drops, recent alerts, redrawn every second) even when standard output is not a terminal")
	f.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics")
	f.IntVar(&maxLine, "max-line", source.DefaultMaxLine, "longest input line in bytes; longer ones are reported and skipped")
	host.register(f)
	f.StringVar(&webhookURL, "webhook", "", "also POST alert reports to this https URL (JSON arrays, retried with backoff); an Authorization header comes from $WARD_WEBHOOK_AUTHORIZATION, never a flag")
	f.StringVar(&webhookSecret, "webhook-secret", "", "file holding the key that signs each webhook body (X-Ward-Signature: sha256=HMAC)")
	fl.register(f)
	sf.register(f)
	c.AddCommand(watchAlertsCmd(e))
	return c
}

// readInput reads a small input file (the configuration) up to max bytes.
func readInput(path string, max int64) ([]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- a file the user named
	if err != nil {
		return nil, &srcpos.Error{File: path, Err: err}
	}
	defer f.Close()
	data, err := manifest.ReadAll(f, max)
	if err != nil {
		return nil, &srcpos.Error{File: path, Err: err}
	}
	return data, nil
}

// serveMetrics serves reg at addr until the returned function is called.
func serveMetrics(addr string, reg *prometheus.Registry) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// alertCounts writes the incidents opened per detector for the summary
// line, "alerts: new-peer 2, port-scan 1" (by name), or "no alerts".
func alertCounts(m map[string]uint64) string {
	if len(m) == 0 {
		return "no alerts"
	}
	var parts []string
	for _, d := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", d, m[d]))
	}
	return "alerts: " + strings.Join(parts, ", ")
}
