package netpol_test

// The upstream Kubernetes e2e network policy scenarios
// (test/e2e/network/netpol in kubernetes/kubernetes), re-expressed as truth
// tables over Ward's engine, plus scenarios for the corners the semantics note
// lists.
//
// The model is upstream's: namespaces x, y and z (label ns=<name>, plus the
// automatic kubernetes.io/metadata.name), each with bare pods a, b and c
// (label pod=<name>). Every pod has one container per (port, protocol) among
// 80 and 81 over TCP, UDP and SCTP, named cont-<port>-<proto> and serving a
// port named serve-<port>-<proto>. Pods have IPs (x/a 10.0.0.1 ... z/c
// 10.0.2.3; namespace x is 10.0.0.0/24, y 10.0.1.0/24, z 10.0.2.0/24) so
// ipBlock scenarios work.
//
// Every expected table below is written by hand from the NetworkPolicy
// documentation and the upstream expectations, never produced by Ward. The
// pod-to-itself cells are skipped, as upstream does (loopback is always
// allowed and not decided by policy).

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

// ---------------------------------------------------------------------------
// Policy-building shorthands.

type (
	spec    = networkingv1.NetworkPolicySpec
	inRule  = networkingv1.NetworkPolicyIngressRule
	outRule = networkingv1.NetworkPolicyEgressRule
	peer    = networkingv1.NetworkPolicyPeer
	npPort  = networkingv1.NetworkPolicyPort
	ptype   = networkingv1.PolicyType
)

const (
	ingress = networkingv1.PolicyTypeIngress
	egress  = networkingv1.PolicyTypeEgress
)

func policy(ns, name string, s spec) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       s,
	}
}

// labels returns a selector with matchLabels kv[0]=kv[1], ...; labels() is
// the empty selector {}.
func labels(kv ...string) metav1.LabelSelector {
	if len(kv)%2 != 0 {
		panic("labels: odd number of arguments")
	}
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return metav1.LabelSelector{MatchLabels: m}
}

// expr returns a selector with one matchExpressions requirement.
func expr(key string, op metav1.LabelSelectorOperator, values ...string) metav1.LabelSelector {
	return metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: op, Values: values}}}
}

func podPeer(s metav1.LabelSelector) peer { return peer{PodSelector: &s} }
func nsPeer(s metav1.LabelSelector) peer  { return peer{NamespaceSelector: &s} }
func nsPodPeer(ns, pod metav1.LabelSelector) peer {
	return peer{NamespaceSelector: &ns, PodSelector: &pod}
}
func ipPeer(cidr string, except ...string) peer {
	return peer{IPBlock: &networkingv1.IPBlock{CIDR: cidr, Except: except}}
}

func protoPtr(proto string) *corev1.Protocol {
	if proto == "" {
		return nil // the API default: TCP
	}
	p := corev1.Protocol(proto)
	return &p
}

// port is a numeric port; proto "" leaves the protocol unset (TCP).
func port(p int32, proto string) npPort {
	v := intstr.FromInt32(p)
	return npPort{Port: &v, Protocol: protoPtr(proto)}
}

// named is a named port; proto "" leaves the protocol unset (TCP).
func named(name, proto string) npPort {
	v := intstr.FromString(name)
	return npPort{Port: &v, Protocol: protoPtr(proto)}
}

// portRange is port..end.
func portRange(p, end int32, proto string) npPort {
	np := port(p, proto)
	np.EndPort = &end
	return np
}

// protoOnly is a port entry with a protocol and no port: every port of it.
func protoOnly(proto string) npPort { return npPort{Protocol: protoPtr(proto)} }

func types(ts ...ptype) []ptype { return ts }

// ---------------------------------------------------------------------------
// The x/y/z model.

var (
	e2eNamespaces = []string{"x", "y", "z"}
	e2ePodNames   = []string{"a", "b", "c"}
	e2ePods       []string // "x/a", "x/b", ..., "z/c"
	e2ePorts      = []int32{80, 81}
	e2eProtocols  = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
)

func init() {
	for _, ns := range e2eNamespaces {
		for _, p := range e2ePodNames {
			e2ePods = append(e2ePods, ns+"/"+p)
		}
	}
}

func e2eIndex(pod string) int {
	for i, p := range e2ePods {
		if p == pod {
			return i
		}
	}
	panic("unknown pod " + pod)
}

// e2eIP is the pod IP of "x/a" and so on: 10.0.<ns index>.<pod index + 1>.
func e2eIP(pod string) netip.Addr {
	i := e2eIndex(pod)
	return netip.AddrFrom4([4]byte{10, 0, byte(i / 3), byte(i%3 + 1)})
}

func e2eNamespace(name string) *corev1.Namespace {
	return &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"ns": name}},
	}
}

func e2eContainers() []corev1.Container {
	var cs []corev1.Container
	for _, p := range e2ePorts {
		for _, proto := range e2eProtocols {
			suffix := fmt.Sprintf("%d-%s", p, strings.ToLower(string(proto)))
			cs = append(cs, corev1.Container{
				Name:  "cont-" + suffix,
				Image: "registry.k8s.io/e2e-test-images/agnhost:2.53",
				Ports: []corev1.ContainerPort{{Name: "serve-" + suffix, ContainerPort: p, Protocol: proto}},
			})
		}
	}
	return cs
}

func e2ePod(pod string) *corev1.Pod {
	ns, name, _ := strings.Cut(pod, "/")
	ip := e2eIP(pod).String()
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"pod": name}},
		Spec:       corev1.PodSpec{Containers: e2eContainers()},
		Status:     corev1.PodStatus{PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}},
	}
}

// e2eObjects returns the namespaces and pods of the model.
func e2eObjects() []any {
	var objs []any
	for _, ns := range e2eNamespaces {
		objs = append(objs, e2eNamespace(ns))
	}
	for _, p := range e2ePods {
		objs = append(objs, e2ePod(p))
	}
	return objs
}

// ---------------------------------------------------------------------------
// Reachability truth tables, after upstream's Reachability.

type reachability struct{ ok [9][9]bool }

// reach returns a table with every cell set to def.
func reach(def bool) *reachability {
	r := &reachability{}
	for i := range r.ok {
		for j := range r.ok[i] {
			r.ok[i][j] = def
		}
	}
	return r
}

// matches reports whether pod ("x/a") matches pattern: "*", "x/*", "*/a"
// or "x/a".
func matches(pattern, pod string) bool {
	if pattern == "*" {
		return true
	}
	pns, pname, ok := strings.Cut(pattern, "/")
	if !ok {
		panic("bad pattern " + pattern)
	}
	ns, name, _ := strings.Cut(pod, "/")
	return (pns == "*" || pns == ns) && (pname == "*" || pname == name)
}

// expect sets every cell whose source matches from and destination matches
// to (patterns as in matches).
func (r *reachability) expect(from, to string, v bool) *reachability {
	n := 0
	for i, f := range e2ePods {
		for j, t := range e2ePods {
			if matches(from, f) && matches(to, t) {
				r.ok[i][j] = v
				n++
			}
		}
	}
	if n == 0 {
		panic(fmt.Sprintf("expect(%q, %q) matches nothing", from, to))
	}
	return r
}

func (r *reachability) expectAllIngress(to string, v bool) *reachability { return r.expect("*", to, v) }
func (r *reachability) expectAllEgress(from string, v bool) *reachability {
	return r.expect(from, "*", v)
}

type probe struct {
	port  uint16
	proto portset.Protocol
	want  *reachability
}

func at(port uint16, proto portset.Protocol, want *reachability) []probe {
	return []probe{{port, proto, want}}
}

// same returns probes with one table for several (port, protocol) pairs,
// given as "80/TCP", "81/UDP", ...
func same(want *reachability, pps ...string) []probe {
	var out []probe
	for _, pp := range pps {
		s, err := portset.Parse(pp)
		if err != nil || len(s.Ranges()) != 1 || s.Ranges()[0].Lo != s.Ranges()[0].Hi {
			panic("bad probe " + pp)
		}
		r := s.Ranges()[0]
		out = append(out, probe{r.Lo, r.Proto, want})
	}
	return out
}

var allPortProtos = []string{"80/TCP", "81/TCP", "80/UDP", "81/UDP", "80/SCTP", "81/SCTP"}

// ---------------------------------------------------------------------------
// Harness.

// compile builds a Set from objs and compiles it, failing the test on error.
func compile(t *testing.T, objs ...any) (*manifest.Set, *netpol.Engine) {
	t.Helper()
	set, err := manifest.FromObjects("default", objs...)
	if err != nil {
		t.Fatalf("manifest.FromObjects: %v", err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatalf("netpol.Compile: %v", err)
	}
	return set, eng
}

// workload finds the workload ns/kind/name in set.
func workload(t *testing.T, set *manifest.Set, ns, kind, name string) *manifest.Workload {
	t.Helper()
	for _, w := range set.Workloads {
		if w.Namespace == ns && w.Kind == kind && w.Name == name {
			return w
		}
	}
	var ids []string
	for _, w := range set.Workloads {
		ids = append(ids, w.ID())
	}
	t.Fatalf("no workload %s/%s/%s in set (have %v)", ns, kind, name, ids)
	return nil
}

// soleEndpoint returns the one endpoint of w.
func soleEndpoint(t *testing.T, eng *netpol.Engine, w *manifest.Workload) *netpol.Endpoint {
	t.Helper()
	eps := eng.EndpointsOf(w)
	if len(eps) != 1 {
		t.Fatalf("EndpointsOf(%s) = %d endpoints, want 1", w.ID(), len(eps))
	}
	if eps[0].Workload != w {
		t.Fatalf("EndpointsOf(%s)[0].Workload = %v, want the workload itself", w.ID(), eps[0].Workload)
	}
	return eps[0]
}

// externalEndpoint returns EndpointOfIP(ip) and checks it is external.
func externalEndpoint(t *testing.T, eng *netpol.Engine, ip string) *netpol.Endpoint {
	t.Helper()
	a := netip.MustParseAddr(ip)
	ep := eng.EndpointOfIP(a)
	if ep == nil {
		t.Fatalf("EndpointOfIP(%s) = nil, want an external endpoint", ip)
	}
	if ep.Workload != nil {
		t.Fatalf("EndpointOfIP(%s) = pod endpoint of %s, want an external endpoint", ip, ep.Workload.ID())
	}
	if !ep.External.Contains(a) {
		t.Fatalf("EndpointOfIP(%s).External = %v, does not contain %s", ip, ep.External, ip)
	}
	return ep
}

// wantPorts checks that got equals want, a portset.Parse list or "none".
func wantPorts(t *testing.T, what string, got portset.Set, want string) {
	t.Helper()
	w := portset.Set{}
	if want != "none" {
		var err error
		w, err = portset.Parse(want)
		if err != nil {
			t.Fatalf("bad want %q: %v", want, err)
		}
	}
	if !got.Equal(w) {
		t.Errorf("%s: Allowed = %v, want %v", what, got, w)
	}
}

// wantAllows checks that got holds every pair in has and none in hasNot
// (comma-separated portset.Parse lists, or "").
func wantAllows(t *testing.T, what string, got portset.Set, has, hasNot string) {
	t.Helper()
	for _, list := range []struct {
		s    string
		want bool
	}{{has, true}, {hasNot, false}} {
		if list.s == "" {
			continue
		}
		ps, err := portset.Parse(list.s)
		if err != nil {
			t.Fatalf("bad port list %q: %v", list.s, err)
		}
		for _, r := range ps.Ranges() {
			for p := uint32(r.Lo); p <= uint32(r.Hi); p++ {
				if got.Contains(r.Proto, uint16(p)) != list.want {
					verb := "allow"
					if !list.want {
						verb = "not allow"
					}
					t.Errorf("%s: Allowed = %v; want it to %s %d/%s", what, got, verb, p, r.Proto)
				}
			}
		}
	}
}

type e2eEnv struct {
	set *manifest.Set
	eng *netpol.Engine
	ep  map[string]*netpol.Endpoint // "x/a" -> its endpoint
}

func newE2E(t *testing.T, policies ...*networkingv1.NetworkPolicy) *e2eEnv {
	t.Helper()
	objs := e2eObjects()
	for _, p := range policies {
		objs = append(objs, p)
	}
	set, eng := compile(t, objs...)
	env := &e2eEnv{set: set, eng: eng, ep: map[string]*netpol.Endpoint{}}
	for _, pod := range e2ePods {
		ns, name, _ := strings.Cut(pod, "/")
		env.ep[pod] = soleEndpoint(t, eng, workload(t, set, ns, "Pod", name))
	}
	return env
}

// table computes the engine's truth table for one probe.
func (env *e2eEnv) table(p probe) (*reachability, [9][9]portset.Set) {
	got := &reachability{}
	var sets [9][9]portset.Set
	for i, f := range e2ePods {
		for j, to := range e2ePods {
			if i == j {
				continue
			}
			s := env.eng.Allowed(env.ep[f], env.ep[to])
			sets[i][j] = s
			got.ok[i][j] = s.Contains(p.proto, p.port)
		}
	}
	return got, sets
}

func (env *e2eEnv) check(t *testing.T, probes ...probe) {
	t.Helper()
	for _, p := range probes {
		got, sets := env.table(p)
		var diffs []string
		for i := range e2ePods {
			for j := range e2ePods {
				if i != j && got.ok[i][j] != p.want.ok[i][j] {
					diffs = append(diffs, fmt.Sprintf("  %s -> %s: want %s, got %s (Allowed = %v)",
						e2ePods[i], e2ePods[j], verdict(p.want.ok[i][j]), verdict(got.ok[i][j]), sets[i][j]))
				}
			}
		}
		if len(diffs) > 0 {
			t.Errorf("probe %d/%s: %d cells differ (rows = from, columns = to; . allowed, X denied, - loopback, * marks a difference)\n%s\n%s",
				p.port, p.proto, len(diffs), grids(p.want, got), strings.Join(diffs, "\n"))
		}
	}
}

func verdict(ok bool) string {
	if ok {
		return "allowed"
	}
	return "denied"
}

// grids renders want, got and their difference side by side.
func grids(want, got *reachability) string {
	var b strings.Builder
	row := func(title string) {
		fmt.Fprintf(&b, "%-6s", title)
		for _, to := range e2ePods {
			fmt.Fprintf(&b, "%4s", to)
		}
	}
	row("want")
	b.WriteString("    ")
	row("got")
	b.WriteString("    ")
	row("diff")
	b.WriteByte('\n')
	cell := func(r *reachability, i, j int) string {
		switch {
		case i == j:
			return "-"
		case r.ok[i][j]:
			return "."
		}
		return "X"
	}
	for i, f := range e2ePods {
		fmt.Fprintf(&b, "%-6s", f)
		for j := range e2ePods {
			fmt.Fprintf(&b, "%4s", cell(want, i, j))
		}
		b.WriteString("    ")
		fmt.Fprintf(&b, "%-6s", f)
		for j := range e2ePods {
			fmt.Fprintf(&b, "%4s", cell(got, i, j))
		}
		b.WriteString("    ")
		fmt.Fprintf(&b, "%-6s", f)
		for j := range e2ePods {
			d := ""
			if i == j {
				d = "-"
			} else if want.ok[i][j] != got.ok[i][j] {
				d = "*"
			}
			fmt.Fprintf(&b, "%4s", d)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// The model itself.

func TestE2E_Model(t *testing.T) {
	env := newE2E(t)
	for _, ns := range e2eNamespaces {
		n := env.set.Namespace(ns)
		if n == nil {
			t.Fatalf("namespace %s missing", ns)
		}
		if n.Labels["ns"] != ns || n.Labels[manifest.MetadataNameLabel] != ns {
			t.Errorf("namespace %s labels = %v, want ns=%s and %s=%s", ns, n.Labels, ns, manifest.MetadataNameLabel, ns)
		}
	}
	for _, pod := range e2ePods {
		ep := env.ep[pod]
		ip := e2eIP(pod)
		if len(ep.IPs) != 1 || ep.IPs[0] != ip {
			t.Errorf("%s endpoint IPs = %v, want [%s]", pod, ep.IPs, ip)
		}
		if byIP := env.eng.EndpointOfIP(ip); byIP == nil || byIP.ID != ep.ID {
			t.Errorf("EndpointOfIP(%s) = %v, want the endpoint of %s (%s)", ip, byIP, pod, ep.ID)
		}
		if n := len(ep.Workload.Ports); n != 6 {
			t.Errorf("%s has %d ports, want 6", pod, n)
		}
	}
	// No policies: everything reaches everything, on every port and protocol.
	env.check(t, same(reach(true), allPortProtos...)...)
	for _, f := range e2ePods {
		for _, to := range e2ePods {
			if f != to {
				wantAllows(t, f+" -> "+to, env.eng.Allowed(env.ep[f], env.ep[to]), "80,81,8080/TCP,80-81/UDP,53/UDP,80-81/SCTP", "")
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Scenarios.

type e2eScenario struct {
	name     string
	policies []*networkingv1.NetworkPolicy
	probes   []probe
	// extra checks beyond the pod truth tables (external endpoints).
	extra func(t *testing.T, env *e2eEnv)
}

func probes(groups ...[]probe) []probe {
	var out []probe
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// denyAllIngressX is upstream's default-deny-ingress policy in x.
func denyAllIngressX() *networkingv1.NetworkPolicy {
	return policy("x", "deny-ingress", spec{PodSelector: labels(), PolicyTypes: types(ingress)})
}

func e2eScenarios() []e2eScenario {
	return []e2eScenario{
		{
			name:     "DefaultDenyIngress",
			policies: []*networkingv1.NetworkPolicy{denyAllIngressX()},
			probes:   same(reach(true).expect("*", "x/*", false), allPortProtos...),
		},
		{
			// ingress: [] (present but empty) with Ingress in policyTypes is the same deny.
			name: "DefaultDenyIngressEmptyList",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "deny-ingress", spec{PodSelector: labels(), PolicyTypes: types(ingress), Ingress: []inRule{}}),
			},
			probes: same(reach(true).expect("*", "x/*", false), "80/TCP", "81/UDP"),
		},
		{
			name: "DefaultDenyAll",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "deny-all", spec{PodSelector: labels(), PolicyTypes: types(ingress, egress)}),
			},
			probes: same(reach(true).expect("*", "x/*", false).expect("x/*", "*", false), allPortProtos...),
		},
		{
			name: "DenyEgressFromAllPodsInNamespace",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "deny-egress-ns-x", spec{PodSelector: labels(), PolicyTypes: types(egress)}),
			},
			probes: same(reach(true).expect("x/*", "*", false), allPortProtos...),
		},
		{
			name: "DenyEgressPodSelector",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "deny-egress-pod-a", spec{PodSelector: labels("pod", "a"), PolicyTypes: types(egress)}),
			},
			probes: same(reach(true).expectAllEgress("x/a", false), "80/TCP", "81/SCTP"),
		},
		{
			name: "AllowAllIngress",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-all", spec{PodSelector: labels(), Ingress: []inRule{{}}}),
			},
			probes: same(reach(true), allPortProtos...),
		},
		{
			// Policy isolates x/a and allows only x/b (podSelector alone: own namespace).
			name: "AllowFromPodSelectorWithinNamespace",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "x-a-allows-x-b", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{podPeer(labels("pod", "b"))}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false).expect("x/b", "x/a", true), "80/TCP", "81/UDP"),
		},
		{
			// deny-all in x, plus allow-all-to-a from podSelector {} + namespaceSelector {}.
			name: "AllowIngressToTarget",
			policies: []*networkingv1.NetworkPolicy{
				denyAllIngressX(),
				policy("x", "allow-all-to-a", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{nsPodPeer(labels(), labels())}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/b", false).expectAllIngress("x/c", false), "80/TCP", "81/SCTP"),
		},
		{
			name: "AllowFromAllNamespaces",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-from-another-ns", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{nsPeer(labels())}}}}),
			},
			probes: same(reach(true), "80/TCP", "81/UDP"),
		},
		{
			// Within namespace: a peer with podSelector {} is every pod of x only.
			name: "AllowIngressWithinNamespace",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "deny-empty-policy", spec{PodSelector: labels(),
					Ingress: []inRule{{From: []peer{podPeer(labels())}}}}),
			},
			probes: same(reach(true).expect("y/*", "x/*", false).expect("z/*", "x/*", false), "80/TCP", "81/UDP"),
		},
		{
			name: "AllowFromNamespaceByCustomLabel",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-ns-y", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{nsPeer(labels("ns", "y"))}}}}),
			},
			probes: same(reach(true).expect("x/*", "x/a", false).expect("z/*", "x/a", false), "80/TCP", "81/TCP"),
		},
		{
			name: "AllowFromNamespaceByMetadataNameLabel",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-ns-y-immutable-label", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{nsPeer(labels(manifest.MetadataNameLabel, "y"))}}}}),
			},
			probes: same(reach(true).expect("x/*", "x/a", false).expect("z/*", "x/a", false), "80/TCP"),
		},
		{
			name: "PodSelectorMatchExpressionsIn",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "x-a-allows-x-b", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{podPeer(expr("pod", metav1.LabelSelectorOpIn, "b"))}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false).expect("x/b", "x/a", true), "80/TCP"),
		},
		{
			// pod NotIn (b): x/c (and x/a itself) in namespace x only.
			name: "PodSelectorMatchExpressionsNotIn",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "x-a-allows-not-b", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{podPeer(expr("pod", metav1.LabelSelectorOpNotIn, "b"))}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false).expect("x/c", "x/a", true), "80/TCP"),
		},
		{
			// pod Exists: every pod of x (all carry the pod label).
			name: "PodSelectorMatchExpressionsExists",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "x-a-allows-pods-with-label", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{podPeer(expr("pod", metav1.LabelSelectorOpExists))}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false).expect("x/*", "x/a", true), "80/TCP"),
		},
		{
			// pod DoesNotExist: no pod lacks the label, so nothing reaches x/a.
			name: "PodSelectorMatchExpressionsDoesNotExist",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "x-a-allows-unlabelled", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{podPeer(expr("pod", metav1.LabelSelectorOpDoesNotExist))}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false), "80/TCP"),
		},
		{
			// The selected pods: matchExpressions in spec.podSelector too
			// (pod In (a, b) is isolated, x/c is not).
			name: "PolicyPodSelectorMatchExpressions",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "deny-a-b", spec{PodSelector: expr("pod", metav1.LabelSelectorOpIn, "a", "b"), PolicyTypes: types(ingress)}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false).expectAllIngress("x/b", false), "80/TCP"),
		},
		{
			name: "NamespaceSelectorMatchExpressionsIn",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-ns-y-match-selector", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{nsPeer(expr(manifest.MetadataNameLabel, metav1.LabelSelectorOpIn, "y"))}}}}),
			},
			probes: same(reach(true).expect("x/*", "x/a", false).expect("z/*", "x/a", false), "80/TCP"),
		},
		{
			name: "NamespaceSelectorMatchExpressionsNotIn",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-not-x", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{nsPeer(expr("ns", metav1.LabelSelectorOpNotIn, "x"))}}}}),
			},
			probes: same(reach(true).expect("x/*", "x/a", false), "80/TCP"),
		},
		{
			// Egress with namespaceSelector NotIn (y) on the immutable label.
			name: "EgressNamespaceSelectorNotIn",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-ns-not-y", spec{PodSelector: labels("pod", "a"),
					Egress: []outRule{{To: []peer{nsPeer(expr(manifest.MetadataNameLabel, metav1.LabelSelectorOpNotIn, "y"))}}}}),
			},
			// No policyTypes and an egress section: Ingress and Egress; no
			// ingress rules, so x/a also denies all ingress.
			probes: same(reach(true).expect("x/a", "y/*", false).expectAllIngress("x/a", false), "80/TCP"),
		},
		{
			// namespaceSelector Exists(ns) AND podSelector pod=b: every b.
			// namespaceSelector DoesNotExist(ns): no namespace at all.
			name: "NamespaceSelectorExistsAndDoesNotExist",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-all-b", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{nsPodPeer(expr("ns", metav1.LabelSelectorOpExists), labels("pod", "b"))}}}}),
				policy("x", "allow-unlabelled-ns", spec{PodSelector: labels("pod", "c"),
					Ingress: []inRule{{From: []peer{nsPeer(expr("ns", metav1.LabelSelectorOpDoesNotExist))}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false).expect("*/b", "x/a", true).expectAllIngress("x/c", false), "80/TCP"),
		},
		{
			// Two peers: namespace not x, OR pod b (in x).
			name: "PodSelectorOrNamespaceSelector",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-not-x-or-b", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{
						nsPeer(expr(manifest.MetadataNameLabel, metav1.LabelSelectorOpNotIn, "x")),
						podPeer(labels("pod", "b")),
					}}}}),
			},
			probes: same(reach(true).expect("x/c", "x/a", false), "80/TCP"),
		},
		{
			// One peer: namespace not x AND pod b.
			name: "PodSelectorAndNamespaceSelector",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-not-x-and-b", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{
						nsPodPeer(expr(manifest.MetadataNameLabel, metav1.LabelSelectorOpNotIn, "x"), labels("pod", "b")),
					}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false).expect("y/b", "x/a", true).expect("z/b", "x/a", true), "80/TCP"),
		},
		{
			name: "MultiplePodSelectorsAndNamespaceSelectors",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-ns-y-z-pod-b-c", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{
						nsPodPeer(expr(manifest.MetadataNameLabel, metav1.LabelSelectorOpNotIn, "x"), expr("pod", metav1.LabelSelectorOpIn, "b", "c")),
					}}}}),
			},
			probes: same(reach(true).expect("x/*", "x/a", false).expect("*/a", "x/a", false), "80/TCP"),
		},
		{
			name: "AnyPodSelectors",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-ns-x-pod-b-c", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{podPeer(labels("pod", "b")), podPeer(labels("pod", "c"))}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false).expect("x/b", "x/a", true).expect("x/c", "x/a", true), "80/TCP"),
		},
		{
			name: "OnlyFromPodInOtherNamespace",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-ns-y-pod-a", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{nsPodPeer(labels("ns", "y"), labels("pod", "a"))}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false).expect("y/a", "x/a", true), "80/TCP", "80/UDP", "80/SCTP"),
		},
		{
			// Port 81/TCP from y only; 80 is denied to everyone; 81/UDP too.
			name: "AllowSpecificPort",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-81-from-y", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{nsPeer(labels("ns", "y"))}, Ports: []npPort{port(81, "TCP")}}}}),
			},
			probes: probes(
				same(reach(true).expect("x/*", "x/a", false).expect("z/*", "x/a", false), "81/TCP"),
				same(reach(true).expectAllIngress("x/a", false), "80/TCP", "81/UDP", "81/SCTP"),
			),
		},
		{
			// Stacked policies: 81 from y, and a second policy adds 80 from y.
			name: "StackedPoliciesAddPorts",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-81-from-y", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{nsPeer(labels("ns", "y"))}, Ports: []npPort{port(81, "TCP")}}}}),
				policy("x", "allow-80-from-y", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{nsPeer(labels("ns", "y"))}, Ports: []npPort{port(80, "")}}}}),
			},
			probes: probes(
				same(reach(true).expect("x/*", "x/a", false).expect("z/*", "x/a", false), "80/TCP", "81/TCP"),
				same(reach(true).expectAllIngress("x/a", false), "80/UDP"),
			),
		},
		{
			// Two policies, different peers: the union.
			name: "TwoPoliciesAdditive",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "from-b", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{podPeer(labels("pod", "b"))}}}}),
				policy("x", "from-y", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{nsPeer(labels("ns", "y"))}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false).expect("x/b", "x/a", true).expect("y/*", "x/a", true), "80/TCP", "81/UDP"),
		},
		{
			// Named port serve-81-tcp on every pod of x; the protocol
			// defaults to TCP, so 81/UDP (serve-81-udp) is not allowed.
			name: "IngressNamedPort",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-81-named", spec{PodSelector: labels(),
					Ingress: []inRule{{Ports: []npPort{named("serve-81-tcp", "")}}}}),
			},
			probes: probes(
				same(reach(true), "81/TCP"),
				same(reach(true).expect("*", "x/*", false), "80/TCP", "81/UDP", "81/SCTP"),
			),
		},
		{
			name: "IngressNamedPortFromNamespace",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-80-named-from-y", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{nsPeer(labels(manifest.MetadataNameLabel, "y"))}, Ports: []npPort{named("serve-80-tcp", "TCP")}}}}),
			},
			probes: probes(
				same(reach(true).expect("x/*", "x/a", false).expect("z/*", "x/a", false), "80/TCP"),
				same(reach(true).expectAllIngress("x/a", false), "81/TCP", "80/UDP"),
			),
		},
		{
			// serve-80-tcp with protocol UDP: the name is a TCP port, so the
			// rule allows nothing; x/a is isolated and denies everything.
			name: "NamedPortWrongProtocol",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "udp-on-tcp-name", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{Ports: []npPort{named("serve-80-tcp", "UDP")}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false), allPortProtos...),
		},
		{
			// serve-80-udp with protocol UDP does match.
			name: "NamedPortUDP",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "udp-name", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{Ports: []npPort{named("serve-80-udp", "UDP")}}}}),
			},
			probes: probes(
				same(reach(true), "80/UDP"),
				same(reach(true).expectAllIngress("x/a", false), "80/TCP", "81/UDP", "80/SCTP"),
			),
		},
		{
			// Egress on a named port: resolved on each destination pod.
			name: "EgressNamedPort",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-egress", spec{PodSelector: labels(),
					Egress: []outRule{{Ports: []npPort{named("serve-80-tcp", "")}}}}),
			},
			// No policyTypes with an egress section: Ingress is implied too,
			// with no ingress rules, so x also denies all ingress.
			probes: probes(
				same(reach(true).expect("*", "x/*", false), "80/TCP"),
				same(reach(true).expect("*", "x/*", false).expect("x/*", "*", false), "81/TCP", "80/UDP"),
			),
		},
		{
			// Same, with policyTypes [Egress] as upstream means it: ingress open.
			name: "EgressNamedPortEgressOnly",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-egress", spec{PodSelector: labels(), PolicyTypes: types(egress),
					Egress: []outRule{{Ports: []npPort{named("serve-80-tcp", "")}}}}),
			},
			probes: probes(
				same(reach(true), "80/TCP"),
				same(reach(true).expect("x/*", "*", false), "81/TCP", "80/UDP", "80/SCTP"),
			),
		},
		{
			name: "EndPortRangeCovering80And81",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "range-80-81", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{Ports: []npPort{portRange(80, 81, "TCP")}}}}),
			},
			probes: probes(
				same(reach(true), "80/TCP", "81/TCP"),
				same(reach(true).expectAllIngress("x/a", false), "80/UDP", "81/SCTP"),
			),
		},
		{
			name: "EndPortRange81To81",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "range-81-81", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{Ports: []npPort{portRange(81, 81, "")}}}}),
			},
			probes: probes(
				same(reach(true), "81/TCP"),
				same(reach(true).expectAllIngress("x/a", false), "80/TCP", "81/UDP"),
			),
		},
		{
			name: "EndPortRangeNotCovering",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "range-82-8080", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{Ports: []npPort{portRange(82, 8080, "TCP")}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false), "80/TCP", "81/TCP"),
			extra: func(t *testing.T, env *e2eEnv) {
				wantPorts(t, "y/a -> x/a", env.eng.Allowed(env.ep["y/a"], env.ep["x/a"]), "82-8080/TCP")
			},
		},
		{
			// Egress endPort range.
			name: "EgressEndPortRange",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "egress-range", spec{PodSelector: labels("pod", "a"), PolicyTypes: types(egress),
					Egress: []outRule{{To: []peer{nsPeer(labels("ns", "z"))}, Ports: []npPort{portRange(81, 90, "SCTP")}}}}),
			},
			probes: probes(
				same(reach(true).expectAllEgress("x/a", false).expect("x/a", "z/*", true), "81/SCTP"),
				same(reach(true).expectAllEgress("x/a", false), "80/SCTP", "81/TCP"),
			),
		},
		{
			// Several port entries in one rule: 80/TCP and 81/UDP, nothing else.
			name: "MultiplePortEntries",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "two-ports", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{Ports: []npPort{port(80, "TCP"), port(81, "UDP")}}}}),
			},
			probes: probes(
				same(reach(true), "80/TCP", "81/UDP"),
				same(reach(true).expectAllIngress("x/a", false), "81/TCP", "80/UDP", "80/SCTP", "81/SCTP"),
			),
		},
		{
			// Two rules with different peers and ports: per-rule, not a cross product.
			name: "MultipleRulesPortsPerPeer",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "rules", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{
						{From: []peer{nsPeer(labels("ns", "y"))}, Ports: []npPort{port(80, "")}},
						{From: []peer{nsPeer(labels("ns", "z"))}, Ports: []npPort{port(81, "")}},
					}}),
			},
			probes: probes(
				at(80, portset.TCP, reach(true).expectAllIngress("x/a", false).expect("y/*", "x/a", true)),
				at(81, portset.TCP, reach(true).expectAllIngress("x/a", false).expect("z/*", "x/a", true)),
			),
		},
		{
			// A port entry with only a protocol: every TCP port.
			name: "ProtocolOnlyTCP",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-ingress-by-proto", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{Ports: []npPort{protoOnly("TCP")}}}}),
			},
			probes: probes(
				same(reach(true), "80/TCP", "81/TCP"),
				same(reach(true).expectAllIngress("x/a", false), "80/UDP", "80/SCTP"),
			),
		},
		{
			name: "UDPOnly",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-only-udp-81", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{Ports: []npPort{port(81, "UDP")}}}}),
			},
			probes: probes(
				same(reach(true), "81/UDP"),
				same(reach(true).expectAllIngress("x/a", false), "81/TCP", "80/UDP", "81/SCTP"),
			),
		},
		{
			// default-deny in x plus SCTP 81 to x/a: TCP 81 stays blocked.
			name: "SCTPOnlyNotTCP",
			policies: []*networkingv1.NetworkPolicy{
				denyAllIngressX(),
				policy("x", "allow-only-sctp-81", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{Ports: []npPort{port(81, "SCTP")}}}}),
			},
			probes: probes(
				same(reach(true).expect("*", "x/*", false), "81/TCP", "80/SCTP", "81/UDP"),
				at(81, portset.SCTP, reach(true).expectAllIngress("x/b", false).expectAllIngress("x/c", false)),
			),
		},
		{
			// A policy allowing only SCTP 80 still isolates x/a for TCP.
			name: "SCTPPolicyIsolates",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-only-sctp-80", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{Ports: []npPort{port(80, "SCTP")}}}}),
			},
			probes: probes(
				same(reach(true).expectAllIngress("x/a", false), "81/TCP", "80/TCP", "81/SCTP"),
				same(reach(true), "80/SCTP"),
			),
		},
		{
			name: "IPBlockIngressFromPodIP",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "from-y-b-ip", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{ipPeer("10.0.1.2/32")}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false).expect("y/b", "x/a", true), "80/TCP", "81/UDP"),
		},
		{
			// except carves y/b out of the block...
			name: "IPBlockExceptIngress",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "from-cluster-but-y-b", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{ipPeer("10.0.0.0/16", "10.0.1.2/32")}}}}),
			},
			probes: same(reach(true).expect("y/b", "x/a", false), "80/TCP"),
		},
		{
			// ... but except is no deny: another rule still lets y/b in.
			name: "IPBlockExceptIsNotADeny",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "from-cluster-but-y-b", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{
						{From: []peer{ipPeer("10.0.0.0/16", "10.0.1.2/32")}},
						{From: []peer{nsPodPeer(labels("ns", "y"), labels("pod", "b"))}},
					}}),
			},
			probes: same(reach(true), "80/TCP", "81/SCTP"),
		},
		{
			// Upstream: egress to a large CIDR except x/b.
			name: "IPBlockExceptEgress",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-client-a-via-cidr-egress-rule", spec{PodSelector: labels("pod", "a"),
					Egress: []outRule{{To: []peer{ipPeer("10.0.0.0/8", "10.0.0.2/32")}}}}),
			},
			// No policyTypes, egress section: x/a is ingress-isolated as well.
			probes: same(reach(true).expect("x/a", "x/b", false).expectAllIngress("x/a", false), "80/TCP"),
		},
		{
			// Upstream: an IP in both cidr and except of one policy is
			// allowed when a second policy allows it.
			name: "IPBlockExceptOverlapAllowedBySecondPolicy",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "egress-cidr-but-x-b", spec{PodSelector: labels("pod", "a"), PolicyTypes: types(egress),
					Egress: []outRule{{To: []peer{ipPeer("10.0.0.0/8", "10.0.0.2/32")}}}}),
				policy("x", "egress-x-b", spec{PodSelector: labels("pod", "a"), PolicyTypes: types(egress),
					Egress: []outRule{{To: []peer{ipPeer("10.0.0.2/32")}}}}),
			},
			probes: same(reach(true), "80/TCP", "81/UDP"),
		},
		{
			// Upstream: egress to one pod's /32.
			name: "IPBlockEgressToPodIP",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-client-a-via-cidr-egress-rule", spec{PodSelector: labels("pod", "a"), PolicyTypes: types(egress),
					Egress: []outRule{{To: []peer{ipPeer("10.0.1.2/32")}}}}),
			},
			probes: same(reach(true).expectAllEgress("x/a", false).expect("x/a", "y/b", true), "80/TCP"),
		},
		{
			// Egress to the CIDR holding namespace y's pods.
			name: "IPBlockEgressToNamespaceCIDR",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "egress-to-y-cidr", spec{PodSelector: labels("pod", "a"), PolicyTypes: types(egress),
					Egress: []outRule{{To: []peer{ipPeer("10.0.1.0/24")}}}}),
			},
			probes: same(reach(true).expectAllEgress("x/a", false).expect("x/a", "y/*", true), "80/TCP", "81/SCTP"),
		},
		{
			// policyTypes omitted, egress section present: egress isolation
			// implied (and ingress, with no rules: deny all ingress).
			name: "PolicyTypesOmittedWithEgressSection",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "egress-to-y", spec{PodSelector: labels("pod", "a"),
					Egress: []outRule{{To: []peer{nsPeer(labels("ns", "y"))}}}}),
			},
			probes: same(reach(true).expectAllEgress("x/a", false).expect("x/a", "y/*", true).expectAllIngress("x/a", false), "80/TCP"),
		},
		{
			// policyTypes omitted, ingress section only: egress untouched.
			name: "PolicyTypesOmittedIngressOnly",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "from-b", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{podPeer(labels("pod", "b"))}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false).expect("x/b", "x/a", true), "80/TCP"),
		},
		{
			// policyTypes [Egress] only: ingress stays open.
			name: "PolicyTypesEgressOnly",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "egress-to-y", spec{PodSelector: labels("pod", "a"), PolicyTypes: types(egress),
					Egress: []outRule{{To: []peer{nsPeer(labels("ns", "y"))}}}}),
			},
			probes: same(reach(true).expectAllEgress("x/a", false).expect("x/a", "y/*", true), "80/TCP"),
		},
		{
			// policyTypes [Ingress] with an egress section: the egress rules
			// are ignored and egress is NOT isolated.
			name: "PolicyTypesIngressIgnoresEgressSection",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "ingress-only", spec{PodSelector: labels("pod", "a"), PolicyTypes: types(ingress),
					Ingress: []inRule{{From: []peer{podPeer(labels("pod", "b"))}}},
					Egress:  []outRule{{To: []peer{ipPeer("192.0.2.0/24")}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false).expect("x/b", "x/a", true), "80/TCP"),
		},
		{
			// Upstream "Ingress, Egress specified together": x/a takes
			// ingress from x/b only and sends on port 80 only.
			name: "IngressAndEgressTogether",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-client-a-via-pod-selector", spec{PodSelector: labels("pod", "a"),
					PolicyTypes: types(egress, ingress),
					Ingress:     []inRule{{From: []peer{podPeer(labels("pod", "b"))}}},
					Egress:      []outRule{{Ports: []npPort{port(80, "")}}}}),
			},
			probes: probes(
				at(80, portset.TCP, reach(true).expectAllIngress("x/a", false).expect("x/b", "x/a", true)),
				at(81, portset.TCP, reach(true).expectAllIngress("x/a", false).expectAllEgress("x/a", false).expect("x/b", "x/a", true)),
			),
		},
		{
			// Upstream: the client's egress denies x/a -> y/b even though
			// y/b's ingress allows x/a.
			name: "ClientEgressDenyBeatsServerAllow",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-to-ns-y-pod-a", spec{PodSelector: labels("pod", "a"),
					PolicyTypes: types(egress),
					Egress:      []outRule{{To: []peer{nsPodPeer(labels(manifest.MetadataNameLabel, "y"), labels("pod", "a"))}}}}),
				policy("y", "allow-from-xa-on-ya", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{nsPodPeer(labels(manifest.MetadataNameLabel, "x"), labels("pod", "a"))}}}}),
				policy("y", "allow-from-xa-on-yb", spec{PodSelector: labels("pod", "b"),
					Ingress: []inRule{{From: []peer{nsPodPeer(labels(manifest.MetadataNameLabel, "x"), labels("pod", "a"))}}}}),
			},
			probes: same(reach(true).
				expectAllEgress("x/a", false).
				expectAllIngress("y/a", false).
				expect("x/a", "y/a", true).
				expectAllIngress("y/b", false), "80/TCP"),
		},
		{
			// Ingress allow-all in x and egress deny-all in y: y -> x needs
			// both sides and is denied.
			name: "IngressAllowAllEgressDenyInSource",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-all-ingress", spec{PodSelector: labels(), PolicyTypes: types(ingress), Ingress: []inRule{{}}}),
				policy("y", "deny-all-egress", spec{PodSelector: labels(), PolicyTypes: types(egress)}),
			},
			probes: same(reach(true).expect("y/*", "*", false), "80/TCP", "81/UDP"),
		},
		{
			// Upstream: an allow-all ingress policy next to a port-80-only one.
			name: "IngressAllowAllTakesPrecedence",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-ingress-port-80", spec{PodSelector: labels(), Ingress: []inRule{{Ports: []npPort{port(80, "")}}}}),
				policy("x", "allow-ingress", spec{PodSelector: labels(), Ingress: []inRule{{}}}),
			},
			probes: same(reach(true), "81/TCP", "80/UDP"),
		},
		{
			name: "EgressAllowAllTakesPrecedence",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-egress-port-80", spec{PodSelector: labels(), PolicyTypes: types(egress),
					Egress: []outRule{{Ports: []npPort{port(80, "")}}}}),
				policy("x", "allow-egress", spec{PodSelector: labels(), PolicyTypes: types(egress), Egress: []outRule{{}}}),
			},
			probes: same(reach(true), "81/TCP", "80/UDP"),
		},
		{
			// Without the allow-all, the port-80-only egress blocks 81.
			name: "EgressPort80Only",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-egress-port-80", spec{PodSelector: labels(), PolicyTypes: types(egress),
					Egress: []outRule{{Ports: []npPort{port(80, "")}}}}),
			},
			probes: probes(
				same(reach(true), "80/TCP"),
				same(reach(true).expect("x/*", "*", false), "81/TCP", "80/UDP"),
			),
		},
		{
			// Upstream: ingress and egress controlled independently.
			name: "IngressEgressIndependent",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "allow-egress-for-target", spec{PodSelector: labels("pod", "a"), Egress: []outRule{{}}}),
				policy("x", "deny-ingress-via-label-selector", spec{PodSelector: labels("pod", "a"), PolicyTypes: types(ingress)}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false), "80/TCP"),
		},
		{
			// A policy in x selecting pod=a does not touch y/a or z/a.
			name: "PolicyOnlyAffectsItsNamespace",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "deny-a", spec{PodSelector: labels("pod", "a"), PolicyTypes: types(ingress, egress)}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false).expectAllEgress("x/a", false), "80/TCP"),
		},
		{
			// Empty podSelector: every pod of x takes ingress from y only.
			name: "EmptyPodSelectorSelectsNamespace",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "from-y", spec{PodSelector: labels(),
					Ingress: []inRule{{From: []peer{nsPeer(labels("ns", "y"))}}}}),
			},
			probes: same(reach(true).expect("x/*", "x/*", false).expect("z/*", "x/*", false), "80/TCP"),
		},
		{
			name: "DenyAllEgressExceptToNamespace",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "egress-to-y-only", spec{PodSelector: labels(), PolicyTypes: types(egress),
					Egress: []outRule{{To: []peer{nsPeer(labels(manifest.MetadataNameLabel, "y"))}}}}),
			},
			probes: same(reach(true).expect("x/*", "*", false).expect("x/*", "y/*", true), "80/TCP", "81/SCTP"),
		},
		{
			// Egress-only deny with a DNS allowance (UDP 53 to a service IP
			// outside the pod network): no pod-to-pod traffic leaves x.
			name: "EgressDenyWithDNS",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "dns-only", spec{PodSelector: labels(), PolicyTypes: types(egress),
					Egress: []outRule{{To: []peer{ipPeer("10.96.0.10/32")}, Ports: []npPort{port(53, "UDP")}}}}),
			},
			probes: same(reach(true).expect("x/*", "*", false), allPortProtos...),
			extra: func(t *testing.T, env *e2eEnv) {
				dns := externalEndpoint(t, env.eng, "10.96.0.10")
				other := externalEndpoint(t, env.eng, "10.96.0.11")
				for _, p := range []string{"x/a", "x/b", "x/c"} {
					wantPorts(t, p+" -> 10.96.0.10", env.eng.Allowed(env.ep[p], dns), "53/UDP")
					wantPorts(t, p+" -> 10.96.0.11", env.eng.Allowed(env.ep[p], other), "none")
				}
				// y is not egress-isolated: anything to the DNS IP.
				wantAllows(t, "y/a -> 10.96.0.10", env.eng.Allowed(env.ep["y/a"], dns), "53/UDP,53/TCP,80/TCP", "")
			},
		},
		{
			// Traffic from outside the cluster under ipBlock ingress rules.
			name: "ExternalIngressIPBlock",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "from-test-net", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{ipPeer("192.0.2.0/24", "192.0.2.128/25")}, Ports: []npPort{port(80, "")}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false), "80/TCP", "81/TCP"),
			extra: func(t *testing.T, env *e2eEnv) {
				in := externalEndpoint(t, env.eng, "192.0.2.10")
				excepted := externalEndpoint(t, env.eng, "192.0.2.200")
				out := externalEndpoint(t, env.eng, "198.51.100.7")
				wantPorts(t, "192.0.2.10 -> x/a", env.eng.Allowed(in, env.ep["x/a"]), "80/TCP")
				wantPorts(t, "192.0.2.200 -> x/a", env.eng.Allowed(excepted, env.ep["x/a"]), "none")
				wantPorts(t, "198.51.100.7 -> x/a", env.eng.Allowed(out, env.ep["x/a"]), "none")
				// x/b is not selected: open to the world.
				wantAllows(t, "192.0.2.200 -> x/b", env.eng.Allowed(excepted, env.ep["x/b"]), "80-81/TCP,80/UDP", "")
				wantAllows(t, "198.51.100.7 -> x/b", env.eng.Allowed(out, env.ep["x/b"]), "80-81/TCP,80/UDP", "")
			},
		},
		{
			// 0.0.0.0/0 except the pod network: the world but no pod.
			name: "ExternalIngressWorldExceptPods",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "from-world", spec{PodSelector: labels("pod", "a"),
					Ingress: []inRule{{From: []peer{ipPeer("0.0.0.0/0", "10.0.0.0/16")}}}}),
			},
			probes: same(reach(true).expectAllIngress("x/a", false), "80/TCP"),
			extra: func(t *testing.T, env *e2eEnv) {
				ext := externalEndpoint(t, env.eng, "192.0.2.10")
				wantAllows(t, "192.0.2.10 -> x/a", env.eng.Allowed(ext, env.ep["x/a"]), "80-81/TCP,80-81/UDP,80/SCTP", "")
				near := externalEndpoint(t, env.eng, "10.0.9.9") // in the except, not a pod
				wantPorts(t, "10.0.9.9 -> x/a", env.eng.Allowed(near, env.ep["x/a"]), "none")
			},
		},
		{
			// Egress to the world except the pod network.
			name: "ExternalEgressWorldExceptPods",
			policies: []*networkingv1.NetworkPolicy{
				policy("x", "to-world", spec{PodSelector: labels("pod", "a"), PolicyTypes: types(egress),
					Egress: []outRule{{To: []peer{ipPeer("0.0.0.0/0", "10.0.0.0/16")}, Ports: []npPort{port(443, "")}}}}),
			},
			probes: same(reach(true).expectAllEgress("x/a", false), "80/TCP"),
			extra: func(t *testing.T, env *e2eEnv) {
				ext := externalEndpoint(t, env.eng, "203.0.113.5")
				wantPorts(t, "x/a -> 203.0.113.5", env.eng.Allowed(env.ep["x/a"], ext), "443/TCP")
				wantAllows(t, "x/b -> 203.0.113.5", env.eng.Allowed(env.ep["x/b"], ext), "443/TCP,80/TCP,53/UDP", "")
			},
		},
	}
}

func TestE2E(t *testing.T) {
	seen := map[string]bool{}
	for _, sc := range e2eScenarios() {
		if seen[sc.name] {
			t.Fatalf("duplicate scenario %s", sc.name)
		}
		seen[sc.name] = true
		t.Run(sc.name, func(t *testing.T) {
			env := newE2E(t, sc.policies...)
			env.check(t, sc.probes...)
			if sc.extra != nil {
				sc.extra(t, env)
			}
		})
	}
}

// TestE2E_Harness checks the harness's own pattern matching, so a mistake
// there cannot make a wrong table look right.
func TestE2E_Harness(t *testing.T) {
	r := reach(true).expect("x/*", "*/a", false)
	n := 0
	for i := range e2ePods {
		for j := range e2ePods {
			if !r.ok[i][j] {
				n++
				if !strings.HasPrefix(e2ePods[i], "x/") || !strings.HasSuffix(e2ePods[j], "/a") {
					t.Errorf("cell %s -> %s set", e2ePods[i], e2ePods[j])
				}
			}
		}
	}
	if n != 9 {
		t.Errorf("expect(x/*, */a) set %d cells, want 9", n)
	}
	if got := e2eIP("y/b"); got != netip.MustParseAddr("10.0.1.2") {
		t.Errorf("e2eIP(y/b) = %v", got)
	}
	if got := e2eIP("z/c"); got != netip.MustParseAddr("10.0.2.3") {
		t.Errorf("e2eIP(z/c) = %v", got)
	}
	if n := len(e2eScenarios()); n < 30 {
		t.Errorf("%d scenarios, want at least 30", n)
	}
}
