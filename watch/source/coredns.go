package source

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/wardsec/ward/watch/event"
)

// CoreDNS decodes the lines of CoreDNS's log plugin in its default
// format (`{common}`, and `{combined}`, which adds the opcode):
//
//	{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" {rcode} {>rflags} {rsize} {duration}
//
// as CoreDNS writes them, `[INFO] ` first:
//
//	[INFO] 10.244.0.10:43150 - 5023 "A IN api.shop.svc.cluster.local. udp 54 false 512" NOERROR qr,aa,rd 106 0.000126s
//
// A line may begin with an RFC 3339 time and a space (`kubectl logs
// --timestamps`), or be a container runtime's log line (CRI:
// `2026-12-06T07:00:00.123456789Z stdout F [INFO] ...`, the files under
// /var/log/pods). CoreDNS itself writes no time: a line without one is
// dated when it is read (Clock).
//
// Each query line is a Request event from the client (Src) to Server
// (zero when not given) with DNS set: the query, its type, the response
// code and size. CoreDNS's other messages (`[INFO] plugin/reload: ...`,
// `[WARNING] ...`, `[ERROR] ...`) and its start-up banner (`.:53`,
// `CoreDNS-1.11.1`, `linux/amd64, go1.21.1, ae2bbc2`) are skipped; any
// other line is bad.
type CoreDNS struct {
	// Clock dates lines without a time (the system clock if nil).
	Clock event.Clock
	// Server is the resolver's address, the events' destination; the
	// lines do not carry it.
	Server netip.AddrPort
}

// Decode implements Decoder.
func (c *CoreDNS) Decode(line []byte, e *event.Event) (bool, uint64, error) {
	var t int64
	msg := line
	if ts, rest, ok := timePrefix(line); ok {
		n, err := parseTime(ts)
		if err != nil {
			return false, 0, err
		}
		t, msg = n, rest
		if stream, rest, ok := bytes.Cut(msg, []byte{' '}); ok && (string(stream) == "stdout" || string(stream) == "stderr") {
			tag, rest, ok := bytes.Cut(rest, []byte{' '})
			switch {
			case !ok:
				return false, 0, errors.New("CRI log line without its tag (F or P)")
			case string(tag) == "P":
				return false, 0, errors.New("partial CRI log line (P): a CoreDNS query line is never split")
			case string(tag) != "F":
				return false, 0, fmt.Errorf("CRI log tag %q is neither F nor P", tag)
			}
			msg = rest
		}
	}
	switch {
	case bytes.HasPrefix(msg, []byte("[INFO] ")):
		msg = msg[len("[INFO] "):]
		if !queryStart(msg) {
			return false, 0, nil // another plugin's message
		}
	case bytes.HasPrefix(msg, []byte("[WARNING] ")), bytes.HasPrefix(msg, []byte("[ERROR] ")),
		bytes.HasPrefix(msg, []byte("[DEBUG] ")), bytes.HasPrefix(msg, []byte("[FATAL] ")):
		return false, 0, nil
	case banner(msg):
		return false, 0, nil
	case !queryStart(msg):
		return false, 0, errors.New("not a CoreDNS log line (want the log plugin's default format)")
	}
	if err := c.query(msg, e); err != nil {
		return false, 0, err
	}
	if t == 0 {
		clk := c.Clock
		if clk == nil {
			clk = event.SystemClock{}
		}
		t = clk.Now().UnixNano()
	}
	e.Time = t
	e.ID = event.ID(event.OriginCoreDNS, line)
	return true, 0, nil
}

// query parses the log plugin's fields.
func (c *CoreDNS) query(msg []byte, e *event.Event) error {
	head, rest, ok := bytes.Cut(msg, []byte(` "`))
	if !ok {
		return errors.New(`no quoted question ("{type} {class} {name} ...")`)
	}
	qf, tail, err := question(rest)
	if err != nil {
		return err
	}
	hf := bytes.Fields(head)
	if len(hf) != 3 || string(hf[1]) != "-" {
		return fmt.Errorf("want {remote}:{port} - {id} before the question, found %q", head)
	}
	remote, err := netip.ParseAddrPort(string(hf[0]))
	if err != nil {
		return fmt.Errorf("bad client address %q", hf[0])
	}
	if _, err := strconv.ParseUint(string(hf[2]), 10, 16); err != nil {
		return fmt.Errorf("bad query id %q", hf[2])
	}
	if len(qf) != 7 {
		return fmt.Errorf("want 7 fields in the question (type class name proto size do bufsize), found %d", len(qf))
	}
	d := &event.DNS{Rcode: event.RcodeUnknown}
	d.QType, _ = event.ParseQType(string(qf[0]))
	if len(qf[2]) > MaxQuery {
		return fmt.Errorf("query name longer than %d bytes", MaxQuery)
	}
	d.Query = lowerName(qf[2])
	switch string(qf[3]) {
	case "udp":
		e.Proto = event.UDP
	case "tcp":
		e.Proto = event.TCP
	default:
		return fmt.Errorf("protocol %q is neither udp nor tcp", qf[3])
	}
	for _, n := range [][]byte{qf[4], qf[6]} {
		if _, err := strconv.ParseUint(string(n), 10, 16); err != nil {
			return fmt.Errorf("bad size %q in the question", n)
		}
	}
	if string(qf[5]) != "true" && string(qf[5]) != "false" {
		return fmt.Errorf("DO bit %q is neither true nor false", qf[5])
	}
	tf := bytes.Fields(tail)
	if len(tf) == 5 && len(tf[4]) >= 2 && tf[4][0] == '"' && tf[4][len(tf[4])-1] == '"' {
		tf = tf[:4] // {combined}: the opcode
	}
	if len(tf) != 4 {
		return fmt.Errorf("want 4 fields after the question (rcode rflags rsize duration), found %d", len(tf))
	}
	if string(tf[0]) != "-" {
		r, ok := event.ParseRcode(string(tf[0]))
		if !ok {
			return fmt.Errorf("unknown rcode %q", tf[0])
		}
		d.Rcode = r
	}
	if string(tf[2]) != "-" {
		n, err := strconv.ParseUint(string(tf[2]), 10, 16)
		if err != nil {
			return fmt.Errorf("bad response size %q", tf[2])
		}
		d.Size = int(n)
	}
	if _, err := time.ParseDuration(string(tf[3])); err != nil {
		return fmt.Errorf("bad duration %q", tf[3])
	}
	e.Origin, e.Kind, e.Verdict = event.OriginCoreDNS, event.Request, event.Forwarded
	e.Src, e.SrcPort = remote.Addr().Unmap(), remote.Port()
	e.Dst, e.DstPort = c.Server.Addr(), c.Server.Port()
	e.DNS = d
	return nil
}

// question splits the quoted question (what follows its opening quote)
// into its fields, up to its closing quote, and returns what follows
// that. CoreDNS writes the name as github.com/miekg/dns prints names: a
// space, quote, backslash (and . ; ( ) @ ') inside a label escaped by a
// backslash (`x\ y.evil.com.`), other bytes outside printable ASCII as
// \DDD. An escaped space or quote is part of the name: split there, a
// name a client chose with a space in it made the line a bad record, and
// its query escaped the DNS detectors.
func question(rest []byte) (fields [][]byte, tail []byte, err error) {
	start := 0
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case '\\':
			i++ // the escaped byte, whatever it is
		case ' ', '"':
			if i > start {
				fields = append(fields, rest[start:i])
			}
			start = i + 1
			if rest[i] == '"' {
				if i+1 < len(rest) && rest[i+1] != ' ' {
					return nil, nil, fmt.Errorf("the quoted question's closing quote is followed by %q, not a space", rest[i+1])
				}
				return fields, rest[i+1:], nil
			}
		}
	}
	return nil, nil, errors.New("unterminated quoted question")
}

// timePrefix splits an RFC 3339 time and the space after it from the
// start of a line.
func timePrefix(line []byte) (ts, rest []byte, ok bool) {
	if len(line) < 20 || line[4] != '-' || line[7] != '-' || line[10] != 'T' {
		return nil, nil, false
	}
	for _, c := range line[:4] {
		if c < '0' || c > '9' {
			return nil, nil, false
		}
	}
	return bytes.Cut(line, []byte{' '})
}

// queryStart reports a message that begins like a query line: a client
// address (IPv4, or IPv6 in brackets).
func queryStart(m []byte) bool {
	if len(m) == 0 {
		return false
	}
	switch c := m[0]; {
	case '0' <= c && c <= '9':
		return true
	case c == '[' && len(m) > 1:
		c = m[1]
		return c == ':' || '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
	}
	return false
}

// banner reports CoreDNS's start-up lines: a server block (".:53",
// "dns://cluster.local.:53": a zone, fully qualified, and a port), the
// version, the platform.
func banner(m []byte) bool {
	if bytes.HasPrefix(m, []byte("CoreDNS-")) {
		return true
	}
	if i := bytes.LastIndexByte(m, ':'); i > 0 && m[i-1] == '.' && !bytes.ContainsAny(m, " \t") {
		if _, err := strconv.ParseUint(string(m[i+1:]), 10, 16); err == nil {
			return true
		}
	}
	os, rest, ok := bytes.Cut(m, []byte{'/'})
	return ok && len(os) > 0 && bytes.IndexByte(rest, ',') > 0 && bytes.Contains(rest, []byte(", go"))
}

// lowerName is a query name as Event.DNS holds it.
func lowerName(b []byte) string {
	b = bytes.TrimSuffix(b, []byte{'.'})
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return string(out)
}
