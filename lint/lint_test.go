package lint_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/lint"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

// testFile is the name every test input is parsed under.
const testFile = "test.yaml"

// run parses doc as testFile and lints it.
func run(t *testing.T, doc string) []finding.Finding {
	t.Helper()
	set, err := manifest.Parse(manifest.Options{}, testFile, []byte(doc))
	if err != nil {
		t.Fatalf("manifest.Parse: %v", err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatalf("netpol.Compile: %v", err)
	}
	return lint.Run(set, eng)
}

// lineOf returns the 1-based line of doc holding marker, which must occur
// exactly once. Markers are YAML comments such as "#web".
func lineOf(t *testing.T, doc, marker string) int {
	t.Helper()
	line, found := 0, 0
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, marker+" ") || strings.HasSuffix(l, marker) {
			line = i + 1
			found++
		}
	}
	if found != 1 {
		t.Fatalf("marker %q occurs %d times in the input", marker, found)
	}
	return line
}

// want is an expected finding: At is the marker of its line.
type want struct {
	Severity finding.Severity
	At       string
	Object   string
	// Msg are substrings the message must contain.
	Msg []string
}

// got is the part of a finding the tests compare exactly.
type got struct {
	Rule     string
	Severity finding.Severity
	File     string
	Line     int
	Object   string
}

type testCase struct {
	name string
	doc  string
	want []want // findings of the suite's rule, in output order
}

// Shorthands for inputs: a bare Pod is the smallest workload.
const (
	podWeb = `apiVersion: v1 #web
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 8080, name: http}]}]}
`
	podAPI = `apiVersion: v1 #api
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec: {containers: [{name: c, image: i}]}
`
	podDB = `apiVersion: v1 #db
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 5432, name: postgres}]}]}
`
	nsShop = `apiVersion: v1 #ns
kind: Namespace
metadata: {name: shop}
`
	// denyAll is a namespace default deny for both directions that
	// still allows DNS.
	denyAll = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  egress:
  - ports: [{port: 53, protocol: UDP}]
`
)

func docs(parts ...string) string { return strings.Join(parts, "---\n") }

func policy(name, spec string) string {
	return "apiVersion: networking.k8s.io/v1 #" + name + "\nkind: NetworkPolicy\nmetadata: {name: " + name + ", namespace: shop}\nspec:\n" + spec
}

// suites holds every rule's cases, keyed by rule id. Each suite has
// positive cases and negative ones (want empty).
var suites = map[string][]testCase{
	"netpol/no-default-deny-ingress": {
		{"declared namespace without policies", docs(nsShop, podWeb),
			[]want{{finding.Medium, "#ns", "Namespace/shop", []string{"namespace shop has no default-deny ingress policy", "shop/Pod/web is not isolated for ingress"}}}},
		{"undeclared namespace: first workload in input order", docs(podWeb, podAPI),
			[]want{{finding.Medium, "#web", "Namespace/shop", []string{"2 of its 2 workloads are not isolated for ingress: shop/Pod/api, shop/Pod/web"}}}},
		{"empty podSelector with an allow-all rule is no default deny", docs(podWeb, policy("np", `  podSelector: {}
  ingress: [{}]
`)), []want{{finding.Medium, "#web", "Namespace/shop", []string{"each of its workloads is isolated for ingress by some policy today"}}}},
		{"default deny", docs(podWeb, denyAll), nil},
		{"default deny by policyTypes defaulting, with rules", docs(podWeb, policy("np", `  podSelector: {}
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}]
`)), nil},
		{"only hostNetwork workloads", `apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: shop}
spec: {hostNetwork: true, containers: [{name: c, image: i}]}
`, nil},
		{"namespace without workloads", nsShop, nil},
	},
	"netpol/no-default-deny-egress": {
		{"ingress-only default deny", docs(nsShop, podWeb, policy("np", `  podSelector: {}
  policyTypes: [Ingress]
`)), []want{{finding.Medium, "#ns", "Namespace/shop", []string{"no default-deny egress policy"}}}},
		{"allow-all egress rule", docs(nsShop, podWeb, policy("np", `  podSelector: {}
  policyTypes: [Egress]
  egress: [{}]
`)), []want{{finding.Medium, "#ns", "Namespace/shop", nil}}},
		{"egress implied by an egress section", docs(podWeb, policy("np", `  podSelector: {}
  egress:
  - ports: [{port: 53, protocol: UDP}]
`)), nil},
		{"default deny", docs(podWeb, denyAll), nil},
	},
	"netpol/workload-unprotected": {
		{"not selected in a namespace with policies", docs(podWeb, podAPI, policy("np", `  podSelector: {matchLabels: {app: api}}
`)), []want{{finding.Low, "#web", "shop/Pod/web", []string{"no NetworkPolicy isolates shop/Pod/web for ingress or egress", "may connect anywhere"}}}},
		{"egress restricted only", docs(podWeb, policy("np", `  podSelector: {}
  policyTypes: [Egress]
  egress: [{ports: [{port: 53, protocol: UDP}]}]
`)), []want{{finding.Low, "#web", "shop/Pod/web", []string{"its egress is restricted"}}}},
		{"namespace without policies", podWeb, nil},
		{"selected", docs(podWeb, denyAll), nil},
	},
	"netpol/policy-selects-nothing": {
		{"labels do not match", docs(podWeb, policy("np", `  podSelector: {matchLabels: {app: ghost}} #sel
`)), []want{{finding.Medium, "#sel", "shop/NetworkPolicy/np", []string{"podSelector {app=ghost} matches nothing in namespace shop", "shop/Pod/web {app=web}"}}}},
		{"only a hostNetwork workload matches", docs(`apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: shop, labels: {app: agent}}
spec: {hostNetwork: true, containers: [{name: c, image: i}]}
`, policy("np", `  podSelector: {matchLabels: {app: agent}} #sel
`)), []want{{finding.Medium, "#sel", "shop/NetworkPolicy/np", []string{"hostNetwork workloads (shop/Pod/agent)"}}}},
		{"selects a workload", docs(podWeb, policy("np", `  podSelector: {matchLabels: {app: web}}
`)), nil},
		// kube-prometheus: the operator creates the Prometheus pods, which
		// the input does not hold.
		{"custom resources that may create pods", docs(podWeb, `apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: k8s, namespace: shop}
spec: {replicas: 2}
`, policy("np", `  podSelector: {matchLabels: {app.kubernetes.io/name: prometheus}} #sel
`)), []want{{finding.Info, "#sel", "shop/NetworkPolicy/np", []string{"matches nothing in namespace shop", "custom resources in namespace shop (monitoring.coreos.com/v1 Prometheus k8s) whose operators may create pods"}}}},
		{"custom resources elsewhere", docs(podWeb, strings.Replace(`apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: k8s, namespace: shop}
spec: {replicas: 2}
`, "namespace: shop", "namespace: monitoring", 1), policy("np", `  podSelector: {matchLabels: {app: ghost}} #sel
`)), []want{{finding.Medium, "#sel", "shop/NetworkPolicy/np", []string{"matches nothing in namespace shop"}}}},
		{"input without workloads", policy("np", `  podSelector: {matchLabels: {app: ghost}}
`), nil},
	},
	"netpol/peer-matches-nothing": {
		{"podSelector in the policy's namespace", docs(podWeb, policy("np", `  podSelector: {}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
    - podSelector: {matchLabels: {app: ghost}} #peer
`)), []want{{finding.Medium, "#peer", "shop/NetworkPolicy/np", []string{"spec.ingress[0].from[1] of shop/NetworkPolicy/np: podSelector {app=ghost} matches no workload in namespace shop"}}}},
		{"podSelector of operator pods", docs(podWeb, `apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: k8s, namespace: shop}
spec: {replicas: 2}
`, policy("np", `  podSelector: {}
  ingress:
  - from:
    - podSelector: {matchLabels: {app.kubernetes.io/name: prometheus}} #peer
`)), []want{{finding.Info, "#peer", "shop/NetworkPolicy/np", []string{"matches no workload in namespace shop", "custom resources in namespace shop (monitoring.coreos.com/v1 Prometheus k8s)"}}}},
		{"namespaceSelector matching no namespace", docs(podWeb, policy("np", `  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {team: pay}} #peer
`)), []want{{finding.Medium, "#peer", "shop/NetworkPolicy/np", []string{"spec.egress[0].to[0]", "namespaceSelector {team=pay} matches no namespace (namespaces in the input: shop;"}}}},
		{"namespace matches, pods do not", docs(podWeb, `apiVersion: v1
kind: Namespace
metadata: {name: pay, labels: {team: pay}}
`, policy("np", `  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: pay}} #peer
      podSelector: {matchLabels: {app: web}}
`)), []want{{finding.Medium, "#peer", "shop/NetworkPolicy/np", []string{"matches namespace(s) pay, but podSelector {app=web} matches no workload in them"}}}},
		{"namespace named but absent from the input", docs(podWeb, policy("np", `  podSelector: {}
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
`)), nil},
		{"matching peers and ipBlocks", docs(podWeb, policy("np", `  podSelector: {}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
    - namespaceSelector: {}
    - ipBlock: {cidr: 10.0.0.0/8}
`)), nil},
		{"rules of a direction policyTypes omit are not checked", docs(podWeb, policy("np", `  podSelector: {}
  policyTypes: [Ingress]
  egress:
  - to: [{podSelector: {matchLabels: {app: ghost}}}]
`)), nil},
	},
	"netpol/named-port-unresolved": {
		{"ingress protocol mismatch", docs(podWeb, policy("np", `  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports:
    - {port: http, protocol: UDP} #port
`)), []want{{finding.High, "#port", "shop/NetworkPolicy/np", []string{`spec.ingress[0].ports[0] of shop/NetworkPolicy/np: named port "http" (UDP)`, `shop/Pod/web has "http" as 8080/TCP`}}}},
		{"egress name the destination lacks", docs(podWeb, podDB, policy("np", `  podSelector: {matchLabels: {app: web}}
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports:
    - port: pg #port
`)), []want{{finding.High, "#port", "shop/NetworkPolicy/np", []string{`shop/Pod/db has no port named "pg"`}}}},
		{"egress to an ipBlock with pod IPs known", docs(`apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 8080, name: http}]}]}
status: {podIP: 10.1.0.5}
`, policy("np", `  podSelector: {}
  egress:
  - to: [{ipBlock: {cidr: 192.168.0.0/16}}]
    ports:
    - port: http #port
`)), []want{{finding.High, "#port", "shop/NetworkPolicy/np", []string{"addresses outside the cluster have no port names"}}}},
		{"resolves", docs(podWeb, podDB, policy("np", `  podSelector: {}
  ingress:
  - ports: [{port: http}]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: postgres}]
  - ports: [{port: http}]
`)), nil},
		{"egress to an ipBlock without pod IPs", docs(podWeb, policy("np", `  podSelector: {}
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/8}}]
    ports: [{port: http}]
`)), nil},
		{"policy selecting nothing", docs(podWeb, policy("np", `  podSelector: {matchLabels: {app: ghost}}
  ingress:
  - ports: [{port: nope}]
`)), nil},
	},
	"netpol/egress-without-dns": {
		{"egress only to the database", docs(podWeb, podDB, policy("np", `  podSelector: {matchLabels: {app: web}}
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: 5432}]
`)), []want{{finding.Medium, "#web", "shop/Pod/web", []string{"shop/Pod/web is isolated for egress (by shop/NetworkPolicy/np)", "DNS lookups will fail"}}}},
		{"DNS over TCP only to the wrong protocol", docs(podWeb, policy("np", `  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{port: 53, protocol: SCTP}]
`)), []want{{finding.Medium, "#web", "shop/Pod/web", nil}}},
		{"DNS to a namespace outside the input", docs(podWeb, policy("np", `  podSelector: {}
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{port: 53, protocol: UDP}]
`)), nil},
		{"DNS to an address", docs(podWeb, policy("np", `  podSelector: {}
  egress:
  - to: [{ipBlock: {cidr: 10.96.0.10/32}}]
    ports: [{port: 53, protocol: TCP}]
`)), nil},
		{"DNS in a port range to an address", docs(podWeb, policy("np", `  podSelector: {}
  egress:
  - to: [{ipBlock: {cidr: 10.96.0.10/32}}]
    ports: [{port: 50, endPort: 60, protocol: UDP}]
`)), nil},
		{"every UDP port to an address", docs(podWeb, policy("np", `  podSelector: {}
  egress:
  - to: [{ipBlock: {cidr: 10.96.0.10/32}}]
    ports: [{protocol: UDP}]
`)), nil},
		{"every port to an address", docs(podWeb, policy("np", `  podSelector: {}
  egress:
  - to: [{ipBlock: {cidr: 10.96.0.10/32}}]
`)), nil},
		{"a port range without 53 to an address", docs(podWeb, policy("np", `  podSelector: {}
  egress:
  - to: [{ipBlock: {cidr: 10.96.0.10/32}}]
    ports: [{port: 54, endPort: 60, protocol: UDP}]
`)), []want{{finding.Medium, "#web", "shop/Pod/web", nil}}},
		{"a named DNS port to an address", docs(podWeb, `apiVersion: v1
kind: Pod
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 53, protocol: UDP, name: domain}]}]}
`, policy("np", `  podSelector: {}
  egress:
  - to: [{ipBlock: {cidr: 10.96.0.10/32}}]
    ports: [{port: domain, protocol: UDP}]
`)), []want{{finding.Medium, "#web", "shop/Pod/web", nil}}},
		{"DNS to a workload in the input", docs(podWeb, `apiVersion: v1
kind: Pod
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 53, protocol: UDP, name: dns}]}]}
`, policy("np", `  podSelector: {}
  egress:
  - to: [{namespaceSelector: {}}]
    ports: [{port: dns, protocol: UDP}]
`)), nil},
		{"egress not isolated", docs(podWeb, policy("np", `  podSelector: {}
`)), nil},
	},
	"netpol/datastore-open": {
		{"not isolated", podDB,
			[]want{{finding.Critical, "#db", "shop/Pod/db", []string{"shop/Pod/db serves PostgreSQL on 5432/TCP and no NetworkPolicy isolates it for ingress"}}}},
		{"by port name", `apiVersion: v1 #db
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 15432, name: tcp-postgresql}]}]}
`, []want{{finding.Critical, "#db", "shop/Pod/db", []string{"PostgreSQL on 15432/TCP"}}}},
		{"every namespace", docs(podDB, policy("np", `  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
    - namespaceSelector: {} #peer
    ports: [{port: postgres}]
`)), []want{{finding.High, "#peer", "shop/Pod/db", []string{"shop/NetworkPolicy/np spec.ingress[0].from[1] allows namespaceSelector: {}: every pod in every namespace"}}}},
		{"rule without from beats a namespace rule", docs(podDB, policy("np", `  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{namespaceSelector: {}}]
  - ports: [{port: 5000, endPort: 6000}] #rule
`)), []want{{finding.Critical, "#rule", "shop/Pod/db", []string{"spec.ingress[1] has no from: any pod and any address may connect"}}}},
		{"ipBlock 0.0.0.0/0", docs(podDB, policy("np", `  podSelector: {}
  ingress:
  - from:
    - ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]} #peer
`)), []want{{finding.Critical, "#peer", "shop/Pod/db", []string{"allows ipBlock 0.0.0.0/0: any address may connect"}}}},
		// The attack: the same opening written so that no selector is
		// empty and no ipBlock is a /0 passed without a finding.
		{"ipBlocks that cover every address together", docs(podDB, policy("np", `  podSelector: {}
  ingress:
  - from:
    - ipBlock: {cidr: 0.0.0.0/1} #peer
    - ipBlock: {cidr: 128.0.0.0/1}
`)), []want{{finding.Critical, "#peer", "shop/Pod/db", []string{"spec.ingress[0]: its ipBlocks together cover 0.0.0.0/0: any address may connect"}}}},
		{"IPv6 ipBlocks that cover every address together", docs(podDB, policy("np", `  podSelector: {}
  ingress:
  - from:
    - ipBlock: {cidr: "10.0.0.0/8"}
    - ipBlock: {cidr: "::/1"} #peer
    - ipBlock: {cidr: "8000::/1"}
`)), []want{{finding.Critical, "#peer", "shop/Pod/db", []string{"cover ::/0"}}}},
		{"ipBlocks that leave a gap", docs(podDB, policy("np", `  podSelector: {}
  ingress:
  - from:
    - ipBlock: {cidr: 0.0.0.0/1}
    - ipBlock: {cidr: 128.0.0.0/2}
`)), nil},
		{"a namespaceSelector every namespace without a label matches", docs(podDB, policy("np", `  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchExpressions: [{key: x, operator: DoesNotExist}]} #peer
`)), []want{{finding.High, "#peer", "shop/Pod/db", []string{"spec.ingress[0].from[0] has a namespaceSelector that a namespace with no labels but its name matches"}}}},
		{"every namespace but one, every pod", docs(podDB, policy("np", `  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system]}]} #peer
      podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [x]}]}
`)), []want{{finding.High, "#peer", "shop/Pod/db", []string{"the pods of every namespace not excluded by label"}}}},
		{"named namespaces, or a labelled client", docs(podDB, policy("np", `  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [web]}]}
    - namespaceSelector: {matchExpressions: [{key: x, operator: DoesNotExist}]}
      podSelector: {matchLabels: {app: web}}
    - namespaceSelector: {matchLabels: {team: a}}
`)), nil},
		{"only from its client", docs(podDB, policy("np", `  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 5432}]
`)), nil},
		{"open rule on other ports", docs(podDB, policy("np", `  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{namespaceSelector: {}}]
    ports: [{port: 9187}, {port: 5432, protocol: UDP}]
`)), nil},
		{"no data store port", docs(podWeb), nil},
	},
	"netpol/rule-shadowed": {
		{"identical rules: the later one", docs(podWeb, policy("np", `  podSelector: {}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 80}]
  - from: [{podSelector: {matchExpressions: [{key: app, operator: In, values: [web]}]}}] #r1
    ports: [{port: 80, protocol: TCP}]
`)), []want{{finding.Low, "#r1", "shop/NetworkPolicy/np", []string{"spec.ingress[1] of shop/NetworkPolicy/np is shadowed by spec.ingress[0]"}}}},
		{"allow-all rule after a narrow one", docs(podWeb, policy("np", `  podSelector: {}
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/8}}] #r0
  - {}
`)), []want{{finding.Low, "#r0", "shop/NetworkPolicy/np", []string{"it has no to (every peer) and no ports (every port)"}}}},
		{"port subset with the same peers", docs(podWeb, policy("np", `  podSelector: {}
  ingress:
  - from: [{podSelector: {}}, {namespaceSelector: {matchLabels: {team: a}}}]
    ports: [{port: 80}, {port: 8000, endPort: 9000}]
  - from: [{podSelector: {}}] #r1
    ports: [{port: 8080}]
`)), []want{{finding.Low, "#r1", "shop/NetworkPolicy/np", []string{"its from includes every peer of this one and its ports include all of this one's"}}}},
		{"across policies with the same podSelector", docs(podWeb, policy("a", `  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}]
`), policy("b", `  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}] #r0
    ports: [{port: http}]
`)), []want{{finding.Low, "#r0", "shop/NetworkPolicy/b", []string{"shadowed by spec.ingress[0] of shop/NetworkPolicy/a"}}}},
		{"different peers, protocols or port kinds", docs(podWeb, policy("np", `  podSelector: {}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 80}]
  - from: [{podSelector: {matchLabels: {app: api}}}]
    ports: [{port: 80}]
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 80, protocol: UDP}]
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: http}]
  - ports: [{port: 443}]
`)), nil},
		{"different podSelectors", docs(podWeb, policy("a", `  podSelector: {matchLabels: {app: web}}
  ingress: [{}]
`), policy("b", `  podSelector: {}
  ingress: [{}]
`)), nil},
	},
	"netpol/ignored-rules": {
		{"ingress rules under policyTypes [Egress]", docs(podWeb, policy("np", `  podSelector: {}
  policyTypes: [Egress]
  ingress: #in
  - from: [{podSelector: {}}]
  - {}
`)), []want{{finding.Medium, "#in", "shop/NetworkPolicy/np", []string{"shop/NetworkPolicy/np has 2 ingress rules but policyTypes [Egress] omits Ingress"}}}},
		{"defaulted policyTypes", docs(podWeb, policy("np", `  podSelector: {}
  ingress: [{}]
  egress: [{}]
`)), nil},
		{"empty section", docs(podWeb, policy("np", `  podSelector: {}
  policyTypes: [Ingress]
  egress: []
`)), nil},
	},
	"netpol/host-network": {
		{"hostNetwork pod selected by a policy", docs(`apiVersion: v1 #agent
kind: Pod
metadata: {name: agent, namespace: shop}
spec: {hostNetwork: true, containers: [{name: c, image: i}]}
`, denyAll), []want{{finding.High, "#agent", "shop/Pod/agent", []string{"shop/Pod/agent uses hostNetwork", "shop/NetworkPolicy/deny select(s) it by labels but do not apply"}}}},
		{"pod network", podWeb, nil},
	},
	"netpol/pod-ips-unknown": {
		{"ipBlock without pod IPs: once", docs(podWeb, policy("a", `  podSelector: {}
  ingress:
  - from:
    - podSelector: {}
    - ipBlock: {cidr: 10.0.0.0/8} #peer
`), policy("b", `  podSelector: {}
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/8}}]
`)), []want{{finding.Info, "#peer", "shop/NetworkPolicy/a", []string{"first: spec.ingress[0].from[1] from ipBlock 10.0.0.0/8"}}}},
		{"pod IPs known", docs(`apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.1.0.5}
`, policy("a", `  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8}}]
`)), nil},
		{"no ipBlock", docs(podWeb, denyAll), nil},
	},
	"netpol/allow-all": {
		{"ingress allow-all", docs(podWeb, policy("np", `  podSelector: {matchLabels: {app: web}}
  ingress:
  - {} #all
`)), []want{{finding.Medium, "#all", "shop/NetworkPolicy/np", []string{"spec.ingress[0] allows every source on every port", "cancels the ingress isolation of the pods it selects"}}}},
		{"egress allow-all among others", docs(podWeb, policy("np", `  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{port: 53, protocol: UDP}]
  - {} #all
`)), []want{{finding.Medium, "#all", "shop/NetworkPolicy/np", []string{"spec.egress[1] allows every destination on every port"}}}},
		{"policy alone", policy("np", `  podSelector: {}
  ingress: [{}] #all
`), []want{{finding.Medium, "#all", "shop/NetworkPolicy/np", []string{"spec.ingress[0] allows every source"}}}},
		{"a source", docs(podWeb, policy("np", `  podSelector: {}
  ingress:
  - from: [{podSelector: {}}]
`)), nil},
		{"a port", docs(podWeb, policy("np", `  podSelector: {}
  ingress:
  - ports: [{port: 8080}]
`)), nil},
		{"ignored by policyTypes", docs(podWeb, policy("np", `  podSelector: {}
  policyTypes: [Egress]
  ingress: [{}]
`)), nil},
	},
	"input/unsupported-policy": {
		{"namespaced and cluster-wide kinds", docs(`apiVersion: cilium.io/v2 #cnp
kind: CiliumNetworkPolicy
metadata: {name: l7, namespace: shop}
`, `apiVersion: crd.projectcalico.org/v1 #gnp
kind: GlobalNetworkPolicy
metadata: {name: deny}
`), []want{
			{finding.High, "#cnp", "shop/CiliumNetworkPolicy/l7", []string{"CiliumNetworkPolicy shop/l7 (cilium.io/v2) is not evaluated by Ward: reachability shown ignores it"}},
			{finding.High, "#gnp", "GlobalNetworkPolicy/deny", []string{"GlobalNetworkPolicy deny (crd.projectcalico.org/v1) is not evaluated by Ward"}},
		}},
		{"v1 NetworkPolicy", denyAll, nil},
		// The mesh audit reads Istio's security policies: reporting them
		// here too counted each twice (and Ward's own fix for
		// mesh/mtls-not-strict raised a new high finding).
		{"istio kinds audited by the mesh rules", docs(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
`, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: shop}
spec: {}
`), nil},
	},
	"input/skipped": {
		{"one finding per file", docs(podWeb, `replicaCount: 2 #values
`, `apiVersion: v1
kind: Secret
metadata: {name: cfg}
`), []want{{finding.Info, "#values", "", []string{"2 documents skipped:", "v1 Secret is not modeled (1)"}}}},
		{"nothing skipped", podWeb, nil},
	},
}

func TestRules(t *testing.T) {
	for id, cases := range suites {
		t.Run(id, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					fs := run(t, tc.doc)
					var gotF, wantF []got
					var msgs []string
					for _, f := range fs {
						if f.Rule == id {
							gotF = append(gotF, got{f.Rule, f.Severity, f.File, f.Line, f.Object})
							msgs = append(msgs, f.Message)
						}
					}
					for _, w := range tc.want {
						wantF = append(wantF, got{id, w.Severity, testFile, lineOf(t, tc.doc, w.At), w.Object})
					}
					if diff := cmp.Diff(wantF, gotF); diff != "" {
						t.Fatalf("findings of %s (-want +got):\n%s\nall findings:\n%s", id, diff, dump(fs))
					}
					for i, w := range tc.want {
						for _, m := range w.Msg {
							if !strings.Contains(msgs[i], m) {
								t.Errorf("message %q does not contain %q", msgs[i], m)
							}
						}
					}
				})
			}
		})
	}
}

func dump(fs []finding.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Location() + " " + f.Severity.String() + " " + f.Rule + " " + f.Object + ": " + f.Message + "\n")
	}
	return b.String()
}

// TestRegistry checks that every id emitted by any test input is in the
// registry, with the registry's severity (datastore-open may be critical),
// and that every registry entry has a suite with a positive case.
func TestRegistry(t *testing.T) {
	emitted := map[string]bool{}
	for _, cases := range suites {
		for _, tc := range cases {
			for _, f := range run(t, tc.doc) {
				emitted[f.Rule] = true
				r, ok := lint.Lookup(f.Rule)
				if !ok {
					t.Errorf("rule %s emitted but not in lint.Rules", f.Rule)
					continue
				}
				// datastore-open may be critical; a selector that matches
				// nothing next to custom resources is info, and says why.
				operator := (f.Rule == "netpol/peer-matches-nothing" || f.Rule == "netpol/policy-selects-nothing") &&
					f.Severity == finding.Info && strings.Contains(f.Message, "custom resources")
				if f.Severity != r.Severity && (f.Rule != "netpol/datastore-open" || f.Severity != finding.Critical) && !operator {
					t.Errorf("%s finding has severity %s, registry says %s", f.Rule, f.Severity, r.Severity)
				}
				if f.Message == "" || f.Fix == "" || f.File == "" || f.Line == 0 {
					t.Errorf("%s finding lacks message, fix or location: %+v", f.Rule, f)
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, r := range lint.Rules {
		if seen[r.ID] {
			t.Errorf("rule %s registered twice", r.ID)
		}
		seen[r.ID] = true
		if r.Summary == "" || r.Rationale == "" || r.Fix == "" {
			t.Errorf("rule %s lacks summary, rationale or fix", r.ID)
		}
		if !emitted[r.ID] {
			t.Errorf("rule %s is never emitted by the test inputs", r.ID)
		}
		positive := false
		for _, tc := range suites[r.ID] {
			positive = positive || len(tc.want) > 0
		}
		if !positive {
			t.Errorf("rule %s has no positive test case", r.ID)
		}
	}
}
