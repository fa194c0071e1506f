package manifest

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func objMeta(ns, name string, owners ...metav1.OwnerReference) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, OwnerReferences: owners}
}

func ownedBy(kind, name string) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{Kind: kind, Name: name, Controller: &yes}
}

func podSpec(ports ...corev1.ContainerPort) corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Ports: ports}}}
}

func template(lbls map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbls}, Spec: podSpec()}
}

func deployment(ns, name string, lbls map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: objMeta(ns, name), Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: lbls}, Template: template(lbls)}}
}

func replicaSet(ns, name string, lbls map[string]string, owners ...metav1.OwnerReference) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: objMeta(ns, name, owners...), Spec: appsv1.ReplicaSetSpec{Template: template(lbls)}}
}

func pod(ns, name string, lbls map[string]string, ips []string, owners ...metav1.OwnerReference) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: objMeta(ns, name, owners...), Spec: podSpec()}
	p.Labels = lbls
	for i, ip := range ips {
		if i == 0 {
			p.Status.PodIP = ip
		}
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	return p
}

func policy(ns, name string) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: objMeta(ns, name)}
}

// addrCmp lets cmp compare netip.Addr values.
var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// summary is the part of a Workload the folding tests compare.
type summary struct {
	ID        string
	IPs       []netip.Addr
	Instances int
	Line      int
}

func summarize(ws []*Workload) []summary {
	var out []summary
	for _, w := range ws {
		out = append(out, summary{ID: w.ID(), IPs: w.IPs, Instances: w.Instances, Line: w.Source.Line})
	}
	return out
}

func TestFromObjectsFolding(t *testing.T) {
	web := map[string]string{"app": "web"}
	tests := []struct {
		name string
		objs []any
		want []summary
	}{{
		name: "pod to replicaset to deployment",
		objs: []any{
			deployment("shop", "web", web),
			replicaSet("shop", "web-5d8f", web, ownedBy("Deployment", "web")),
			pod("shop", "web-5d8f-a", web, []string{"10.0.0.9", "fd00::9"}, ownedBy("ReplicaSet", "web-5d8f")),
			pod("shop", "web-5d8f-b", web, []string{"10.0.0.2"}, ownedBy("ReplicaSet", "web-5d8f")),
			pod("shop", "web-5d8f-c", web, []string{"10.0.0.2"}, ownedBy("ReplicaSet", "web-5d8f")),
		},
		want: []summary{{ID: "shop/Deployment/web", IPs: addrs("10.0.0.2", "10.0.0.9", "fd00::9"), Instances: 3, Line: 1}},
	}, {
		name: "pod to job to cronjob",
		objs: []any{
			pod("ops", "backup-28000-x", nil, []string{"10.1.0.1"}, ownedBy("Job", "backup-28000")),
			&batchv1.Job{ObjectMeta: objMeta("ops", "backup-28000", ownedBy("CronJob", "backup"))},
			&batchv1.CronJob{ObjectMeta: objMeta("ops", "backup")},
		},
		want: []summary{{ID: "ops/CronJob/backup", IPs: addrs("10.1.0.1"), Instances: 1, Line: 3}},
	}, {
		name: "replicaset absent, deployment found by name and selector",
		objs: []any{
			deployment("shop", "web", web),
			pod("shop", "web-5d8f-a", map[string]string{"app": "web", "pod-template-hash": "5d8f"}, []string{"10.0.0.1"}, ownedBy("ReplicaSet", "web-5d8f")),
		},
		want: []summary{{ID: "shop/Deployment/web", IPs: addrs("10.0.0.1"), Instances: 1, Line: 1}},
	}, {
		name: "replicaset absent, selector does not match",
		objs: []any{
			deployment("shop", "web", web),
			pod("shop", "web-5d8f-a", map[string]string{"app": "other"}, nil, ownedBy("ReplicaSet", "web-5d8f")),
		},
		want: []summary{{ID: "shop/Deployment/web", Line: 1}, {ID: "shop/Pod/web-5d8f-a", Line: 2}},
	}, {
		name: "replicaset owned by absent deployment is a workload",
		objs: []any{
			replicaSet("shop", "web-5d8f", web, ownedBy("Deployment", "web")),
			pod("shop", "web-5d8f-a", web, []string{"10.0.0.1"}, ownedBy("ReplicaSet", "web-5d8f")),
		},
		want: []summary{{ID: "shop/ReplicaSet/web-5d8f", IPs: addrs("10.0.0.1"), Instances: 1, Line: 1}},
	}, {
		name: "owner in another namespace does not match",
		objs: []any{
			deployment("a", "web", web),
			replicaSet("b", "web-5d8f", web, ownedBy("Deployment", "web")),
		},
		want: []summary{{ID: "a/Deployment/web", Line: 1}, {ID: "b/ReplicaSet/web-5d8f", Line: 2}},
	}, {
		name: "uid mismatch does not match",
		objs: []any{
			func() any { d := deployment("a", "web", web); d.UID = "1"; return d }(),
			func() any {
				ref := ownedBy("Deployment", "web")
				ref.UID = types.UID("2")
				return replicaSet("a", "web-5d8f", web, ref)
			}(),
		},
		want: []summary{{ID: "a/Deployment/web", Line: 1}, {ID: "a/ReplicaSet/web-5d8f", Line: 2}},
	}, {
		name: "first owner when none is controller",
		objs: []any{
			&appsv1.StatefulSet{ObjectMeta: objMeta("db", "pg")},
			pod("db", "pg-0", nil, []string{"10.2.0.1"}, metav1.OwnerReference{Kind: "StatefulSet", Name: "pg"}),
		},
		want: []summary{{ID: "db/StatefulSet/pg", IPs: addrs("10.2.0.1"), Instances: 1, Line: 1}},
	}, {
		name: "owner cycle is cut",
		objs: []any{
			replicaSet("a", "x", nil, ownedBy("ReplicaSet", "y")),
			replicaSet("a", "y", nil, ownedBy("ReplicaSet", "x")),
		},
		want: []summary{{ID: "a/ReplicaSet/x", Line: 1}},
	}, {
		name: "bare pods keep their own IPs",
		objs: []any{
			pod("", "solo", nil, []string{"10.3.0.1", "10.3.0.1"}),
		},
		want: []summary{{ID: "default/Pod/solo", IPs: addrs("10.3.0.1"), Line: 1}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := FromObjects("", tt.objs...)
			if err != nil {
				t.Fatalf("FromObjects: %v", err)
			}
			if diff := cmp.Diff(tt.want, summarize(s.Workloads), addrCmp); diff != "" {
				t.Errorf("workloads (-want +got):\n%s", diff)
			}
			if len(s.Objects) != len(tt.objs) {
				t.Errorf("got %d objects, want %d", len(s.Objects), len(tt.objs))
			}
		})
	}
}

func TestFromObjectsModel(t *testing.T) {
	web := map[string]string{"app": "web"}
	d := deployment("shop", "web", web)
	d.Spec.Template.Spec = corev1.PodSpec{
		HostNetwork: true,
		// A native sidecar's ports are the workload's (after the
		// containers', as FindPort looks them up); an init container's are
		// not.
		InitContainers: []corev1.Container{
			{Name: "proxy", RestartPolicy: ptr(corev1.ContainerRestartPolicyAlways), Ports: []corev1.ContainerPort{{Name: "proxy", ContainerPort: 15001}}},
			{Name: "init", Ports: []corev1.ContainerPort{{ContainerPort: 1}}},
		},
		Containers: []corev1.Container{
			{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}}},
			{Name: "metrics", Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9090}}},
		},
	}
	nsShop := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"team": "a", MetadataNameLabel: "wrong"}}}
	svc := &corev1.Service{ObjectMeta: objMeta("shop", "web"), Spec: corev1.ServiceSpec{
		Selector: web, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}}}
	noNS := policy("", "deny")
	s, err := FromObjects("", d, nsShop, svc, policy("shop", "b"), policy("shop", "a"), noNS, deployment("zz", "a", nil))
	if err != nil {
		t.Fatalf("FromObjects: %v", err)
	}

	if noNS.Namespace != "" {
		t.Errorf("FromObjects changed the caller's object: namespace %q", noNS.Namespace)
	}
	wantNS := []*Namespace{
		{Name: "default", Labels: map[string]string{MetadataNameLabel: "default"}},
		{Name: "shop", Labels: map[string]string{"team": "a", MetadataNameLabel: "shop"}, Declared: true, Source: Source{File: "<memory>", Line: 2}},
		{Name: "zz", Labels: map[string]string{MetadataNameLabel: "zz"}},
	}
	if diff := cmp.Diff(wantNS, s.Namespaces); diff != "" {
		t.Errorf("namespaces (-want +got):\n%s", diff)
	}
	if s.Namespace("shop") != s.Namespaces[1] || s.Namespace("nope") != nil {
		t.Errorf("Set.Namespace lookup is wrong")
	}

	w := s.Workloads[0]
	wantPorts := []Port{
		{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, Container: "app"},
		{Port: 53, Protocol: corev1.ProtocolUDP, Container: "app"},
		{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP, Container: "metrics"},
		{Name: "proxy", Port: 15001, Protocol: corev1.ProtocolTCP, Container: "proxy"},
	}
	if diff := cmp.Diff(wantPorts, w.Ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
	if !w.HostNetwork || w.Kind != "Deployment" || w.Template != &d.Spec.Template || !cmp.Equal(w.Labels, web) {
		t.Errorf("workload = %+v", w)
	}
	if got := []string{s.Workloads[0].ID(), s.Workloads[1].ID()}; !cmp.Equal(got, []string{"shop/Deployment/web", "zz/Deployment/a"}) {
		t.Errorf("workload order = %v", got)
	}

	var pols []string
	for _, p := range s.Policies {
		pols = append(pols, p.Namespace+"/"+p.Name)
	}
	if diff := cmp.Diff([]string{"default/deny", "shop/a", "shop/b"}, pols); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	if len(s.Services) != 1 || !cmp.Equal(s.Services[0].Selector, web) || s.Services[0].Ports[0].Port != 80 {
		t.Errorf("services = %+v", s.Services)
	}
	var kinds []string
	for _, o := range s.Objects {
		kinds = append(kinds, o.Kind)
	}
	if diff := cmp.Diff([]string{"Deployment", "Namespace", "Service", "NetworkPolicy", "NetworkPolicy", "NetworkPolicy", "Deployment"}, kinds); diff != "" {
		t.Errorf("object kinds (-want +got):\n%s", diff)
	}
	if s.PodIPsKnown {
		t.Errorf("PodIPsKnown without pod IPs")
	}
}

func TestFromObjectsErrors(t *testing.T) {
	bad := policy("shop", "bad")
	bad.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: ptr(intstr.FromInt32(70000))}}}}
	var nilPod *corev1.Pod
	tests := []struct {
		name    string
		obj     any
		wantErr error
		object  string
	}{
		{"invalid policy", bad, ErrInvalid, "shop/NetworkPolicy/bad"},
		{"no name", &appsv1.Deployment{}, ErrInvalid, "default/Deployment"},
		{"duplicate", deployment("shop", "web", nil), ErrDuplicate, "shop/Deployment/web"},
		{"unsupported type", &corev1.Secret{}, ErrInvalid, ""},
		{"nil pointer", nilPod, ErrInvalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := FromObjects("", deployment("shop", "web", nil), tt.obj, policy("shop", "ok"))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("FromObjects error = %v, want an *Error", err)
			}
			if got, want := *e, (Error{File: "<memory>", Line: 2, Object: tt.object, Err: e.Err}); got != want {
				t.Errorf("error = %+v, want %+v", got, want)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not match %v", err, tt.wantErr)
			}
			if len(s.Objects) != 2 || len(s.Policies) != 1 || len(s.Workloads) != 1 {
				t.Errorf("got %d objects, %d policies, %d workloads; want the two valid ones", len(s.Objects), len(s.Policies), len(s.Workloads))
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
