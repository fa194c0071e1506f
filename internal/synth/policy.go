package synth

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

type policy struct {
	ns      int
	name    string
	labels  []label
	pod     selector
	types   []string // nil: policyTypes omitted
	ingress []rule
	egress  []rule
}

// rule is an ingress or egress rule; peers nil omits from/to (everywhere),
// ports nil omits ports (all ports).
type rule struct {
	peers []peer
	ports []port
}

type peer struct {
	pod, ns *selector
	block   *ipBlock
}

type selector struct {
	match []label
	exprs []expr
}

type expr struct {
	key, op string
	values  []string
}

type port struct {
	proto string // empty: omitted (TCP)
	num   int    // 0: named
	name  string
	end   int // endPort; 0: none
}

type ipBlock struct {
	cidr   string
	except []string
}

var (
	dnsPorts = []port{{proto: "UDP", num: 53}, {proto: "TCP", num: 53}}
	// What clusters typically exclude from "the internet": private ranges
	// and the cloud metadata endpoint.
	internetExcept = [][]string{
		{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.169.254/32"},
		{"10.0.0.0/8", "169.254.169.254/32"},
		{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"},
		{"169.254.0.0/16"},
	}
)

func nsNameSel(name string) *selector {
	return &selector{match: []label{{"kubernetes.io/metadata.name", name}}}
}

func appSel(name string) *selector { return &selector{match: []label{{"app", name}}} }

// makePolicies creates exactly cfg.Policies policies: first the
// namespace-wide ones (default deny, DNS, monitoring, same namespace), at
// most half the budget, then policies that each target one application
// (or a few), in shapes drawn by weight.
func (p *plan) makePolicies() {
	budget := p.cfg.Policies
	var nsLevel []*policy
	// By priority, so that a small budget keeps the default denies.
	var deny, dns, prom, same []*policy
	for i, ns := range p.namespaces {
		if ns.system {
			continue
		}
		switch ns.deny {
		case denyBoth:
			deny = append(deny, &policy{ns: i, name: "default-deny", types: []string{"Ingress", "Egress"}})
		case denySplit:
			deny = append(deny,
				&policy{ns: i, name: "default-deny-ingress", types: []string{"Ingress"}},
				&policy{ns: i, name: "default-deny-egress", types: []string{"Egress"}})
		case denyIngress:
			deny = append(deny, &policy{ns: i, name: "default-deny-ingress", types: []string{"Ingress"}})
		}
		if ns.deny.egress() {
			dns = append(dns, p.dnsPolicy(i))
		}
		if ns.deny.ingress() && p.r.IntN(2) == 0 {
			prom = append(prom, &policy{ns: i, name: "allow-prometheus-scrape", types: []string{"Ingress"},
				ingress: []rule{{
					peers: []peer{{ns: nsNameSel("monitoring"), pod: &selector{match: []label{{"app.kubernetes.io/name", "prometheus"}}}}},
					ports: []port{{name: "metrics"}},
				}}})
		}
		if ns.deny.ingress() && p.r.IntN(7) == 0 {
			same = append(same, &policy{ns: i, name: "allow-same-namespace",
				ingress: []rule{{peers: []peer{{pod: &selector{}}}}}})
		}
	}
	for _, group := range [][]*policy{deny, dns, prom, same} {
		for _, pol := range group {
			if len(nsLevel) < budget/2 {
				nsLevel = append(nsLevel, pol)
			}
		}
	}
	for _, pol := range nsLevel {
		p.addPolicy(pol)
		if pol.name == "default-deny" || pol.name == "default-deny-ingress" {
			p.stats.DefaultDenyNamespaces++
		}
	}

	var apps []int
	for i, w := range p.workloads {
		if !p.namespaces[w.ns].system {
			apps = append(apps, i)
		}
	}
	names := map[string]bool{}
	for _, pol := range nsLevel {
		names[p.namespaces[pol.ns].name+"/"+pol.name] = true
	}
	for range budget - len(nsLevel) {
		if len(apps) == 0 {
			// No application to target: a harmless deny-all-ingress
			// for a label nothing carries.
			pol := &policy{ns: len(p.namespaces) - 1, name: "deny-legacy", types: []string{"Ingress"},
				pod: selector{match: []label{{"app", "legacy"}}}}
			p.uniqueName(pol, names)
			p.addPolicy(pol)
			continue
		}
		w := p.workloads[pick(p.r, apps)]
		pol := p.appPolicy(w, apps)
		p.uniqueName(pol, names)
		p.addPolicy(pol)
	}
}

func (p *plan) addPolicy(pol *policy) {
	p.namespaces[pol.ns].policies = append(p.namespaces[pol.ns].policies, len(p.policies))
	p.policies = append(p.policies, pol)
}

func (p *plan) uniqueName(pol *policy, names map[string]bool) {
	prefix := p.namespaces[pol.ns].name + "/"
	base := pol.name
	for k := 2; names[prefix+pol.name]; k++ {
		pol.name = base + "-" + strconv.Itoa(k)
	}
	names[prefix+pol.name] = true
}

func (p *plan) dnsPolicy(ns int) *policy {
	dns := peer{ns: nsNameSel("kube-system"), pod: &selector{match: []label{{"k8s-app", "kube-dns"}}}}
	if p.r.IntN(5) == 0 {
		// A common variant: kube-dns pods in any namespace.
		dns.ns = &selector{}
	}
	return &policy{ns: ns, name: "allow-dns", types: []string{"Egress"},
		egress: []rule{{peers: []peer{dns}, ports: dnsPorts}}}
}

type shape int

const (
	shapeSameNS shape = iota
	shapeCrossAND
	shapeCrossOR
	shapeInternet
	shapeDependency
	shapeRange
	shapeExprs
	shapeMonitoring
	shapeBoth
	shapeDatagram
	shapeIPBlockIngress
	shapeAllowAll
	shapeFromNamespaces
	// shapeWide (only with Config.WideSelectors): peers in the policy's
	// namespace chosen by labels every namespace has, such as tier=frontend
	// or "app.kubernetes.io/name Exists".
	shapeWide
)

var shapes = []weighted[shape]{
	{20, shapeSameNS}, {15, shapeCrossAND}, {5, shapeCrossOR}, {8, shapeInternet},
	{14, shapeDependency}, {5, shapeRange}, {8, shapeExprs}, {6, shapeMonitoring},
	{8, shapeBoth}, {3, shapeDatagram}, {4, shapeIPBlockIngress}, {1, shapeAllowAll},
	{4, shapeFromNamespaces},
}

// appPolicy makes one policy for workload w; apps are the indices of all
// application workloads (peers are drawn from them).
func (p *plan) appPolicy(w *workload, apps []int) *policy {
	r := p.r
	ns := p.namespaces[w.ns]
	pol := &policy{ns: w.ns, pod: p.targetSelector(w)}
	if r.IntN(3) == 0 {
		pol.labels = []label{{"app.kubernetes.io/managed-by", "Helm"}, {"team", ns.team}}
	}
	// client picks a workload that calls w: not w, rarely a data store.
	client := func(sameNS bool) *workload {
		var c *workload
		for range 6 {
			if sameNS && len(ns.workloads) > 1 {
				c = p.workloads[pick(r, ns.workloads)]
			} else {
				c = p.workloads[pick(r, apps)]
			}
			if c != w && !c.arch.datastore {
				break
			}
		}
		return c
	}
	sh := choose(r, shapes)
	if p.cfg.WideSelectors && r.IntN(2) == 0 {
		sh = shapeWide
	}
	switch sh {
	case shapeWide:
		// "Every app of my namespace but me", "every frontend of my
		// namespace": the only positive requirement is a label that
		// classes of every namespace have, and the NotIn makes each
		// selector distinct.
		var sel *selector
		notMe := expr{"app", "NotIn", []string{w.name}}
		switch r.IntN(4) {
		case 0:
			sel = &selector{exprs: []expr{{"app.kubernetes.io/name", "Exists", nil}, notMe}}
			pol.name = w.name + "-allow-namespace-apps"
		case 1:
			sel = &selector{exprs: []expr{{"tier", "In", []string{"frontend", "edge"}}, notMe}}
			pol.name = w.name + "-allow-edge-tiers"
		default:
			tier := pick(r, []string{"frontend", "backend", "edge"})
			sel = &selector{match: []label{{"tier", tier}}, exprs: []expr{notMe}}
			pol.name = w.name + "-allow-" + tier
		}
		pol.ingress = []rule{{peers: []peer{{pod: sel}}, ports: p.servingPorts(w, 1)}}
		if r.IntN(2) == 0 {
			pol.types = []string{"Ingress", "Egress"}
			pol.egress = []rule{{peers: []peer{{pod: &selector{match: []label{{"tier", "backend"}}}}}}}
		}
	case shapeSameNS:
		c := client(true)
		pol.name = "allow-" + c.name + "-to-" + w.name
		pol.ingress = []rule{{peers: p.podPeers(w.ns, c), ports: p.servingPorts(w, 2)}}
		if r.IntN(7) == 0 {
			pol.ingress[0].ports = nil // all ports
		}
	case shapeCrossAND:
		c := client(false)
		pol.name = "allow-from-" + c.name
		pol.ingress = []rule{{peers: []peer{{ns: p.nsSelector(c.ns), pod: appSel(c.name)}}, ports: p.servingPorts(w, 1)}}
	case shapeCrossOR:
		// Two peers: any pod in the client's namespaces OR pods named
		// like the client in this namespace (often meant as an AND).
		c := client(false)
		pol.name = "allow-" + c.name
		pol.ingress = []rule{{peers: []peer{{ns: p.nsSelector(c.ns)}, {pod: appSel(c.name)}}, ports: p.servingPorts(w, 1)}}
	case shapeInternet:
		pol.name = w.name + "-egress-internet"
		pol.types = []string{"Egress"}
		ports := []port{{proto: "TCP", num: 443}}
		if r.IntN(3) == 0 {
			ports = append(ports, port{num: 80})
		}
		blocks := []peer{{block: &ipBlock{cidr: "0.0.0.0/0", except: pick(r, internetExcept)}}}
		switch r.IntN(6) {
		case 0:
			blocks = append(blocks, peer{block: &ipBlock{cidr: "::/0", except: []string{"fc00::/7", "fe80::/10"}}})
		case 1:
			blocks = []peer{{block: &ipBlock{cidr: p.externalCIDR()}}}
		}
		pol.egress = []rule{{peers: blocks, ports: ports}}
	case shapeDependency:
		d := p.dependency(w, apps)
		pol.name = w.name + "-egress-" + d.name
		pol.types = []string{"Egress"}
		var pr peer
		if d.ns == w.ns {
			pr = peer{pod: p.appOrNameSel(d)}
		} else {
			pr = peer{ns: p.nsSelector(d.ns), pod: p.appOrNameSel(d)}
		}
		pol.egress = []rule{{peers: []peer{pr}, ports: p.servingPorts(d, 1)}}
	case shapeRange:
		c := client(r.IntN(2) == 0)
		pol.name = w.name + "-allow-range"
		lo := pick(r, []int{8000, 9000, 30000, 10000 + r.IntN(40000)})
		hi := min(65535, lo+pick(r, []int{99, 255, 1000, 2767}))
		pol.ingress = []rule{{
			peers: p.podPeers(w.ns, c),
			ports: []port{{proto: pick(r, []string{"", "TCP", "UDP"}), num: lo, end: hi}},
		}}
	case shapeExprs:
		pol.name = w.name + "-allow-tiers"
		pol.ingress = []rule{{
			peers: []peer{{
				ns: &selector{match: []label{{"team", ns.team}}, exprs: []expr{{"env", "NotIn", []string{"dev"}}}},
				pod: &selector{exprs: []expr{
					{"tier", "In", []string{"frontend", "edge"}},
					{"app.kubernetes.io/name", "Exists", nil},
				}},
			}},
			ports: p.servingPorts(w, 1),
		}}
		if r.IntN(2) == 0 {
			pol.ingress[0].peers[0].ns = &selector{exprs: []expr{{"env", "In", []string{ns.env}}, {"team", "Exists", nil}}}
		}
	case shapeMonitoring:
		pol.name = w.name + "-allow-metrics"
		pol.ingress = []rule{{
			peers: []peer{{ns: nsNameSel("monitoring"), pod: &selector{match: []label{{"app.kubernetes.io/name", "prometheus"}}}}},
			ports: p.metricsPorts(w),
		}}
	case shapeBoth:
		c, d := client(true), p.dependency(w, apps)
		pol.name = w.name
		pol.ingress = []rule{{peers: p.podPeers(w.ns, c), ports: p.servingPorts(w, 2)}}
		pol.egress = []rule{
			{peers: []peer{{ns: p.nsSelector(d.ns), pod: appSel(d.name)}}, ports: p.servingPorts(d, 1)},
		}
		if r.IntN(2) == 0 {
			pol.egress = append(pol.egress, rule{
				peers: []peer{{ns: nsNameSel("kube-system"), pod: &selector{match: []label{{"k8s-app", "kube-dns"}}}}},
				ports: dnsPorts,
			})
		}
		pol.types = []string{"Ingress", "Egress"}
	case shapeDatagram:
		pol.name = w.name + "-egress-telemetry"
		pol.types = []string{"Egress"}
		pol.egress = []rule{{
			peers: []peer{{ns: &selector{match: []label{{"tier", "platform"}}}, pod: &selector{match: []label{{"component", "metrics"}}}}},
			ports: []port{{proto: "UDP", name: "statsd"}, {proto: "UDP", num: 8125}},
		}}
		if r.IntN(3) == 0 {
			pol.egress = append(pol.egress, rule{
				peers: []peer{{pod: &selector{match: []label{{"component", "signaling"}}}}},
				ports: []port{{proto: "SCTP", num: 3868}},
			})
		}
	case shapeIPBlockIngress:
		pol.name = w.name + "-allow-lb"
		pol.ingress = []rule{{
			peers: []peer{{block: &ipBlock{cidr: p.vpcSubnet()}}, {block: &ipBlock{cidr: p.vpcSubnet()}}},
			ports: p.servingPorts(w, 1),
		}}
	case shapeAllowAll:
		pol.name = w.name + "-allow-all-ingress"
		pol.ingress = []rule{{}}
	case shapeFromNamespaces:
		c := client(false)
		pol.name = w.name + "-allow-team-" + p.namespaces[c.ns].team
		pol.ingress = []rule{{
			peers: []peer{{ns: &selector{match: []label{{"team", p.namespaces[c.ns].team}}}}},
			ports: p.servingPorts(w, 1),
		}}
	}
	if pol.types == nil && len(pol.ingress) > 0 && r.IntN(3) != 0 {
		// Omitted policyTypes default to Ingress (plus Egress when there
		// are egress rules); write them out two times in three.
		pol.types = []string{"Ingress"}
	}
	return pol
}

// targetSelector is the podSelector of a policy for w: usually its app
// label, sometimes a label set that also selects its siblings.
func (p *plan) targetSelector(w *workload) selector {
	r := p.r
	switch x := r.IntN(100); {
	case x < 65:
		return selector{match: []label{{"app", w.name}}}
	case x < 80:
		return selector{match: []label{{"app.kubernetes.io/component", w.arch.component}, {"app.kubernetes.io/name", w.name}}}
	case x < 88:
		other := p.workloads[pick(r, p.namespaces[w.ns].workloads)]
		vals := []string{w.name}
		if other != w {
			vals = append(vals, other.name)
		}
		return selector{exprs: []expr{{"app", "In", vals}}}
	case x < 95:
		return selector{match: []label{{"component", w.arch.component}, {"tier", w.arch.tier}}}
	default:
		return selector{match: []label{{"app", w.name}}, exprs: []expr{{"track", "NotIn", []string{"canary"}}}}
	}
}

// podPeers are peers for the pods of c as seen from namespace ns.
func (p *plan) podPeers(ns int, c *workload) []peer {
	if c.ns == ns {
		return []peer{{pod: p.appOrNameSel(c)}}
	}
	return []peer{{ns: p.nsSelector(c.ns), pod: p.appOrNameSel(c)}}
}

func (p *plan) appOrNameSel(c *workload) *selector {
	if p.r.IntN(4) == 0 {
		return &selector{match: []label{{"app.kubernetes.io/name", c.name}}}
	}
	return appSel(c.name)
}

func (p *plan) nsSelector(nsi int) *selector {
	ns := p.namespaces[nsi]
	switch x := p.r.IntN(100); {
	case x < 55:
		return nsNameSel(ns.name)
	case x < 75:
		return &selector{match: []label{{"team", ns.team}}}
	case x < 90:
		return &selector{match: []label{{"env", ns.env}, {"team", ns.team}}}
	default:
		return &selector{match: []label{{"team", ns.team}}, exprs: []expr{{"env", "In", []string{"prod", "staging"}}}}
	}
}

// dependency picks a workload that w calls: a data store half the time.
func (p *plan) dependency(w *workload, apps []int) *workload {
	ns := p.namespaces[w.ns]
	for range 8 {
		var d *workload
		if p.r.IntN(2) == 0 {
			d = p.workloads[pick(p.r, ns.workloads)]
		} else {
			d = p.workloads[pick(p.r, apps)]
		}
		if d != w && (d.arch.datastore || p.r.IntN(2) == 0) {
			return d
		}
	}
	return p.workloads[pick(p.r, apps)]
}

// servingPorts are up to n of the ports w serves (metrics last), by name
// or by number.
func (p *plan) servingPorts(w *workload, n int) []port {
	var ports []port
	for _, pd := range w.arch.ports {
		if pd.name == "metrics" || len(ports) == n {
			continue
		}
		ports = append(ports, p.portRef(pd))
	}
	if len(ports) == 0 {
		return p.metricsPorts(w)
	}
	return ports
}

func (p *plan) metricsPorts(w *workload) []port {
	for _, pd := range w.arch.ports {
		if pd.name == "metrics" {
			return []port{p.portRef(pd)}
		}
	}
	return []port{{name: "metrics"}}
}

func (p *plan) portRef(pd portDef) port {
	pt := port{proto: pd.proto}
	if pd.proto == "TCP" && p.r.IntN(3) == 0 {
		pt.proto = ""
	}
	if pd.name != "" && p.r.IntN(2) == 0 {
		pt.name = pd.name
	} else {
		pt.num = pd.port
	}
	return pt
}

// vpcSubnet is a random /16 to /24 in 10.0.0.0/8 with its host bits zero.
func (p *plan) vpcSubnet() string {
	bits := 16 + p.r.IntN(9)
	return netip.PrefixFrom(addr4(10<<24|p.r.Uint32()&0xffff00), bits).Masked().String()
}

// externalCIDR is a documentation or public range for a partner API.
func (p *plan) externalCIDR() string {
	first := pick(p.r, []uint32{52, 34, 35, 104, 203})
	a := addr4(first<<24 | p.r.Uint32()&0xffffff)
	return netip.PrefixFrom(a, 20+p.r.IntN(13)).Masked().String()
}

func addr4(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}
