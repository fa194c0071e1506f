package netpol_test

// One test per numbered item of the NetworkPolicy semantics note
// (/work/shared/notes/networkpolicy-semantics.md). Each builds the smallest
// cluster that shows the item and states the expected answers by hand.

import (
	"fmt"
	"net/netip"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

// ---------------------------------------------------------------------------
// Object shorthands.

func namespace(name string, kv ...string) *corev1.Namespace {
	l := labels(kv...).MatchLabels
	return &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
	}
}

func tcpPort(name string, p int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: p, Protocol: corev1.ProtocolTCP}
}

func cPort(name string, p int32, proto corev1.Protocol) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: p, Protocol: proto}
}

// pod is a bare Pod; ip "" leaves status.podIP unset. app labels it app=<app>.
func pod(ns, name, ip, app string, ports ...corev1.ContainerPort) *corev1.Pod {
	p := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "example.com/app:1", Ports: ports}}},
	}
	if ip != "" {
		p.Status = corev1.PodStatus{PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
	}
	return p
}

func deployment(ns, name string, replicas int32, lbls map[string]string, ports ...corev1.ContainerPort) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "example.com/app:1", Ports: ports}}},
			},
		},
	}
}

// replica is a Pod of Deployment dep, owned (as kubectl dumps show) by a
// ReplicaSet "<dep>-7d4b9" that is not in the input.
func replica(ns, dep, suffix, ip string, lbls map[string]string, ports ...corev1.ContainerPort) *corev1.Pod {
	l := map[string]string{"pod-template-hash": "7d4b9"}
	for k, v := range lbls {
		l[k] = v
	}
	p := pod(ns, dep+"-7d4b9-"+suffix, ip, "", ports...)
	p.Labels = l
	yes := true
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: dep + "-7d4b9", Controller: &yes}}
	return p
}

func nps(ps ...*networkingv1.NetworkPolicy) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}

// world is a compiled set with endpoint lookup by "ns/name" (bare pods) or
// "ns/Kind/name".
type world struct {
	t   *testing.T
	set *manifest.Set
	eng *netpol.Engine
}

func build(t *testing.T, objs ...any) *world {
	t.Helper()
	set, eng := compile(t, objs...)
	return &world{t, set, eng}
}

func buildWith(t *testing.T, base []any, policies ...*networkingv1.NetworkPolicy) *world {
	t.Helper()
	objs := append(append([]any{}, base...), nps(policies...)...)
	return build(t, objs...)
}

// ep returns the endpoint of "ns/name" (a bare Pod) or "ns/Kind/name".
func (w *world) ep(ref string) *netpol.Endpoint {
	w.t.Helper()
	var ns, kind, name string
	var parts []string
	for start, i := 0, 0; i <= len(ref); i++ {
		if i == len(ref) || ref[i] == '/' {
			parts = append(parts, ref[start:i])
			start = i + 1
		}
	}
	switch len(parts) {
	case 2:
		ns, kind, name = parts[0], "Pod", parts[1]
	case 3:
		ns, kind, name = parts[0], parts[1], parts[2]
	default:
		w.t.Fatalf("bad ref %q", ref)
	}
	return soleEndpoint(w.t, w.eng, workload(w.t, w.set, ns, kind, name))
}

func (w *world) ext(ip string) *netpol.Endpoint {
	w.t.Helper()
	return externalEndpoint(w.t, w.eng, ip)
}

// exactly checks Allowed(from, to) equals want ("none" or a port list).
func (w *world) exactly(from, to string, want string) {
	w.t.Helper()
	wantPorts(w.t, from+" -> "+to, w.eng.Allowed(w.resolve(from), w.resolve(to)), want)
}

// open checks Allowed(from, to) holds a sample of every protocol's ports:
// the flow is not restricted by any policy.
func (w *world) open(from, to string) {
	w.t.Helper()
	wantAllows(w.t, from+" -> "+to+" (unrestricted)", w.eng.Allowed(w.resolve(from), w.resolve(to)),
		"1/TCP,80/TCP,443/TCP,8080/TCP,65535/TCP,53/UDP,65535/UDP,1/SCTP,3868/SCTP", "")
}

// resolve accepts a pod ref or a literal IP (external endpoint).
func (w *world) resolve(ref string) *netpol.Endpoint {
	w.t.Helper()
	if _, err := netip.ParseAddr(ref); err == nil {
		return w.ext(ref)
	}
	return w.ep(ref)
}

// ---------------------------------------------------------------------------

// 1. Isolation is per direction; A->B needs A's egress AND B's ingress;
// policies are additive, with no deny.
func TestSemantics_1_IsolationPerDirection(t *testing.T) {
	base := []any{
		namespace("x"),
		pod("x", "a", "10.1.0.1", "a"),
		pod("x", "b", "10.1.0.2", "b"),
		pod("x", "c", "10.1.0.3", "c"),
	}
	w := buildWith(t, base,
		// a: isolated for ingress only, nothing allowed.
		policy("x", "a-deny-ingress", spec{PodSelector: labels("app", "a"), PolicyTypes: types(ingress)}),
		// a: a second policy lets c in on 9000 (additive: the deny-all above
		// does not override it).
		policy("x", "a-from-c", spec{PodSelector: labels("app", "a"), PolicyTypes: types(ingress),
			Ingress: []inRule{{From: []peer{podPeer(labels("app", "c"))}, Ports: []npPort{port(9000, "")}}}}),
		// b: isolated for egress only, may send to a on 80.
		policy("x", "b-egress-to-a", spec{PodSelector: labels("app", "b"), PolicyTypes: types(egress),
			Egress: []outRule{{To: []peer{podPeer(labels("app", "a"))}, Ports: []npPort{port(80, "")}}}}),
	)
	// a's egress is not isolated: a reaches b and c freely.
	w.open("x/a", "x/b")
	w.open("x/a", "x/c")
	// b's egress allows a:80 but a's ingress does not admit b: denied.
	w.exactly("x/b", "x/a", "none")
	// b's egress admits only a.
	w.exactly("x/b", "x/c", "none")
	// b's ingress is not isolated.
	w.open("x/c", "x/b")
	// c -> a: c's egress open, a's ingress the union of its policies.
	w.exactly("x/c", "x/a", "9000/TCP")
}

// 2. policyTypes defaulting: Ingress always; Egress only when the spec has
// egress rules (len(egress) != 0, as the API server's defaulting does).
func TestSemantics_2_PolicyTypesDefaulting(t *testing.T) {
	base := []any{
		namespace("x"),
		pod("x", "a", "10.1.0.1", "a"),
		pod("x", "b", "10.1.0.2", "b"),
		pod("x", "c", "10.1.0.3", "c"),
	}
	t.Run("IngressRulesOnly", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: labels("app", "a"),
			Ingress: []inRule{{From: []peer{podPeer(labels("app", "b"))}}}}))
		w.open("x/b", "x/a")
		w.exactly("x/c", "x/a", "none")
		w.open("x/a", "x/c") // egress not isolated
	})
	t.Run("EgressSectionImpliesBoth", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: labels("app", "a"),
			Egress: []outRule{{To: []peer{podPeer(labels("app", "b"))}}}}))
		w.open("x/a", "x/b")
		w.exactly("x/a", "x/c", "none")
		// Ingress implied, no ingress rules: deny all ingress.
		w.exactly("x/b", "x/a", "none")
		w.exactly("x/c", "x/a", "none")
	})
	t.Run("EmptyEgressListDoesNotImplyEgress", func(t *testing.T) {
		// egress: [] is an empty section: the default is [Ingress] only.
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: labels("app", "a"),
			Ingress: []inRule{{}}, Egress: []outRule{}}))
		w.open("x/a", "x/c")
		w.open("x/c", "x/a")
	})
	t.Run("EmptySpecIsIngressDeny", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: labels("app", "a")}))
		w.exactly("x/b", "x/a", "none")
		w.open("x/a", "x/b")
	})
	t.Run("ExplicitEgressIgnoresIngressSection", func(t *testing.T) {
		// policyTypes [Egress]: the ingress rules are ignored and ingress
		// stays open; egress with no rules denies everything.
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: labels("app", "a"), PolicyTypes: types(egress),
			Ingress: []inRule{{From: []peer{podPeer(labels("app", "b"))}}}}))
		w.open("x/c", "x/a")
		w.open("x/b", "x/a")
		w.exactly("x/a", "x/b", "none")
	})
}

// 3. Empty vs missing.
func TestSemantics_3_EmptyVsMissing(t *testing.T) {
	base := []any{
		namespace("x"), namespace("y"),
		pod("x", "a", "10.1.0.1", "a"),
		pod("x", "b", "10.1.0.2", "b"),
		pod("y", "b", "10.2.0.2", "b"),
	}
	target := labels("app", "a")
	t.Run("IngressEmptyListDenies", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: target, PolicyTypes: types(ingress), Ingress: []inRule{}}))
		w.exactly("x/b", "x/a", "none")
		w.exactly("192.0.2.1", "x/a", "none")
	})
	t.Run("IngressEmptyRuleAllowsAll", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: target, PolicyTypes: types(ingress), Ingress: []inRule{{}}}))
		w.open("x/b", "x/a")
		w.open("y/b", "x/a")
		w.open("192.0.2.1", "x/a")
	})
	t.Run("FromMissingIsEverywhere", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: target,
			Ingress: []inRule{{Ports: []npPort{port(80, "")}}}}))
		w.exactly("x/b", "x/a", "80/TCP")
		w.exactly("y/b", "x/a", "80/TCP")
		w.exactly("192.0.2.1", "x/a", "80/TCP")
	})
	t.Run("FromEmptyListIsEverywhere", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: target,
			Ingress: []inRule{{From: []peer{}, Ports: []npPort{port(80, "")}}}}))
		w.exactly("y/b", "x/a", "80/TCP")
		w.exactly("192.0.2.1", "x/a", "80/TCP")
	})
	t.Run("ToMissingIsEverywhere", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: target, PolicyTypes: types(egress),
			Egress: []outRule{{Ports: []npPort{port(443, "")}}}}))
		w.exactly("x/a", "y/b", "443/TCP")
		w.exactly("x/a", "192.0.2.1", "443/TCP")
	})
	t.Run("PortsEmptyListIsAllPorts", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: target,
			Ingress: []inRule{{From: []peer{podPeer(labels("app", "b"))}, Ports: []npPort{}}}}))
		w.open("x/b", "x/a")
		w.exactly("y/b", "x/a", "none")
	})
	t.Run("EmptyPodSelectorPeerIsPolicyNamespace", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: target,
			Ingress: []inRule{{From: []peer{podPeer(labels())}}}}))
		w.open("x/b", "x/a")
		w.exactly("y/b", "x/a", "none")
		w.exactly("192.0.2.1", "x/a", "none")
	})
	t.Run("EmptyNamespaceSelectorPeerIsAllNamespaces", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: target,
			Ingress: []inRule{{From: []peer{nsPeer(labels())}}}}))
		w.open("x/b", "x/a")
		w.open("y/b", "x/a")
		// Selectors match pods only, never outside addresses.
		w.exactly("192.0.2.1", "x/a", "none")
	})
	t.Run("EmptyPolicyPodSelectorSelectsAll", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: labels(), PolicyTypes: types(ingress)}))
		w.exactly("y/b", "x/a", "none")
		w.exactly("y/b", "x/b", "none")
		w.open("x/a", "y/b")
	})
}

// 4. One peer with both selectors is an AND; two peers are an OR.
func TestSemantics_4_AndVsOr(t *testing.T) {
	base := []any{
		namespace("x"), namespace("y", "team", "blue"),
		pod("x", "a", "10.1.0.1", "a"),
		pod("x", "client", "10.1.0.2", "client"),
		pod("y", "client", "10.2.0.2", "client"),
		pod("y", "other", "10.2.0.3", "other"),
	}
	t.Run("AND", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: labels("app", "a"),
			Ingress: []inRule{{From: []peer{nsPodPeer(labels("team", "blue"), labels("app", "client"))}}}}))
		w.open("y/client", "x/a")
		w.exactly("y/other", "x/a", "none")  // namespace matches, pod does not
		w.exactly("x/client", "x/a", "none") // pod matches, namespace does not
	})
	t.Run("OR", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: labels("app", "a"),
			Ingress: []inRule{{From: []peer{nsPeer(labels("team", "blue")), podPeer(labels("app", "client"))}}}}))
		w.open("y/client", "x/a")
		w.open("y/other", "x/a")  // by namespace
		w.open("x/client", "x/a") // by pod, in the policy's namespace
	})
}

// 5. A peer with only podSelector means the policy's own namespace.
func TestSemantics_5_PodSelectorOwnNamespace(t *testing.T) {
	w := build(t,
		namespace("x"), namespace("y"),
		pod("x", "a", "10.1.0.1", "a"),
		pod("x", "client", "10.1.0.2", "client"),
		pod("y", "client", "10.2.0.2", "client"),
		pod("x", "server", "10.1.0.3", "server"),
		pod("y", "server", "10.2.0.3", "server"),
		policy("x", "in", spec{PodSelector: labels("app", "a"), PolicyTypes: types(ingress),
			Ingress: []inRule{{From: []peer{podPeer(labels("app", "client"))}}}}),
		policy("x", "out", spec{PodSelector: labels("app", "a"), PolicyTypes: types(egress),
			Egress: []outRule{{To: []peer{podPeer(labels("app", "server"))}}}}),
	)
	w.open("x/client", "x/a")
	w.exactly("y/client", "x/a", "none")
	w.open("x/a", "x/server")
	w.exactly("x/a", "y/server", "none")
}

// 6. Named ports resolve per destination pod, protocol must match, egress
// resolves on the destination too.
func TestSemantics_6_NamedPorts(t *testing.T) {
	base := []any{
		namespace("x"),
		pod("x", "web1", "10.1.0.1", "server", tcpPort("http", 8080), tcpPort("metrics", 9090)),
		pod("x", "web2", "10.1.0.2", "server", tcpPort("http", 8000)),
		pod("x", "nohttp", "10.1.0.3", "server", tcpPort("grpc", 5000)),
		pod("x", "dnsd", "10.1.0.4", "dns", cPort("dns", 53, corev1.ProtocolUDP)),
		pod("x", "client", "10.1.0.9", "client"),
	}
	t.Run("IngressPerDestination", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "http", spec{PodSelector: labels("app", "server"),
			Ingress: []inRule{{Ports: []npPort{named("http", "")}}}}))
		w.exactly("x/client", "x/web1", "8080/TCP")
		w.exactly("x/client", "x/web2", "8000/TCP")
		w.exactly("x/client", "x/nohttp", "none")
		w.exactly("192.0.2.1", "x/web1", "8080/TCP")
	})
	t.Run("ProtocolMismatchAllowsNothing", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "dns-tcp", spec{PodSelector: labels("app", "dns"),
			Ingress: []inRule{{Ports: []npPort{named("dns", "")}}}})) // TCP by default; dns is UDP
		w.exactly("x/client", "x/dnsd", "none")
	})
	t.Run("ProtocolMatch", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "dns-udp", spec{PodSelector: labels("app", "dns"),
			Ingress: []inRule{{Ports: []npPort{named("dns", "UDP")}}}}))
		w.exactly("x/client", "x/dnsd", "53/UDP")
	})
	t.Run("Egress", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "client-out", spec{PodSelector: labels("app", "client"), PolicyTypes: types(egress),
			Egress: []outRule{{Ports: []npPort{named("http", "")}}}}))
		w.exactly("x/client", "x/web1", "8080/TCP")
		w.exactly("x/client", "x/web2", "8000/TCP")
		w.exactly("x/client", "x/nohttp", "none")
		// An outside address has no container ports: the name resolves to nothing.
		w.exactly("x/client", "192.0.2.1", "none")
	})
	t.Run("EgressToIPBlock", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "client-out", spec{PodSelector: labels("app", "client"), PolicyTypes: types(egress),
			Egress: []outRule{{To: []peer{ipPeer("0.0.0.0/0")}, Ports: []npPort{named("http", "")}}}}))
		w.exactly("x/client", "x/web1", "8080/TCP")
		w.exactly("x/client", "x/web2", "8000/TCP")
		w.exactly("x/client", "192.0.2.1", "none")
	})
}

// 7. endPort makes port..endPort.
func TestSemantics_7_EndPort(t *testing.T) {
	w := build(t,
		namespace("x"),
		pod("x", "a", "10.1.0.1", "a"),
		pod("x", "b", "10.1.0.2", "b"),
		policy("x", "in", spec{PodSelector: labels("app", "a"), PolicyTypes: types(ingress),
			Ingress: []inRule{{Ports: []npPort{portRange(8000, 8080, ""), portRange(30000, 32767, "UDP")}}}}),
		policy("x", "out", spec{PodSelector: labels("app", "b"), PolicyTypes: types(egress),
			Egress: []outRule{{Ports: []npPort{portRange(1000, 1002, "SCTP")}}}}),
	)
	w.exactly("192.0.2.1", "x/a", "8000-8080/TCP,30000-32767/UDP")
	w.exactly("x/b", "192.0.2.1", "1000-1002/SCTP")
	// b -> a: b's egress ∩ a's ingress.
	w.exactly("x/b", "x/a", "none")
}

// 8. ipBlock.except carves holes; it is not a deny.
func TestSemantics_8_ExceptIsNotADeny(t *testing.T) {
	w := build(t,
		namespace("x"),
		pod("x", "a", "10.1.0.1", "a"),
		pod("x", "b", "10.1.0.2", "b"), // in the except, allowed by selector
		pod("x", "c", "10.1.0.3", "c"), // in the except, nothing else
		pod("x", "d", "10.3.0.4", "d"), // in the cidr, outside the except
		policy("x", "cidr", spec{PodSelector: labels("app", "a"),
			Ingress: []inRule{{From: []peer{ipPeer("10.0.0.0/8", "10.1.0.0/24")}}}}),
		policy("x", "from-b", spec{PodSelector: labels("app", "a"),
			Ingress: []inRule{{From: []peer{podPeer(labels("app", "b"))}}}}),
		policy("x", "one-host", spec{PodSelector: labels("app", "a"),
			Ingress: []inRule{{From: []peer{ipPeer("10.1.0.200/32")}, Ports: []npPort{port(443, "")}}}}),
	)
	w.open("x/b", "x/a")
	w.exactly("x/c", "x/a", "none")
	w.open("x/d", "x/a")
	w.open("10.2.0.5", "x/a")
	w.exactly("10.1.0.100", "x/a", "none")
	w.exactly("10.1.0.200", "x/a", "443/TCP")
	w.exactly("192.0.2.1", "x/a", "none")
}

// 9. ipBlock matches pod IPs when known; pods without IP match no ipBlock.
func TestSemantics_9_IPBlockMatchesPodIPs(t *testing.T) {
	base := []any{
		namespace("x"),
		pod("x", "a", "10.1.0.1", "a"),
		pod("x", "in", "10.1.0.2", "client"),
		pod("x", "out", "10.9.0.3", "client"),
		pod("x", "noip", "", "client"),
		deployment("x", "dep", 2, map[string]string{"app": "client"}),
	}
	t.Run("IngressBlock", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: labels("app", "a"),
			Ingress: []inRule{{From: []peer{ipPeer("10.1.0.0/24")}}}}))
		if !w.set.PodIPsKnown {
			t.Errorf("PodIPsKnown = false with pod IPs in the input")
		}
		if ep := w.eng.EndpointOfIP(netip.MustParseAddr("10.1.0.2")); ep == nil || ep.Workload == nil || ep.Workload.Name != "in" {
			t.Errorf("EndpointOfIP(10.1.0.2) = %v, want the endpoint of x/in", ep)
		}
		w.open("x/in", "x/a")
		w.exactly("x/out", "x/a", "none")
		w.exactly("x/noip", "x/a", "none")
		w.exactly("x/Deployment/dep", "x/a", "none")
	})
	t.Run("IngressWholeInternet", func(t *testing.T) {
		// Even 0.0.0.0/0 does not match a pod whose IP is unknown.
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: labels("app", "a"),
			Ingress: []inRule{{From: []peer{ipPeer("0.0.0.0/0")}}}}))
		w.open("x/in", "x/a")
		w.open("x/out", "x/a")
		w.exactly("x/noip", "x/a", "none")
		w.exactly("x/Deployment/dep", "x/a", "none")
	})
	t.Run("EgressBlock", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: labels("app", "client"), PolicyTypes: types(egress),
			Egress: []outRule{{To: []peer{ipPeer("10.1.0.0/24")}}}}))
		w.open("x/in", "x/a")
		w.exactly("x/in", "x/out", "none")
		w.exactly("x/in", "x/noip", "none")
	})
	t.Run("ReplicasSplitByIPBlock", func(t *testing.T) {
		// Two replicas of one Deployment, only one inside the block: the
		// block admits that pod and not its sibling.
		web := map[string]string{"app": "web"}
		w := build(t,
			namespace("x"),
			pod("x", "a", "10.1.0.1", "a"),
			deployment("x", "web", 2, web),
			replica("x", "web", "aaaaa", "10.1.0.11", web),
			replica("x", "web", "bbbbb", "10.1.0.12", web),
			policy("x", "p", spec{PodSelector: labels("app", "a"),
				Ingress: []inRule{{From: []peer{ipPeer("10.1.0.11/32")}}}}),
		)
		wl := workload(t, w.set, "x", "Deployment", "web")
		if wl.Instances != 2 || len(wl.IPs) != 2 {
			t.Fatalf("x/Deployment/web: Instances = %d, IPs = %v; want the 2 replica pods folded in", wl.Instances, wl.IPs)
		}
		in, out := w.eng.EndpointOfIP(netip.MustParseAddr("10.1.0.11")), w.eng.EndpointOfIP(netip.MustParseAddr("10.1.0.12"))
		for _, ep := range []*netpol.Endpoint{in, out} {
			if ep == nil || ep.Workload != wl {
				t.Fatalf("EndpointOfIP of a web replica = %v, want an endpoint of x/Deployment/web", ep)
			}
		}
		a := w.ep("x/a")
		wantAllows(t, "10.1.0.11 (web) -> x/a", w.eng.Allowed(in, a), "1/TCP,80/TCP,53/UDP,3868/SCTP", "")
		wantPorts(t, "10.1.0.12 (web) -> x/a", w.eng.Allowed(out, a), "none")
		if n := len(w.eng.EndpointsOf(wl)); n < 2 {
			t.Errorf("EndpointsOf(x/Deployment/web) = %d endpoints; the replicas are treated differently and need 2", n)
		}
	})
	t.Run("NoPodIPs", func(t *testing.T) {
		w := build(t, namespace("x"), pod("x", "a", "", "a"), pod("x", "b", "", "b"))
		if w.set.PodIPsKnown {
			t.Errorf("PodIPsKnown = true with no pod IP in the input")
		}
	})
}

// 10. hostNetwork pods: never selected, never isolated, not matched by
// pod/namespace selector peers; they are seen at their (node) IP.
func TestSemantics_10_HostNetwork(t *testing.T) {
	host := pod("x", "h", "172.16.0.10", "a", tcpPort("metrics", 9100))
	host.Spec.HostNetwork = true
	base := []any{
		namespace("x"), namespace("y"),
		pod("x", "a", "10.1.0.1", "a"),
		host, // same labels as x/a
		pod("y", "b", "10.2.0.1", "b"),
	}
	t.Run("NotSelected", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "deny-all", spec{PodSelector: labels(), PolicyTypes: types(ingress, egress)}),
			policy("x", "deny-a", spec{PodSelector: labels("app", "a"), PolicyTypes: types(ingress, egress)}))
		if hw := workload(t, w.set, "x", "Pod", "h"); !hw.HostNetwork {
			t.Fatalf("x/h HostNetwork = false")
		}
		w.exactly("y/b", "x/a", "none")
		w.exactly("x/a", "y/b", "none")
		w.open("y/b", "x/h")
		w.open("x/h", "y/b")
		w.open("192.0.2.1", "x/h")
	})
	t.Run("NotMatchedBySelectors", func(t *testing.T) {
		w := buildWith(t, base,
			policy("y", "from-x", spec{PodSelector: labels("app", "b"),
				Ingress: []inRule{
					{From: []peer{nsPeer(labels(manifest.MetadataNameLabel, "x"))}, Ports: []npPort{port(80, "")}},
					{From: []peer{nsPodPeer(labels(), labels("app", "a"))}, Ports: []npPort{port(81, "")}},
				}}),
			policy("x", "a-out", spec{PodSelector: labels("app", "a"), PolicyTypes: types(egress),
				Egress: []outRule{{To: []peer{podPeer(labels())}}}}),
		)
		w.exactly("x/a", "y/b", "none") // a's egress: pods of x only
		w.exactly("x/h", "y/b", "none") // h is neither in x's pods nor app=a for selectors
		w.exactly("x/a", "x/h", "none") // h is not a pod of x for a's podSelector {}
	})
	t.Run("SeenAtNodeIP", func(t *testing.T) {
		w := buildWith(t, base,
			policy("y", "from-node", spec{PodSelector: labels("app", "b"),
				Ingress: []inRule{{From: []peer{ipPeer("172.16.0.0/24")}, Ports: []npPort{port(10250, "")}}}}))
		w.exactly("x/h", "y/b", "10250/TCP")
		w.exactly("x/a", "y/b", "none")
	})
}

// 11. TCP (default), UDP, SCTP are distinct.
func TestSemantics_11_Protocols(t *testing.T) {
	w := build(t,
		namespace("x"),
		pod("x", "a", "10.1.0.1", "a"),
		pod("x", "b", "10.1.0.2", "b"),
		policy("x", "p", spec{PodSelector: labels("app", "a"),
			Ingress: []inRule{{Ports: []npPort{port(53, "UDP"), port(80, ""), port(3868, "SCTP")}}}}),
		policy("x", "q", spec{PodSelector: labels("app", "b"), PolicyTypes: types(egress),
			Egress: []outRule{{Ports: []npPort{protoOnly("UDP")}}}}),
	)
	w.exactly("192.0.2.1", "x/a", "80/TCP,53/UDP,3868/SCTP")
	w.exactly("x/b", "x/a", "53/UDP")
	w.exactly("x/b", "192.0.2.1", "1-65535/UDP")
}

// 12. Two replicas of one workload are different pods, subject to policy.
func TestSemantics_12_ReplicasAreSubjectToPolicy(t *testing.T) {
	base := []any{
		namespace("x"),
		deployment("x", "web", 2, map[string]string{"app": "web"}, tcpPort("http", 8080)),
		deployment("x", "client", 1, map[string]string{"app": "client"}),
	}
	t.Run("OtherPeersOnly", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: labels("app", "web"),
			Ingress: []inRule{{From: []peer{podPeer(labels("app", "client"))}}}}))
		w.exactly("x/Deployment/web", "x/Deployment/web", "none")
		w.open("x/Deployment/client", "x/Deployment/web")
		// client is not selected: its replicas talk freely.
		w.open("x/Deployment/client", "x/Deployment/client")
	})
	t.Run("SelfPeer", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: labels("app", "web"),
			Ingress: []inRule{{From: []peer{podPeer(labels("app", "web"))}, Ports: []npPort{named("http", "")}}}}))
		w.exactly("x/Deployment/web", "x/Deployment/web", "8080/TCP")
		w.exactly("x/Deployment/client", "x/Deployment/web", "none")
	})
	t.Run("InstancePods", func(t *testing.T) {
		// The replica Pod objects fold into the Deployment; traffic
		// between them follows policy.
		web := map[string]string{"app": "web"}
		w := build(t,
			namespace("x"),
			deployment("x", "web", 2, web, tcpPort("http", 8080)),
			replica("x", "web", "aaaaa", "10.1.0.11", web, tcpPort("http", 8080)),
			replica("x", "web", "bbbbb", "10.1.0.12", web, tcpPort("http", 8080)),
			policy("x", "p", spec{PodSelector: labels("app", "web"),
				Ingress: []inRule{{From: []peer{podPeer(labels("app", "web"))}, Ports: []npPort{named("http", "")}}}}),
		)
		wl := workload(t, w.set, "x", "Deployment", "web")
		one, two := w.eng.EndpointOfIP(netip.MustParseAddr("10.1.0.11")), w.eng.EndpointOfIP(netip.MustParseAddr("10.1.0.12"))
		if one == nil || two == nil || one.Workload != wl || two.Workload != wl {
			t.Fatalf("EndpointOfIP of the replicas = %v, %v; want endpoints of x/Deployment/web", one, two)
		}
		wantPorts(t, "web replica -> web replica", w.eng.Allowed(one, two), "8080/TCP")
		wantPorts(t, "web replica -> web replica", w.eng.Allowed(two, one), "8080/TCP")
	})
	t.Run("EgressDenied", func(t *testing.T) {
		w := buildWith(t, base, policy("x", "p", spec{PodSelector: labels("app", "web"), PolicyTypes: types(egress)}))
		w.exactly("x/Deployment/web", "x/Deployment/web", "none")
		w.open("x/Deployment/client", "x/Deployment/web")
	})
}

// 13. Namespaces carry kubernetes.io/metadata.name; undeclared namespaces
// exist with only that label.
func TestSemantics_13_NamespaceLabels(t *testing.T) {
	w := build(t,
		namespace("x", "team", "a"), // declared without the immutable label
		pod("x", "a", "10.1.0.1", "a"),
		pod("x", "b", "10.1.0.2", "b"),
		pod("w", "c", "10.2.0.1", "c"), // namespace w is not declared
		pod("v", "d", "10.3.0.1", "d"), // nor v
		policy("x", "from-w", spec{PodSelector: labels("app", "a"),
			Ingress: []inRule{{From: []peer{nsPeer(labels(manifest.MetadataNameLabel, "w"))}}}}),
		policy("x", "from-team-a", spec{PodSelector: labels("app", "b"),
			Ingress: []inRule{{From: []peer{nsPeer(labels("team", "a"))}}}}),
		policy("w", "deny", spec{PodSelector: labels(), PolicyTypes: types(ingress)}),
	)
	if x := w.set.Namespace("x"); x == nil || x.Labels[manifest.MetadataNameLabel] != "x" || x.Labels["team"] != "a" || !x.Declared {
		t.Errorf("namespace x = %+v, want declared with team=a and %s=x", x, manifest.MetadataNameLabel)
	}
	if ns := w.set.Namespace("w"); ns == nil || ns.Declared || len(ns.Labels) != 1 || ns.Labels[manifest.MetadataNameLabel] != "w" {
		t.Errorf("namespace w = %+v, want undeclared with only %s=w", ns, manifest.MetadataNameLabel)
	}
	w.open("w/c", "x/a")
	w.exactly("v/d", "x/a", "none")
	w.exactly("x/b", "x/a", "none")
	w.open("x/a", "x/b")
	w.exactly("w/c", "x/b", "none") // w has no team label
	w.exactly("v/d", "w/c", "none") // a policy in an undeclared namespace applies
	w.open("w/c", "v/d")
}

// 14. 1000 Deployments with identical labels compile and answer per workload.
func TestSemantics_14_ManyIdenticalWorkloads(t *testing.T) {
	const n = 1000
	lbls := map[string]string{"app": "same", "tier": "backend"}
	objs := []any{namespace("big")}
	for i := 0; i < n; i++ {
		objs = append(objs, deployment("big", fmt.Sprintf("dep-%04d", i), 3, lbls, tcpPort("http", 8080)))
	}
	objs = append(objs,
		deployment("big", "client", 1, map[string]string{"app": "client"}),
		deployment("big", "other", 1, map[string]string{"app": "other"}),
		deployment("big", "different", 1, map[string]string{"app": "different"}, tcpPort("http", 8080)),
		policy("big", "backend", spec{PodSelector: labels("app", "same"),
			Ingress: []inRule{{From: []peer{podPeer(labels("app", "client"))}, Ports: []npPort{named("http", "")}}}}),
	)
	w := build(t, objs...)
	client := w.ep("big/Deployment/client")
	other := w.ep("big/Deployment/other")
	var first []*netpol.Endpoint
	for i := 0; i < n; i++ {
		wl := workload(t, w.set, "big", "Deployment", fmt.Sprintf("dep-%04d", i))
		eps := w.eng.EndpointsOf(wl)
		if len(eps) == 0 {
			t.Fatalf("EndpointsOf(%s) is empty", wl.ID())
		}
		if i == 0 {
			first = eps
		}
		for _, ep := range eps {
			wantPorts(t, "client -> "+wl.ID(), w.eng.Allowed(client, ep), "8080/TCP")
			wantPorts(t, "other -> "+wl.ID(), w.eng.Allowed(other, ep), "none")
			wantPorts(t, wl.ID()+" -> itself", w.eng.Allowed(ep, ep), "none")
			wantPorts(t, "dep-0000 -> "+wl.ID(), w.eng.Allowed(first[0], ep), "none")
			wantAllows(t, wl.ID()+" -> client", w.eng.Allowed(ep, client), "80/TCP,8080/TCP,53/UDP", "")
		}
		if t.Failed() {
			t.Fatalf("stopping after the first failing workload (%s)", wl.ID())
		}
	}
	w.open("big/Deployment/other", "big/Deployment/different")
	w.open("big/Deployment/dep-0999", "big/Deployment/different")
}
