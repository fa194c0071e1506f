package live

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
)

var t0 = time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)

func obs(src, dst string, port uint16, v event.Verdict, f event.TCPFlags, rule string, w *identity.Workload) detect.Observation {
	e := &event.Event{Time: t0.UnixNano(), Kind: event.Flow, Proto: event.TCP, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		DstPort: port, Verdict: v, Flags: f, Rule: rule, Bytes: 100}
	o := detect.Observation{E: e, SrcRes: identity.External, DstRes: identity.External}
	if w != nil {
		o.Dst, o.DstRes = w, identity.Resolved
	}
	return o
}

func TestView(t *testing.T) {
	v := New(t0)
	api := &identity.Workload{Namespace: "shop", Kind: "Deployment", Name: "api"}
	var batch []detect.Observation
	for range 5 {
		batch = append(batch, obs("10.0.0.1", "10.0.0.2", 8080, event.Forwarded, event.SYN, "", api))
	}
	batch = append(batch,
		obs("10.0.0.3", "10.0.0.4", 443, event.Forwarded, event.SYN, "", nil),
		obs("10.0.0.3", "10.0.0.4", 443, event.Forwarded, event.ACK, "", nil), // mid-stream: bytes, no new connection
		obs("10.0.0.9", "10.0.0.2", 22, event.Dropped, event.SYN, "ingress c3", nil),
		obs("10.0.0.9", "10.0.0.2", 23, event.Dropped, event.SYN, "ingress c3", nil),
		obs("10.0.0.9", "10.0.0.5", 23, event.Dropped, event.SYN, "", nil),
	)
	v.Observe(batch)
	v.Alert(&detect.Alert{Last: "2026-12-06T08:00:01Z", Severity: "critical", Detector: "policy-violation", State: "open", Summary: "tool reached db"})
	var b bytes.Buffer
	if err := v.Render(&b, t0.Add(10*time.Second), Status{Events: 10, Judged: 8}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"\x1b[H\x1b[2J",
		"up 10s  events 10 (1/s)  judged 8",
		"       5       500B  10.0.0.1 -> shop/Deployment/api 8080/TCP",
		"       1       200B  10.0.0.3 -> 10.0.0.4 443/TCP",
		"DROPS 3\n",
		"2  ingress c3",
		"1  dropped",
		"2026-12-06T08:00:01Z critical policy-violation",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("frame lacks %q:\n%s", want, out)
		}
	}
	// The busiest conversation comes first.
	if strings.Index(out, "shop/Deployment/api") > strings.Index(out, "10.0.0.4 443") {
		t.Errorf("not sorted by connections:\n%s", out)
	}
}

// TestBounded: a flood of distinct conversations and rules keeps the
// view's tables at their bounds, with the rest summed.
func TestBounded(t *testing.T) {
	v := New(t0)
	for i := range MaxTalkers + 100 {
		dst := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String()
		v.Observe([]detect.Observation{obs("10.0.0.1", dst, 80, event.Forwarded, event.SYN, "", nil)})
	}
	for i := range MaxRules + 10 {
		v.Observe([]detect.Observation{obs("10.0.0.1", "10.0.0.2", 80, event.Dropped, 0, fmt.Sprint("rule ", i), nil)})
	}
	for i := range 3 * RecentAlerts {
		v.Alert(&detect.Alert{Summary: fmt.Sprint("alert ", i)})
	}
	if len(v.talkers) != MaxTalkers || v.others.conns != 100 || len(v.drops) != MaxRules || v.dropsX != 10 || len(v.alerts) != RecentAlerts {
		t.Errorf("talkers %d, others %d, rules %d (+%d), alerts %d", len(v.talkers), v.others.conns, len(v.drops), v.dropsX, len(v.alerts))
	}
	var b bytes.Buffer
	_ = v.Render(&b, t0.Add(time.Second), Status{})
	if !strings.Contains(b.String(), "     100     9.8KiB  (conversations beyond the 4096 counted)") || !strings.Contains(b.String(), "DROPS 266") {
		t.Errorf("frame:\n%s", b.String())
	}
	if !strings.Contains(b.String(), fmt.Sprint("alert ", 3*RecentAlerts-1)) || strings.Contains(b.String(), "alert 0\n") {
		t.Errorf("recent alerts are not the latest:\n%s", b.String())
	}
}

func TestRunRedraws(t *testing.T) {
	v := New(t0)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	var b bytes.Buffer
	if err := v.Run(ctx, &b, 20*time.Millisecond, time.Now, func() Status { return Status{} }); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "\x1b[H\x1b[2J"); n < 2 {
		t.Errorf("%d frames in 120 ms at 20 ms", n)
	}
}
