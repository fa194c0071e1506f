package lint

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

// workloads runs the per-workload checks.
func (l *linter) workloads() {
	hasPolicy := map[string]bool{}
	for _, p := range l.pols {
		hasPolicy[p.Namespace] = true
	}
	l.checkAll(len(l.set.Workloads), func(c *linter, i int) {
		w := c.set.Workloads[i]
		if w.HostNetwork {
			c.hostNetwork(w)
			return
		}
		if hasPolicy[w.Namespace] {
			c.unprotected(w)
		}
		c.egressWithoutDNS(w)
		c.datastoreOpen(w)
	})
}

func (l *linter) hostNetwork(w *manifest.Workload) {
	msg := fmt.Sprintf("%s uses hostNetwork: NetworkPolicy does not protect it (behaviour is CNI-defined), so Ward treats it as open in both directions", w.ID())
	var sel []string
	for _, p := range l.polsByNS[w.Namespace] {
		if p.selects(w) {
			sel = append(sel, p.obj)
		}
	}
	if len(sel) > 0 {
		msg += fmt.Sprintf("; %s select(s) it by labels but do not apply", list(sel, 3))
	}
	l.report(ruleHostNetwork, w.Source.File, w.Source.Line, w.ID(), msg,
		fmt.Sprintf("remove `hostNetwork: true` from %s unless it needs the node's network; otherwise protect the node's ports with host firewall rules", w.ID()))
}

func (l *linter) unprotected(w *manifest.Workload) {
	if l.isolated(w, netpol.Ingress) {
		return
	}
	var msg string
	if l.isolated(w, netpol.Egress) {
		msg = fmt.Sprintf("no NetworkPolicy isolates %s for ingress, although namespace %s has policies: it accepts connections from any pod and any address (its egress is restricted)", w.ID(), w.Namespace)
	} else {
		msg = fmt.Sprintf("no NetworkPolicy isolates %s for ingress or egress, although namespace %s has policies: it accepts connections from any pod and any address, and may connect anywhere", w.ID(), w.Namespace)
	}
	l.report(ruleWorkloadUnprotected, w.Source.File, w.Source.Line, w.ID(), msg,
		fmt.Sprintf("add a policy in namespace %s with podSelector: %s, policyTypes: [Ingress] and ingress rules for its clients only (or a namespace default deny with podSelector: {})",
			w.Namespace, matchLabelsYAML(w.Labels)))
}

// egressWithoutDNS reports w when it is isolated for egress and may reach
// port 53 over UDP or TCP nowhere. The verdict is memoized per class.
func (l *linter) egressWithoutDNS(w *manifest.Workload) {
	missing := false
	rules := dnsUnread
	for _, ep := range l.eng.EndpointsOf(w) {
		c := ep.Class()
		if !c.Isolated(netpol.Egress) {
			continue
		}
		ok, seen := l.memo.hasDNS[c]
		if !seen {
			// Members of a class are selected by the same policies, so
			// w's rules stand for the class. Reading the rules is
			// cheap; the engine is asked only when they can allow DNS
			// but do not plainly.
			if rules == dnsUnread {
				rules = l.egressRulesDNS(w)
			}
			ok = rules == dnsAllowed || (rules == dnsAskEngine && l.classReachesDNS(c))
			l.memo.hasDNS[c] = ok
		}
		if !ok {
			missing = true
		}
	}
	if !missing {
		return
	}
	var names []string
	for _, p := range l.isolating(w, netpol.Egress) {
		names = append(names, p.obj)
	}
	fix := "add an egress rule {to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}"
	if len(names) > 0 {
		fix += " to " + names[0]
	}
	l.report(ruleEgressWithoutDNS, w.Source.File, w.Source.Line, w.ID(),
		fmt.Sprintf("%s is isolated for egress (by %s) and no egress rule allows port 53 over UDP or TCP to anything: DNS lookups will fail",
			w.ID(), list(names, 3)), fix)
}

// classReachesDNS reports whether members of c may connect to 53/UDP or
// 53/TCP on some endpoint in or outside the cluster.
func (l *linter) classReachesDNS(c *netpol.Class) bool {
	found := false
	l.eng.ClassDestinations(c, func(_ *netpol.Class, a portset.Set) bool {
		found = a.Contains(portset.UDP, 53) || a.Contains(portset.TCP, 53)
		return !found
	})
	return found
}

// dnsVerdict is what the egress rules isolating a workload say about DNS.
type dnsVerdict int

const (
	dnsUnread    dnsVerdict = iota // not read yet
	dnsAllowed                     // a rule allows it (dnsRule)
	dnsNever                       // no rule can allow 53/UDP or 53/TCP to anything
	dnsAskEngine                   // only the engine can tell
)

// egressRulesDNS reads the egress rules isolating w for DNS.
func (l *linter) egressRulesDNS(w *manifest.Workload) dnsVerdict {
	switch {
	case l.dnsRule(w):
		return dnsAllowed
	case !l.mayAllowDNS(w):
		return dnsNever
	}
	return dnsAskEngine
}

// mayAllowDNS reports whether an egress rule isolating w may allow port
// 53 on some destination: one without ports, with a port of any number or
// protocol, with a range holding 53 (over any protocol), or with a named
// port that some container port numbered 53 carries. When it is false,
// the engine allows w's pods 53/UDP and 53/TCP nowhere, for the ports the
// engine allows a class on are among those its egress rules give.
func (l *linter) mayAllowDNS(w *manifest.Workload) bool {
	for _, p := range l.isolating(w, netpol.Egress) {
		for _, r := range p.rules(netpol.Egress) {
			if len(r.ports) == 0 || slices.ContainsFunc(r.ports, l.mayBe53) {
				return true
			}
		}
	}
	return false
}

// mayBe53 reports whether a NetworkPolicy port may stand for port 53.
func (l *linter) mayBe53(port networkingv1.NetworkPolicyPort) bool {
	switch {
	case port.Port == nil:
		return true
	case port.Port.Type == intstr.String:
		return l.names53[port.Port.StrVal]
	}
	hi := port.Port.IntVal
	if port.EndPort != nil {
		hi = *port.EndPort
	}
	return port.Port.IntVal <= 53 && 53 <= hi
}

// dnsRule reports whether an egress rule isolating w allows DNS to
// anywhere (no peers) or to a pod or namespace selector peer, which may
// match DNS pods that the input does not contain: port 53 over UDP or
// TCP, all ports, or a named port whose name contains "dns". Rules whose
// peers are all ipBlocks are left to the engine.
func (l *linter) dnsRule(w *manifest.Workload) bool {
	for _, p := range l.isolating(w, netpol.Egress) {
		for _, r := range p.rules(netpol.Egress) {
			open := len(r.peers) == 0
			for _, peer := range r.peers {
				if peer.PodSelector != nil || peer.NamespaceSelector != nil {
					open = true
				}
			}
			if !open {
				continue
			}
			ps := compilePorts(r.ports)
			if ps.all || ps.numeric.Contains(portset.UDP, 53) || ps.numeric.Contains(portset.TCP, 53) {
				return true
			}
			for n := range ps.named {
				if strings.Contains(n.name, "dns") {
					return true
				}
			}
		}
	}
	return false
}

// Data stores by well-known port and by port name.
var (
	datastorePorts = map[int32]string{
		5432: "PostgreSQL", 3306: "MySQL", 6379: "Redis", 27017: "MongoDB",
		9200: "Elasticsearch", 5672: "AMQP", 9042: "Cassandra", 2379: "etcd",
		11211: "memcached", 9092: "Kafka", 1433: "SQL Server", 26257: "CockroachDB",
	}
	datastoreNames = map[string]string{
		"postgres": "PostgreSQL", "postgresql": "PostgreSQL", "mysql": "MySQL", "mariadb": "MySQL",
		"redis": "Redis", "mongo": "MongoDB", "mongodb": "MongoDB", "elasticsearch": "Elasticsearch",
		"amqp": "AMQP", "cassandra": "Cassandra", "cql": "Cassandra", "etcd": "etcd",
		"memcached": "memcached", "memcache": "memcached", "kafka": "Kafka", "mssql": "SQL Server",
		"cockroach": "CockroachDB", "cockroachdb": "CockroachDB",
	}
)

// datastore returns the data store a container port serves, by number or
// by name ("postgres", "tcp-postgresql", ...).
func datastore(p manifest.Port) (string, bool) {
	if name, ok := datastorePorts[p.Port]; ok {
		return name, true
	}
	name, ok := datastoreNames[strings.TrimPrefix(strings.ToLower(p.Name), "tcp-")]
	return name, ok
}

// opening is why a data store port is open, and where.
type opening struct {
	sev  finding.Severity
	line int
	file string
	why  string
}

// datastoreOpen reports each data store port of w that every pod, or any
// address, may connect to.
func (l *linter) datastoreOpen(w *manifest.Workload) {
	type key struct {
		port  int32
		proto string
	}
	seen := map[key]bool{}
	isolated := l.isolated(w, netpol.Ingress)
	for _, port := range w.Ports {
		engine, ok := datastore(port)
		k := key{port.Port, string(port.Protocol)}
		if !ok || seen[k] {
			continue
		}
		seen[k] = true
		desc := fmt.Sprintf("%s serves %s on %d/%s", w.ID(), engine, port.Port, port.Protocol)
		var o *opening
		if !isolated {
			o = &opening{finding.Critical, w.Source.Line, w.Source.File,
				"no NetworkPolicy isolates it for ingress: any pod and any address may connect"}
		} else {
			o = l.ruleOpening(w, port)
		}
		if o == nil {
			continue
		}
		l.reportSev(ruleDatastoreOpen, o.sev, o.file, o.line, w.ID(), desc+" and "+o.why,
			fmt.Sprintf("allow %d/%s only from its clients: a policy with podSelector: %s, policyTypes: [Ingress], ingress: [{from: [{podSelector: {matchLabels: {app: <client>}}}], ports: [{port: %d, protocol: %s}]}]",
				port.Port, port.Protocol, matchLabelsYAML(w.Labels), port.Port, port.Protocol))
	}
}

// ruleOpening returns the most severe way an ingress rule selecting w
// opens port to everyone, or nil. Ties go to the first rule in input order.
func (l *linter) ruleOpening(w *manifest.Workload, port manifest.Port) *opening {
	var best *opening
	consider := func(o *opening) {
		if best == nil || o.sev > best.sev {
			best = o
		}
	}
	for _, p := range l.isolating(w, netpol.Ingress) {
		for _, r := range p.rules(netpol.Ingress) {
			if !compilePorts(r.ports).allows(port) {
				continue
			}
			if len(r.peers) == 0 {
				consider(&opening{finding.Critical, p.Line(r.path()), p.Source.File,
					fmt.Sprintf("%s %s has no from: any pod and any address may connect", p.obj, r.path())})
				continue
			}
			for j, peer := range r.peers {
				switch {
				case peer.IPBlock != nil:
					pre, err := ipset.ParsePrefix(peer.IPBlock.CIDR)
					if err != nil || pre.Bits() != 0 {
						continue
					}
					consider(&opening{finding.Critical, p.Line(r.peerPath(j)), p.Source.File,
						fmt.Sprintf("%s %s allows ipBlock %s: any address may connect", p.obj, r.peerPath(j), peer.IPBlock.CIDR)})
				case peer.NamespaceSelector != nil && isEmptySelector(peer.NamespaceSelector) && isEmptySelector(peer.PodSelector):
					consider(&opening{finding.High, p.Line(r.peerPath(j)), p.Source.File,
						fmt.Sprintf("%s %s allows namespaceSelector: {}: every pod in every namespace may connect", p.obj, r.peerPath(j))})
				case peer.NamespaceSelector != nil && selectsAnyNamespace(peer.NamespaceSelector) && selectsUnlabelled(peer.PodSelector):
					consider(&opening{finding.High, p.Line(r.peerPath(j)), p.Source.File,
						fmt.Sprintf("%s %s has a namespaceSelector that a namespace with no labels but its name matches, and a podSelector that a pod with no labels matches: the pods of every namespace not excluded by label, new ones included, may connect", p.obj, r.peerPath(j))})
				}
			}
			if j, cidr, ok := ipBlocksCoverAll(r.peers); ok {
				consider(&opening{finding.Critical, p.Line(r.peerPath(j)), p.Source.File,
					fmt.Sprintf("%s %s: its ipBlocks together cover %s: any address may connect", p.obj, r.path(), cidr)})
			}
		}
	}
	return best
}

// selectsAnyNamespace reports whether sel matches a namespace that
// carries only its kubernetes.io/metadata.name label, named as no
// selector names one: a selector such as {key: x, operator:
// DoesNotExist} or {key: env, operator: NotIn, values: [prod]} admits
// every namespace, new ones included, as namespaceSelector: {} does.
func selectsAnyNamespace(sel *metav1.LabelSelector) bool {
	return selectorMatches(sel, labels.Set{manifest.MetadataNameLabel: "ward-unnamed-namespace"})
}

// selectsUnlabelled reports whether sel, a peer's podSelector (nil: every
// pod), matches a pod without labels.
func selectsUnlabelled(sel *metav1.LabelSelector) bool {
	return sel == nil || selectorMatches(sel, labels.Set{})
}

func selectorMatches(sel *metav1.LabelSelector, l labels.Set) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(l)
}

// ipBlocksCoverAll reports whether the ipBlock peers of a rule cover every
// address of a family together (0.0.0.0/1 and 128.0.0.0/1), not counting
// their excepts, as a single 0.0.0.0/0 is judged; it returns the first
// such peer's index and the family's /0. A single /0 is reported on its
// own.
func ipBlocksCoverAll(peers []networkingv1.NetworkPolicyPeer) (int, string, bool) {
	var ranges []ipset.Range
	first := map[bool]int{} // by family (IPv4 or not): the first peer
	for j, peer := range peers {
		if peer.IPBlock == nil {
			continue
		}
		pre, err := ipset.ParsePrefix(peer.IPBlock.CIDR)
		if err != nil {
			continue
		}
		if pre.Bits() == 0 {
			return 0, "", false
		}
		if _, ok := first[pre.Addr().Is4()]; !ok {
			first[pre.Addr().Is4()] = j
		}
		ranges = append(ranges, ipset.FromPrefix(pre))
	}
	set := ipset.Of(ranges...)
	for _, all := range []string{"0.0.0.0/0", "::/0"} {
		full := netip.MustParsePrefix(all)
		for _, r := range set.Ranges() {
			if r.ContainsRange(ipset.FromPrefix(full)) {
				return first[full.Addr().Is4()], all, true
			}
		}
	}
	return 0, "", false
}
