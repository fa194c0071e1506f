package identity

import (
	"maps"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wardsec/ward/manifest"
)

// Workload is who owned an address.
type Workload struct {
	Namespace string
	Name      string
	Kind      string
	Labels    map[string]string
	// Pod is the Pod object's name when the claim came from one.
	Pod string
	// W is the manifest workload (for the policy engine), nil when the
	// claim came from elsewhere.
	W *manifest.Workload
}

// ID is "namespace/Kind/name", as the policy engine names workloads.
func (w *Workload) ID() string { return w.Namespace + "/" + w.Kind + "/" + w.Name }

// Resolution is what an address is at a time.
type Resolution uint8

// Resolutions.
const (
	// External: not a cluster address.
	External Resolution = iota
	// Resolved: owned by a workload at that time.
	Resolved
	// Unknown: a cluster address whose owner at that time is not known
	// (before its first claim, between claims, or claimed twice at once).
	Unknown
)

var resolutionNames = [...]string{"external", "resolved", "unknown"}

func (r Resolution) String() string {
	if int(r) < len(resolutionNames) {
		return resolutionNames[r]
	}
	return "invalid"
}

// Open is the end of a claim that has not ended.
const Open = math.MaxInt64

// Claim says that Who owned Addr from From until To (Unix nanoseconds,
// To exclusive; math.MinInt64 for "since before anything was observed",
// Open for "still").
type Claim struct {
	Addr     netip.Addr
	From, To int64
	Who      *Workload
}

type span struct {
	from, to int64
	who      *Workload // nil: two claims start at once (ambiguous)
}

// Table resolves addresses. Build it with Add (or FromManifests), then
// query it; queries are safe for concurrent use once building is done,
// except ByPod, which caches.
type Table struct {
	spans   map[netip.Addr][]span
	cluster []netip.Prefix
	pods    map[[2]string]*Workload // namespace, pod name
	byNS    map[string][]*Workload
	cache   map[[2]string]*Workload
	// nodes is the nodes' own addresses (pods' status.hostIP(s) and
	// hostNetwork pods' IPs), each with the time (Unix nanoseconds) until
	// which it is the node's: Open while the input lists it.
	nodes map[netip.Addr]int64
}

// NodeGrace is how long a node address a reload no longer lists stays the
// node's: a reload read while no pod on the node reports it (the node's
// pods rescheduled) does not make the node's own traffic a pod's at once.
// Past it, or once a pod of the input owns the address, the address is no
// node's: node IPs are recycled (autoscaling; with AWS VPC CNI nodes and
// pods share a subnet) and a new pod on an old node's address had its
// egress and ICMP errors unjudged.
const NodeGrace = 5 * time.Minute

// NewTable returns an empty table; cluster lists the cluster's address
// ranges (pod CIDRs), whose unclaimed addresses are Unknown, not External.
func NewTable(cluster ...netip.Prefix) *Table {
	return &Table{spans: map[netip.Addr][]span{}, cluster: cluster, pods: map[[2]string]*Workload{},
		byNS: map[string][]*Workload{}, cache: map[[2]string]*Workload{}, nodes: map[netip.Addr]int64{}}
}

// AddNode records a node's own address (the host, not a pod): see Node.
func (t *Table) AddNode(a netip.Addr) {
	if a.IsValid() {
		t.nodes[a.Unmap()] = Open
	}
}

// Node reports whether a is a node's own address at at (Unix
// nanoseconds): a pod's hostIP, or a hostNetwork pod's IP (the same).
// Traffic from it is the host's (the kubelet, image pulls, a hostNetwork
// pod's), which NetworkPolicies do not govern. An address a pod of the
// input owns is the pod's from the pod's start; one a reload no longer
// lists stays the node's for NodeGrace.
func (t *Table) Node(a netip.Addr, at int64) bool {
	until, ok := t.nodes[a.Unmap()]
	return ok && at < until
}

// podFrom is when a pod (not a hostNetwork pod) that still holds a
// started to: Open if none does.
func (t *Table) podFrom(a netip.Addr) int64 {
	from := int64(Open)
	for _, s := range t.spans[a] {
		if s.who != nil && s.to == Open {
			from = min(from, s.from)
		}
	}
	return from
}

// Add records a claim. Claims on one address may come in any order.
func (t *Table) Add(c Claim) {
	a := c.Addr.Unmap()
	ss := t.spans[a]
	i, found := slices.BinarySearchFunc(ss, c.From, func(s span, from int64) int {
		switch {
		case s.from < from:
			return -1
		case s.from > from:
			return 1
		}
		return 0
	})
	if found {
		if ss[i].who != c.Who {
			ss[i].who = nil // two owners at once: say so, pick neither
		}
		if c.To > ss[i].to {
			ss[i].to = c.To
		}
		return
	}
	t.spans[a] = slices.Insert(ss, i, span{from: c.From, to: c.To, who: c.Who})
	if c.Who != nil && c.Who.Pod != "" {
		t.pods[[2]string{c.Who.Namespace, c.Who.Pod}] = c.Who
	}
}

// Resolve returns the owner of a at time at (Unix nanoseconds).
func (t *Table) Resolve(a netip.Addr, at int64) (*Workload, Resolution) {
	ss, ok := t.spans[a]
	if !ok && a.Is4In6() {
		a = a.Unmap()
		ss, ok = t.spans[a]
	}
	if !ok {
		if t.inCluster(a) {
			return nil, Unknown
		}
		return nil, External
	}
	// The last claim started at or before at; it ends at its own end or
	// where the next claim starts.
	i := len(ss) - 1
	for i >= 0 && ss[i].from > at {
		i--
	}
	if i < 0 {
		return nil, Unknown
	}
	end := ss[i].to
	if i+1 < len(ss) && ss[i+1].from < end {
		end = ss[i+1].from
	}
	if at >= end || ss[i].who == nil {
		return nil, Unknown
	}
	return ss[i].who, Resolved
}

func (t *Table) inCluster(a netip.Addr) bool {
	for _, p := range t.cluster {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addresses is the number of addresses with claims.
func (t *Table) Addresses() int { return len(t.spans) }

// maxPodCache bounds ByPod's cache: names come from the event stream.
const maxPodCache = 1 << 16

// ByPod returns the workload of the pod a flow source names (Hubble's
// namespace and pod_name): the Pod object of that name when the
// manifests have it, else the workload in that namespace whose name,
// followed by "-", is the longest prefix of the pod's name and the rest
// of it the shape its controller generates (see generated). It is
// a fallback for addresses the table cannot resolve, never a way to
// override a resolved address: a flow source's names are only as good as
// the source.
func (t *Table) ByPod(namespace, pod string) *Workload {
	if pod == "" {
		return nil
	}
	k := [2]string{namespace, pod}
	if w, ok := t.pods[k]; ok {
		return w
	}
	if w, ok := t.cache[k]; ok {
		return w
	}
	var best *Workload
	for _, w := range t.byNS[namespace] {
		rest, ok := strings.CutPrefix(pod, w.Name+"-")
		if ok && generated(w.Kind, rest) && (best == nil || len(w.Name) > len(best.Name)) {
			best = w
		}
	}
	if len(t.cache) < maxPodCache {
		t.cache[k] = best
	}
	return best
}

// generated reports whether suffix, after a workload's name and "-",
// has the shape the workload's controller gives its pods' names:
// Deployment <pod-template-hash>-<5>, StatefulSet an ordinal, DaemonSet,
// ReplicaSet and ReplicationController <5>, Job [<index>-]<5>, CronJob
// <time>-<5>, where <5> is five characters of Kubernetes' random
// alphabet. A pod named after a workload by hand ("web-debug") or another
// workload's pod ("web-canary-5d9c7b-x2x9q") is not the workload's: its
// labels, and so its policies, may be anything.
func generated(kind, suffix string) bool {
	head, tail, two := strings.Cut(suffix, "-")
	switch kind {
	case "StatefulSet":
		return ordinal(suffix)
	case "DaemonSet", "ReplicaSet", "ReplicationController":
		return !two && randomPart(suffix, 5, 5)
	case "Deployment":
		return two && randomPart(head, 1, 10) && randomPart(tail, 5, 5)
	case "Job":
		return !two && randomPart(suffix, 5, 5) || two && ordinal(head) && randomPart(tail, 5, 5)
	case "CronJob":
		// The Job's name is the CronJob's and the scheduled time; the
		// pod's adds <5>.
		return two && ordinal(head) && randomPart(tail, 5, 5)
	}
	return false
}

// randomPart reports whether s is lo to hi characters of the alphabet
// Kubernetes generates names and pod-template hashes from.
func randomPart(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for _, c := range []byte(s) {
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", rune(c)) {
			return false
		}
	}
	return true
}

// ordinal reports whether s is a decimal number as Kubernetes writes
// one (no sign, no leading zero).
func ordinal(s string) bool {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// FromManifests builds a table from the workloads of set: a claim for
// every pod IP of every Pod object, from the pod's start (status.startTime,
// else its creationTimestamp, else since ever) to its end (the last
// container's finishedAt once the pod Succeeded or Failed, else open).
// Workloads whose IPs are known but whose Pod objects are not (a set built
// in code) claim their IPs since ever.
func FromManifests(set *manifest.Set, cluster ...netip.Prefix) *Table {
	t := NewTable(cluster...)
	wl := map[*manifest.Workload]*Workload{}
	byIP := map[netip.Addr][]*manifest.Workload{}
	for _, mw := range set.Workloads {
		w := &Workload{Namespace: mw.Namespace, Name: mw.Name, Kind: mw.Kind, Labels: mw.Labels, W: mw}
		if mw.Kind == "Pod" {
			w.Pod = mw.Name
		}
		wl[mw] = w
		t.byNS[mw.Namespace] = append(t.byNS[mw.Namespace], w)
		for _, a := range mw.IPs {
			byIP[a] = append(byIP[a], mw)
		}
	}
	claimed := map[*manifest.Workload]bool{}
	for _, o := range set.Objects {
		pod, ok := o.Obj.(*corev1.Pod)
		if !ok {
			continue
		}
		from, to := podInterval(pod)
		for _, a := range hostIPs(pod) {
			t.AddNode(a)
		}
		for _, a := range podIPs(pod) {
			mw := owner(pod, byIP[a])
			if pod.Spec.HostNetwork {
				// The node's address, shared by the node itself, every
				// hostNetwork pod on it and the clients a NodePort
				// masquerades: no pod's. Claimed by the latest such pod
				// to start, the node's traffic was blamed on it and
				// judged by its labels (policies never select host
				// traffic by pod labels). Nobody's while the pod runs.
				if mw != nil {
					claimed[mw] = true
				}
				t.AddNode(a)
				t.Add(Claim{Addr: a, From: from, To: to})
				continue
			}
			if mw == nil {
				continue
			}
			w := wl[mw]
			if w.Pod != pod.Name {
				// One Workload per pod, sharing the manifest workload.
				c := *w
				c.Pod = pod.Name
				w = &c
			}
			claimed[mw] = true
			t.Add(Claim{Addr: a, From: from, To: to, Who: w})
		}
		if mw := ownerByName(pod, set.Workloads); mw != nil {
			if _, ok := t.pods[[2]string{pod.Namespace, pod.Name}]; !ok {
				c := *wl[mw]
				c.Pod = pod.Name
				t.pods[[2]string{pod.Namespace, pod.Name}] = &c
			}
		}
	}
	for _, mw := range set.Workloads {
		if claimed[mw] {
			continue
		}
		for _, a := range mw.IPs {
			t.Add(Claim{Addr: a, From: math.MinInt64, To: Open, Who: wl[mw]})
		}
	}
	// A hostIP a running pod of the input holds (a pod's stale status
	// naming a node since gone, its address given to the pod) is the
	// pod's from its start.
	for a := range t.nodes {
		t.nodes[a] = min(t.nodes[a], t.podFrom(a))
	}
	return t
}

// hostIPs is the addresses of the node a pod runs on, as its status
// gives them.
func hostIPs(pod *corev1.Pod) []netip.Addr {
	var out []netip.Addr
	if a, err := netip.ParseAddr(pod.Status.HostIP); err == nil {
		out = append(out, a)
	}
	for _, h := range pod.Status.HostIPs {
		if a, err := netip.ParseAddr(h.IP); err == nil {
			out = append(out, a)
		}
	}
	return out
}

func podIPs(pod *corev1.Pod) []netip.Addr {
	var out []netip.Addr
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil && !slices.Contains(out, a.Unmap()) {
			out = append(out, a.Unmap())
		}
	}
	if pod.Status.PodIP != "" {
		add(pod.Status.PodIP)
	}
	for _, ip := range pod.Status.PodIPs {
		add(ip.IP)
	}
	return out
}

// podInterval is when the pod held its IPs.
func podInterval(pod *corev1.Pod) (from, to int64) {
	from, to = math.MinInt64, Open
	switch {
	case pod.Status.StartTime != nil && !pod.Status.StartTime.IsZero():
		from = pod.Status.StartTime.UnixNano()
	case !pod.CreationTimestamp.IsZero():
		from = pod.CreationTimestamp.UnixNano()
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		var last time.Time
		for _, cs := range pod.Status.ContainerStatuses {
			if term := cs.State.Terminated; term != nil && term.FinishedAt.After(last) {
				last = term.FinishedAt.Time
			}
		}
		if !last.IsZero() {
			to = last.UnixNano()
			if to < from {
				to = from
			}
		}
	}
	return from, to
}

// owner picks, among the workloads holding the pod's IP, the one the pod
// belongs to: the Pod itself, the only candidate, or the one its owner
// references name.
func owner(pod *corev1.Pod, cands []*manifest.Workload) *manifest.Workload {
	if len(cands) == 1 {
		return cands[0]
	}
	return ownerByName(pod, cands)
}

func ownerByName(pod *corev1.Pod, ws []*manifest.Workload) *manifest.Workload {
	var best *manifest.Workload
	for _, w := range ws {
		if w.Namespace != pod.Namespace {
			continue
		}
		if w.Kind == "Pod" && w.Name == pod.Name {
			return w
		}
		for _, ref := range pod.OwnerReferences {
			// A ReplicaSet "web-7d4b9c" belongs to Deployment "web".
			if ref.Name == w.Name || strings.HasPrefix(ref.Name, w.Name+"-") && ref.Kind == "ReplicaSet" && w.Kind == "Deployment" {
				if best == nil || len(w.Name) > len(best.Name) {
					best = w
				}
			}
		}
	}
	return best
}

// Replace returns a table that answers as t before at and as next from
// at (Unix nanoseconds): when the inventory changes while ward watch runs
// (a container started, stopped, or given another container's address),
// an event is resolved by the owner its address had at its own time. The
// claims of t are cut at at; those of next start at at at the earliest.
// Pod names (ByPod) and the cluster ranges are next's.
func (t *Table) Replace(at int64, next *Table) *Table {
	out := NewTable(next.cluster...)
	for a, ss := range t.spans {
		for _, s := range ss {
			if s.from >= at {
				continue
			}
			s.to = min(s.to, at)
			out.spans[a] = append(out.spans[a], s)
		}
	}
	for a, ss := range next.spans {
		for _, s := range ss {
			if s.to <= at {
				continue
			}
			s.from = max(s.from, at)
			out.spans[a] = append(out.spans[a], s)
		}
	}
	for _, ss := range out.spans {
		slices.SortStableFunc(ss, func(x, y span) int { return cmpInt64(x.from, y.from) })
	}
	maps.Copy(out.pods, next.pods)
	// Node addresses are next's. One next lacks stays the node's for
	// NodeGrace from at (a reload read while the node's pods were
	// rescheduled), unless a pod of next holds it: then it is the pod's
	// from at. Addresses no longer the node's anywhere near at go.
	for a, until := range t.nodes {
		if _, ok := next.nodes[a]; ok {
			continue
		}
		until = min(until, at+int64(NodeGrace), max(at, next.podFrom(a)))
		if until > at-int64(NodeGrace) {
			out.nodes[a] = until
		}
	}
	maps.Copy(out.nodes, next.nodes)
	for ns, ws := range next.byNS {
		out.byNS[ns] = ws
	}
	return out
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
