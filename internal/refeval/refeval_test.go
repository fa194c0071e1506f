package refeval_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/wardsec/ward/internal/refeval"
	"github.com/wardsec/ward/manifest"
)

// cluster builds a set by hand (no loader involved): namespaces "a" (team=red)
// and "b" (team=blue), plus the given policies written as YAML documents.
func cluster(t *testing.T, policies ...string) *manifest.Set {
	t.Helper()
	set := &manifest.Set{Namespaces: []*manifest.Namespace{
		{Name: "a", Labels: map[string]string{manifest.MetadataNameLabel: "a", "team": "red"}, Declared: true},
		{Name: "b", Labels: map[string]string{manifest.MetadataNameLabel: "b", "team": "blue"}, Declared: true},
	}}
	for _, doc := range policies {
		var np networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict([]byte(doc), &np); err != nil {
			t.Fatalf("bad test policy: %v\n%s", err, doc)
		}
		set.Policies = append(set.Policies, &manifest.Policy{NetworkPolicy: &np})
	}
	return set
}

func pod(ns, app string, ip string, ports ...manifest.Port) refeval.Pod {
	p := refeval.Pod{Namespace: ns, Workload: ns + "/Deployment/" + app, Labels: map[string]string{"app": app}, Ports: ports}
	if ip != "" {
		p.IP = netip.MustParseAddr(ip)
	}
	return p
}

func ext(ip string) refeval.Pod { return refeval.External(netip.MustParseAddr(ip)) }

func named(name string, port int32, proto corev1.Protocol) manifest.Port {
	return manifest.Port{Name: name, Port: port, Protocol: proto}
}

type flow struct {
	src, dst refeval.Pod
	proto    string
	port     int
	want     bool
}

func TestAllowed(t *testing.T) {
	web := pod("a", "web", "10.0.0.5", named("http", 8080, corev1.ProtocolTCP), named("dns", 53, corev1.ProtocolUDP))
	api := pod("a", "api", "10.0.0.6")
	dbB := pod("b", "db", "10.0.1.7")
	webB := pod("b", "web", "10.0.1.8")
	noIP := pod("b", "db", "")
	host := pod("a", "web", "10.0.0.9")
	host.HostNetwork = true

	tests := []struct {
		name     string
		policies []string
		flows    []flow
	}{
		{
			name: "no policy allows everything",
			flows: []flow{
				{api, web, "TCP", 1, true},
				{ext("1.2.3.4"), web, "SCTP", 65535, true},
				{web, ext("1.2.3.4"), "UDP", 53, true},
			},
		},
		{
			name: "default deny ingress isolates ingress only",
			policies: []string{`
metadata: {name: deny, namespace: a}
spec: {podSelector: {}, policyTypes: [Ingress]}`},
			flows: []flow{
				{api, web, "TCP", 80, false},
				{ext("1.2.3.4"), web, "TCP", 80, false},
				{web, api, "TCP", 80, false},
				{web, dbB, "TCP", 80, true}, // egress of a is open, b is not isolated
				{dbB, webB, "TCP", 80, true},
			},
		},
		{
			name: "absent policyTypes with egress rules isolate egress too",
			policies: []string{`
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  egress: [{to: [{podSelector: {matchLabels: {app: api}}}]}]`},
			flows: []flow{
				{web, api, "TCP", 80, true},
				{web, dbB, "TCP", 80, false},
				{api, web, "TCP", 80, false}, // Ingress implied, no ingress rules
			},
		},
		{
			name: "ingress [{}] allows all, ingress [] denies all",
			policies: []string{`
metadata: {name: all, namespace: a}
spec: {podSelector: {matchLabels: {app: web}}, ingress: [{}]}`, `
metadata: {name: none, namespace: a}
spec: {podSelector: {matchLabels: {app: api}}, ingress: []}`},
			flows: []flow{
				{dbB, web, "UDP", 9, true},
				{ext("8.8.8.8"), web, "SCTP", 9, true},
				{web, api, "TCP", 80, false},
			},
		},
		{
			name: "one peer with both selectors is AND, two peers are OR",
			policies: []string{`
metadata: {name: and, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: blue}}, podSelector: {matchLabels: {app: db}}}]`, `
metadata: {name: or, namespace: a}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: blue}}}, {podSelector: {matchLabels: {app: db}}}]`},
			flows: []flow{
				{dbB, web, "TCP", 80, true},
				{webB, web, "TCP", 80, false}, // namespace matches, pod does not
				{dbB, api, "TCP", 80, true},
				{webB, api, "TCP", 80, true}, // namespace alone suffices
				{web, api, "TCP", 80, false}, // a has no db
			},
		},
		{
			name: "podSelector-only peer stays in the policy's namespace",
			policies: []string{`
metadata: {name: p, namespace: a}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {matchLabels: {app: db}}}]}]`},
			flows: []flow{
				{dbB, web, "TCP", 80, false},
				{pod("a", "db", ""), web, "TCP", 80, true},
			},
		},
		{
			name: "namespaceSelector matches the name label of undeclared namespaces",
			policies: []string{`
metadata: {name: p, namespace: a}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ghost}}}]}]`},
			flows: []flow{
				{pod("ghost", "x", ""), web, "TCP", 80, true},
				{dbB, web, "TCP", 80, false},
			},
		},
		{
			name: "named port resolves on the destination with the rule's protocol",
			policies: []string{`
metadata: {name: p, namespace: a}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: http}, {port: dns}]`},
			flows: []flow{
				{dbB, web, "TCP", 8080, true},
				{dbB, web, "UDP", 8080, false},
				{dbB, web, "UDP", 53, false}, // dns is UDP, the rule means TCP: nothing
				{dbB, web, "TCP", 53, false},
				{dbB, api, "TCP", 8080, false}, // api has no port named http
			},
		},
		{
			name: "named port in egress resolves on the destination; external has none",
			policies: []string{`
metadata: {name: p, namespace: b}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{ports: [{port: dns, protocol: UDP}]}]`},
			flows: []flow{
				{dbB, web, "UDP", 53, true},
				{dbB, web, "TCP", 53, false},
				{dbB, ext("8.8.8.8"), "UDP", 53, false},
				{dbB, api, "UDP", 53, false},
			},
		},
		{
			name: "endPort, protocols and missing ports",
			policies: []string{`
metadata: {name: p, namespace: a}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 8000, endPort: 8080}, {protocol: UDP}, {port: 9, protocol: SCTP}]`},
			flows: []flow{
				{dbB, web, "TCP", 7999, false},
				{dbB, web, "TCP", 8000, true},
				{dbB, web, "TCP", 8080, true},
				{dbB, web, "TCP", 8081, false},
				{dbB, web, "UDP", 1, true},
				{dbB, web, "UDP", 65535, true},
				{dbB, web, "SCTP", 9, true},
				{dbB, web, "TCP", 9, false},
			},
		},
		{
			name: "ipBlock except is a hole, not a deny; pod IPs match",
			policies: []string{`
metadata: {name: p, namespace: a}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24]}}]
  - from: [{ipBlock: {cidr: 10.0.1.8/32}}]`},
			flows: []flow{
				{ext("10.0.0.0"), web, "TCP", 80, true},
				{ext("10.0.255.255"), web, "TCP", 80, true},
				{ext("10.1.0.0"), web, "TCP", 80, false},
				{ext("10.0.1.0"), web, "TCP", 80, false},
				{dbB, web, "TCP", 80, false},  // pod IP in the except
				{webB, web, "TCP", 80, true},  // the other rule
				{noIP, web, "TCP", 80, false}, // unknown IP matches no block
				{ext("fd00::1"), web, "TCP", 80, false},
			},
		},
		{
			name: "hostNetwork pods are never selected and match only ipBlocks",
			policies: []string{`
metadata: {name: p, namespace: a}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{podSelector: {}}]}]
  egress: [{to: [{ipBlock: {cidr: 10.0.0.9/32}}]}]`},
			flows: []flow{
				{host, web, "TCP", 80, false},
				{api, web, "TCP", 80, false}, // api's egress allows only 10.0.0.9
				{api, host, "TCP", 80, true},
				{host, ext("1.1.1.1"), "TCP", 80, true},
				{ext("1.1.1.1"), host, "TCP", 80, true},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := refeval.New(cluster(t, tc.policies...))
			for _, f := range tc.flows {
				if got := e.Allowed(f.src, f.dst, f.proto, f.port); got != f.want {
					t.Errorf("Allowed(%s) = %v, want %v", refeval.Flow(f.src, f.dst, f.proto, f.port), got, f.want)
				}
			}
		})
	}
}

func TestPodsN(t *testing.T) {
	set := &manifest.Set{Workloads: []*manifest.Workload{
		{Namespace: "a", Name: "one", Kind: "Deployment"},
		{Namespace: "a", Name: "two", Kind: "Pod", IPs: []netip.Addr{netip.MustParseAddr("10.0.0.1")}},
		{Namespace: "a", Name: "three", Kind: "Deployment", IPs: []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3"), netip.MustParseAddr("10.0.0.4")}},
	}}
	var got []string
	for _, p := range refeval.PodsN(set, 2) {
		got = append(got, p.String())
	}
	want := []string{
		"a/Deployment/one", "a/Deployment/one",
		"a/Pod/two@10.0.0.1", "a/Pod/two",
		"a/Deployment/three@10.0.0.2", "a/Deployment/three@10.0.0.3", "a/Deployment/three@10.0.0.4",
	}
	if len(got) != len(want) {
		t.Fatalf("PodsN = %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("PodsN = %q, want %q", got, want)
		}
	}
	if n := len(refeval.Pods(set)); n != 5 {
		t.Errorf("len(Pods) = %d, want 5", n)
	}
}

// TestFromObjects: the reference's own reading of a cluster: instance pods
// fold into their Deployment (directly or through a ReplicaSet left out of
// the input), other pods are workloads of their own, one pod per IP.
func TestFromObjects(t *testing.T) {
	yes := true
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}}}}}}}
	instance := func(name, owner, kind, ip string, lbls map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls,
			OwnerReferences: []metav1.OwnerReference{{Kind: kind, Name: owner, Controller: &yes}}},
			Status: corev1.PodStatus{PodIP: ip}}
	}
	web := map[string]string{"app": "web"}
	objs := []any{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"team": "a"}}},
		d,
		instance("web-1", "web-7c5f9d", "ReplicaSet", "10.0.0.2", web),
		instance("web-2", "web", "Deployment", "10.0.0.1", web),
		instance("stray", "web-7c5f9d", "ReplicaSet", "10.0.0.3", map[string]string{"app": "other"}), // the selector does not match
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "data"}},
	}
	_, pods, err := refeval.FromObjects("shop", objs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pods {
		got = append(got, fmt.Sprintf("%s %s ports=%d", p.Workload, p.IP, len(p.Ports)))
	}
	want := []string{"shop/Deployment/web 10.0.0.1 ports=1", "shop/Deployment/web 10.0.0.2 ports=1", "shop/Pod/stray 10.0.0.3 ports=0", "data/Pod/db invalid IP ports=0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pods (-want +got):\n%s", diff)
	}
	if _, _, err := refeval.FromObjects("shop", []any{&corev1.Service{}}); err == nil {
		t.Errorf("an object of a kind it does not read: no error")
	}
}
