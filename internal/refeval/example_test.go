package refeval_test

import (
	"fmt"
	"net/netip"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wardsec/ward/internal/refeval"
	"github.com/wardsec/ward/manifest"
)

func Example() {
	// Namespace "shop" denies all ingress except from pods labelled app=web.
	policy := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{
					PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				}},
			}},
		},
	}
	set := &manifest.Set{
		Namespaces: []*manifest.Namespace{{Name: "shop", Labels: map[string]string{manifest.MetadataNameLabel: "shop"}}},
		Policies:   []*manifest.Policy{{NetworkPolicy: policy}},
	}
	e := refeval.New(set)

	web := refeval.Pod{Namespace: "shop", Workload: "shop/Deployment/web", Labels: map[string]string{"app": "web"}}
	db := refeval.Pod{Namespace: "shop", Workload: "shop/Deployment/db", Labels: map[string]string{"app": "db"}}
	internet := refeval.External(netip.MustParseAddr("203.0.113.9"))

	fmt.Println("web -> db:", e.Allowed(web, db, "TCP", 5432))
	fmt.Println("internet -> db:", e.Allowed(internet, db, "TCP", 5432))
	fmt.Println("db -> internet:", e.Allowed(db, internet, "UDP", 53))
	// Output:
	// web -> db: true
	// internet -> db: false
	// db -> internet: true
}
