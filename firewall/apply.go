package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/portset"
)

// elementsPerMessage bounds the elements sent in one netlink message: a
// message's nested attributes are limited to 64 KiB, and an IPv6 interval
// element with its end takes about 100 bytes.
const elementsPerMessage = 256

// socketBuffer is the send and receive buffer size NewConn asks for: a
// batch is sent in one sendmsg, so the send buffer bounds the ruleset
// (about 200 KiB by default, a few thousand elements), and the kernel
// queues an acknowledgement of every message before google/nftables
// reads any, so the receive buffer bounds it too: 64 MiB failed with
// ENOBUFS at 10,000 containers once the ICMP error chains were added
// (docs/performance.md).
const socketBuffer = 256 << 20

// NewConn returns an nftables connection for Apply, Remove and Status,
// with opts (such as nftables.WithNetNSFd). Its netlink sockets have
// buffers large enough for big batches: as nft does, it forces them past
// the system's limits (net.core.wmem_max) when it has CAP_NET_ADMIN, as
// Apply needs anyway. A connection made otherwise works for batches that
// fit its buffers; Apply fails on a larger one ("message too long") and
// changes nothing.
func NewConn(opts ...nftables.ConnOption) (*nftables.Conn, error) {
	opts = append(slices.Clip(opts), nftables.WithSockOptions(largeBuffers))
	conn, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("firewall: nftables connection: %w", err)
	}
	return conn, nil
}

// largeBuffers sets the socket's buffers to socketBuffer, forcing them
// past the system's limits if it may, and otherwise as far as they go.
func largeBuffers(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		for _, o := range [][2]int{{unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}, {unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}} {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[0], socketBuffer) != nil { // #nosec G115 -- a socket descriptor fits an int
				if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[1], socketBuffer); e != nil { // #nosec G115 -- a socket descriptor fits an int
					serr = e
				}
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// table is Ward's table as google/nftables names it.
func table() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
}

// arpTable is Ward's ARP table (Ruleset.ARPString) as google/nftables
// names it.
func arpTable() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyARP, Name: TableName}
}

// translateARP builds the ARP table of rs, or returns nil when rs closes
// no bridge's ports (Ruleset.Bridges).
func translateARP(rs *Ruleset) (*builder, error) {
	if !rs.closed() {
		return nil, nil
	}
	b := &builder{table: arpTable(), byName: map[string]*nftables.Chain{}}
	policy := nftables.ChainPolicyAccept
	// The ARP family's input hook is NF_ARP_IN, 0, not the inet
	// families' NF_INET_LOCAL_IN that nftables.ChainHookInput names.
	ch := &nftables.Chain{Name: ARPChain, Table: b.table, Hooknum: nftables.ChainHookRef(0),
		Priority: nftables.ChainPriorityFilter, Type: nftables.ChainTypeFilter, Policy: &policy}
	b.chains, b.byName[ARPChain] = []*nftables.Chain{ch}, ch
	se, err := bridgesSet(b.table, rs.Bridges)
	if err != nil {
		return nil, err
	}
	b.sets = append(b.sets, se)
	rr, err := b.rule(ch, rs.unboundRule())
	if err != nil {
		return nil, err
	}
	b.rules = append(b.rules, rr)
	return b, nil
}

// bridgesSet is set bridges (Ruleset.Bridges) of table t: a hash of
// interface names, which are strings in host byte order (said so, nft
// lists them as names).
func bridgesSet(t *nftables.Table, bridges []string) (setElems, error) {
	set := &nftables.Set{Table: t, Name: SetBridges, KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
	elems := make([]nftables.SetElement, len(bridges))
	for i, n := range bridges {
		key, err := ifname(n)
		if err != nil {
			return setElems{}, fmt.Errorf("set %s: %w", SetBridges, err)
		}
		elems[i] = nftables.SetElement{Key: key}
	}
	return setElems{set, elems}, nil
}

// SwapTableName names the table that holds the new ruleset while Apply
// replaces Ward's table (see Apply); it exists only during an Apply, or
// after one that failed half-way, until the next Apply or Remove.
const SwapTableName = TableName + "_swap"

// swapTable is the swap table as google/nftables names it.
func swapTable() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: SwapTableName}
}

// batchMu serialises the building of batches: google/nftables (v0.3.0)
// numbers the sets of every connection from one unguarded package
// variable, so two Applies on two connections at once race.
var batchMu sync.Mutex

// Apply replaces Ward's table with rs in one netlink batch: the table is
// deleted if present, then created anew with its sets, maps, chains and
// rules. The kernel applies the batch atomically: if it rejects any part
// of it (a jump to a missing chain, a malformed element), the previous
// table, if any, is left exactly as it was and Apply returns the error.
//
// Atomic is not enough, though: the kernel (seen on Linux 6.18) makes the
// batch's new rules live before the lookups in its new interval sets and
// maps find their elements, so that for a moment after the switch a
// packet to an isolated container finds no element in the ingress map,
// skips its ingress stage and is accepted (lab.TestReloadWindow: about
// one denied datagram in a hundred replacements got through). So Apply
// first loads rs into a second table, SwapTableName, in a batch of its
// own, while the old table still judges every packet; once that batch is
// committed, the swap table judges every packet by rs as well, and a drop
// in either table is final. Then it replaces Ward's table and, last,
// deletes the swap table. At every moment a packet passes only if the old
// or the new ruleset, fully loaded, allows it (both, while both are
// loaded). A failure of the first batch changes nothing; after a failure
// of the second, the swap table is deleted and Ward's table left as it
// was.
//
// rs is translated before anything is queued on conn, so that an error in
// rs leaves conn's pending batch untouched. conn should come from NewConn,
// whose buffers hold large batches.
func Apply(conn *nftables.Conn, rs *Ruleset) error { return ApplyFlushing(conn, rs, nil) }

// ApplyFlushing is Apply, calling flush (when not nil) once the swap
// table judges every packet by rs and before Ward's tables are replaced:
// the moment to end the tracked connections rs denies (FlushDenied). The
// ruleset accepts a tracked connection's packets without a policy
// lookup, so a connection ended only once rs is live keeps flowing until
// then, and where rs opens a port, such as the port of a container that
// took the address of one that left, the newcomer's packets pass as the
// old owner's connection's (lab.TestReuseStaleConnection). Ended while
// both the old table and the swap table judge, such a connection cannot
// start again before the replacement: a new connection needs both
// rulesets to allow it, and a port rs binds is still closed by the old
// bridge table. flush's errors are its own to report: the replacement
// goes on.
func ApplyFlushing(conn *nftables.Conn, rs *Ruleset, flush func()) error {
	batchMu.Lock()
	defer batchMu.Unlock()
	t := table()
	b := &builder{table: t}
	if err := b.translate(rs); err != nil {
		return fmt.Errorf("firewall: apply: %w", err)
	}
	swap := &builder{table: swapTable()}
	if err := swap.translate(rs); err != nil {
		return fmt.Errorf("firewall: apply: %w", err)
	}
	var bridge *bridgeObjects
	if len(rs.Bindings) > 0 {
		var err error
		if bridge, err = translateBridge(rs.Bindings, rs.Unbound, rs.SpoofLogGroup, rs.closed()); err != nil {
			return fmt.Errorf("firewall: apply: bridge table: %w", err)
		}
	}
	arp, err := translateARP(rs)
	if err != nil {
		return fmt.Errorf("firewall: apply: arp table: %w", err)
	}
	// The swap table first, in a batch of its own (see above).
	if err := swap.queue(conn); err != nil {
		return err
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("firewall: apply table %s %s: %w", TableFamily, SwapTableName, err)
	}
	if flush != nil {
		flush()
	}
	if err := b.queue(conn); err != nil {
		return err
	}
	// The bridge table, in the same transaction: replaced, or deleted
	// when the ruleset has no bindings. Its sets are hashes, which the
	// kernel's lookups find as soon as its rules are live.
	bt := bridgeTable()
	conn.AddTable(bt)
	conn.DelTable(bt)
	if bridge != nil {
		if err := bridge.queue(conn); err != nil {
			return fmt.Errorf("firewall: apply: bridge table: %w", err)
		}
	}
	// The ARP table likewise (Ruleset.Bridges).
	if arp != nil {
		if err := arp.queue(conn); err != nil {
			return fmt.Errorf("firewall: apply: arp table: %w", err)
		}
	} else {
		at := arpTable()
		conn.AddTable(at)
		conn.DelTable(at)
	}
	if err := conn.Flush(); err != nil {
		return errors.Join(fmt.Errorf("firewall: apply table %s %s: %w", TableFamily, TableName, err), deleteSwap(conn))
	}
	return deleteSwap(conn)
}

// queue adds the builder's table to conn's batch, replacing the table of
// that name if there is one: AddTable then DelTable deletes the table
// whether or not it exists (NFT_MSG_DESTROYTABLE needs Linux 6.3); the
// second AddTable creates the new one, all in the same transaction.
func (b *builder) queue(conn *nftables.Conn) error {
	conn.AddTable(b.table)
	conn.DelTable(b.table)
	conn.AddTable(b.table)
	for _, c := range b.chains {
		conn.AddChain(c)
	}
	for _, s := range b.sets {
		if err := queueSet(conn, s); err != nil {
			return fmt.Errorf("firewall: apply: %w", err)
		}
	}
	for _, r := range b.rules {
		for _, a := range r.anon {
			if err := conn.AddSet(a.set, a.elems); err != nil {
				return fmt.Errorf("firewall: apply: anonymous set: %w", err)
			}
			// AddSet names anonymous sets; the lookup needs that name
			// and the batch-local id it allocated.
			a.lookup.SetName, a.lookup.SetID = a.set.Name, a.set.ID
		}
		conn.AddRule(r.rule)
	}
	return nil
}

// deleteSwap deletes the swap table, in a batch of its own.
func deleteSwap(conn *nftables.Conn) error {
	t := swapTable()
	conn.AddTable(t)
	conn.DelTable(t)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("firewall: delete table %s %s: %w", TableFamily, SwapTableName, err)
	}
	return nil
}

// queueSet adds a named set or map and its elements to conn's batch,
// elementsPerMessage at a time.
func queueSet(conn *nftables.Conn, s setElems) error {
	if err := conn.AddSet(s.set, nil); err != nil {
		return fmt.Errorf("set %s: %w", s.set.Name, err)
	}
	for e := s.elems; len(e) > 0; {
		n := min(len(e), elementsPerMessage)
		if err := conn.SetAddElements(s.set, e[:n]); err != nil {
			return fmt.Errorf("set %s: %w", s.set.Name, err)
		}
		e = e[n:]
	}
	return nil
}

// Remove deletes Ward's tables (inet ward and, if present, bridge ward and
// arp ward)
// with everything in them, in one batch. Ward adds nothing to other
// tables, so nothing of Ward remains.
func Remove(conn *nftables.Conn) error {
	for _, t := range []*nftables.Table{table(), swapTable(), bridgeTable(), arpTable()} {
		conn.AddTable(t)
		conn.DelTable(t)
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("firewall: remove table %s %s: %w", TableFamily, TableName, err)
	}
	return nil
}

// TableStats describes Ward's table as the kernel holds it.
type TableStats struct {
	// Stats counts named sets, maps, chains, rules and the elements
	// (ranges) of the named sets and maps, as Ruleset.Stats does.
	Stats
	// Packets and Bytes sum the counters of the table's rules: with
	// Compile's rulesets, what Ward dropped.
	Packets, Bytes uint64
}

// Status reports whether Ward's table is present and, if so, what it
// holds.
func Status(conn *nftables.Conn) (present bool, st TableStats, err error) {
	lt, err := readTable(conn)
	if err != nil || lt == nil {
		return false, st, err
	}
	for _, s := range lt.sets {
		if s.IsMap {
			st.Maps++
		} else {
			st.Sets++
		}
		elems, err := conn.GetSetElements(s)
		if err != nil {
			return true, st, fmt.Errorf("firewall: status: list elements of %s: %w", s.Name, err)
		}
		for _, e := range elems {
			if !e.IntervalEnd {
				st.Elements++
			}
		}
	}
	for _, c := range lt.chains {
		st.Chains++
		rules, err := conn.GetRules(lt.table, c)
		if err != nil {
			return true, st, fmt.Errorf("firewall: status: list rules of %s: %w", c.Name, err)
		}
		st.Rules += len(rules)
		for _, r := range rules {
			for _, e := range r.Exprs {
				if ctr, ok := e.(*expr.Counter); ok {
					st.Packets += ctr.Packets
					st.Bytes += ctr.Bytes
				}
			}
		}
	}
	n, err := bridgeBindings(conn)
	if err != nil {
		return true, st, err
	}
	st.Bindings = n
	return true, st, nil
}

// bridgeBindings counts the (port, address) elements of Ward's bridge
// table, 0 when it is absent.
func bridgeBindings(conn *nftables.Conn) (int, error) {
	t, err := findTable(conn, nftables.TableFamilyBridge)
	if err != nil || t == nil {
		return 0, err
	}
	n := 0
	sets, err := conn.GetSets(t)
	if err != nil {
		return 0, fmt.Errorf("firewall: status: bridge sets: %w", err)
	}
	for _, s := range sets {
		name := s.Name
		if name != BridgeAddrs4 && name != BridgeAddrs6 {
			continue // ports known but not bound (Ruleset.Unbound) have neither
		}
		elems, err := conn.GetSetElements(s)
		if err != nil {
			return 0, fmt.Errorf("firewall: status: bridge set %s: %w", name, err)
		}
		n += len(elems)
	}
	return n, nil
}

// builder holds a ruleset translated to google/nftables objects, in the
// order they are queued: chains first (map elements jump to them), then
// named sets and maps with their elements, then rules, each preceded by
// its anonymous sets.
type builder struct {
	table  *nftables.Table
	chains []*nftables.Chain
	sets   []setElems
	rules  []ruleSets
	byName map[string]*nftables.Chain
}

type setElems struct {
	set   *nftables.Set
	elems []nftables.SetElement
}

// ruleSets is a rule with the anonymous sets it looks up.
type ruleSets struct {
	rule *nftables.Rule
	anon []anonSetRef
}

type anonSetRef struct {
	setElems
	lookup *expr.Lookup
}

var hooks = map[string]*nftables.ChainHook{
	"prerouting": nftables.ChainHookPrerouting,
	"forward":    nftables.ChainHookForward,
	"input":      nftables.ChainHookInput,
	"output":     nftables.ChainHookOutput,
}

func (b *builder) translate(rs *Ruleset) error {
	b.byName = map[string]*nftables.Chain{}
	for _, c := range rs.Chains {
		ch := &nftables.Chain{Name: c.Name, Table: b.table}
		if c.Hook != "" {
			hook, ok := hooks[c.Hook]
			if !ok {
				return fmt.Errorf("chain %s: unknown hook %q", c.Name, c.Hook)
			}
			if c.Priority < -1000 || c.Priority > 1000 {
				return fmt.Errorf("chain %s: priority %d out of range (filter - 1000 to filter + 1000)", c.Name, c.Priority)
			}
			policy := nftables.ChainPolicyAccept
			ch.Hooknum = hook
			ch.Priority = nftables.ChainPriorityRef(*nftables.ChainPriorityFilter + nftables.ChainPriority(c.Priority)) // #nosec G115 -- bounded to ±1000 above
			ch.Type = nftables.ChainTypeFilter
			ch.Policy = &policy
		}
		if _, dup := b.byName[c.Name]; dup {
			return fmt.Errorf("chain %s: defined twice", c.Name)
		}
		b.byName[c.Name] = ch
		b.chains = append(b.chains, ch)
	}
	for _, s := range rs.Sets {
		set := &nftables.Set{Table: b.table, Name: s.Name, Interval: true, KeyType: addrType(s.Family)}
		elems, err := addrElements(s.Family, s.Elements, nil)
		if err != nil {
			return fmt.Errorf("set %s: %w", s.Name, err)
		}
		b.sets = append(b.sets, setElems{set, elems})
	}
	for _, m := range rs.Maps {
		set := &nftables.Set{Table: b.table, Name: m.Name, Interval: true, IsMap: true,
			KeyType: addrType(m.Family), DataType: nftables.TypeVerdict}
		ranges := make([]ipset.Range, len(m.Elements))
		verdicts := make([]*expr.Verdict, len(m.Elements))
		for i, e := range m.Elements {
			ranges[i] = e.Range
			v, err := verdictExpr(e.Verdict)
			if err != nil {
				return fmt.Errorf("map %s: %w", m.Name, err)
			}
			if v == nil {
				return fmt.Errorf("map %s: element %s has no verdict", m.Name, rangeString(e.Range))
			}
			verdicts[i] = v
		}
		elems, err := addrElements(m.Family, ranges, verdicts)
		if err != nil {
			return fmt.Errorf("map %s: %w", m.Name, err)
		}
		b.sets = append(b.sets, setElems{set, elems})
	}
	for _, m := range rs.MarkMaps {
		// Marks are host-order numbers: said so, nft lists them as set.
		set := &nftables.Set{Table: b.table, Name: m.Name, IsMap: true, KeyType: nftables.TypeMark,
			KeyByteOrder: binaryutil.NativeEndian, DataType: nftables.TypeVerdict}
		var elems []nftables.SetElement
		for _, e := range m.Elements {
			v, err := verdictExpr(e.Verdict)
			if err != nil {
				return fmt.Errorf("map %s: %w", m.Name, err)
			}
			if v == nil {
				return fmt.Errorf("map %s: element %s has no verdict", m.Name, markString(e.Mark))
			}
			elems = append(elems, nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(e.Mark), VerdictData: v})
		}
		b.sets = append(b.sets, setElems{set, elems})
	}
	if len(rs.Bridges) > 0 {
		se, err := bridgesSet(b.table, rs.Bridges)
		if err != nil {
			return err
		}
		b.sets = append(b.sets, se)
	}
	for _, f := range Families {
		var elems []nftables.SetElement
		for _, a := range rs.Self {
			if family(a) != f {
				continue
			}
			// An interval set (nft's pipapo): its elements list sorted,
			// a hash set's in bucket order.
			b := a.AsSlice()
			key := append(slices.Clone(b), b...)
			elems = append(elems, nftables.SetElement{Key: key, KeyEnd: key})
		}
		if len(elems) == 0 {
			continue
		}
		set := &nftables.Set{Table: b.table, Name: SetSelf + f.suffix(), Interval: true, Concatenation: true,
			KeyType: nftables.MustConcatSetType(addrType(f), addrType(f))}
		b.sets = append(b.sets, setElems{set, elems})
	}
	for _, c := range rs.Chains {
		for i, r := range c.Rules {
			rr, err := b.rule(b.byName[c.Name], r)
			if err != nil {
				return fmt.Errorf("chain %s rule %d (%s): %w", c.Name, i+1, r, err)
			}
			b.rules = append(b.rules, rr)
		}
	}
	return nil
}

func addrType(f Family) nftables.SetDatatype {
	if f == IPv6 {
		return nftables.TypeIP6Addr
	}
	return nftables.TypeIPAddr
}

func addrBytes(f Family, a netip.Addr) ([]byte, error) {
	switch {
	case f == IPv4 && a.Is4():
		b := a.As4()
		return b[:], nil
	case f == IPv6 && a.Is6() && !a.Is4In6():
		b := a.As16()
		return b[:], nil
	}
	return nil, fmt.Errorf("address %s is not %s", a, f)
}

// addrElements encodes sorted, disjoint ranges as interval elements the
// way nft does: an interval-end element at the zero address when the
// first range does not start there, then each range as its first address
// (with its verdict, in a map) and the address after its last, flagged as
// an interval end. A range ending at the family's last address has no
// end element.
func addrElements(f Family, ranges []ipset.Range, verdicts []*expr.Verdict) ([]nftables.SetElement, error) {
	var elems []nftables.SetElement
	for i, r := range ranges {
		from, err := addrBytes(f, r.From)
		if err != nil {
			return nil, err
		}
		if _, err := addrBytes(f, r.To); err != nil {
			return nil, err
		}
		if r.To.Less(r.From) || (i > 0 && !ranges[i-1].To.Less(r.From)) {
			return nil, fmt.Errorf("ranges not sorted and disjoint at %s", rangeString(r))
		}
		if i == 0 && !r.From.IsUnspecified() {
			elems = append(elems, nftables.SetElement{Key: make([]byte, len(from)), IntervalEnd: true})
		}
		e := nftables.SetElement{Key: from}
		if verdicts != nil {
			e.VerdictData = verdicts[i]
		}
		elems = append(elems, e)
		if next := r.To.Next(); next.IsValid() {
			end, _ := addrBytes(f, next)
			elems = append(elems, nftables.SetElement{Key: end, IntervalEnd: true})
		}
	}
	return elems, nil
}

func verdictExpr(v Verdict) (*expr.Verdict, error) {
	switch v.Kind {
	case Continue:
		return nil, nil
	case Accept:
		return &expr.Verdict{Kind: expr.VerdictAccept}, nil
	case Drop:
		return &expr.Verdict{Kind: expr.VerdictDrop}, nil
	case Return:
		return &expr.Verdict{Kind: expr.VerdictReturn}, nil
	case Jump, Goto:
		// The chain is not checked here: a missing chain is the kernel's
		// to reject, and the batch with it.
		if v.Chain == "" {
			return nil, fmt.Errorf("%s without a chain", v)
		}
		k := expr.VerdictJump
		if v.Kind == Goto {
			k = expr.VerdictGoto
		}
		return &expr.Verdict{Kind: k, Chain: v.Chain}, nil
	}
	return nil, fmt.Errorf("unknown verdict kind %d", v.Kind)
}

// ctStates are the conntrack state bits (NF_CT_STATE_*_BIT and
// NF_CT_STATE_UNTRACKED_BIT).
var ctStates = map[string]uint32{
	"invalid":     1 << 0,
	"established": 1 << 1,
	"related":     1 << 2,
	"new":         1 << 3,
	"untracked":   1 << 6,
}

// ctStatuses are the conntrack status bits rules match (IPS_DST_NAT).
var ctStatuses = map[string]uint32{"dnat": 1 << 5}

// icmpTypes are the ICMP (IPv4) types by nft name that rules match.
var icmpTypes = map[string]byte{
	"redirect": 5,
}

// icmpv6Types are the ICMPv6 types by nft name.
var icmpv6Types = map[string]byte{
	"destination-unreachable": 1,
	"packet-too-big":          2,
	"time-exceeded":           3,
	"parameter-problem":       4,
	"echo-request":            128,
	"echo-reply":              129,
	"mld-listener-query":      130,
	"mld-listener-report":     131,
	"mld-listener-done":       132,
	"nd-router-solicit":       133,
	"nd-router-advert":        134,
	"nd-neighbor-solicit":     135,
	"nd-neighbor-advert":      136,
	"nd-redirect":             137,
	"router-renumbering":      138,
	"ind-neighbor-solicit":    141,
	"ind-neighbor-advert":     142,
	"mld2-listener-report":    143,
}

var protocols = map[portset.Protocol]byte{
	portset.TCP:  unix.IPPROTO_TCP,
	portset.UDP:  unix.IPPROTO_UDP,
	portset.SCTP: unix.IPPROTO_SCTP,
}

// The registers: 0 holds the verdict, 1 the data matched.
const (
	regVerdict = 0
	reg        = 1
)

// rule translates r into the expressions nft generates for r.String() in
// an inet table, so that `nft list` prints the rule back as r.String().
func (b *builder) rule(ch *nftables.Chain, r Rule) (ruleSets, error) {
	out := ruleSets{rule: &nftables.Rule{Table: b.table, Chain: ch}}
	add := func(e ...expr.Any) { out.rule.Exprs = append(out.rule.Exprs, e...) }
	cmpEq := func(data []byte) *expr.Cmp { return &expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: data} }
	meta := func(k expr.MetaKey) *expr.Meta { return &expr.Meta{Key: k, Register: reg} }
	var nfDone Family // nft checks a rule's family once
	nfproto := func(f Family) {
		if nfDone == f {
			return
		}
		nfDone = f
		p := byte(unix.NFPROTO_IPV4)
		if f == IPv6 {
			p = unix.NFPROTO_IPV6
		}
		add(meta(expr.MetaKeyNFPROTO), cmpEq([]byte{p}))
	}
	// match compares the loaded value with vals: one value with cmp, one
	// range with range, several with a lookup in an anonymous set.
	match := func(t nftables.SetDatatype, lo, hi [][]byte) {
		switch {
		case len(lo) == 1 && slices.Equal(lo[0], hi[0]):
			add(cmpEq(lo[0]))
		case len(lo) == 1:
			add(&expr.Range{Op: expr.CmpOpEq, Register: reg, FromData: lo[0], ToData: hi[0]})
		default:
			set := &nftables.Set{Table: b.table, Anonymous: true, Constant: true, KeyType: t}
			var elems []nftables.SetElement
			for i := range lo {
				if !slices.Equal(lo[i], hi[i]) {
					set.Interval = true
				}
			}
			for i := range lo {
				if set.Interval && i == 0 && !isZero(lo[0]) {
					elems = append(elems, nftables.SetElement{Key: make([]byte, len(lo[0])), IntervalEnd: true})
				}
				elems = append(elems, nftables.SetElement{Key: lo[i]})
				if set.Interval {
					if end, ok := inc(hi[i]); ok {
						elems = append(elems, nftables.SetElement{Key: end, IntervalEnd: true})
					}
				}
			}
			l := &expr.Lookup{SourceRegister: reg}
			add(l)
			out.anon = append(out.anon, anonSetRef{setElems{set, elems}, l})
		}
	}
	for _, iface := range []struct {
		name string
		key  expr.MetaKey
		not  bool
	}{{r.Iif, expr.MetaKeyIIF, r.IifNot}, {r.Oif, expr.MetaKeyOIF, false}} {
		if iface.name == "" {
			continue
		}
		// iif and oif match interface indexes, which nft resolves when it
		// adds the rule. Only the loopback interface has the same index
		// (1) in every network namespace.
		if iface.name != "lo" {
			return out, fmt.Errorf("interface %q: only \"lo\" is supported", iface.name)
		}
		if iface.not {
			add(meta(iface.key), &expr.Cmp{Op: expr.CmpOpNeq, Register: reg, Data: binaryutil.NativeEndian.PutUint32(1)})
			continue
		}
		add(meta(iface.key), cmpEq(binaryutil.NativeEndian.PutUint32(1)))
	}
	if r.IfName != "" {
		key := expr.MetaKeyIIFNAME
		if r.IfOut {
			key = expr.MetaKeyOIFNAME
		}
		name, err := ifnamePattern(r.IfName)
		if err != nil {
			return out, err
		}
		add(meta(key), cmpEq(name))
		if r.IfNotBridges {
			add(meta(key), &expr.Lookup{SourceRegister: reg, SetName: SetBridges, Invert: true})
		}
	}
	if r.IifBridges {
		add(meta(expr.MetaKeyIIFNAME), &expr.Lookup{SourceRegister: reg, SetName: SetBridges})
	}
	if r.IifNotBridges {
		add(meta(expr.MetaKeyIIFNAME), &expr.Lookup{SourceRegister: reg, SetName: SetBridges, Invert: true})
	}
	if m := r.MarkNe; m != nil {
		add(meta(expr.MetaKeyMARK),
			&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(m.Mask), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg, Data: binaryutil.NativeEndian.PutUint32(m.Value)})
	}
	if len(r.CtState) > 0 {
		var mask uint32
		for _, s := range r.CtState {
			bit, ok := ctStates[s]
			if !ok {
				return out, fmt.Errorf("unknown conntrack state %q", s)
			}
			mask |= bit
		}
		add(&expr.Ct{Key: expr.CtKeySTATE, Register: reg},
			&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg, Data: make([]byte, 4)})
	}
	if r.CtStatus != "" {
		bit, ok := ctStatuses[r.CtStatus]
		if !ok {
			return out, fmt.Errorf("unknown conntrack status %q", r.CtStatus)
		}
		add(&expr.Ct{Key: expr.CtKeySTATUS, Register: reg},
			&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(bit), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg, Data: make([]byte, 4)})
	}
	if r.TCPNotSYN {
		// tcp flags != syn / fin,syn,rst,ack
		add(meta(expr.MetaKeyL4PROTO), cmpEq([]byte{unix.IPPROTO_TCP}),
			&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
			&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 1, Mask: []byte{0x17}, Xor: []byte{0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg, Data: []byte{0x02}})
	}
	if len(r.ICMPTypes) > 0 {
		var vals [][]byte
		for _, name := range r.ICMPTypes {
			t, ok := icmpTypes[name]
			if !ok {
				return out, fmt.Errorf("unknown ICMP type %q", name)
			}
			vals = append(vals, []byte{t})
		}
		nfproto(IPv4)
		add(meta(expr.MetaKeyL4PROTO), cmpEq([]byte{unix.IPPROTO_ICMP}),
			&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1})
		match(nftables.TypeICMPType, vals, vals)
	}
	if len(r.ICMPv6Types) > 0 {
		var vals [][]byte
		for _, name := range r.ICMPv6Types {
			t, ok := icmpv6Types[name]
			if !ok {
				return out, fmt.Errorf("unknown ICMPv6 type %q", name)
			}
			vals = append(vals, []byte{t})
		}
		nfproto(IPv6)
		add(meta(expr.MetaKeyL4PROTO), cmpEq([]byte{unix.IPPROTO_ICMPV6}),
			&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1})
		match(nftables.TypeICMP6Type, vals, vals)
	}
	if r.HopLimit != 0 {
		nfproto(IPv6)
		add(&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: 7, Len: 1}, cmpEq([]byte{r.HopLimit}))
	}
	if r.ICMP != 0 {
		p := byte(unix.IPPROTO_ICMP)
		switch r.ICMP {
		case IPv4:
		case IPv6:
			p = unix.IPPROTO_ICMPV6
		default:
			return out, fmt.Errorf("ICMP of unknown family %v", r.ICMP)
		}
		add(meta(expr.MetaKeyL4PROTO), cmpEq([]byte{p}))
	}
	if a := r.ForeignError; a.IsValid() {
		// The source, then the quoted destination: 8 bytes of ICMP
		// header, then the quoted IP header's destination (at 16 of an
		// IPv4 header, 24 of an IPv6 one).
		f := family(a)
		src, quoted := uint32(12), uint32(24)
		if f == IPv6 {
			src, quoted = 8, 32
		}
		b := a.AsSlice()
		n := uint32(len(b)) // #nosec G115 -- 4 or 16
		nfproto(f)
		add(&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: src, Len: n}, cmpEq(b),
			&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: quoted, Len: n},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg, Data: b})
	}
	if q := r.QuotedIn; q.IsValid() {
		off, mask, val := quotedMatch(q)
		f := IPv4
		if q.Addr().Is6() {
			f = IPv6
		}
		nfproto(f)
		add(&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: uint32(off / 8), Len: uint32(len(val))}) // #nosec G115 -- at most 32 and 16
		if mask != nil {
			add(&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: uint32(len(val)), Mask: mask, Xor: make([]byte, len(val))}) // #nosec G115 -- at most 16
		}
		add(cmpEq(val))
	}
	addr := func(l *Lookup) *expr.Lookup {
		off, n := uint32(12), uint32(4)
		if l.Family == IPv6 {
			off, n = 8, 16
		}
		if l.Dst {
			off += n
		}
		nfproto(l.Family)
		add(&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n})
		lk := &expr.Lookup{SourceRegister: reg, SetName: l.Name, Invert: l.Not}
		add(lk)
		return lk
	}
	if r.Dst.IsValid() {
		f := IPv4
		if r.Dst.Addr().Is6() {
			f = IPv6
		}
		nfproto(f)
		add(dstPrefix(reg, r.Dst)...)
	}
	if r.Addr != nil {
		if err := checkLookup(r.Addr); err != nil {
			return out, err
		}
		addr(r.Addr)
	}
	if r.SrcNotLocal {
		add(&expr.Fib{Register: reg, FlagSADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)})
	}
	if r.Pair != nil {
		if err := checkLookup(r.Pair); err != nil {
			return out, err
		}
		// nft loads the source into register 1 and the destination into
		// the next free one: 32-bit register 9 after an IPv4 address,
		// 128-bit register 2 after an IPv6 one.
		off, n, next := uint32(12), uint32(4), uint32(9)
		if r.Pair.Family == IPv6 {
			off, n, next = 8, 16, 2
		}
		nfproto(r.Pair.Family)
		add(&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
			&expr.Payload{DestRegister: next, Base: expr.PayloadBaseNetworkHeader, Offset: off + n, Len: n},
			&expr.Lookup{SourceRegister: reg, SetName: r.Pair.Name})
	}
	if r.L4 != nil {
		if len(r.L4.Protocols) == 0 {
			return out, fmt.Errorf("transport match without protocols")
		}
		var protos [][]byte
		for _, p := range r.L4.Protocols {
			n, ok := protocols[p]
			if !ok {
				return out, fmt.Errorf("unknown protocol %v", p)
			}
			protos = append(protos, []byte{n})
		}
		add(meta(expr.MetaKeyL4PROTO))
		match(nftables.TypeInetProto, protos, protos)
		if r.L4.Ports != nil {
			if len(r.L4.Ports) == 0 {
				return out, fmt.Errorf("transport match with an empty port list")
			}
			var lo, hi [][]byte
			for i, p := range r.L4.Ports {
				if p.Hi < p.Lo || (i > 0 && r.L4.Ports[i-1].Hi >= p.Lo) {
					return out, fmt.Errorf("ports not sorted and disjoint at %s", p)
				}
				lo = append(lo, binaryutil.BigEndian.PutUint16(p.Lo))
				hi = append(hi, binaryutil.BigEndian.PutUint16(p.Hi))
			}
			off := uint32(2) // destination port
			if r.L4.Src {
				off = 0
			}
			add(&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2})
			match(nftables.TypeInetService, lo, hi)
		}
	}
	if r.SkUID != nil {
		add(meta(expr.MetaKeySKUID), cmpEq(binaryutil.NativeEndian.PutUint32(*r.SkUID)))
	}
	if m := r.Cgroup; m != nil {
		// The kernel loads the cgroup ID of the socket's ancestor at
		// Level, and ends the rule (no match) when the socket's cgroup is
		// not that deep: "exists" compares with 0, which no cgroup is.
		add(&expr.Socket{Key: expr.SocketKeyCgroupv2, Level: m.Level, Register: reg})
		if m.Any {
			add(&expr.Cmp{Op: expr.CmpOpNeq, Register: reg, Data: make([]byte, 8)})
		} else {
			if m.Cgroup.Level != m.Level || m.Cgroup.ID == 0 {
				return out, fmt.Errorf("cgroup %q (level %d, ID %d) matched at level %d", m.Cgroup.Path, m.Cgroup.Level, m.Cgroup.ID, m.Level)
			}
			add(cmpEq(binaryutil.NativeEndian.PutUint64(m.Cgroup.ID)))
		}
	}
	if r.VMap != nil {
		if err := checkLookup(r.VMap); err != nil {
			return out, err
		}
		lk := addr(r.VMap)
		lk.IsDestRegSet, lk.DestRegister = true, regVerdict
	}
	if r.MarkVMap != "" {
		add(meta(expr.MetaKeyMARK), &expr.Lookup{SourceRegister: reg, SetName: r.MarkVMap, IsDestRegSet: true, DestRegister: regVerdict})
	}
	if r.LogPrefix != "" {
		if r.LogRate > 0 {
			// A second's worth of burst (logBurst); nft does not print
			// its default, 5.
			rate := uint64(r.LogRate)            // #nosec G115 -- LogRate > 0
			burst := uint32(logBurst(r.LogRate)) // #nosec G115 -- LogRate > 0, an int of a flag
			add(&expr.Limit{Type: expr.LimitTypePkts, Rate: rate, Unit: expr.LimitTimeSecond, Burst: burst})
		}
		l := &expr.Log{Key: 1 << unix.NFTA_LOG_PREFIX, Data: []byte(r.LogPrefix)}
		if r.LogGroup != 0 {
			l.Key |= 1 << unix.NFTA_LOG_GROUP
			l.Group = r.LogGroup
		}
		add(l)
	}
	if r.Counter {
		add(&expr.Counter{})
	}
	if r.CtMarkSet != nil {
		add(&expr.Immediate{Register: reg, Data: binaryutil.NativeEndian.PutUint32(*r.CtMarkSet)},
			&expr.Ct{Key: expr.CtKeyMARK, Register: reg, SourceRegister: true})
	}
	if r.VMap == nil && r.MarkVMap == "" {
		v, err := verdictExpr(r.Verdict)
		if err != nil {
			return out, err
		}
		if v != nil {
			add(v)
		}
	}
	return out, nil
}

func checkLookup(l *Lookup) error {
	if l.Family != IPv4 && l.Family != IPv6 {
		return fmt.Errorf("lookup in %s: unknown family %v", l.Name, l.Family)
	}
	if l.Name == "" {
		return fmt.Errorf("lookup without a set name")
	}
	return nil
}

func isZero(b []byte) bool {
	return !slices.ContainsFunc(b, func(c byte) bool { return c != 0 })
}

// inc returns the big-endian number b plus one, and false when b is its
// maximum.
func inc(b []byte) ([]byte, bool) {
	out := slices.Clone(b)
	for i := len(out) - 1; i >= 0; i-- {
		out[i]++
		if out[i] != 0 {
			return out, true
		}
	}
	return nil, false
}
