package netpol

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/portset"
)

// Endpoint is one end of a connection: the pods of a workload, or a range
// of addresses outside the cluster.
type Endpoint struct {
	// ID is the workload's ID ("namespace/Kind/name"), suffixed with
	// "@ip,ip" when ipBlocks treat some of the workload's known pod IPs
	// differently from others; for an external endpoint, its addresses as
	// ipset.Set.Describe writes them ("0.0.0.0/0 except 10.0.0.0/8").
	ID string
	// Workload is nil for an external endpoint.
	Workload *manifest.Workload
	// IPs are the known pod IPs of this endpoint.
	IPs []netip.Addr
	// External holds the addresses of an external endpoint. External
	// endpoints are disjoint and together cover every address.
	External ipset.Set

	lclass  *labelClass
	ipPeers []int32
	class   *Class
}

// IsExternal reports whether e stands for addresses outside the cluster.
func (e *Endpoint) IsExternal() bool { return e.Workload == nil }

// InIPBlock reports whether some policy's ipBlock (cidr minus except)
// holds e's addresses: an endpoint in none is treated by the ipBlocks as a
// workload whose pod IPs are unknown.
func (e *Endpoint) InIPBlock() bool { return len(e.ipPeers) > 0 }

// Class returns the policy class of e.
func (e *Endpoint) Class() *Class { return e.class }

func (e *Endpoint) String() string { return e.ID }

// Class is a set of endpoints that every policy treats alike: selected by
// the same policies, matched by the same peers, and resolving every named
// port the policies use to the same numbers. Connections between classes
// are the compact view of a large cluster.
type Class struct {
	ID       int
	Members  []*Endpoint
	External bool

	iso      [2]bool
	policies [2][]int32
	peers    []int32 // ascending
	ports    map[string][]portset.Range
	// rules holds, by direction, the rules of the policies that select
	// the class; inPorts[i] is rules[Ingress][i]'s ports resolved against
	// the class's own named ports (never empty: such rules are dropped).
	rules   [2][]*rule
	inPorts []portset.Set
}

// Isolated reports whether members of c are isolated for direction d.
func (c *Class) Isolated(d Direction) bool { return c.iso[d] }

// Engine is a compiled, immutable set of NetworkPolicies over a set of
// workloads. It is safe for concurrent use.
type Engine struct {
	set        *manifest.Set
	nsLabels   map[string]labels.Set
	nsNames    []string
	policies   []*policy
	polOf      map[*manifest.Policy]*policy
	rules      []*rule
	peers      []*peer
	ix         *labelIndex
	lclassOf   map[*manifest.Workload]*labelClass
	endpoints  []*Endpoint
	byWorkload map[*manifest.Workload][]*Endpoint
	byIP       map[netip.Addr]*Endpoint
	atoms      [2][]atom
	sigs       []ipSig
	classes    []*Class
	namedRefs  map[string]bool
	// Candidate lists for ClassConnections, by class ID: the classes
	// each peer matches, the ingress-isolated classes whose ingress
	// rules name each peer, and the classes that accept ingress from
	// anything (not isolated, or a rule without peers).
	peerClasses [][]int32
	inByPeer    [][]int32
	openIn      []int32
}

// atom is a maximal run of addresses, from its start to the next atom's,
// that every ipBlock either wholly contains or wholly excludes.
type atom struct {
	from netip.Addr
	sig  int32
}

// ipSig is a distinct set of ipBlock peers containing some address.
type ipSig struct {
	peers []int32
	ext   *Endpoint
}

// Compile builds an engine from the policies and workloads of set. It fails
// only on policies that the loader would have rejected (set built in code).
func Compile(set *manifest.Set) (*Engine, error) {
	e := &Engine{
		set:        set,
		nsLabels:   map[string]labels.Set{},
		polOf:      map[*manifest.Policy]*policy{},
		byWorkload: map[*manifest.Workload][]*Endpoint{},
		byIP:       map[netip.Addr]*Endpoint{},
		namedRefs:  map[string]bool{},
	}
	for _, ns := range set.Namespaces {
		l := labels.Set{}
		maps.Copy(l, ns.Labels)
		l[manifest.MetadataNameLabel] = ns.Name
		e.nsLabels[ns.Name] = l
	}
	for _, w := range set.Workloads {
		if _, ok := e.nsLabels[w.Namespace]; !ok {
			e.nsLabels[w.Namespace] = labels.Set{manifest.MetadataNameLabel: w.Namespace}
		}
	}
	e.nsNames = slices.Sorted(maps.Keys(e.nsLabels))

	c := &compiler{peerKey: map[string]*peer{}}
	for i, mp := range set.Policies {
		pol, err := c.policy(int32(i), mp)
		if err != nil {
			return nil, fmt.Errorf("netpol: %s: %s/%s: %w", mp.Source, mp.Namespace, mp.Name, err)
		}
		e.policies = append(e.policies, pol)
		e.polOf[mp] = pol
	}
	e.rules, e.peers = c.rules, c.peers
	for _, r := range e.rules {
		for _, n := range r.ports.named {
			e.namedRefs[n.name] = true
		}
	}

	e.ix, e.lclassOf = newLabelIndex(set.Workloads)
	e.selectPolicies()
	e.matchPeers()
	e.cutAddressSpace()
	e.buildEndpoints()
	e.buildClasses()
	e.applyRules()
	return e, nil
}

func (e *Engine) selectPolicies() {
	for _, pol := range e.policies {
		for _, id := range e.ix.inNamespace(pol.ns, pol.sel) {
			lc := e.ix.classes[id]
			for d := range 2 {
				if pol.isolates[d] {
					lc.policies[d] = append(lc.policies[d], pol.id)
				}
			}
		}
	}
}

// namespaces returns the names of the namespaces sel matches, ascending.
func (e *Engine) namespaces(sel labels.Selector) []string {
	var out []string
	for _, n := range e.nsNames {
		if sel.Matches(e.nsLabels[n]) {
			out = append(out, n)
		}
	}
	return out
}

func (e *Engine) matchPeers() {
	nsCache := map[string][]string{}
	for _, p := range e.peers {
		var ids []int32
		switch p.kind {
		case peerPods:
			ids = e.ix.inNamespace(p.ns, p.podSel)
		case peerNamespace:
			key := p.nsSel.String()
			list, ok := nsCache[key]
			if !ok {
				list = e.namespaces(p.nsSel)
				nsCache[key] = list
			}
			in := make(map[string]bool, len(list))
			for _, n := range list {
				in[n] = true
			}
			ids = e.ix.match(p.podSel, func(n string) bool { return in[n] }, list)
		default:
			continue
		}
		for _, id := range ids {
			lc := e.ix.classes[id]
			lc.peers = append(lc.peers, p.id)
		}
	}
}

// cutAddressSpace splits each address family into atoms at every ipBlock
// boundary with one sweep over sorted boundaries. The set of blocks
// containing the current address is tracked with a Zobrist hash (a sum of
// random 128-bit values), so each atom costs O(1) and each distinct set is
// materialized once.
func (e *Engine) cutAddressSpace() {
	type event struct {
		at   netip.Addr
		peer int32
		add  bool
	}
	rng := rand.New(rand.NewPCG(0x77617264, 0x6e65746f)) // #nosec G404 -- Zobrist hashing needs determinism, not secrecy (fixed seed: output is deterministic)
	z := make([][2]uint64, len(e.peers))
	for i := range z {
		z[i] = [2]uint64{rng.Uint64(), rng.Uint64()}
	}
	sigOf := map[[2]uint64]int32{}
	for fam, zero := range []netip.Addr{netip.AddrFrom4([4]byte{}), netip.IPv6Unspecified()} {
		var ev []event
		for _, p := range e.peers {
			if p.kind != peerIPBlock {
				continue
			}
			for _, r := range p.block.Ranges() {
				if r.From.BitLen() != zero.BitLen() {
					continue
				}
				ev = append(ev, event{r.From, p.id, true})
				if next := r.To.Next(); next.IsValid() {
					ev = append(ev, event{next, p.id, false})
				}
			}
		}
		sort.Slice(ev, func(i, j int) bool { return ev[i].at.Less(ev[j].at) })
		active := map[int32]bool{}
		var h [2]uint64
		cur := zero
		for i := 0; ; {
			for ; i < len(ev) && ev[i].at == cur; i++ {
				zz := z[ev[i].peer]
				if ev[i].add {
					active[ev[i].peer] = true
					h[0] += zz[0]
					h[1] += zz[1]
				} else {
					delete(active, ev[i].peer)
					h[0] -= zz[0]
					h[1] -= zz[1]
				}
			}
			sig, ok := sigOf[h]
			if !ok {
				sig = int32(len(e.sigs)) // #nosec G115 -- ids count input objects, far below 2^31
				sigOf[h] = sig
				e.sigs = append(e.sigs, ipSig{peers: slices.Sorted(maps.Keys(active))})
			}
			if n := len(e.atoms[fam]); n == 0 || e.atoms[fam][n-1].sig != sig {
				e.atoms[fam] = append(e.atoms[fam], atom{cur, sig})
			}
			if i == len(ev) {
				break
			}
			cur = ev[i].at
		}
	}
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

// atomAt returns the index in e.atoms[family(a)] of the atom holding a.
func (e *Engine) atomAt(a netip.Addr) int {
	as := e.atoms[family(a)]
	return sort.Search(len(as), func(i int) bool { return a.Less(as[i].from) }) - 1
}

func (e *Engine) buildEndpoints() {
	for _, w := range e.set.Workloads {
		lc := e.lclassOf[w]
		var groups [][]netip.Addr
		var groupSig []int32
		idx := map[int32]int{}
		for _, ip := range w.IPs {
			ip = ip.Unmap()
			s := e.atoms[family(ip)][e.atomAt(ip)].sig
			g, ok := idx[s]
			if !ok {
				g = len(groups)
				idx[s] = g
				groups = append(groups, nil)
				groupSig = append(groupSig, s)
			}
			groups[g] = append(groups[g], ip)
		}
		if len(groups) == 0 {
			ep := &Endpoint{ID: w.ID(), Workload: w, lclass: lc}
			e.addEndpoint(ep)
			continue
		}
		for g, ips := range groups {
			ep := &Endpoint{ID: w.ID(), Workload: w, IPs: ips, lclass: lc, ipPeers: e.sigs[groupSig[g]].peers}
			if len(groups) > 1 {
				s := make([]string, len(ips))
				for i, ip := range ips {
					s[i] = ip.String()
				}
				ep.ID += "@" + strings.Join(s, ",")
			}
			for _, ip := range ips {
				e.byIP[ip] = ep
			}
			e.addEndpoint(ep)
		}
	}
	// External endpoints: one per distinct set of containing ipBlocks.
	ranges := make([][]ipset.Range, len(e.sigs))
	for fam, as := range e.atoms {
		for i, a := range as {
			var to netip.Addr
			if i+1 < len(as) {
				to = as[i+1].from.Prev()
			} else if fam == 0 {
				to = netip.AddrFrom4([4]byte{255, 255, 255, 255})
			} else {
				to = netip.AddrFrom16([16]byte{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255})
			}
			ranges[a.sig] = append(ranges[a.sig], ipset.Range{From: a.from, To: to})
		}
	}
	var ext []*Endpoint
	for s, rs := range ranges {
		if len(rs) == 0 {
			continue
		}
		set := ipset.Of(rs...)
		ep := &Endpoint{ID: set.Describe(), External: set, ipPeers: e.sigs[s].peers}
		e.sigs[s].ext = ep
		ext = append(ext, ep)
	}
	slices.SortFunc(ext, func(a, b *Endpoint) int {
		return a.External.Ranges()[0].From.Compare(b.External.Ranges()[0].From)
	})
	e.endpoints = append(e.endpoints, ext...)
}

func (e *Engine) addEndpoint(ep *Endpoint) {
	e.endpoints = append(e.endpoints, ep)
	e.byWorkload[ep.Workload] = append(e.byWorkload[ep.Workload], ep)
}

// namedPorts returns w's container ports under the names rules refer to.
func (e *Engine) namedPorts(w *manifest.Workload) map[string][]portset.Range {
	var m map[string][]portset.Range
	for _, p := range w.Ports {
		if p.Name == "" || !e.namedRefs[p.Name] || p.Port < portset.MinPort || p.Port > portset.MaxPort {
			continue
		}
		proto, err := portset.ParseProtocol(string(p.Protocol))
		if p.Protocol == "" {
			proto, err = portset.TCP, nil
		}
		if err != nil {
			continue
		}
		if m == nil {
			m = map[string][]portset.Range{}
		}
		m[p.Name] = append(m[p.Name], portset.Range{Proto: proto, Lo: uint16(p.Port), Hi: uint16(p.Port)})
	}
	return m
}

func appendIDs(b []byte, tag byte, ids []int32) []byte {
	b = append(b, tag)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(id)) // #nosec G115 -- ids are non-negative
	}
	return b
}

// mergeSorted merges two ascending id lists.
func mergeSorted(a, b []int32) []int32 {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make([]int32, 0, len(a)+len(b))
	out = append(out, a...)
	out = append(out, b...)
	slices.Sort(out)
	return slices.Compact(out)
}

func (e *Engine) buildClasses() {
	byKey := map[string]*Class{}
	var key []byte
	for _, ep := range e.endpoints {
		key = key[:0]
		var pols [2][]int32
		var selPeers []int32
		if ep.lclass != nil {
			pols = ep.lclass.policies
			selPeers = ep.lclass.peers
		}
		peers := mergeSorted(selPeers, ep.ipPeers)
		var ports map[string][]portset.Range
		if ep.IsExternal() {
			key = append(key, 'X')
		} else {
			key = append(key, 'W')
			ports = e.namedPorts(ep.Workload)
			for _, n := range slices.Sorted(maps.Keys(ports)) {
				key = append(key, n...)
				key = append(key, 0)
				key = append(key, portset.Of(ports[n]...).Key()...)
				key = append(key, 0)
			}
		}
		key = appendIDs(key, 'i', pols[Ingress])
		key = appendIDs(key, 'e', pols[Egress])
		key = appendIDs(key, 'p', peers)
		c := byKey[string(key)]
		if c == nil {
			c = &Class{
				ID:       len(e.classes),
				External: ep.IsExternal(),
				iso:      [2]bool{len(pols[Ingress]) > 0, len(pols[Egress]) > 0},
				policies: pols,
				peers:    peers,
				ports:    ports,
			}
			byKey[string(key)] = c
			e.classes = append(e.classes, c)
		}
		c.Members = append(c.Members, ep)
		ep.class = c
	}
}

// applyRules gives every class the rules that apply to it and builds the
// candidate lists ClassConnections walks. Nothing here is per pair of
// classes: rule matches are kept factored (a rule matches a class when one
// of its peers does), so memory stays linear in classes and rules.
func (e *Engine) applyRules() {
	e.peerClasses = make([][]int32, len(e.peers))
	e.inByPeer = make([][]int32, len(e.peers))
	for _, c := range e.classes {
		id := int32(c.ID) // #nosec G115 -- ids count input objects, far below 2^31
		for _, p := range c.peers {
			e.peerClasses[p] = append(e.peerClasses[p], id)
		}
		for d := range 2 {
			for _, pid := range c.policies[d] {
				for _, r := range e.policies[pid].rules[d] {
					if Direction(d) == Ingress {
						p := r.ports.resolve(c.ports)
						if p.Empty() {
							continue
						}
						c.inPorts = append(c.inPorts, p)
					}
					c.rules[d] = append(c.rules[d], r)
				}
			}
		}
		open := !c.iso[Ingress]
		for _, r := range c.rules[Ingress] {
			if r.all {
				open = true
			}
			for _, p := range r.peers {
				if l := e.inByPeer[p.id]; len(l) == 0 || l[len(l)-1] != id {
					e.inByPeer[p.id] = append(l, id)
				}
			}
		}
		if open {
			e.openIn = append(e.openIn, id)
		}
	}
}

// matches reports whether r matches the members of c.
func (r *rule) matches(c *Class) bool {
	if r.all {
		return true
	}
	for _, p := range r.peers {
		if _, ok := slices.BinarySearch(c.peers, p.id); ok {
			return true
		}
	}
	return false
}

// Endpoints returns every endpoint: workload endpoints in workload order,
// then external endpoints by address.
func (e *Engine) Endpoints() []*Endpoint { return e.endpoints }

// Classes returns the policy classes in order of their first member.
func (e *Engine) Classes() []*Class { return e.classes }

// Set returns the input the engine was compiled from.
func (e *Engine) Set() *manifest.Set { return e.set }

// EndpointsOf returns the endpoints of w: one, or several when ipBlocks
// treat its known pod IPs differently.
func (e *Engine) EndpointsOf(w *manifest.Workload) []*Endpoint { return e.byWorkload[w] }

// EndpointOfIP returns the workload endpoint owning the known pod IP ip, or
// else the external endpoint containing ip.
func (e *Engine) EndpointOfIP(ip netip.Addr) *Endpoint {
	ip = ip.Unmap()
	if ep, ok := e.byIP[ip]; ok {
		return ep
	}
	if !ip.IsValid() {
		return nil
	}
	return e.sigs[e.atoms[family(ip)][e.atomAt(ip)].sig].ext
}

// Allowed returns the ports on which src may open connections to dst. When
// src == dst it is traffic between two different pods of the endpoint (a
// pod may always reach itself). Between two external endpoints nothing is
// modelled and the result is empty.
func (e *Engine) Allowed(src, dst *Endpoint) portset.Set {
	return e.ClassAllowed(src.class, dst.class)
}

// ClassAllowed is Allowed for any members of two classes.
func (e *Engine) ClassAllowed(s, d *Class) portset.Set {
	if s.External && d.External {
		return portset.Set{}
	}
	eg := portset.All
	if s.iso[Egress] {
		eg = portset.Set{}
		for _, r := range s.rules[Egress] {
			if r.matches(d) {
				eg = eg.Union(r.ports.resolve(d.ports))
			}
		}
		if eg.Empty() {
			return eg
		}
	}
	if !d.iso[Ingress] {
		return eg
	}
	var in portset.Set
	for i, r := range d.rules[Ingress] {
		if r.matches(s) {
			in = in.Union(d.inPorts[i])
		}
	}
	return eg.Intersect(in)
}

// IngressAllowed returns the ports dst's ingress admits from src, whatever
// src's egress says: every port when dst's ingress is not isolated. A
// packet to a broadcast or multicast address is judged by it at each
// container it reaches, beside its sender's egress to the group address.
func (e *Engine) IngressAllowed(src, dst *Endpoint) portset.Set {
	d := dst.class
	if !d.iso[Ingress] {
		return portset.All
	}
	var in portset.Set
	for i, r := range d.rules[Ingress] {
		if r.matches(src.class) {
			in = in.Union(d.inPorts[i])
		}
	}
	return in
}

// ClassConnections calls fn for every ordered pair of classes with some
// port allowed, sources in class order, then destinations in class order,
// until fn returns false. For each source it walks only candidate
// destinations: those its egress rules match, or those open for ingress
// or whose ingress rules match it, whichever list is shorter. Work is
// proportional to the pairs the rules open (which is quadratic where
// policies leave classes open to everything: that is the answer's size).
func (e *Engine) ClassConnections(fn func(src, dst *Class, allowed portset.Set) bool) {
	stamp := make([]int32, len(e.classes))
	var cands []int32
	for _, s := range e.classes {
		cands = e.candidates(s, stamp, cands[:0])
		for _, d := range cands {
			p := e.ClassAllowed(s, e.classes[d])
			if p.Empty() {
				continue
			}
			if !fn(s, e.classes[d], p) {
				return
			}
		}
	}
}

// ClassDestinations calls fn for every class that members of s may
// connect to on some port, in class order, until fn returns false: the
// pairs ClassConnections gives for the source s, walking only its
// candidate destinations.
func (e *Engine) ClassDestinations(s *Class, fn func(dst *Class, allowed portset.Set) bool) {
	cands := e.candidates(s, nil, nil)
	for _, d := range cands {
		p := e.ClassAllowed(s, e.classes[d])
		if p.Empty() {
			continue
		}
		if !fn(e.classes[d], p) {
			return
		}
	}
}

// candidates appends to cands, sorted and without repeats, the ids of the
// classes s may reach: those its egress rules match, or those open for
// ingress or whose ingress rules match it, whichever list is shorter.
// stamp, when not nil, has one entry per class, none equal to s.ID+1;
// without it repeats are removed by sorting.
func (e *Engine) candidates(s *Class, stamp []int32, cands []int32) []int32 {
	mark := int32(s.ID) + 1 // #nosec G115 -- ids count input objects, far below 2^31
	add := func(list []int32) {
		if stamp == nil {
			cands = append(cands, list...)
			return
		}
		for _, d := range list {
			if stamp[d] != mark {
				stamp[d] = mark
				cands = append(cands, d)
			}
		}
	}
	egOpen := !s.iso[Egress]
	egSize := 0
	for _, r := range s.rules[Egress] {
		if r.all {
			egOpen = true
		}
		for _, p := range r.peers {
			egSize += len(e.peerClasses[p.id])
		}
	}
	inSize := len(e.openIn)
	for _, p := range s.peers {
		inSize += len(e.inByPeer[p])
	}
	if egOpen || inSize <= egSize {
		add(e.openIn)
		for _, p := range s.peers {
			add(e.inByPeer[p])
		}
	} else {
		for _, r := range s.rules[Egress] {
			for _, p := range r.peers {
				add(e.peerClasses[p.id])
			}
		}
	}
	slices.Sort(cands)
	if stamp == nil {
		cands = slices.Compact(cands)
	}
	return cands
}

// Connections calls fn for every ordered pair of endpoints with some port
// allowed, until fn returns false. A pair of an endpoint with itself means
// traffic between different pods of it and is omitted for bare Pods, which
// have one pod. Order follows ClassConnections, then members.
func (e *Engine) Connections(fn func(src, dst *Endpoint, allowed portset.Set) bool) {
	e.ClassConnections(func(s, d *Class, p portset.Set) bool {
		for _, a := range s.Members {
			for _, b := range d.Members {
				if a == b && a.Workload != nil && a.Workload.Kind == "Pod" {
					continue
				}
				if !fn(a, b, p) {
					return false
				}
			}
		}
		return true
	})
}
