package firewall_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

// A database that accepts the web container on its named port, compiled
// for nftables.
func Example() {
	inv, err := firewall.ParseInventory("inventory.yaml", []byte(`
networks:
  - {name: shop, subnets: [10.0.0.0/24]}
containers:
  - {name: web, namespace: shop, labels: {app: web}, ips: [10.0.0.2]}
  - name: db
    namespace: shop
    labels: {app: db}
    ips: [10.0.0.3]
    ports: [{name: pg, port: 5432}]
`))
	if err != nil {
		log.Fatal(err)
	}
	policies, err := manifest.Parse(manifest.Options{}, "policies.yaml", []byte(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: pg}]
`))
	if err != nil {
		log.Fatal(err)
	}
	set, err := inv.Set(policies)
	if err != nil {
		log.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		log.Fatal(err)
	}
	rs, err := firewall.Compile(eng, inv, firewall.Options{})
	if err != nil {
		log.Fatal(err)
	}
	// Print the ingress map and db's chain from the nft text.
	show := false
	for line := range strings.Lines(rs.String()) {
		if strings.Contains(line, "map ingress_v4 {") || strings.Contains(line, "chain in_c1 {") {
			show = true
		}
		if show {
			fmt.Print(line)
		}
		if line == "\t}\n" {
			show = false
		}
	}
	fmt.Printf("%+v\n", rs.Stats())
	// Output:
	// 	map ingress_v4 {
	// 		type ipv4_addr : verdict
	// 		flags interval
	// 		elements = { 10.0.0.0/31 : jump unclassified, 10.0.0.3 : jump in_c1,
	// 			     10.0.0.4-10.0.0.255 : jump unclassified }
	// 	}
	// 	chain in_c1 {
	// 		ip saddr @g1_v4 tcp dport 5432 return
	// 		limit rate 10/second burst 10 packets log prefix "ward-drop ingress c1 "
	// 		counter drop
	// 	}
	// {Sets:3 Maps:5 Chains:6 Rules:42 Elements:10 Bindings:0}
}
