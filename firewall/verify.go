package firewall

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/ipset"
)

// ErrDrift is wrapped by Verify's error when the kernel's table differs
// from the ruleset.
var ErrDrift = errors.New("the live table differs from the ruleset")

// Diff reads Ward's table back from the kernel and lists how it differs
// from rs, one line per difference, in rs's order: "+ " what rs has and the
// kernel lacks, "- " what the kernel has and rs lacks, "~ " what both have
// but differently. No lines: the kernel holds exactly rs (counter values
// aside). An absent table is one line.
//
// Chains are compared by name, hook, priority and policy; sets and maps by
// name, type and every element with its verdict; rules by their
// expressions, as netlink encodes them, with counter values and the
// kernel-chosen names of anonymous sets left out.
func Diff(conn *nftables.Conn, rs *Ruleset) ([]string, error) {
	want := &builder{table: table()}
	if err := want.translate(rs); err != nil {
		return nil, fmt.Errorf("firewall: diff: %w", err)
	}
	live, err := readTable(conn)
	if err != nil {
		return nil, err
	}
	if live == nil {
		return []string{"+ table " + TableFamily + " " + TableName + " (not loaded)"}, nil
	}
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	// Sets and maps.
	liveSets := map[string]*nftables.Set{}
	for _, s := range live.sets {
		liveSets[s.Name] = s
	}
	diffRanges := func(kind, name string, f Family, planned []string, s *nftables.Set) error {
		elems, err := conn.GetSetElements(s)
		if err != nil {
			return fmt.Errorf("firewall: diff: elements of %s: %w", name, err)
		}
		got, err := decodeElements(f, elems)
		if err != nil {
			return fmt.Errorf("firewall: diff: %s %s: %w", kind, name, err)
		}
		out = append(out, elementChanges(kind, name, got, planned)...)
		return nil
	}
	seen := map[string]bool{}
	check := func(kind, name string, f Family, isMap bool, planned []string) error {
		seen[name] = true
		s := liveSets[name]
		switch {
		case s == nil:
			add("+ %s %s (%d elements)", kind, name, len(planned))
			return nil
		// google/nftables v0.3.0 decodes a map's key type as its data
		// type: only a set's key type is compared.
		case s.IsMap != isMap || !s.Interval || !isMap && s.KeyType.Name != addrType(f).Name:
			add("~ %s %s: type or flags differ", kind, name)
			return nil
		}
		return diffRanges(kind, name, f, planned, s)
	}
	for _, s := range rs.Sets {
		if err := check("set", s.Name, s.Family, false, s.elementStrings()); err != nil {
			return nil, err
		}
	}
	for _, m := range rs.Maps {
		if err := check("map", m.Name, m.Family, true, m.elementStrings()); err != nil {
			return nil, err
		}
	}
	for _, m := range rs.MarkMaps {
		seen[m.Name] = true
		s := liveSets[m.Name]
		if s == nil {
			add("+ map %s (%d elements)", m.Name, len(m.Elements))
			continue
		}
		if !s.IsMap || s.Interval {
			add("~ map %s: type or flags differ", m.Name)
			continue
		}
		elems, err := conn.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("firewall: diff: elements of %s: %w", m.Name, err)
		}
		var got []string
		for _, e := range elems {
			if len(e.Key) != 4 {
				return nil, fmt.Errorf("firewall: diff: map %s: key of %d bytes", m.Name, len(e.Key))
			}
			v := e.VerdictData
			if v == nil && len(e.Val) > 0 {
				if v, err = decodeVerdict(e.Val); err != nil {
					return nil, fmt.Errorf("firewall: diff: map %s: %w", m.Name, err)
				}
			}
			k := markString(binary.NativeEndian.Uint32(e.Key))
			if v != nil {
				k += " : " + verdictString(v)
			}
			got = append(got, k)
		}
		slices.Sort(got)
		out = append(out, elementChanges("map", m.Name, got, m.elementStrings())...)
	}
	for _, f := range Families {
		planned := selfElements(rs.Self, f)
		if len(planned) == 0 {
			continue
		}
		name := SetSelf + f.suffix()
		seen[name] = true
		s := liveSets[name]
		if s == nil {
			add("+ set %s (%d elements)", name, len(planned))
			continue
		}
		if s.IsMap || !s.Interval {
			add("~ set %s: type or flags differ", name)
			continue
		}
		elems, err := conn.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("firewall: diff: elements of %s: %w", name, err)
		}
		var got []string
		for _, e := range elems {
			a, ok1 := netip.AddrFromSlice(e.Key[:len(e.Key)/2])
			b, ok2 := netip.AddrFromSlice(e.Key[len(e.Key)/2:])
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("firewall: diff: set %s: key of %d bytes", name, len(e.Key))
			}
			got = append(got, a.String()+" . "+b.String())
		}
		slices.Sort(got)
		want := slices.Clone(planned)
		slices.Sort(want)
		out = append(out, elementChanges("set", name, got, want)...)
	}
	if len(rs.Bridges) > 0 {
		seen[SetBridges] = true
		planned := bridgeElements(rs.Bridges)
		switch s := liveSets[SetBridges]; {
		case s == nil:
			add("+ set %s (%d elements)", SetBridges, len(planned))
		case s.IsMap || s.Interval || s.KeyType.Name != nftables.TypeIFName.Name:
			add("~ set %s: type or flags differ", SetBridges)
		default:
			got, err := ifnameElements(conn, s)
			if err != nil {
				return nil, err
			}
			out = append(out, elementChanges("set", SetBridges, got, planned)...)
		}
	}
	for _, s := range live.sets {
		if !seen[s.Name] {
			kind := "set"
			if s.IsMap {
				kind = "map"
			}
			add("- %s %s", kind, s.Name)
		}
	}

	// Chains and rules.
	liveChains := map[string]*nftables.Chain{}
	for _, c := range live.chains {
		liveChains[c.Name] = c
	}
	wantRules := map[string][]*nftables.Rule{}
	for _, r := range want.rules {
		wantRules[r.rule.Chain.Name] = append(wantRules[r.rule.Chain.Name], r.rule)
	}
	for i, c := range want.chains {
		lc := liveChains[c.Name]
		if lc == nil {
			add("+ chain %s (%d rules)", c.Name, len(rs.Chains[i].Rules))
			continue
		}
		if !sameHook(c, lc) {
			add("~ chain %s: hook, priority or policy differ", c.Name)
		}
		got, err := conn.GetRules(live.table, lc)
		if err != nil {
			return nil, fmt.Errorf("firewall: diff: rules of %s: %w", c.Name, err)
		}
		planned := wantRules[c.Name]
		out = append(out, ruleChanges(c.Name, rs.Chains[i].Rules, len(got), func(j int) bool { return sameExprs(planned[j].Exprs, got[j].Exprs) })...)
	}
	for _, c := range live.chains {
		if want.byName[c.Name] == nil {
			add("- chain %s", c.Name)
		}
	}
	bridge, err := diffBridge(conn, rs)
	if err != nil {
		return nil, err
	}
	arp, err := diffARP(conn, rs)
	if err != nil {
		return nil, err
	}
	return slices.Concat(out, bridge, arp), nil
}

// ifnameElements lists the elements of a set of interface names, sorted,
// as bridgeElements renders them.
func ifnameElements(conn *nftables.Conn, s *nftables.Set) ([]string, error) {
	elems, err := conn.GetSetElements(s)
	if err != nil {
		return nil, fmt.Errorf("firewall: diff: elements of %s: %w", s.Name, err)
	}
	got := make([]string, len(elems))
	for i, e := range elems {
		got[i] = decodeBinding(e.Key)
	}
	slices.Sort(got)
	return got, nil
}

// diffARP lists how the live ARP table differs from rs's (Ruleset.Bridges),
// as Diff does for the inet table.
func diffARP(conn *nftables.Conn, rs *Ruleset) ([]string, error) {
	live, err := findTable(conn, nftables.TableFamilyARP)
	if err != nil {
		return nil, err
	}
	switch {
	case live == nil && !rs.closed():
		return nil, nil
	case live == nil:
		return []string{"+ table " + ARPFamily + " " + TableName + " (not loaded)"}, nil
	case !rs.closed():
		return []string{"- table " + ARPFamily + " " + TableName}, nil
	}
	want, err := translateARP(rs)
	if err != nil {
		return nil, fmt.Errorf("firewall: diff: %w", err)
	}
	out, err := chainChanges(conn, nftables.TableFamilyARP, live, want.chains, "arp table")
	if err != nil {
		return nil, err
	}
	if s, err := conn.GetSetByName(live, SetBridges); err != nil {
		out = append(out, "+ set "+SetBridges+" (arp table)")
	} else {
		got, err := ifnameElements(conn, s)
		if err != nil {
			return nil, err
		}
		out = append(out, elementChanges("set", SetBridges, got, bridgeElements(rs.Bridges))...)
	}
	got, err := conn.GetRules(live, &nftables.Chain{Name: ARPChain, Table: live})
	switch {
	case err != nil:
		out = append(out, "+ chain "+ARPChain+" (arp table)")
	case len(got) != 1 || !sameExprs(want.rules[0].rule.Exprs, got[0].Exprs):
		out = append(out, "~ chain "+ARPChain+" differs (arp table)")
	}
	return out, nil
}

// elementChanges lists the elements of want that had lacks ("+ ") and
// those of had that want lacks ("- "), in want's then had's order.
func elementChanges(kind, name string, had, want []string) []string {
	var out []string
	in := func(list []string) func(string) bool {
		m := make(map[string]bool, len(list))
		for _, e := range list {
			m[e] = true
		}
		return func(e string) bool { return m[e] }
	}
	inHad, inWant := in(had), in(want)
	for _, e := range want {
		if !inHad(e) {
			out = append(out, fmt.Sprintf("+ %s %s element %s", kind, name, e))
		}
	}
	for _, e := range had {
		if !inWant(e) {
			out = append(out, fmt.Sprintf("- %s %s element %s", kind, name, e))
		}
	}
	return out
}

// ruleChanges compares a chain's rules, want, with the had rules of its
// other version; same(j) tells whether rule j is the same in both.
func ruleChanges(chain string, want []Rule, had int, same func(j int) bool) []string {
	var out []string
	for j := range max(len(want), had) {
		switch {
		case j >= had:
			out = append(out, fmt.Sprintf("+ chain %s rule %d: %s", chain, j+1, want[j]))
		case j >= len(want):
			out = append(out, fmt.Sprintf("- chain %s rule %d (not in the plan)", chain, j+1))
		case !same(j):
			out = append(out, fmt.Sprintf("~ chain %s rule %d differs from: %s", chain, j+1, want[j]))
		}
	}
	return out
}

// Verify is Diff as an error wrapping ErrDrift, naming the first
// differences; nil when the kernel holds exactly rs.
func Verify(conn *nftables.Conn, rs *Ruleset) error {
	d, err := Diff(conn, rs)
	if err != nil {
		return err
	}
	if len(d) == 0 {
		return nil
	}
	const shown = 10
	more := ""
	if len(d) > shown {
		more = fmt.Sprintf("\n  ... and %d more", len(d)-shown)
		d = d[:shown]
	}
	return fmt.Errorf("firewall: verify: %w:\n  %s%s", ErrDrift, strings.Join(d, "\n  "), more)
}

type liveTable struct {
	table  *nftables.Table
	sets   []*nftables.Set
	chains []*nftables.Chain
}

// findTable returns Ward's table of family f, nil when it is absent.
func findTable(conn *nftables.Conn, f nftables.TableFamily) (*nftables.Table, error) {
	tables, err := conn.ListTablesOfFamily(f)
	if err != nil {
		return nil, fmt.Errorf("firewall: list tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == TableName {
			return t, nil
		}
	}
	return nil, nil
}

// chainChanges lists how the chains of Ward's table of family f (live)
// differ from want's by hook, priority and policy: one whose hook
// differs, and one the kernel has and want lacks (a base chain added to Ward's table, such as one
// that marks every frame as from a bound port before the prerouting
// chain, would otherwise go unreported). what names the table in each
// line ("bridge table").
func chainChanges(conn *nftables.Conn, f nftables.TableFamily, live *nftables.Table, want []*nftables.Chain, what string) ([]string, error) {
	chains, err := conn.ListChainsOfTableFamily(f)
	if err != nil {
		return nil, fmt.Errorf("firewall: list chains: %w", err)
	}
	got := map[string]*nftables.Chain{}
	for _, c := range chains {
		if c.Table.Name == live.Name {
			got[c.Name] = c
		}
	}
	var out []string
	planned := map[string]bool{}
	for _, c := range want {
		planned[c.Name] = true
		// A chain the kernel lacks: the callers list its rules as
		// missing.
		if lc := got[c.Name]; lc != nil && !sameHook(c, lc) {
			out = append(out, fmt.Sprintf("~ chain %s: hook, priority or policy differ (%s)", c.Name, what))
		}
	}
	var extra []string
	for name := range got {
		if !planned[name] {
			extra = append(extra, fmt.Sprintf("- chain %s (%s, not in the plan)", name, what))
		}
	}
	slices.Sort(extra)
	return append(out, extra...), nil
}

// readTable lists Ward's table, its named sets and maps and its chains;
// nil when the table is absent.
func readTable(conn *nftables.Conn) (*liveTable, error) {
	t, err := findTable(conn, nftables.TableFamilyINet)
	if err != nil || t == nil {
		return nil, err
	}
	lt := &liveTable{table: t}
	sets, err := conn.GetSets(lt.table)
	if err != nil {
		return nil, fmt.Errorf("firewall: list sets: %w", err)
	}
	for _, s := range sets {
		if !s.Anonymous {
			lt.sets = append(lt.sets, s)
		}
	}
	chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("firewall: list chains: %w", err)
	}
	for _, c := range chains {
		if c.Table.Name == TableName {
			lt.chains = append(lt.chains, c)
		}
	}
	return lt, nil
}

// decodeElements turns interval elements (as addrElements encodes them)
// back into sorted range strings, with the verdict for a map.
func decodeElements(f Family, elems []nftables.SetElement) ([]string, error) {
	size := 4
	if f == IPv6 {
		size = 16
	}
	slices.SortFunc(elems, func(a, b nftables.SetElement) int {
		if c := bytes.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		// An end and a start at one key: the end closes the previous
		// range first.
		switch {
		case a.IntervalEnd == b.IntervalEnd:
			return 0
		case a.IntervalEnd:
			return -1
		}
		return 1
	})
	var out []string
	for i, e := range elems {
		if e.IntervalEnd {
			continue
		}
		if len(e.Key) != size {
			return nil, fmt.Errorf("element of %d bytes in a %s set", len(e.Key), f)
		}
		from, _ := netip.AddrFromSlice(e.Key)
		to := lastAddr(f)
		if i+1 < len(elems) {
			if !elems[i+1].IntervalEnd {
				return nil, fmt.Errorf("element %s has no interval end", from)
			}
			end, ok := netip.AddrFromSlice(elems[i+1].Key)
			if !ok || len(elems[i+1].Key) != size {
				return nil, fmt.Errorf("malformed interval end after %s", from)
			}
			to = end.Prev()
		}
		s := rangeString(ipset.Range{From: from, To: to})
		if e.VerdictData == nil && len(e.Val) > 0 {
			v, err := decodeVerdict(e.Val)
			if err != nil {
				return nil, fmt.Errorf("element %s: %w", from, err)
			}
			e.VerdictData = v
		}
		if e.VerdictData != nil {
			s += " : " + verdictString(e.VerdictData)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}

// decodeVerdict decodes a map element's verdict, which google/nftables
// v0.3.0 leaves as the raw attributes of NFTA_DATA_VERDICT in Val.
func decodeVerdict(b []byte) (*expr.Verdict, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, fmt.Errorf("verdict: %w", err)
	}
	ad.ByteOrder = binary.BigEndian
	v := &expr.Verdict{}
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_VERDICT_CODE:
			v.Kind = expr.VerdictKind(int32(ad.Uint32())) // #nosec G115 -- the kernel's verdict codes are signed 32-bit values sent as u32
		case unix.NFTA_VERDICT_CHAIN:
			v.Chain = ad.String()
		}
	}
	if err := ad.Err(); err != nil {
		return nil, fmt.Errorf("verdict: %w", err)
	}
	return v, nil
}

func lastAddr(f Family) netip.Addr {
	if f == IPv6 {
		return netip.AddrFrom16([16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	}
	return netip.AddrFrom4([4]byte{0xff, 0xff, 0xff, 0xff})
}

// verdictString renders a kernel verdict as Verdict.String does.
func verdictString(v *expr.Verdict) string {
	switch v.Kind {
	case expr.VerdictAccept:
		return Verdict{Kind: Accept}.String()
	case expr.VerdictDrop:
		return Verdict{Kind: Drop}.String()
	case expr.VerdictReturn:
		return Verdict{Kind: Return}.String()
	case expr.VerdictJump:
		return Verdict{Kind: Jump, Chain: v.Chain}.String()
	case expr.VerdictGoto:
		return Verdict{Kind: Goto, Chain: v.Chain}.String()
	}
	return fmt.Sprintf("verdict(%d)", v.Kind)
}

func sameHook(a, b *nftables.Chain) bool {
	if a.Hooknum == nil || b.Hooknum == nil {
		return a.Hooknum == nil && b.Hooknum == nil
	}
	samePtr := func(x, y *nftables.ChainPolicy) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	return *a.Hooknum == *b.Hooknum && a.Type == b.Type &&
		a.Priority != nil && b.Priority != nil && *a.Priority == *b.Priority &&
		samePtr(a.Policy, b.Policy)
}

// sameExprs compares two rules' expressions by their netlink encoding,
// leaving out what the kernel fills in: counter values and the names and
// ids of anonymous sets.
//
// Socket expressions (Rule.Cgroup) are left out of both: the netlink
// library (google/nftables v0.3.0) does not decode them when it reads
// rules, and drops them from the list, so the rest of such a rule (its
// owner match, its verdict) is compared and the cgroup level and ID are
// not.
func sameExprs(a, b []expr.Any) bool {
	notSocket := func(es []expr.Any) []expr.Any {
		return slices.DeleteFunc(slices.Clone(es), func(e expr.Any) bool { _, ok := e.(*expr.Socket); return ok })
	}
	a, b = notSocket(a), notSocket(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, err1 := normalized(a[i])
		y, err2 := normalized(b[i])
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}

func normalized(e expr.Any) ([]byte, error) {
	switch v := e.(type) {
	case *expr.Counter:
		e = &expr.Counter{}
	case *expr.Log:
		// The kernel reports the default level (warning) that Ward
		// leaves out.
		c := *v
		if c.Level == expr.LogLevelWarning {
			c.Level, c.Key = 0, c.Key&^(1<<unix.NFTA_LOG_LEVEL)
		}
		e = &c
	case *expr.Ct:
		// The library does not decode a set statement's source
		// register (ct mark set): compare it without.
		if v.SourceRegister {
			c := *v
			c.Register, c.SourceRegister = 0, false
			e = &c
		}
	case *expr.Lookup:
		c := *v
		if strings.HasPrefix(c.SetName, "__set") {
			c.SetName, c.SetID = "", 0
		}
		e = &c
	}
	return expr.Marshal(byte(nftables.TableFamilyINet), e)
}
