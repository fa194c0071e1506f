package netpol_test

// Differential testing: the engine against internal/refeval, a reference
// evaluator that reads the policies literally for one flow at a time. Both
// run on random small clusters (refeval.RandomObjects); every disagreement
// is shrunk to a small reproduction and printed as YAML.

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/wardsec/ward/internal/refeval"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

// TestDifferential checks a fixed sweep of random clusters, on all cores.
func TestDifferential(t *testing.T) {
	cases := 10000
	if testing.Short() {
		cases = 1000
	}
	var (
		next     atomic.Int64
		mu       sync.Mutex
		failures = map[uint64]string{}
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				seed := uint64(next.Add(1) - 1)
				if seed >= uint64(cases) {
					return
				}
				msg := checkSeed(seed, testProbes)
				if msg == "" {
					continue
				}
				mu.Lock()
				failures[seed] = msg
				if len(failures) >= 3 { // enough to act on; stop early
					next.Store(int64(cases))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	seeds := slices.Sorted(func(yield func(uint64) bool) {
		for s := range failures {
			if !yield(s) {
				return
			}
		}
	})
	for _, s := range seeds {
		t.Error(failures[s])
	}
	t.Logf("%d random clusters in %v", cases, time.Since(start).Round(time.Millisecond))
}

// FuzzDifferential drives the same generator from a fuzzed seed.
func FuzzDifferential(f *testing.F) {
	for _, s := range []uint64{0, 1, 42, 1 << 40} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		if msg := checkSeed(seed, 0); msg != "" {
			t.Fatal(msg)
		}
	})
}

// testProbes is how many (protocol, port) probes TestDifferential makes per
// pair of endpoints, to stay fast under -race; the fuzz target probes all.
const testProbes = 12

// checkSeed generates the cluster of seed and compares engine and reference
// on it, with sample probes per pair (see checker.sample). It returns ""
// when they agree, else a reproduction shrunk with every probe made.
func checkSeed(seed uint64, sample int) string {
	defaultNS, objs := refeval.RandomObjects(rand.New(rand.NewPCG(seed, 0x77617264)))
	msg, err := check(defaultNS, objs, sample)
	if err != nil {
		return fmt.Sprintf("seed %d: generator made an invalid cluster: %v\n%s", seed, err, objectsYAML(objs))
	}
	if msg == "" {
		return ""
	}
	small := shrink(defaultNS, objs)
	msg, _ = check(defaultNS, small, 0)
	return fmt.Sprintf("seed %d: engine and reference disagree (shrunk from %d to %d objects, default namespace %q)\n%s\n--- objects ---\n%s"+
		"--- to replay: testdata/fuzz/FuzzDifferential/seed-%d containing\ngo test fuzz v1\nuint64(%d)\n",
		seed, len(objs), len(small), defaultNS, msg, objectsYAML(small), seed, seed)
}

// check loads objs and compares engine and reference on every ordered pair
// of endpoints, with sample probes per pair. It returns a description of
// the first disagreement, or "". It is deterministic, so that shrinking can
// rerun it.
func check(defaultNS string, objs []any, sample int) (string, error) {
	set, err := manifest.FromObjects(defaultNS, objs...)
	if err != nil {
		return "", err
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		return "", fmt.Errorf("compile: %w", err)
	}
	// The reference reads the objects itself: it shares no code with the
	// loader's assembly of workloads, which is under test too.
	ref, refPods, err := refeval.FromObjects(defaultNS, objs)
	if err != nil {
		return "", err
	}
	c := &checker{
		set: set, eng: eng, ref: ref,
		refPods: map[string][]refeval.Pod{},
		r:       rand.New(rand.NewPCG(1, 2)),
		podIP:   map[netip.Addr]*manifest.Workload{},
		sample:  sample,
	}
	for _, p := range refPods {
		c.refPods[p.Workload] = append(c.refPods[p.Workload], p)
	}
	for _, w := range set.Workloads {
		for _, ip := range w.IPs {
			c.podIP[ip] = w
		}
	}
	if msg := c.structure(); msg != "" {
		return c.describe(msg), nil
	}
	c.ports = refeval.InterestingPorts(set, 1+c.r.IntN(65535), 1+c.r.IntN(65535))
	eps := eng.Endpoints()
	samples := make([][]refeval.Pod, len(eps))
	for i, ep := range eps {
		samples[i] = c.samples(ep)
		if c.fail != "" {
			return c.describe(c.fail), nil
		}
	}
	for i, src := range eps {
		for j, dst := range eps {
			if src.IsExternal() && dst.IsExternal() {
				continue
			}
			if msg := c.pair(src, dst, samples[i], samples[j]); msg != "" {
				return c.describe(msg), nil
			}
		}
	}
	if msg := c.connections(); msg != "" {
		return c.describe(msg), nil
	}
	if msg := c.destinations(); msg != "" {
		return c.describe(msg), nil
	}
	if msg := c.summary(); msg != "" {
		return c.describe(msg), nil
	}
	// Diff compiles a second version: one cluster in ten when sampling.
	if c.sample == 0 || c.r.IntN(10) == 0 {
		if msg, err := c.diff(defaultNS, objs); msg != "" || err != nil {
			return c.describe(msg), err
		}
	}
	return "", nil
}

// diff checks Diff against the reference: the cluster's policies against
// the same cluster without one of them (chosen at random). For sampled
// pairs of pods and probes, the reference's verdicts in the two versions
// must be the Old and New of the one change whose endpoints hold the pods,
// and equal where no change does. Diff of a version with itself is empty.
func (c *checker) diff(defaultNS string, objs []any) (string, error) {
	if cs := netpol.Diff(c.eng, c.eng); len(cs) > 0 {
		return fmt.Sprintf("Diff of a version with itself: %d changes, first %+v", len(cs), cs[0]), nil
	}
	var policies []int
	for i, o := range objs {
		if _, ok := o.(*networkingv1.NetworkPolicy); ok {
			policies = append(policies, i)
		}
	}
	if len(policies) == 0 {
		return "", nil
	}
	drop := policies[c.r.IntN(len(policies))]
	newSet, err := manifest.FromObjects(defaultNS, slices.Delete(slices.Clone(objs), drop, drop+1)...)
	if err != nil {
		return "", err
	}
	newEng, err := netpol.Compile(newSet)
	if err != nil {
		return "", fmt.Errorf("compile: %w", err)
	}
	newRef, _, err := refeval.FromObjects(defaultNS, slices.Delete(slices.Clone(objs), drop, drop+1))
	if err != nil {
		return "", err
	}
	cs := netpol.Diff(c.eng, newEng)
	// holds reports whether the change side name (an endpoint ID, with or
	// without "@ip,...", or external CIDRs) stands for pod p.
	holds := func(name string, cidrs []string, p refeval.Pod) bool {
		if p.IsExternal() {
			for _, s := range cidrs {
				if pr, err := netip.ParsePrefix(s); err == nil && pr.Contains(p.IP) {
					return true
				}
			}
			return false
		}
		id, ips, split := strings.Cut(name, "@")
		return id == p.Workload && (!split || slices.Contains(strings.Split(ips, ","), p.IP.String()))
	}
	var pods []refeval.Pod
	for _, ep := range c.eng.Endpoints() {
		pods = append(pods, c.samples(ep)...)
	}
	for range 40 {
		sp, dp := pods[c.r.IntN(len(pods))], pods[c.r.IntN(len(pods))]
		if sp.IsExternal() && dp.IsExternal() || sp.Workload == dp.Workload && sp.IP == dp.IP && sp.Workload != "" {
			continue
		}
		var found []netpol.Change
		for _, ch := range cs {
			srcCIDRs, dstCIDRs := ch.CIDRs, ch.CIDRs
			if holds(ch.Src, srcCIDRs, sp) && holds(ch.Dst, dstCIDRs, dp) {
				found = append(found, ch)
			}
		}
		if len(found) > 1 {
			return fmt.Sprintf("Diff: %s -> %s is in %d changes: %+v", sp, dp, len(found), found), nil
		}
		for range 4 {
			proto, port := portset.Protocols[c.r.IntN(len(portset.Protocols))], c.ports[c.r.IntN(len(c.ports))]
			o, n := c.ref.Allowed(sp, dp, proto.String(), port), newRef.Allowed(sp, dp, proto.String(), port)
			var co, cn bool
			if len(found) == 1 {
				co, cn = found[0].Old.Contains(proto, uint16(port)), found[0].New.Contains(proto, uint16(port))
			} else {
				co, cn = o, n // no change reported: both must agree, and be equal
				if o != n {
					return fmt.Sprintf("Diff without policy %d: flow %s changes from %s to %s, and no change reports it",
						drop, refeval.Flow(sp, dp, proto.String(), port), verdictOf(o), verdictOf(n)), nil
				}
			}
			if co != o || cn != n {
				return fmt.Sprintf("Diff without policy %d: flow %s: change %s -> %s says %s then %s, reference %s then %s",
					drop, refeval.Flow(sp, dp, proto.String(), port), found[0].Src, found[0].Dst, verdictOf(co), verdictOf(cn), verdictOf(o), verdictOf(n)), nil
			}
		}
	}
	return "", nil
}

type checker struct {
	set *manifest.Set
	eng *netpol.Engine
	ref *refeval.Evaluator
	// refPods are the reference's pods by workload ID.
	refPods map[string][]refeval.Pod
	r       *rand.Rand
	podIP   map[netip.Addr]*manifest.Workload
	ports   []int // where allowed port sets may start or end
	// sample is how many (protocol, port) probes each pair gets, drawn from
	// ports; 0 probes every protocol on every one of ports.
	sample int
	fail   string
}

// structure checks that the loader found the workloads and pod IPs the
// reference reads from the objects, that endpoints partition each
// workload's pod IPs and that EndpointOfIP finds each pod IP's endpoint.
func (c *checker) structure() string {
	if len(c.refPods) != len(c.set.Workloads) {
		var ids []string
		for id := range c.refPods {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return fmt.Sprintf("the loader found %d workloads, the reference %d: %v", len(c.set.Workloads), len(c.refPods), ids)
	}
	for _, w := range c.set.Workloads {
		var refIPs []netip.Addr
		for _, p := range c.refPods[w.ID()] {
			if p.IP.IsValid() {
				refIPs = append(refIPs, p.IP)
			}
		}
		if len(c.refPods[w.ID()]) == 0 || !slices.Equal(refIPs, w.IPs) {
			return fmt.Sprintf("workload %s: the loader found pod IPs %v, the reference %v (pods %v)", w.ID(), w.IPs, refIPs, c.refPods[w.ID()])
		}
	}
	for _, w := range c.set.Workloads {
		eps := c.eng.EndpointsOf(w)
		if len(eps) == 0 {
			return fmt.Sprintf("EndpointsOf(%s) is empty", w.ID())
		}
		var ips []netip.Addr
		for _, ep := range eps {
			if ep.Workload != w {
				return fmt.Sprintf("EndpointsOf(%s) holds %s of another workload", w.ID(), ep.ID)
			}
			ips = append(ips, ep.IPs...)
			for _, ip := range ep.IPs {
				if got := c.eng.EndpointOfIP(ip); got != ep {
					return fmt.Sprintf("EndpointOfIP(%s) = %v, want %s", ip, got, ep.ID)
				}
			}
		}
		slices.SortFunc(ips, netip.Addr.Compare)
		if !slices.Equal(ips, w.IPs) {
			return fmt.Sprintf("endpoints of %s hold IPs %v, want %v", w.ID(), ips, w.IPs)
		}
	}
	return ""
}

// samples returns the concrete pods that stand for ep: a pod per known IP
// (or one without IP) for a workload endpoint; for an external endpoint, a
// few addresses drawn from the edges of its ranges and of the ipBlocks it
// holds, none of them a pod IP. It checks that EndpointOfIP maps every such
// edge address back to ep.
func (c *checker) samples(ep *netpol.Endpoint) []refeval.Pod {
	if !ep.IsExternal() {
		// The reference's own pods of the workload, those ep stands for.
		var pods []refeval.Pod
		for _, p := range c.refPods[ep.Workload.ID()] {
			if len(ep.IPs) == 0 && !p.IP.IsValid() || slices.Contains(ep.IPs, p.IP) {
				pods = append(pods, p)
			}
		}
		return pods
	}
	var cands []netip.Addr
	for i, r := range ep.External.Ranges() {
		if i == 4 {
			break
		}
		cands = append(cands, r.From, r.From.Next(), r.To.Prev(), r.To)
	}
	for _, a := range blockEdges(c.set) {
		if ep.External.Contains(a) {
			cands = append(cands, a)
		}
	}
	var pods []refeval.Pod
	seen := map[netip.Addr]bool{}
	for _, a := range cands {
		if !a.IsValid() || seen[a] || c.podIP[a] != nil || !ep.External.Contains(a) {
			continue
		}
		seen[a] = true
		if got := c.eng.EndpointOfIP(a); got != ep {
			c.fail = fmt.Sprintf("EndpointOfIP(%s) = %v, want external endpoint %s", a, got, ep.ID)
			return nil
		}
		pods = append(pods, refeval.External(a))
	}
	// Every candidate is mapped back above; a few of them are enough to
	// stand for ep in flows, which cost far more.
	c.r.Shuffle(len(pods), func(i, j int) { pods[i], pods[j] = pods[j], pods[i] })
	return pods[:min(len(pods), maxExternalSamples)]
}

// maxExternalSamples bounds the addresses that stand for one external
// endpoint in flows.
const maxExternalSamples = 6

// blockEdges returns the edges (and their neighbours) of every ipBlock CIDR
// and except in the set's policies.
func blockEdges(set *manifest.Set) []netip.Addr {
	var out []netip.Addr
	add := func(cidr string) {
		if p, err := netip.ParsePrefix(cidr); err == nil {
			out = append(out, refeval.EdgeAddrs(p)...)
		}
	}
	forPeers(set, func(_ *manifest.Policy, peer networkingv1.NetworkPolicyPeer) {
		if peer.IPBlock != nil {
			add(peer.IPBlock.CIDR)
			for _, e := range peer.IPBlock.Except {
				add(e)
			}
		}
	})
	return out
}

func forPeers(set *manifest.Set, fn func(*manifest.Policy, networkingv1.NetworkPolicyPeer)) {
	for _, p := range set.Policies {
		for _, r := range p.Spec.Ingress {
			for _, peer := range r.From {
				fn(p, peer)
			}
		}
		for _, r := range p.Spec.Egress {
			for _, peer := range r.To {
				fn(p, peer)
			}
		}
	}
}

// pair compares the engine's ports from src to dst with the reference. With
// c.sample > 0 it makes that many random probes for one random pod on each
// side; else it probes every protocol on every interesting port for every
// pair of sampled pods (two different pods when src == dst has several).
func (c *checker) pair(src, dst *netpol.Endpoint, srcPods, dstPods []refeval.Pod) string {
	got := c.eng.Allowed(src, dst)
	probe := func(sp, dp refeval.Pod, proto portset.Protocol, port int, explain bool) string {
		g := got.Contains(proto, uint16(port))
		w := c.ref.Allowed(sp, dp, proto.String(), port)
		if g != w {
			return fmt.Sprintf("flow %s\n  engine:    %s (Allowed(%q, %q) = %s)\n  reference: %s",
				refeval.Flow(sp, dp, proto.String(), port), verdictOf(g), src.ID, dst.ID, got, verdictOf(w))
		}
		// Explain must give the same verdict and ports.
		if !explain {
			return ""
		}
		if x := c.eng.Explain(src, dst, portset.Port(proto, uint16(port))); x.Allowed != w || !x.AllowedPorts.Equal(got) {
			return fmt.Sprintf("flow %s\n  Explain:   %s, allowed ports %s\n  reference: %s (Allowed = %s)",
				refeval.Flow(sp, dp, proto.String(), port), verdictOf(x.Allowed), x.AllowedPorts, verdictOf(w), got)
		}
		return ""
	}
	if len(srcPods) == 0 || len(dstPods) == 0 {
		return ""
	}
	if c.sample > 0 {
		sp := srcPods[c.r.IntN(len(srcPods))]
		dp := dstPods[c.r.IntN(len(dstPods))]
		for src == dst && len(dstPods) > 1 && dp.IP == sp.IP {
			dp = dstPods[c.r.IntN(len(dstPods))]
		}
		for i := range c.sample {
			// Explain costs more than Allowed: one probe of each pair.
			if msg := probe(sp, dp, portset.Protocols[c.r.IntN(len(portset.Protocols))], c.ports[c.r.IntN(len(c.ports))], i == 0); msg != "" {
				return msg
			}
		}
		return ""
	}
	for _, sp := range srcPods {
		for _, dp := range dstPods {
			if src == dst && len(dstPods) > 1 && dp.IP == sp.IP {
				continue
			}
			for _, proto := range portset.Protocols {
				for _, port := range c.ports {
					if msg := probe(sp, dp, proto, port, true); msg != "" {
						return msg
					}
				}
			}
		}
	}
	return ""
}

// connections checks that Connections lists exactly the pairs with a
// non-empty Allowed, with the same ports.
func (c *checker) connections() string {
	type key struct{ src, dst *netpol.Endpoint }
	listed := map[key]portset.Set{}
	c.eng.Connections(func(src, dst *netpol.Endpoint, allowed portset.Set) bool {
		listed[key{src, dst}] = allowed
		return true
	})
	for _, src := range c.eng.Endpoints() {
		for _, dst := range c.eng.Endpoints() {
			if src.IsExternal() && dst.IsExternal() || src == dst && src.Workload.Kind == "Pod" {
				continue
			}
			want := c.eng.Allowed(src, dst)
			got, ok := listed[key{src, dst}]
			if !got.Equal(want) || ok == want.Empty() {
				return fmt.Sprintf("Connections lists %s -> %s with %s (listed: %v), Allowed says %s", src.ID, dst.ID, got, ok, want)
			}
		}
	}
	return ""
}

// destinations checks that ClassDestinations lists, for every class, in
// class order, exactly the classes with a non-empty ClassAllowed from it,
// with the same ports, and stops when told to.
func (c *checker) destinations() string {
	classes := c.eng.Classes()
	for _, src := range classes {
		var got []*netpol.Class
		c.eng.ClassDestinations(src, func(dst *netpol.Class, allowed portset.Set) bool {
			if want := c.eng.ClassAllowed(src, dst); !allowed.Equal(want) {
				got = append(got, nil)
			}
			got = append(got, dst)
			return true
		})
		var want []*netpol.Class
		for _, dst := range classes {
			if !c.eng.ClassAllowed(src, dst).Empty() {
				want = append(want, dst)
			}
		}
		if !slices.Equal(got, want) {
			return fmt.Sprintf("ClassDestinations of class %s lists %d classes, ClassAllowed has %d (or ports differ)", netpol.ClassID(src), len(got), len(want))
		}
		if len(want) > 1 {
			n := 0
			c.eng.ClassDestinations(src, func(*netpol.Class, portset.Set) bool { n++; return false })
			if n != 1 {
				return fmt.Sprintf("ClassDestinations went on after fn returned false (%d calls)", n)
			}
		}
	}
	return ""
}

// summary checks that the factored class view reconstructs ClassAllowed
// for every pair of classes, unfiltered and under a random filter (the
// classes of a random half of the endpoints on each side, and a port
// range).
func (c *checker) summary() string {
	classes := c.eng.Classes()
	compare := func(f netpol.Filter, label string) string {
		s := c.eng.Summarize(f)
		in := func(fn func(*netpol.Endpoint) bool, cl *netpol.Class) bool {
			return fn == nil || slices.ContainsFunc(cl.Members, fn)
		}
		for _, src := range classes {
			for _, dst := range classes {
				if !in(f.From, src) || !in(f.To, dst) {
					continue
				}
				want := c.eng.ClassAllowed(src, dst)
				if !f.Ports.Empty() {
					want = want.Intersect(f.Ports)
				}
				got, ok := s.Allowed(netpol.ClassID(src), netpol.ClassID(dst))
				if !ok || !got.Equal(want) {
					return fmt.Sprintf("Summarize(%s) gives class %s (%s) -> %s (%s) %s (found: %v), ClassAllowed says %s",
						label, netpol.ClassID(src), src.Members[0].ID, netpol.ClassID(dst), dst.Members[0].ID, got, ok, want)
				}
			}
		}
		return ""
	}
	if msg := compare(netpol.Filter{}, "no filter"); msg != "" {
		return msg
	}
	pick := map[*netpol.Endpoint][2]bool{}
	for _, ep := range c.eng.Endpoints() {
		pick[ep] = [2]bool{c.r.IntN(2) == 0, c.r.IntN(2) == 0}
	}
	a, b := c.ports[c.r.IntN(len(c.ports))], c.ports[c.r.IntN(len(c.ports))]
	proto := []portset.Protocol{portset.TCP, portset.UDP, portset.SCTP}[c.r.IntN(3)]
	ports := portset.Of(portset.Range{Proto: proto, Lo: uint16(min(a, b)), Hi: uint16(max(a, b))}) // #nosec G115 -- interestingPorts are within 1-65535
	f := netpol.Filter{
		From:  func(ep *netpol.Endpoint) bool { return pick[ep][0] },
		To:    func(ep *netpol.Endpoint) bool { return pick[ep][1] },
		Ports: ports,
	}
	return compare(f, "random --from, --to and --port "+ports.String())
}

func verdictOf(ok bool) string {
	if ok {
		return "allowed"
	}
	return "denied"
}

// describe adds the model the two evaluators saw to a disagreement.
func (c *checker) describe(msg string) string {
	var b strings.Builder
	b.WriteString(msg)
	b.WriteString("\nnamespaces:\n")
	for _, ns := range c.set.Namespaces {
		fmt.Fprintf(&b, "  %s %v declared=%v\n", ns.Name, ns.Labels, ns.Declared)
	}
	b.WriteString("workloads:\n")
	for _, w := range c.set.Workloads {
		var ports []string
		for _, p := range w.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d/%s", p.Name, p.Port, p.Protocol))
		}
		fmt.Fprintf(&b, "  %s labels=%v ports=%v hostNetwork=%v IPs=%v\n", w.ID(), w.Labels, ports, w.HostNetwork, w.IPs)
	}
	b.WriteString("endpoints:\n")
	for _, ep := range c.eng.Endpoints() {
		fmt.Fprintf(&b, "  %s IPs=%v\n", ep.ID, ep.IPs)
	}
	return b.String()
}

// shrink removes objects, then policy rules, peers and ports, one at a
// time, for as long as engine and reference still disagree.
func shrink(defaultNS string, objs []any) []any {
	fails := func(objs []any) bool {
		msg, err := check(defaultNS, objs, 0)
		return err == nil && msg != ""
	}
	objs = slices.Clone(objs)
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(objs); i++ {
			cand := slices.Delete(slices.Clone(objs), i, i+1)
			if fails(cand) {
				objs, changed = cand, true
				i--
			}
		}
		for i, o := range objs {
			np, ok := o.(*networkingv1.NetworkPolicy)
			if !ok {
				continue
			}
			for _, smaller := range simplerPolicies(np) {
				cand := slices.Clone(objs)
				cand[i] = smaller
				if fails(cand) {
					objs, changed = cand, true
					break
				}
			}
		}
	}
	return objs
}

// simplerPolicies returns copies of np with one rule, peer, port or except
// removed.
func simplerPolicies(np *networkingv1.NetworkPolicy) []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	edit := func(fn func(*networkingv1.NetworkPolicySpec)) {
		c := np.DeepCopy()
		fn(&c.Spec)
		out = append(out, c)
	}
	for i, r := range np.Spec.Ingress {
		edit(func(s *networkingv1.NetworkPolicySpec) { s.Ingress = slices.Delete(s.Ingress, i, i+1) })
		for j := range r.From {
			edit(func(s *networkingv1.NetworkPolicySpec) { s.Ingress[i].From = slices.Delete(s.Ingress[i].From, j, j+1) })
		}
		for j := range r.Ports {
			edit(func(s *networkingv1.NetworkPolicySpec) {
				s.Ingress[i].Ports = slices.Delete(s.Ingress[i].Ports, j, j+1)
			})
		}
	}
	for i, r := range np.Spec.Egress {
		edit(func(s *networkingv1.NetworkPolicySpec) { s.Egress = slices.Delete(s.Egress, i, i+1) })
		for j := range r.To {
			edit(func(s *networkingv1.NetworkPolicySpec) { s.Egress[i].To = slices.Delete(s.Egress[i].To, j, j+1) })
		}
		for j := range r.Ports {
			edit(func(s *networkingv1.NetworkPolicySpec) { s.Egress[i].Ports = slices.Delete(s.Egress[i].Ports, j, j+1) })
		}
	}
	return out
}

// noise matches the empty fields that typed objects marshal.
var noise = regexp.MustCompile(`(?m)^\s*(creationTimestamp: null|resources: \{\}|status: \{\}|strategy: \{\})\n`)

// objectsYAML renders objs as a multi-document YAML stream that ward loads.
func objectsYAML(objs []any) string {
	var docs []string
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			b = fmt.Appendf(nil, "# cannot marshal %T: %v\n", o, err)
		}
		docs = append(docs, string(noise.ReplaceAll(b, nil)))
	}
	return strings.Join(docs, "---\n")
}
