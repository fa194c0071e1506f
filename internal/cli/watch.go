package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/srcpos"
	"github.com/wardsec/ward/watch"
	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
	"github.com/wardsec/ward/watch/source"
)

// maxShownProblems bounds the bad records printed one by one; the
// summary counts them all.
const maxShownProblems = 100

func watchCmd(e *env) *cobra.Command {
	var hubble, audit, manifests, clusterCIDRs []string
	var config, out, proxyAddr, metricsAddr string
	var follow bool
	var maxLine int
	var fl watchFleetFlags
	c := &cobra.Command{
		Use:   "watch --hubble FILE|- [--follow] [--manifests PATH] [--config watch.yaml]",
		Short: "Judge observed flows against the policies; detect scans, floods and unexpected egress",
		Long: `Read flow records (Hubble flow exports, ward proxy audit records), resolve
every address to the workload that owned it at that time, and raise alerts:
flows the NetworkPolicies deny that got through (critical: enforcement is
broken or bypassed), policy drops of flows they allow (stale rules),
egress outside every policy ipBlock, port scans, SYN and ICMP floods.
docs/watch.md describes every detector, its threshold and its known misses.

Alerts are JSON lines on standard output (-o json, the default) or text
lines (-o text): one report when an incident opens, one each time its
evidence doubles, one when it closes. Bad input lines are reported on
standard error with their file and line, and counted.

Exit codes: 0 nothing raised, 1 alerts raised, 2 usage or input error,
bad records, or no event read at all (never a clean result from input
Ward did not read).`,
		Example: `  ward watch --hubble flows.json --manifests cluster-dump/ --config watch.yaml
  hubble observe -o json --follow | ward watch --hubble - --manifests k8s/
  ward watch --hubble /var/log/hubble/flows.json --follow --manifests k8s/ --metrics-addr 127.0.0.1:9464
  ward watch --hubble flows.json --follow --publish tls://nats:4222 --nats-ca ca.pem --nats-creds host.creds
  ward watch --from tls://nats:4222 --durable detectors --nats-ca ca.pem --nats-creds det.creds --manifests k8s/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := outputFlag(out, "json", "text"); err != nil {
				return err
			}
			if len(hubble)+len(audit) == 0 && !fl.active() {
				return fail(ExitError, errors.New("watch needs an input: --hubble, --proxy-audit or --from"))
			}
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
			if len(manifests) > 0 {
				set, err := e.load(manifests)
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
			var sources []event.Source
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
			// Fleet mode (watchfleet.go): the sources go to NATS, or NATS is one.
			if fl.publish != "" {
				return fl.publishSources(cmd.Context(), e, sources)
			}
			closeFleet, err := fl.addSource(cmd.Context(), e, &sources)
			if err != nil {
				return fail(ExitError, err)
			}
			defer closeFleet()
			var shown int
			var mu sync.Mutex
			opts := watch.Options{Config: cfg, Table: table, Engine: eng, Clock: event.SystemClock{}, Alerts: e.stdout, Text: out == "text",
				Problem: func(p event.Problem) {
					mu.Lock()
					defer mu.Unlock()
					if shown++; shown <= maxShownProblems {
						fmt.Fprintf(e.stderr, "ward: warning: %v\n", p.Err)
					} else if shown == maxShownProblems+1 {
						fmt.Fprintln(e.stderr, "ward: warning: further bad records are counted, not shown")
					}
				}}
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
			p, err := watch.New(opts)
			if err != nil {
				return fail(ExitError, err)
			}
			sum, err := watch.Run(ctx, p, sources...)
			fmt.Fprintf(e.stderr, "ward: watch: %d events (%d judged by the policies, %d of unknown identity), %d bad records, %d lost by producers, alerts %v\n",
				sum.Events, sum.Judged, sum.Unjudged, sum.BadRecords, sum.Lost, sum.Alerts)
			var pe *srcpos.Error
			switch {
			case errors.As(err, &pe):
				return fail(ExitError, err)
			case err != nil:
				return fail(ExitError, err)
			case sum.BadRecords > 0:
				return fail(ExitError, fmt.Errorf("%d bad records: the input was not read whole", sum.BadRecords))
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
	f.StringArrayVar(&hubble, "hubble", nil, "Hubble flow export (JSON lines, `hubble observe -o json`) to read; - for standard input (repeatable)")
	f.StringArrayVar(&audit, "proxy-audit", nil, "ward proxy audit records to read; - for standard input (repeatable)")
	f.StringVar(&proxyAddr, "proxy-addr", "", "the proxy's address (IP:port), the destination of its audited requests")
	f.BoolVar(&follow, "follow", false, "keep reading the files as they grow, across rotation (rename or copytruncate), until interrupted")
	f.StringArrayVar(&manifests, "manifests", nil, "Kubernetes manifests or a cluster dump (Pods with status.podIP give identities over time) (repeatable)")
	f.StringVar(&config, "config", "", "detector thresholds (YAML; see docs/watch.md)")
	f.StringArrayVar(&clusterCIDRs, "cluster-cidr", nil, "pod or Service address range: its unclaimed addresses are unknown workloads, not the internet (repeatable; adds to clusterCIDRs)")
	f.StringVarP(&out, "output", "o", "json", "alert format: json (JSON lines) or text")
	f.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics")
	f.IntVar(&maxLine, "max-line", source.DefaultMaxLine, "longest input line in bytes; longer ones are reported and skipped")
	fl.register(f)
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
