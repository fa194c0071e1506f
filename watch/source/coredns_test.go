package source

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wardsec/ward/watch/event"
)

// TestCoreDNS decodes the log plugin's lines, with and without a
// collector's prefix, and refuses malformed ones.
func TestCoreDNS(t *testing.T) {
	clock := event.NewManualClock(time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC))
	const q = `10.244.0.10:43150 - 5023 "A IN api.shop.svc.cluster.local. udp 54 false 512" NOERROR qr,aa,rd 106 0.000126s`
	for _, tc := range []struct {
		name, line string
		want       string // "" for a skipped line
		err        string
	}{
		{"as CoreDNS writes it", "[INFO] " + q, `08:00:00 10.244.0.10:43150 UDP "api.shop.svc.cluster.local" A rcode=0 size=106`, ""},
		{"kubectl logs --timestamps", "2026-12-06T07:01:02.5Z [INFO] " + q, `07:01:02 10.244.0.10:43150 UDP "api.shop.svc.cluster.local" A rcode=0 size=106`, ""},
		{"CRI log file", "2026-12-06T07:01:03.123456789+00:00 stdout F [INFO] " + q, `07:01:03 10.244.0.10:43150 UDP "api.shop.svc.cluster.local" A rcode=0 size=106`, ""},
		{"no level tag", q, `08:00:00 10.244.0.10:43150 UDP "api.shop.svc.cluster.local" A rcode=0 size=106`, ""},
		{"IPv6 client, NXDOMAIN, mixed case, TCP", `[INFO] [fd00::5]:40000 - 1 "AAAA IN Nope.Example.COM. tcp 40 true 1232" NXDOMAIN qr,rd,ra 120 0.01s`, `08:00:00 [fd00::5]:40000 TCP "nope.example.com" AAAA rcode=3 size=120`, ""},
		{"zone transfer", `[INFO] 10.244.1.7:5353 - 77 "AXFR IN cluster.local. tcp 45 false 65535" REFUSED qr 45 0.0002s`, `08:00:00 10.244.1.7:5353 TCP "cluster.local" AXFR rcode=5 size=45`, ""},
		{"no response", `[INFO] 10.244.1.7:5353 - 77 "TXT IN x.example. udp 45 false 512" - - - 5s`, `08:00:00 10.244.1.7:5353 UDP "x.example" TXT rcode=-1 size=0`, ""},
		{"combined format (opcode)", "[INFO] " + q + ` "QUERY"`, `08:00:00 10.244.0.10:43150 UDP "api.shop.svc.cluster.local" A rcode=0 size=106`, ""},
		{"unknown type", `[INFO] 10.0.0.1:1 - 2 "TYPE65280 IN x. udp 1 false 512" SERVFAIL - 0 1ms`, `08:00:00 10.0.0.1:1 UDP "x" TYPE65280 rcode=2 size=0`, ""},
		{"another plugin's message", "[INFO] plugin/reload: Running configuration SHA512 = 0ab1", "", ""},
		{"a warning", "[WARNING] plugin/kubernetes: starting server with unsynced Kubernetes API", "", ""},
		{"an error", `2026-12-06T07:00:00Z [ERROR] plugin/errors: 2 x.example. A: read udp 10.0.0.1:1->8.8.8.8:53: i/o timeout`, "", ""},
		{"banner: server block", ".:53", "", ""},
		{"banner: zone", "dns://cluster.local.:53", "", ""},
		{"banner: version", "CoreDNS-1.11.1", "", ""},
		{"banner: platform", "linux/amd64, go1.21.1, ae2bbc2", "", ""},
		{"not CoreDNS", "hello world", "", "not a CoreDNS log line"},
		{"an address alone", "10.0.0.1:53", "", "no quoted question"},
		{"truncated", ("[INFO] " + q)[:60], "", "unterminated quoted question"},
		{"truncated after the question", ("[INFO] " + q)[:100], "", "want 4 fields after the question"},
		{"bad client", strings.Replace("[INFO] "+q, "10.244.0.10:43150", "10.244.0.300:43150", 1), "", "bad client address"},
		{"client without port", strings.Replace("[INFO] "+q, "10.244.0.10:43150", "10.244.0.10", 1), "", "bad client address"},
		{"bad id", strings.Replace("[INFO] "+q, "5023", "70000", 1), "", "bad query id"},
		{"missing dash", strings.Replace("[INFO] "+q, " - ", " ", 1), "", "want {remote}:{port} - {id}"},
		{"short question", strings.Replace("[INFO] "+q, " false 512", "", 1), "", "want 7 fields in the question"},
		{"bad proto", strings.Replace("[INFO] "+q, " udp ", " sctp ", 1), "", "neither udp nor tcp"},
		{"bad size", strings.Replace("[INFO] "+q, " 54 ", " -54 ", 1), "", "bad size"},
		{"bad DO", strings.Replace("[INFO] "+q, "false", "maybe", 1), "", "DO bit"},
		{"unknown rcode", strings.Replace("[INFO] "+q, "NOERROR", "FINE", 1), "", "unknown rcode"},
		{"bad response size", strings.Replace("[INFO] "+q, " 106 ", " 1e6 ", 1), "", "bad response size"},
		{"bad duration", strings.Replace("[INFO] "+q, "0.000126s", "fast", 1), "", "bad duration"},
		{"extra field", "[INFO] " + q + " more", "", "want 4 fields after the question"},
		{"bad time prefix", "2026-13-06T07:00:00Z [INFO] " + q, "", "bad time"},
		{"time after 2262", "2263-01-01T00:00:00Z [INFO] " + q, "", "out of range"},
		{"partial CRI line", "2026-12-06T07:00:00Z stdout P [INFO] " + q, "", "partial CRI log line"},
		{"bad CRI tag", "2026-12-06T07:00:00Z stdout X [INFO] " + q, "", "neither F nor P"},
		{"name too long", strings.Replace("[INFO] "+q, "api.shop", strings.Repeat("a", 1100), 1), "", "longer than 1024"},
		{"a line of quotes", `"""""""`, "", "not a CoreDNS log line"},
		{"empty tag", "[INFO] ", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec := &CoreDNS{Clock: clock}
			var e event.Event
			emit, lost, err := dec.Decode([]byte(tc.line), &e)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one saying %q", err, tc.err)
				}
				if emit {
					t.Error("a bad line gave an event")
				}
				return
			}
			if err != nil || lost != 0 {
				t.Fatalf("err %v, lost %d", err, lost)
			}
			got := ""
			if emit {
				d := e.DNS
				got = fmt.Sprintf("%s %s %s %q %s rcode=%d size=%d", e.When().Format("15:04:05"), netip.AddrPortFrom(e.Src, e.SrcPort), e.Proto, d.Query, d.QType, d.Rcode, d.Size)
				if e.Origin != event.OriginCoreDNS || e.Kind != event.Request || e.ID == 0 || d.Response {
					t.Errorf("origin %s kind %s id %x response %v", e.Origin, e.Kind, e.ID, d.Response)
				}
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestCoreDNSLines: a bad line among good ones is a problem naming its
// file and line; the others are events.
func TestCoreDNSLines(t *testing.T) {
	in := `.:53
CoreDNS-1.11.1
[INFO] 10.244.0.10:43150 - 5023 "A IN api.shop.svc.cluster.local. udp 54 false 512" NOERROR qr,aa,rd 106 0.000126s
[INFO] 10.244.0.10:43150 - 5023 "A IN api.shop.svc.cluster.local. udp 54 false 512" NOERR
[INFO] 10.244.0.11:43151 - 5024 "AAAA IN db.shop.svc.cluster.local. udp 54 false 512" NOERROR qr,aa,rd 150 0.0001s
`
	l := &Lines{Label: "coredns", Path: "coredns.log", In: strings.NewReader(in), Decoder: &CoreDNS{Clock: event.NewManualClock(time.Unix(0, 1))}}
	var sink collect
	if err := l.Run(context.Background(), &sink); err != nil {
		t.Fatal(err)
	}
	if len(sink.events) != 2 || len(sink.problems) != 1 {
		t.Fatalf("%d events, problems %v", len(sink.events), sink.problems)
	}
	if got := sink.problems[0].Err.Error(); !strings.HasPrefix(got, "coredns.log:4: ") {
		t.Errorf("problem %q, want it at coredns.log:4", got)
	}
}

// FuzzCoreDNS: any line is an event, skipped or an error, never a panic;
// an event always has its client and its query.
func FuzzCoreDNS(f *testing.F) {
	for _, l := range readLines(f, "../testdata/coredns.log") {
		f.Add(l)
	}
	f.Add([]byte(`[INFO] [fd00::5]:40000 - 1 "AAAA IN Nope.Example.COM. tcp 40 true 1232" NXDOMAIN qr,rd,ra 120 0.01s "QUERY"`))
	dec := &CoreDNS{Clock: event.NewManualClock(time.Unix(1, 0))}
	f.Fuzz(func(t *testing.T, line []byte) {
		var e event.Event
		emit, lost, err := dec.Decode(line, &e)
		if lost != 0 || emit && (err != nil || e.DNS == nil || !e.Src.IsValid() || e.Time == 0 || len(e.DNS.Query) > MaxQuery) {
			t.Fatalf("%q: emit %v lost %d err %v event %+v", line, emit, lost, err, e)
		}
	})
}

// TestCoreDNSEscapedName: CoreDNS prints a name as github.com/miekg/dns
// does, a space, quote or backslash inside a label escaped by a
// backslash. A client that put a space in its labels (`d\ 0.evil.example.`)
// made every line of its queries a bad record ("want 7 fields in the
// question"): a tunnel's queries were never judged by dns-tunnel.
func TestCoreDNSEscapedName(t *testing.T) {
	const tmpl = `[INFO] 10.244.1.5:40000 - 7 "TXT IN %s udp 60 false 512" NXDOMAIN qr,rd,ra 120 0.001s`
	for _, tc := range []struct{ name, want string }{
		{`d\ 0.evil.example.`, `d\ 0.evil.example`},
		{`a\"\ b.evil.example.`, `a\"\ b.evil.example`},
		{`a\\\ \".evil.example.`, `a\\\ \".evil.example`},
		{`a\"\ udp\ 1\ false\ 512\"\ NOERROR.evil.example.`, `a\"\ udp\ 1\ false\ 512\"\ noerror.evil.example`},
		{`x\032y\.z.evil.example.`, `x\032y\.z.evil.example`},
	} {
		dec := &CoreDNS{Clock: event.NewManualClock(time.Unix(1, 0))}
		var e event.Event
		line := fmt.Sprintf(tmpl, tc.name)
		emit, _, err := dec.Decode([]byte(line), &e)
		if err != nil || !emit {
			t.Errorf("%s: emit %v, err %v", line, emit, err)
			continue
		}
		if e.DNS.Query != tc.want || e.DNS.QType != event.TypeTXT || e.DNS.Rcode != 3 || e.DNS.Size != 120 {
			t.Errorf("%s: query %q %s rcode %d size %d, want %q TXT 3 120", line, e.DNS.Query, e.DNS.QType, e.DNS.Rcode, e.DNS.Size, tc.want)
		}
	}
	for _, line := range []string{
		`[INFO] 10.244.1.5:40000 - 7 "TXT IN d\ 0.evil.example. udp 60 false 512`,     // no closing quote
		`[INFO] 10.244.1.5:40000 - 7 "TXT IN d\" udp 60 false 512\" NXDOMAIN qr 1 1s`, // the quotes are escaped
		`[INFO] 10.244.1.5:40000 - 7 "TXT IN d. udp 60 false 512"NXDOMAIN qr 1 1s`,
	} {
		var e event.Event
		if emit, _, err := (&CoreDNS{}).Decode([]byte(line), &e); err == nil || emit {
			t.Errorf("%s: emit %v, err %v; want a bad record", line, emit, err)
		}
	}
}
