package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
)

type label struct{ k, v string }

func sortLabels(ls []label) []label {
	slices.SortFunc(ls, func(a, b label) int {
		switch {
		case a.k < b.k:
			return -1
		case a.k > b.k:
			return 1
		}
		return 0
	})
	return ls
}

type portDef struct {
	name  string // empty for an unnamed port
	port  int
	proto string // TCP, UDP or SCTP
}

// archetype is a kind of application with its ports, tier and replica
// habits.
type archetype struct {
	role      string // name suffix
	component string
	tier      string
	kind      string
	image     string // empty: the team's registry
	weight    int
	ports     []portDef
	datastore bool // 1 or 3 replicas; a target of egress rules
	httpProbe bool
}

const (
	deployment  = "Deployment"
	statefulSet = "StatefulSet"
	daemonSet   = "DaemonSet"
)

var archetypes = []*archetype{
	{role: "web", component: "frontend", tier: "frontend", kind: deployment, weight: 12, httpProbe: true,
		ports: []portDef{{"http", 8080, "TCP"}, {"metrics", 9102, "TCP"}}},
	{role: "api", component: "api", tier: "backend", kind: deployment, weight: 24, httpProbe: true,
		ports: []portDef{{"http", 8080, "TCP"}, {"grpc", 9090, "TCP"}, {"metrics", 9102, "TCP"}}},
	{role: "svc", component: "service", tier: "backend", kind: deployment, weight: 12,
		ports: []portDef{{"grpc", 9090, "TCP"}, {"metrics", 9102, "TCP"}}},
	{role: "worker", component: "worker", tier: "backend", kind: deployment, weight: 14,
		ports: []portDef{{"metrics", 9102, "TCP"}, {"", 8081, "TCP"}}},
	{role: "gateway", component: "gateway", tier: "edge", kind: deployment, weight: 3, httpProbe: true,
		ports: []portDef{{"http", 8080, "TCP"}, {"https", 8443, "TCP"}, {"metrics", 9102, "TCP"}}},
	{role: "postgres", component: "database", tier: "data", kind: statefulSet, weight: 5, datastore: true, image: "postgres:16.4",
		ports: []portDef{{"postgres", 5432, "TCP"}, {"metrics", 9187, "TCP"}}},
	{role: "redis", component: "cache", tier: "data", kind: deployment, weight: 5, datastore: true, image: "redis:7.2.5",
		ports: []portDef{{"redis", 6379, "TCP"}, {"metrics", 9121, "TCP"}}},
	{role: "kafka", component: "broker", tier: "data", kind: statefulSet, weight: 2, datastore: true, image: "apache/kafka:3.8.0",
		ports: []portDef{{"kafka", 9092, "TCP"}, {"controller", 9093, "TCP"}, {"metrics", 9308, "TCP"}}},
	{role: "memcached", component: "cache", tier: "data", kind: deployment, weight: 2, datastore: true, image: "memcached:1.6.29",
		ports: []portDef{{"memcache", 11211, "TCP"}, {"memcache-udp", 11211, "UDP"}}},
	{role: "statsd", component: "metrics", tier: "platform", kind: deployment, weight: 2, image: "prom/statsd-exporter:v0.27.1",
		ports: []portDef{{"statsd", 9125, "UDP"}, {"metrics", 9102, "TCP"}}},
	{role: "mongodb", component: "database", tier: "data", kind: statefulSet, weight: 2, datastore: true, image: "mongo:7.0.12",
		ports: []portDef{{"mongodb", 27017, "TCP"}}},
	{role: "mysql", component: "database", tier: "data", kind: statefulSet, weight: 2, datastore: true, image: "mysql:8.4.2",
		ports: []portDef{{"mysql", 3306, "TCP"}, {"metrics", 9104, "TCP"}}},
	{role: "search", component: "search", tier: "data", kind: statefulSet, weight: 1, datastore: true, image: "opensearchproject/opensearch:2.16.0",
		ports: []portDef{{"http", 9200, "TCP"}, {"transport", 9300, "TCP"}}},
	{role: "syslog", component: "logging", tier: "platform", kind: deployment, weight: 1, image: "balabit/syslog-ng:4.8.0",
		ports: []portDef{{"syslog-udp", 5140, "UDP"}, {"syslog-tcp", 5140, "TCP"}}},
	{role: "diameter", component: "signaling", tier: "backend", kind: deployment, weight: 1,
		ports: []portDef{{"diameter", 3868, "SCTP"}, {"metrics", 9102, "TCP"}}},
}

var (
	archCoreDNS = &archetype{role: "coredns", component: "dns", tier: "platform", kind: deployment,
		image: "registry.k8s.io/coredns/coredns:v1.11.3",
		ports: []portDef{{"dns", 53, "UDP"}, {"dns-tcp", 53, "TCP"}, {"metrics", 9153, "TCP"}}}
	archPrometheus = &archetype{role: "prometheus", component: "server", tier: "platform", kind: deployment, httpProbe: true,
		image: "quay.io/prometheus/prometheus:v2.54.1",
		ports: []portDef{{"web", 9090, "TCP"}}}
	archNodeExporter = &archetype{role: "node-exporter", component: "exporter", tier: "platform", kind: daemonSet,
		image: "quay.io/prometheus/node-exporter:v1.8.2",
		ports: []portDef{{"metrics", 9100, "TCP"}}}
)

var systemNamespaces = []string{"kube-system", "monitoring"}

var systemWorkloads = []struct {
	ns       int
	name     string
	arch     *archetype
	replicas int // 0: one per node
	version  string
}{
	{0, "coredns", archCoreDNS, 2, "v1.11.3"},
	{1, "prometheus", archPrometheus, 1, "v2.54.1"},
	{1, "node-exporter", archNodeExporter, 0, "v1.8.2"},
}

var (
	teams = []string{"checkout", "payments", "search", "identity", "catalog", "fulfillment",
		"growth", "platform", "data", "ml", "messaging", "mobile", "web", "ads", "finance",
		"risk", "logistics", "support", "content", "media", "marketplace", "partners",
		"security", "infra"}
	areas = []string{"core", "api", "edge", "ledger", "batch", "stream", "internal", "public",
		"ops", "sync", "gateway", "store", "insights", "admin", "jobs", "portal"}
	prefixes = []string{"cart", "checkout", "catalog", "search", "user", "account", "auth",
		"identity", "inventory", "pricing", "promo", "shipping", "billing", "invoice", "ledger",
		"payment", "refund", "notify", "email", "sms", "push", "recommend", "review", "rating",
		"media", "image", "video", "feed", "profile", "session", "fraud", "risk", "report",
		"export", "ingest", "sync", "audit", "quota", "geo", "tax", "order", "wishlist",
		"loyalty", "coupon", "chat", "support", "ticket", "schedule", "booking",
		"availability", "stock", "warehouse", "routing", "tracking", "analytics", "events",
		"config", "feature", "ranking", "index"}
	nsTiers = []string{"frontend", "backend", "backend", "backend", "data", "platform"}
)

type namespace struct {
	name      string
	team, env string
	area      string
	tier      string
	labels    []label
	system    bool
	istio     bool
	workloads []int
	policies  []int
	deny      denyMode
}

type denyMode int

const (
	denyNone    denyMode = iota
	denyBoth             // one policy, Ingress and Egress
	denySplit            // two policies
	denyIngress          // ingress only; egress stays open
)

func (d denyMode) ingress() bool { return d != denyNone }
func (d denyMode) egress() bool  { return d == denyBoth || d == denySplit }

type workload struct {
	ns        int
	name      string
	kind      string
	arch      *archetype
	replicas  int // 0 for a DaemonSet: one per node
	version   string
	image     string
	labels    []label // pod template labels, sorted
	selector  []label // spec.selector.matchLabels, sorted
	sidecar   bool
	service   bool // has a Service
	serviceIP int  // index into the service IP range
	hash      string
	oldHash   string // non-empty: a Deployment with a previous, scaled-down ReplicaSet
	firstPod  int    // index of its first pod in plan.pods
	npods     int
	created   int // seconds after epoch
}

// pod is where a pod runs: node index and host byte of its IP.
type pod struct {
	node int
	host int
}

type plan struct {
	cfg        Config
	r          *rand.Rand
	namespaces []*namespace
	workloads  []*workload
	policies   []*policy
	pods       []pod
	nodes      int
	stats      Stats
}

// Replica counts of application workloads: weights sum to 100, mean 4.02.
var replicaDist = []struct{ n, w int }{
	{1, 25}, {2, 25}, {3, 20}, {4, 8}, {5, 7}, {6, 5}, {10, 6}, {20, 3}, {50, 1},
}

func newPlan(cfg Config) (*plan, error) {
	// #nosec G404 -- synthetic data must be reproducible from a seed; nothing here is secret
	p := &plan{cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, 0x77617264))}

	nsys := 2 + 1 // system pods besides node-exporter
	appWorkloads, appPods := 0, 0
	if cfg.Pods > 0 {
		p.nodes = max(1, (cfg.Pods+99)/100)
		appPods = cfg.Pods - nsys - p.nodes
		if appPods < 1 {
			return nil, fmt.Errorf("synth: need at least %d pods (%d are system pods)", nsys+p.nodes+1, nsys+p.nodes)
		}
	} else {
		appWorkloads = cfg.Workloads - len(systemWorkloads)
	}

	nns := cfg.Namespaces
	if nns == 0 {
		est := appWorkloads
		if est == 0 {
			est = appPods / 4
		}
		nns = len(systemNamespaces) + max(1, (est+25)/50)
	}
	p.makeNamespaces(nns)
	p.makeSystemWorkloads()

	// Spread application workloads over namespaces: one each first, then
	// by a log-normal weight per namespace, so a few namespaces are big.
	appNS := p.namespaces[len(systemNamespaces):]
	cum := make([]float64, len(appNS))
	total := 0.0
	for i := range appNS {
		total += math.Exp(0.9 * p.r.NormFloat64())
		cum[i] = total
	}
	pickNS := func(i int) int {
		if i < len(appNS) {
			return len(systemNamespaces) + i
		}
		x := p.r.Float64() * total
		j, _ := slices.BinarySearch(cum, x)
		return len(systemNamespaces) + min(j, len(appNS)-1)
	}
	archTotal := 0
	for _, a := range archetypes {
		archTotal += a.weight
	}
	used := map[string]bool{}
	for i, pods := 0, 0; ; i++ {
		if cfg.Pods > 0 && pods >= appPods || cfg.Pods == 0 && i >= appWorkloads {
			break
		}
		w := p.makeWorkload(pickNS(i), archTotal, used)
		if cfg.Pods > 0 {
			w.replicas = min(w.replicas, appPods-pods)
		}
		pods += w.replicas
	}
	if cfg.Pods == 0 {
		pods := 3
		for _, w := range p.workloads {
			pods += w.replicas
		}
		p.nodes = max(1, (pods+98)/99)
	}
	if p.nodes > maxNodes {
		return nil, fmt.Errorf("synth: %d nodes needed, at most %d supported", p.nodes, maxNodes)
	}
	p.placePods()
	p.makeServices()
	p.makePolicies()
	p.count()
	return p, nil
}

func (p *plan) makeNamespaces(n int) {
	for _, name := range systemNamespaces {
		ns := &namespace{name: name, system: true, team: "platform", tier: "platform", env: "prod"}
		ns.labels = []label{{"kubernetes.io/metadata.name", name}}
		if name == "monitoring" {
			ns.labels = append(ns.labels, label{"team", "platform"}, label{"tier", "platform"})
		}
		p.namespaces = append(p.namespaces, ns)
	}
	used := map[string]int{}
	for range n - len(systemNamespaces) {
		ns := &namespace{
			team: pick(p.r, teams),
			area: pick(p.r, areas),
			tier: pick(p.r, nsTiers),
			env:  choose(p.r, []weighted[string]{{50, "prod"}, {30, "staging"}, {20, "dev"}}),
		}
		base := ns.team + "-" + ns.area + "-" + ns.env
		used[base]++
		ns.name = base
		if k := used[base]; k > 1 {
			ns.name = base + "-" + strconv.Itoa(k)
		}
		ns.istio = p.r.IntN(4) == 0
		ns.labels = []label{
			{"kubernetes.io/metadata.name", ns.name},
			{"team", ns.team},
			{"env", ns.env},
			{"tier", ns.tier},
		}
		if ns.istio {
			ns.labels = append(ns.labels, label{"istio-injection", "enabled"})
		}
		if p.r.IntN(3) == 0 {
			ns.labels = append(ns.labels, label{"pod-security.kubernetes.io/enforce", "restricted"})
		}
		sortLabels(ns.labels)
		ns.deny = choose(p.r, []weighted[denyMode]{{78, denyBoth}, {9, denySplit}, {3, denyIngress}, {10, denyNone}})
		p.namespaces = append(p.namespaces, ns)
	}
}

func (p *plan) makeSystemWorkloads() {
	for _, s := range systemWorkloads {
		w := &workload{ns: s.ns, name: s.name, kind: s.arch.kind, arch: s.arch, replicas: s.replicas,
			image: s.arch.image, version: s.version}
		switch s.name {
		case "coredns":
			w.labels = []label{{"k8s-app", "kube-dns"}}
			w.selector = w.labels
		default:
			w.labels = sortLabels([]label{
				{"app.kubernetes.io/name", s.name},
				{"app.kubernetes.io/component", s.arch.component},
				{"app.kubernetes.io/part-of", "kube-prometheus"},
			})
			w.selector = []label{{"app.kubernetes.io/name", s.name}}
		}
		p.addWorkload(w)
	}
}

func (p *plan) addWorkload(w *workload) {
	w.hash = podHash(p.cfg.Seed, "rs", p.namespaces[w.ns].name, w.name)
	w.created = p.r.IntN(180 * 24 * 3600)
	p.namespaces[w.ns].workloads = append(p.namespaces[w.ns].workloads, len(p.workloads))
	p.workloads = append(p.workloads, w)
}

func (p *plan) makeWorkload(nsi, archTotal int, used map[string]bool) *workload {
	ns := p.namespaces[nsi]
	x := p.r.IntN(archTotal)
	var a *archetype
	for _, a = range archetypes {
		if x < a.weight {
			break
		}
		x -= a.weight
	}
	base := pick(p.r, prefixes) + "-" + a.role
	name := base
	for k := 2; used[ns.name+"/"+name]; k++ {
		name = base + "-" + strconv.Itoa(k)
	}
	used[ns.name+"/"+name] = true

	w := &workload{ns: nsi, name: name, kind: a.kind, arch: a, sidecar: ns.istio}
	if a.datastore {
		w.replicas = pick(p.r, []int{1, 1, 3})
	} else {
		w.replicas = choose(p.r, replicaCounts)
	}
	major, minor, patch := 1+p.r.IntN(3), p.r.IntN(20), p.r.IntN(10)
	w.version = fmt.Sprintf("%d.%d.%d", major, minor, patch)
	w.image = a.image
	if w.image == "" {
		w.image = fmt.Sprintf("registry.example.com/%s/%s:%s", ns.team, name, w.version)
	}
	w.labels = []label{
		{"app", name},
		{"app.kubernetes.io/name", name},
		{"app.kubernetes.io/component", a.component},
		{"app.kubernetes.io/part-of", ns.area},
		{"component", a.component},
		{"tier", a.tier},
		{"team", ns.team},
		{"version", "v" + strconv.Itoa(major)},
	}
	if p.r.IntN(10) == 0 {
		w.labels = append(w.labels, label{"track", pick(p.r, []string{"stable", "stable", "canary"})})
	}
	sortLabels(w.labels)
	w.selector = []label{{"app", name}}
	if p.r.IntN(3) == 0 {
		w.selector = []label{{"app", name}, {"app.kubernetes.io/name", name}}
	}
	if w.kind == deployment && p.r.IntN(4) == 0 {
		w.oldHash = podHash(p.cfg.Seed, "old-rs", ns.name, name)
	}
	p.addWorkload(w)
	return w
}

var replicaCounts = func() []weighted[int] {
	var ws []weighted[int]
	for _, d := range replicaDist {
		ws = append(ws, weighted[int]{d.w, d.n})
	}
	return ws
}()

// maxNodes is how many /24 pod ranges fit in 10.128.0.0/10.
const maxNodes = 1 << 14

// placePods gives every pod a node and an IP in the node's /24 pod range.
func (p *plan) placePods() {
	for _, w := range p.workloads {
		if w.replicas == 0 { // DaemonSet
			w.npods = p.nodes
		} else {
			w.npods = w.replicas
		}
	}
	if !p.cfg.Dump {
		return
	}
	used := make([]int, p.nodes) // IPs .2 to .254 per node
	for _, w := range p.workloads {
		w.firstPod = len(p.pods)
		for i := range w.npods {
			if w.kind == daemonSet {
				p.pods = append(p.pods, pod{node: i})
				continue
			}
			n := p.r.IntN(p.nodes)
			for used[n] >= 253 {
				n = (n + 1) % p.nodes
			}
			used[n]++
			p.pods = append(p.pods, pod{node: n, host: used[n] + 1})
		}
	}
}

func (p *plan) makeServices() {
	n := 10 // 172.20.0.1 is the API server; 172.20.0.10 kube-dns
	for _, w := range p.workloads {
		if w.kind == daemonSet {
			continue
		}
		for _, pd := range w.arch.ports {
			if pd.name != "" && pd.name != "metrics" {
				w.service = true
			}
		}
		if w.name == "coredns" {
			w.serviceIP = 10
			continue
		}
		if w.service {
			n++
			w.serviceIP = n
		}
	}
}

func (p *plan) count() {
	st := &p.stats
	st.Kinds = map[string]int{"Namespace": len(p.namespaces)}
	if len(p.policies) > 0 {
		st.Kinds["NetworkPolicy"] = len(p.policies)
	}
	st.Nodes = p.nodes
	for _, w := range p.workloads {
		st.Kinds[w.kind]++
		st.Workloads++
		st.Pods += w.npods
		if w.service {
			st.Kinds["Service"]++
		}
		if p.cfg.Dump {
			st.Kinds["Pod"] += w.npods
			if w.kind == deployment {
				st.Kinds["ReplicaSet"]++
				if w.oldHash != "" {
					st.Kinds["ReplicaSet"]++
				}
			}
		}
	}
}

type weighted[T any] struct {
	w int
	v T
}

func choose[T any](r *rand.Rand, ws []weighted[T]) T {
	total := 0
	for _, w := range ws {
		total += w.w
	}
	x := r.IntN(total)
	for _, w := range ws {
		if x < w.w {
			return w.v
		}
		x -= w.w
	}
	panic("unreachable")
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }
