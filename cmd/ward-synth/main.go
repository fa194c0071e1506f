// Command ward-synth writes a synthetic Kubernetes cluster for benchmarks:
// namespaces, workloads, Services and NetworkPolicies, as manifests or (with
// -dump) as the output of `kubectl get -o yaml`.
//
//	ward-synth -workloads 10000 -policies 2000 -out /tmp/c10k
//	ward-synth -pods 100000 -policies 75000 -dump -out /tmp/c100k
//
// The same flags and seed always give the same bytes. Without -out the
// cluster goes to standard output.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/wardsec/ward/internal/synth"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ward-synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg    synth.Config
		format string
		out    string
		quiet  bool
	)
	fs.IntVar(&cfg.Workloads, "workloads", 0, "number of workloads, system ones included (or use -pods)")
	fs.IntVar(&cfg.Pods, "pods", 0, "number of pods, system ones included (or use -workloads)")
	fs.IntVar(&cfg.Policies, "policies", 0, "exact number of NetworkPolicies")
	fs.IntVar(&cfg.Namespaces, "namespaces", 0, "number of namespaces, at least 3 (default: one per ~50 workloads)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed")
	fs.BoolVar(&cfg.Dump, "dump", false, "write a cluster dump (Pods with owners and IPs, ReplicaSets, status) instead of manifests")
	fs.BoolVar(&cfg.Bare, "bare", false, "with -dump, leave out last-applied-configuration and managedFields")
	fs.BoolVar(&cfg.WideSelectors, "wide-selectors", false, "make about half of the application policies select same-namespace peers by cluster-wide labels (tier=backend, app.kubernetes.io/name Exists)")
	fs.IntVar(&cfg.ObjectsPerFile, "per-file", synth.DefaultObjectsPerFile, "objects per file with -out")
	fs.StringVar(&format, "format", "yaml", "file format: yaml (multi-document) or json (one List per file)")
	fs.StringVar(&out, "out", "", "directory to write files into (default: standard output)")
	fs.BoolVar(&quiet, "q", false, "do not print statistics on standard error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ward-synth (-workloads N | -pods N) -policies N [-namespaces N] [-seed N] [-dump [-bare]] [-wide-selectors] [-format yaml|json] [-out DIR]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ward-synth: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var err error
	if cfg.Format, err = synth.ParseFormat(format); err != nil {
		fmt.Fprintln(stderr, "ward-synth:", err)
		return 2
	}
	if out == "" {
		cfg.ObjectsPerFile = int(^uint(0) >> 1) // one stream, one List for JSON
	}

	start := time.Now()
	c, err := synth.Generate(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "ward-synth:", err)
		return 2
	}
	genTime := time.Since(start)
	if out != "" {
		err = c.WriteDir(out)
	} else {
		for _, f := range c.Files {
			if _, err = stdout.Write(f.Data); err != nil {
				break
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "ward-synth:", err)
		return 1
	}
	if !quiet {
		st := c.Stats
		fmt.Fprintf(stderr, "ward-synth: %d objects, %d files, %.1f MB in %.2fs (generated in %.2fs)\n",
			st.Objects, st.Files, float64(st.Bytes)/1e6, time.Since(start).Seconds(), genTime.Seconds())
		fmt.Fprintf(stderr, "ward-synth: %d workloads, %d pods on %d nodes, %d of %d namespaces with default deny\n",
			st.Workloads, st.Pods, st.Nodes, st.DefaultDenyNamespaces, st.Kinds["Namespace"])
		for _, k := range st.KindNames() {
			fmt.Fprintf(stderr, "ward-synth:   %-14s %d\n", k, st.Kinds[k])
		}
	}
	return 0
}
