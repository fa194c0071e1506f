// Command refeval times the reference evaluator (internal/refeval) over the
// manifests in a directory: the naive O(pods² × policies) baseline of the
// benchmark table.
//
// It evaluates every ordered pair of workloads (one pod each, with its
// first known IP) on a fixed sample of TCP ports, counts the pairs with at
// least one allowed port, and prints
//
//	refeval: pairs=N allowed=M seconds=S
//
// With -max-pairs K and more than K pairs, it evaluates K pairs drawn at
// random (fixed seed) and extrapolates pairs, allowed and seconds to all
// pairs, adding extrapolated_from=K to the line.
//
// Usage:
//
//	go run ./bench/refeval [-max-pairs K] DIR...
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/wardsec/ward/internal/refeval"
	"github.com/wardsec/ward/manifest"
)

// ports is the fixed sample of TCP ports every pair is evaluated on.
var ports = []int{53, 80, 443, 3000, 5432, 6379, 8080, 9090}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("refeval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	maxPairs := fs.Int("max-pairs", 0, "evaluate at most this many pairs, drawn at random, and extrapolate (0: all)")
	budget := fs.Duration("budget", 0, "with -max-pairs, stop sampling after this long and extrapolate from the pairs done (0: no limit)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: refeval [-max-pairs K] DIR...")
		return 2
	}
	set, err := manifest.Load(manifest.Options{}, fs.Args()...)
	if set == nil {
		fmt.Fprintf(stderr, "refeval: %v\n", err)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "refeval: warning: some input did not load: %v\n", err)
	}
	fmt.Fprintf(stderr, "refeval: %d workloads, %d policies\n", len(set.Workloads), len(set.Policies))

	start := time.Now()
	e := refeval.New(set)
	pods := make([]refeval.Pod, len(set.Workloads))
	for i, w := range set.Workloads {
		pods[i] = refeval.PodOf(w)
		if len(w.IPs) > 0 {
			pods[i].IP = w.IPs[0]
		}
	}
	allows := func(i, j int) bool {
		for _, port := range ports {
			if e.Allowed(pods[i], pods[j], "TCP", port) {
				return true
			}
		}
		return false
	}

	n := len(pods)
	total := n * n // src == dst is two pods of one workload
	if *maxPairs <= 0 || total <= *maxPairs {
		allowed := 0
		for i := range n {
			for j := range n {
				if allows(i, j) {
					allowed++
				}
			}
		}
		fmt.Fprintf(stdout, "refeval: pairs=%d allowed=%d seconds=%.3f\n", total, allowed, time.Since(start).Seconds())
		return 0
	}
	r := rand.New(rand.NewPCG(1, 1)) // #nosec G404 -- a reproducible sample of pairs, not a secret
	allowed, done := 0, 0
	for done < *maxPairs {
		if allows(r.IntN(n), r.IntN(n)) {
			allowed++
		}
		done++
		if *budget > 0 && done%64 == 0 && time.Since(start) > *budget {
			break
		}
	}
	scale := float64(total) / float64(done)
	fmt.Fprintf(stdout, "refeval: pairs=%d allowed=%d seconds=%.3f extrapolated_from=%d\n",
		total, int(float64(allowed)*scale+0.5), time.Since(start).Seconds()*scale, done)
	return 0
}
