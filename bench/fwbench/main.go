// Command fwbench measures `ward fw` on synthetic clusters from Ward's
// generator (internal/synth): the time to compile the nftables ruleset
// next to the engine's own compile time in the same process, the ruleset's
// size at several cluster sizes, and, as root, the time to apply the
// ruleset in a private network namespace. See bench/README.md.
//
//	go run ./bench/fwbench                       # 1k, 10k and 100k containers
//	go run ./bench/fwbench -sizes 10000 -runs 5  # the 10k case only
package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/netnsfile"
	"github.com/wardsec/ward/internal/synth"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

func main() {
	sizes := flag.String("sizes", "1000,10000,100000", "container counts, comma-separated")
	perPolicy := flag.Int("containers-per-policy", 5, "one NetworkPolicy per this many containers (10k containers: 2k policies)")
	runs := flag.Int("runs", 3, "measure each step this many times and report the median")
	apply := flag.Int("apply", 10000, "as root, also apply the ruleset of this size in a private network namespace (0: never)")
	seed := flag.Uint64("seed", 1, "generator seed")
	flag.StringVar(&nftOut, "nft", "", "write the ruleset of the last size to this file, in nft syntax")
	flag.IntVar(&iperfRuns, "iperf", 0, "as root, with iperf3: measure TCP throughput between two lab hosts with the -apply size's ruleset loaded and with none, this many interleaved runs each (median)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the apply runs to this file")
	flag.Parse()
	profile = *cpuProfile
	if err := run(*sizes, *perPolicy, *runs, *apply, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "fwbench:", err)
		os.Exit(1)
	}
}

var (
	profile   string
	nftOut    string
	iperfRuns int
)

type row struct {
	containers, policies     int
	engine, compile, applied time.Duration
	stats                    firewall.Stats
}

func run(sizesFlag string, perPolicy, runs, applyAt int, seed uint64) error {
	if runs < 1 || perPolicy < 1 {
		return errors.New("-runs and -containers-per-policy must be positive")
	}
	var rows []row
	for _, s := range strings.Split(sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 10 {
			return fmt.Errorf("bad size %q", s)
		}
		r, err := measure(n, max(1, n/perPolicy), runs, applyAt == n, seed)
		if err != nil {
			return fmt.Errorf("%d containers: %w", n, err)
		}
		rows = append(rows, r)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "containers\tpolicies\tengine s\tfw compile s\tcompile/engine\tengine+fw s\tchains\trules\tsets+maps\telements\trules/(containers+policies)\tapply s\t")
	for _, r := range rows {
		applied := "-"
		if r.applied > 0 {
			applied = fmt.Sprintf("%.3f", r.applied.Seconds())
		}
		fmt.Fprintf(w, "%d\t%d\t%.3f\t%.3f\t%.2fx\t%.3f\t%d\t%d\t%d\t%d\t%.3f\t%s\t\n",
			r.containers, r.policies, r.engine.Seconds(), r.compile.Seconds(), r.compile.Seconds()/r.engine.Seconds(),
			(r.engine + r.compile).Seconds(), r.stats.Chains, r.stats.Rules, r.stats.Sets+r.stats.Maps, r.stats.Elements,
			float64(r.stats.Rules)/float64(r.containers+r.policies), applied)
	}
	return w.Flush()
}

// measure generates a cluster of n workloads (one container each) and p
// policies, and times the engine and the ruleset compiler on it.
func measure(n, p, runs int, apply bool, seed uint64) (row, error) {
	r := row{containers: n, policies: p}
	c, err := synth.Generate(synth.Config{Seed: seed, Workloads: n, Policies: p})
	if err != nil {
		return r, err
	}
	dir, err := os.MkdirTemp("", "fwbench-")
	if err != nil {
		return r, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if err := c.WriteDir(dir); err != nil {
		return r, err
	}
	set, err := manifest.Load(manifest.Options{}, dir)
	if err != nil {
		return r, err
	}
	// 10.0.0.0/8: room for 100k containers, which the lab's /16 has not.
	inv, err := firewall.FromManifests(set, firewall.Pool{IPv4: netip.MustParsePrefix("10.0.0.0/8"), IPv6: netip.MustParsePrefix("fd00:ba:5e::/64")})
	if err != nil {
		return r, err
	}
	r.containers = len(inv.Containers)
	model, err := inv.Set(set)
	if err != nil {
		return r, err
	}
	var eng *netpol.Engine
	var rs *firewall.Ruleset
	var engT, fwT, applyT []time.Duration
	for range runs {
		runtime.GC()
		start := time.Now()
		eng, err = netpol.Compile(model)
		if err != nil {
			return r, err
		}
		engT = append(engT, time.Since(start))
		runtime.GC()
		start = time.Now()
		rs, err = firewall.Compile(eng, inv, firewall.Options{})
		if err != nil {
			return r, err
		}
		fwT = append(fwT, time.Since(start))
	}
	r.engine, r.compile, r.stats = median(engT), median(fwT), rs.Stats()
	if nftOut != "" {
		if err := os.WriteFile(nftOut, []byte(rs.String()), 0o600); err != nil {
			return r, err
		}
	}
	if !apply {
		return r, nil
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "fwbench: not root: apply time not measured")
		return r, nil
	}
	ns, err := netnsfile.New() // a private namespace: never the machine's own
	if err != nil {
		return r, err
	}
	defer func() { _ = ns.Close() }()
	conn, err := firewall.NewConn(nftables.WithNetNSFd(int(ns.Fd())), nftables.AsLasting()) // #nosec G115 -- a file descriptor fits an int
	if err != nil {
		return r, err
	}
	var before, after unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &before)
	if profile != "" {
		f, err := os.Create(profile) // #nosec G304 -- a path the user chose for the profile
		if err != nil {
			return r, err
		}
		defer func() { _ = f.Close() }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return r, err
		}
	}
	for range runs {
		start := time.Now()
		if err := firewall.Apply(conn, rs); err != nil {
			return r, err
		}
		applyT = append(applyT, time.Since(start))
	}
	_ = unix.Getrusage(unix.RUSAGE_SELF, &after)
	if profile != "" {
		pprof.StopCPUProfile()
	}
	cpu := func(a, b unix.Timeval) float64 { return float64(b.Nano()-a.Nano()) / 1e9 / float64(runs) }
	fmt.Fprintf(os.Stderr, "fwbench: apply of %d containers: %.3f s user (Ward), %.3f s system (the kernel) per run\n",
		r.containers, cpu(before.Utime, after.Utime), cpu(before.Stime, after.Stime))
	start := time.Now()
	if err := firewall.Verify(conn, rs); err != nil {
		return r, err
	}
	fmt.Fprintf(os.Stderr, "fwbench: read-back (firewall.Verify) of %d containers: %.3f s\n", r.containers, time.Since(start).Seconds())
	r.applied = median(applyT)
	if nft, err := exec.LookPath("nft"); err == nil {
		// The baseline: nft itself loading the same ruleset's text into
		// a fresh namespace, in the same run.
		text, err := os.CreateTemp("", "fwbench-*.nft")
		if err != nil {
			return r, err
		}
		defer func() { _ = os.Remove(text.Name()) }()
		if _, err := text.WriteString(rs.String()); err != nil {
			return r, err
		}
		_ = text.Close()
		var nftT []time.Duration
		for range runs {
			start := time.Now()
			if out, err := exec.Command("unshare", "--net", nft, "-f", text.Name()).CombinedOutput(); err != nil { // #nosec G204 -- fixed programs, the benchmark's own file
				return r, fmt.Errorf("nft -f: %w: %s", err, out)
			}
			nftT = append(nftT, time.Since(start))
		}
		nftMedian := median(nftT).Seconds()
		fmt.Fprintf(os.Stderr, "fwbench: apply of %d containers: Ward %.3f s, nft -f of the same ruleset %.3f s: %.2fx (medians of %d)\n",
			r.containers, r.applied.Seconds(), nftMedian, r.applied.Seconds()/nftMedian, runs)
	}
	if iperfRuns > 0 {
		if err := throughput(inv, eng, rs, iperfRuns); err != nil {
			return r, fmt.Errorf("iperf3: %w", err)
		}
	}
	return r, nil
}

func median[T cmp.Ordered](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
