package compose

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/manifest"
)

// twoServices is a project of two services, web (line 2) and db (line
// 6), on the project's default network.
const twoServices = `services:
  web:
    image: nginx
    labels:
      app: web
  db:
    image: postgres
    labels: ["app=db", "tier=data"]
`

// denyAll denies every pod of namespace shop all egress.
const denyAll = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
`

// egressRule selects every pod of namespace shop and gives it one egress
// rule with ports.
func egressRule(ports string) string {
	return `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to: [{podSelector: {matchLabels: {app: db}}}]
      ports: ` + ports + `
`
}

var dnsCases = []struct {
	name     string
	file     string // default shop/compose.yaml: project shop
	src      string
	policies string
	want     []hit
}{
	{"egress denied to every service", "", twoServices, denyAll, []hit{{2, finding.Medium}, {6, finding.Medium}}},
	{"no policies", "", twoServices, "", nil},
	{"policies of another namespace", "other/compose.yaml", twoServices, denyAll, nil},
	{"project from the top-level name", "other/compose.yaml", "name: shop\n" + twoServices, denyAll, []hit{{3, finding.Medium}, {7, finding.Medium}}},
	{"project name interpolated with its default", "other/compose.yaml", "name: ${PROJECT:-shop}\n" + twoServices, denyAll, []hit{{3, finding.Medium}, {7, finding.Medium}}},
	{"directory name normalized", "Shop!/compose.yaml", twoServices, denyAll, []hit{{2, finding.Medium}, {6, finding.Medium}}},
	{"ward.dev/namespace label", "other/compose.yaml", `services:
  web:
    image: nginx
    labels: {ward.dev/namespace: shop}
  db:
    image: postgres
`, denyAll, []hit{{2, finding.Medium}}},
	{"selected by a service label", "", twoServices, `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {tier: data}}
  policyTypes: [Egress]
`, []hit{{6, finding.Medium}}},
	{"selected by Compose's service label", "", twoServices, `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {com.docker.compose.service: web, com.docker.compose.project: shop}}
  policyTypes: [Egress]
`, []hit{{2, finding.Medium}}},
	{"an ingress policy", "", twoServices, `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: shop}
spec:
  podSelector: {}
  egress: [{}]
  policyTypes: [Ingress]
`, nil},
	{"network_mode is not a Compose network", "", `services:
  agent:
    image: busybox
    network_mode: host
  sidecar:
    image: busybox
    network_mode: "service:agent"
  offline:
    image: busybox
    network_mode: none
`, denyAll, nil},
	{"egress to 5432 only", "", twoServices, egressRule("[{port: 5432}]"), []hit{{2, finding.Medium}, {6, finding.Medium}}},
	{"egress to 53/SCTP only", "", twoServices, egressRule("[{port: 53, protocol: SCTP}]"), []hit{{2, finding.Medium}, {6, finding.Medium}}},
	{"egress to 53/UDP", "", twoServices, egressRule("[{port: 53, protocol: UDP}]"), nil},
	{"egress to 53/TCP, the default protocol", "", twoServices, egressRule("[{port: 53}]"), nil},
	{"egress to a range holding 53", "", twoServices, egressRule("[{port: 1, endPort: 1024, protocol: UDP}]"), nil},
	{"egress to a range without 53", "", twoServices, egressRule("[{port: 54, endPort: 1024, protocol: UDP}]"), []hit{{2, finding.Medium}, {6, finding.Medium}}},
	{"egress to a named port", "", twoServices, egressRule("[{port: dns, protocol: UDP}]"), nil},
	{"egress to every port of a protocol", "", twoServices, egressRule("[{protocol: UDP}]"), nil},
	{"egress to every port", "", twoServices, egressRule("[]"), nil},
	{"DNS allowed by a second policy", "", twoServices, denyAll + "---\n" + `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
    - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]
      ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
`, []hit{{6, finding.Medium}}},
	{"suppressed, still returned", "", `services:
  # ward:ignore compose/embedded-dns-bypasses-policy it only talks to db, by address
  web:
    image: nginx
`, denyAll, []hit{{3, finding.Medium}}},
}

// auditWithPolicies audits src as file with the NetworkPolicies of
// policies (YAML; none when empty).
func auditWithPolicies(t *testing.T, file, src, policies string) []finding.Finding {
	t.Helper()
	var set *manifest.Set
	if policies != "" {
		var err error
		if set, err = manifest.Parse(manifest.Options{}, "policies.yaml", []byte(policies)); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := Audit(file, []byte(src), Options{Policies: set})
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	return fs
}

func TestEmbeddedDNS(t *testing.T) {
	for _, tc := range dnsCases {
		t.Run(tc.name, func(t *testing.T) {
			file := tc.file
			if file == "" {
				file = "shop/compose.yaml"
			}
			var got []hit
			for _, f := range auditWithPolicies(t, file, tc.src, tc.policies) {
				if f.Rule == ruleEmbeddedDNS {
					got = append(got, hit{f.Line, f.Severity})
				}
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("findings of %s (-got +want):\n%s", ruleEmbeddedDNS, diff)
			}
		})
	}
}

func TestEmbeddedDNSMessage(t *testing.T) {
	var got []string
	for _, f := range auditWithPolicies(t, "shop/compose.yaml", twoServices, denyAll) {
		if f.Rule != ruleEmbeddedDNS {
			continue
		}
		got = append(got, f.Location()+" "+f.Object+": "+f.Message)
		if r, _ := Lookup(f.Rule); f.Fix != r.Fix || f.Fix == "" {
			t.Errorf("fix %q, want the rule's", f.Fix)
		}
	}
	want := []string{
		"shop/compose.yaml:2 service web: NetworkPolicy shop/deny-egress allows pod shop/web no DNS (53/UDP or 53/TCP), but Docker's embedded resolver (127.0.0.11) answers it inside the container, where no firewall sees the query: the names and addresses of the containers on its networks, and other names through dockerd",
		"shop/compose.yaml:6 service db: NetworkPolicy shop/deny-egress allows pod shop/db no DNS (53/UDP or 53/TCP), but Docker's embedded resolver (127.0.0.11) answers it inside the container, where no firewall sees the query: the names and addresses of the containers on its networks, and other names through dockerd",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

// TestEmbeddedDNSSuppressed: a # ward:ignore comment above the service
// silences the finding, which is still returned.
func TestEmbeddedDNSSuppressed(t *testing.T) {
	src := `services:
  # ward:ignore compose/embedded-dns-bypasses-policy it only talks to db, by address
  web:
    image: nginx
`
	n := 0
	for _, f := range auditWithPolicies(t, "shop/compose.yaml", src, denyAll) {
		if f.Rule == ruleEmbeddedDNS {
			n++
			if f.Suppressed == nil || f.Suppressed.Reason != "it only talks to db, by address" {
				t.Errorf("finding not suppressed with the comment's reason: %+v", f.Suppressed)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d findings of %s, want 1", n, ruleEmbeddedDNS)
	}
}
