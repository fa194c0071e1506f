package detect

import (
	"fmt"
	"strings"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/net/publicsuffix"

	"github.com/wardsec/ward/watch/event"
)

// dnsKey is a client and a registered domain (hashed: the table holds
// no string, whatever names an attacker makes up).
type dnsKey struct {
	src ip16
	dom uint64
}

// dnsNames is the distinct names a client asked for under one
// registered domain, each while seen within the window (hashed).
type dnsNames struct {
	last    int64
	names   smallSet[uint64]
	alerted bool
}

// maxShownName bounds a query name quoted in a summary (the sample
// carries it whole).
const maxShownName = 80

// registered is the registered domain of a name (its public suffix and
// one label more: api.example.co.uk gives example.co.uk); a name that is
// a public suffix, or a single label, is its own.
func registered(name string) string {
	if name == "" {
		return "."
	}
	if d, err := publicsuffix.EffectiveTLDPlusOne(name); err == nil {
		return d
	}
	if strings.Contains(name, "..") || strings.HasPrefix(name, ".") {
		// Empty labels must not give each name a domain of its own.
		return registered(strings.Join(strings.FieldsFunc(name, func(r rune) bool { return r == '.' }), "."))
	}
	return name
}

// under reports whether name is domain or a name below it.
func under(name, domain string) bool {
	return name == domain || strings.HasSuffix(name, domain) && name[len(name)-len(domain)-1] == '.'
}

// dnsExempt reports a name the tunnel detector does not judge: the
// cluster's own (search-path expansions included) and exempt domains'.
func (d *Detectors) dnsExempt(name string) bool {
	cfg := &d.cfg.DNSTunnel
	if cfg.ClusterDomain != "" && under(name, cfg.ClusterDomain) {
		return true
	}
	if (under(name, "in-addr.arpa") || under(name, "ip6.arpa")) && !reverseName(name) {
		// Labels of data under a reverse zone (a tunnel through a
		// reverse zone delegated to its author: any address block's
		// owner can have one) name no address: no exemption covers
		// them.
		return false
	}
	for _, x := range cfg.Exempt {
		if under(name, x) {
			return true
		}
	}
	return false
}

// reverseName reports whether name, under in-addr.arpa or ip6.arpa, is
// the name of an address or an address block: at most four decimal
// octets (0-255, no leading zero) under in-addr.arpa, at most 32 single
// hexadecimal nibbles under ip6.arpa.
func reverseName(name string) bool {
	rest, max, nibble := "", 0, false
	switch {
	case under(name, "in-addr.arpa"):
		rest, max = strings.TrimSuffix(name, "in-addr.arpa"), 4
	case under(name, "ip6.arpa"):
		rest, max, nibble = strings.TrimSuffix(name, "ip6.arpa"), 32, true
	default:
		return false
	}
	if rest == "" {
		return true
	}
	labels := strings.Split(strings.TrimSuffix(rest, "."), ".")
	if len(labels) > max {
		return false
	}
	for _, l := range labels {
		if nibble {
			if len(l) != 1 || !strings.Contains("0123456789abcdef", l) {
				return false
			}
			continue
		}
		if l == "" || len(l) > 3 || len(l) > 1 && l[0] == '0' {
			return false
		}
		n := 0
		for _, c := range []byte(l) {
			if c < '0' || c > '9' {
				return false
			}
			n = n*10 + int(c-'0')
		}
		if n > 255 {
			return false
		}
	}
	return true
}

// shown is a query name as summaries quote it: at most maxShownName
// bytes, and every byte that is not printable ASCII escaped as \xNN. A
// DNS label may hold any byte, and summaries reach terminals and log
// files as they are (-o text, the live view, chat webhooks): a name
// carrying a newline or an escape sequence forged alert lines or
// rewrote the operator's screen.
func shown(name string) string {
	if len(name) > maxShownName {
		return Printable(name[:maxShownName]) + "..."
	}
	return Printable(name)
}

// Printable returns s with every byte that is not printable ASCII (a
// control character, DEL, any byte of a non-ASCII character) and every
// backslash escaped as \xNN, so that text built from names an attacker
// chose holds no line break, escape sequence or look-alike character,
// and reads back unambiguously.
func Printable(s string) string { return escapeBytes(s, true) }

// SafeLine returns s with control characters, DEL and non-ASCII bytes
// escaped as \xNN, backslashes left alone: for a line built from text
// that Printable escaped already (a summary), which must still hold no
// line break or escape sequence whatever a detector put in it.
func SafeLine(s string) string { return escapeBytes(s, false) }

func escapeBytes(s string, backslash bool) string {
	bad := func(c byte) bool { return c < 0x20 || c >= 0x7f || backslash && c == '\\' }
	i := 0
	for i < len(s) && !bad(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	const hex = "0123456789abcdef"
	b := append(make([]byte, 0, len(s)+16), s[:i]...)
	for ; i < len(s); i++ {
		if c := s[i]; bad(c) {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

// dns judges a DNS query: zone transfers, and the shapes of tunnels.
// A response repeating a query seen already is not judged again.
func (d *Detectors) dns(o *Observation, t int64) {
	e := o.E
	q := e.DNS
	if q.Response {
		return
	}
	xfer := d.cfg.DNSZoneTransfer.Enabled && q.QType.ZoneTransfer()
	tunnel := d.cfg.DNSTunnel.Enabled && !d.dnsExempt(q.Query)
	if !xfer && !tunnel {
		return
	}
	dom := registered(q.Query)
	src := peer(e.Src, o.Src, o.SrcRes)
	dst := Peer{Group: dom, Identity: "domain"}
	if xfer {
		d.inc.add(t, &evidence{
			detector: ZoneXferName, severity: High, src: src, dst: dst,
			summary:  fmt.Sprintf("%s asked for a zone transfer (%s) of %s", src.label(), q.QType, shown(q.Query)),
			count:    1,
			observed: map[string]any{"qtype": q.QType.String(), "query": shown(q.Query), "rcode": event.RcodeName(q.Rcode)},
			sample:   e,
		})
	}
	if !tunnel {
		return
	}
	cfg := d.cfg.DNSTunnel
	if len(q.Query) > cfg.MaxName {
		d.inc.add(t, &evidence{
			detector: TunnelName, severity: High, src: src, dst: dst,
			summary:   fmt.Sprintf("%s asked for a name of %d characters under %s (%s)", src.label(), len(q.Query), dom, shown(q.Query)),
			count:     1,
			threshold: map[string]any{"maxName": cfg.MaxName},
			observed:  map[string]any{"nameLength": len(q.Query), "query": shown(q.Query)},
			sample:    e,
		})
	}
	st := d.dnsNames.get(dnsKey{endKey(e.Src, o.Src, o.SrcRes), xxhash.Sum64String(dom)})
	if st == nil {
		return
	}
	st.last = max(st.last, t)
	isNew := st.names.add(xxhash.Sum64String(q.Query), t, int64(cfg.Window), 4*cfg.DistinctNames)
	if st.names.len() <= cfg.DistinctNames {
		st.alerted = false // that burst is over; another alerts anew
		return
	}
	if !isNew {
		return
	}
	n := uint64(1)
	if !st.alerted {
		st.alerted, n = true, uint64(st.names.n) // #nosec G115 -- a count, never negative
	}
	d.inc.add(t, &evidence{
		detector: TunnelName, severity: High, src: src, dst: dst,
		summary:   fmt.Sprintf("%s asked for %s distinct names under %s within %s (last %s)", src.label(), atLeast(st.names.len(), 4*cfg.DistinctNames), dom, cfg.Window, shown(q.Query)),
		count:     n,
		threshold: map[string]any{"distinctNames": cfg.DistinctNames, "window": cfg.Window.String()},
		observed:  map[string]any{"distinctNames": st.names.len(), "lastQuery": shown(q.Query)},
		sample:    e,
	})
}

// label names a peer in a summary: its workload, else its address.
func (p Peer) label() string {
	if p.Workload != "" {
		return p.Workload
	}
	return p.Address
}
