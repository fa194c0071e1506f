package lab_test

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/lab"
	"github.com/wardsec/ward/manifest"
)

// A plan is pure: it compiles the policies for the workloads and lists the
// truth table the lab will probe, without root. Here the database admits
// the web pod on its TCP port only, and nothing else is isolated.
func ExamplePlan_WriteText() {
	doc := `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: web, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: db, ports: [{name: sql, containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: sql}]}]
`
	set, err := manifest.Parse(manifest.Options{}, "shop.yaml", []byte(doc))
	if err != nil {
		fmt.Println(err)
		return
	}
	// IPv4 only, to keep the output short; `ward lab` uses
	// firewall.DefaultPool, dual-stack.
	inv, err := firewall.FromManifests(set, firewall.Pool{IPv4: netip.MustParsePrefix("10.250.0.0/16")})
	if err != nil {
		fmt.Println(err)
		return
	}
	plan, err := lab.NewPlan(set, inv)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = plan.WriteText(os.Stdout)
	// Output:
	// 2 hosts, 6 probes; expected verdicts from the engine
	// hosts:
	//     1 shop/db   10.250.0.1  ports 5432
	//     2 shop/web  10.250.0.2  ports 80
	//
	// legend: rows are sources, columns destinations; "." allowed, "x" blocked, "-" same host
	//
	// 80/TCP IPv4
	//                 2
	//     1 shop/db   .
	//
	// 80/UDP IPv4
	//                 2
	//     1 shop/db   .
	//
	// 80/SCTP IPv4
	//                 2
	//     1 shop/db   .
	//
	// 5432/TCP IPv4
	//                 1
	//     2 shop/web  .
	//
	// 5432/UDP IPv4
	//                 1
	//     2 shop/web  x
	//
	// 5432/SCTP IPv4
	//                 1
	//     2 shop/web  x
}

// Counts print as the last line of `ward lab`.
func ExampleCounts_String() {
	c := lab.Counts{Total: 432, Ran: 288, Matched: 287, Mismatched: 1, NotRun: 144,
		NotRunReasons: map[string]int{"SCTP is not supported by this kernel": 144}}
	fmt.Println(c)
	// Output:
	// 288 probes ran, 287 matched, 1 mismatched, 144 could not run (144: SCTP is not supported by this kernel)
}
