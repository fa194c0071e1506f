package source

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/wardsec/ward/watch/event"
)

func TestProxyAudit(t *testing.T) {
	input := strings.Join([]string{
		`{"time":"2026-12-06T07:00:00.5Z","level":"INFO","msg":"decision","decision":"deny","reason":"DENY shop/deny-admin rule 0: to[0] paths","rule":"authz/shop/deny-admin","principal":"spiffe://example.org/ns/shop/sa/web","method":"GET","path":"/admin","status":403,"latency":84336,"request_id":"642485198fcbd67f","client_ip":"10.0.0.7"}`,
		`{"time":"2026-12-06T07:00:01Z","level":"INFO","msg":"decision","decision":"allow","rule":"authz/shop/allow-web","method":"POST","path":"/cart","status":504,"latency":1,"request_id":"a1","client_ip":"::ffff:10.0.0.8","route":"cart","outcome":"upstream timeout"}`,
		`{"time":"2026-12-06T07:00:02Z","level":"ERROR","msg":"audit records dropped","dropped":3}`,
		`{"time":"2026-12-06T07:00:03Z","level":"INFO","msg":"decision","decision":"maybe","client_ip":"10.0.0.9"}`,
		`{"time":"2026-12-06T07:00:04Z","level":"INFO","msg":"decision","decision":"allow","client_ip":"10.0.0.300"}`,
		`{"time":"yesterday","msg":"decision","decision":"allow","client_ip":"10.0.0.9"}`,
		`{"time":"2026-12-06T07:00:05Z","msg":"decision","decision":"allow"}`,
	}, "\n")
	var c collect
	l := &Lines{Label: "proxy-audit", Path: "audit.log", In: strings.NewReader(input),
		Decoder: &ProxyAudit{Proxy: netip.MustParseAddrPort("10.0.0.1:8443")}}
	if err := l.Run(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	evs, ps := c.snapshot()
	var got []string
	for _, e := range evs {
		got = append(got, fmt.Sprintf("%s %s %s > %s:%d %s %s %d rule=%s reason=%q principal=%s", e.Kind, e.Verdict, e.Src, e.Dst, e.DstPort,
			e.L7.Method, e.L7.Path, e.L7.Status, e.Rule, e.Reason, e.L7.Principal))
	}
	want := []string{
		`request DROPPED 10.0.0.7 > 10.0.0.1:8443 GET /admin 403 rule=authz/shop/deny-admin reason="" principal=spiffe://example.org/ns/shop/sa/web`,
		`request FORWARDED 10.0.0.8 > 10.0.0.1:8443 POST /cart 504 rule=authz/shop/allow-web reason="upstream timeout" principal=`,
		// A client the proxy did not know: read, judged by no one.
		`request FORWARDED invalid IP > 10.0.0.1:8443   0 rule= reason="" principal=`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantP := []string{
		`audit.log:4: unknown decision "maybe"`,
		`audit.log:5: bad client_ip "10.0.0.300"`,
		`audit.log:6: bad time "yesterday"`,
	}
	if fmt.Sprint(ps) != fmt.Sprint(wantP) {
		t.Errorf("problems\n%s\nwant\n%s", strings.Join(ps, "\n"), strings.Join(wantP, "\n"))
	}
	if first, _, _ := strings.Cut(input, "\n"); evs[0].ID != event.ID(event.OriginProxy, []byte(first)) {
		t.Error("a record's ID is not its line's (TestProxyAuditIDs)")
	}
}

// TestProxyAuditIDs: a client behind a trusted hop that passes
// X-Request-Id on chooses its records' request_id; event IDs, which the
// fleet deduplicates, must not follow it. Named by the request_id alone,
// every request a scanner sent with one id was one event, the others
// dropped by the stream and the consumers as delivered twice. A record
// read twice is still one event.
func TestProxyAuditIDs(t *testing.T) {
	rec := func(tm, path string) string {
		return `{"time":"2026-12-06T07:00:0` + tm + `Z","level":"INFO","msg":"decision","decision":"deny","reason":"no rule allows it","rule":"authz/default-deny","method":"GET","path":"` + path + `","status":403,"latency":8433,"request_id":"x","client_ip":"198.51.100.9"}`
	}
	input := strings.Join([]string{rec("0.1", "/.env"), rec("0.2", "/.git/config"), rec("0.2", "/.git/config")}, "\n")
	var c collect
	l := &Lines{Label: "proxy-audit", Path: "audit.log", In: strings.NewReader(input),
		Decoder: &ProxyAudit{Proxy: netip.MustParseAddrPort("10.0.0.1:8443")}}
	if err := l.Run(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	evs, _ := c.snapshot()
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3", len(evs))
	}
	if evs[0].ID == evs[1].ID {
		t.Error("two requests with one client-chosen request_id share an event ID")
	}
	if evs[1].ID != evs[2].ID {
		t.Error("one record read twice has two event IDs")
	}
}
