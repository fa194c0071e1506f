package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
	"github.com/wardsec/ward/watch/source"
)

var update = flag.Bool("update", false, "rewrite golden files")

func setup(t testing.TB) (detect.Config, *identity.Table, *netpol.Engine) {
	t.Helper()
	data, err := os.ReadFile("testdata/watch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := detect.ParseConfig("testdata/watch.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	set, err := manifest.Load(manifest.Options{}, "testdata/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, identity.FromManifests(set, cfg.ClusterCIDRs...), eng
}

// TestScenario replays a Hubble capture (benign traffic, a port scan, a
// forbidden connection, an unexpected egress, a truncated line) and
// compares the alert reports with testdata/scenario.golden.jsonl.
func TestScenario(t *testing.T) {
	cfg, tab, eng := setup(t)
	var alerts bytes.Buffer
	var problems []string
	reg := prometheus.NewRegistry()
	p, err := New(Options{Config: cfg, Table: tab, Engine: eng, Alerts: &alerts, Registerer: reg,
		Clock:   event.NewManualClock(time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)),
		Problem: func(pr event.Problem) { problems = append(problems, pr.Err.Error()) }})
	if err != nil {
		t.Fatal(err)
	}
	src := &source.Lines{Label: "hubble", Path: "testdata/scenario.jsonl", Decoder: source.NewHubble()}
	sum, err := Run(context.Background(), p, src)
	if err != nil {
		t.Fatal(err)
	}
	golden := "testdata/scenario.golden.jsonl"
	if *update {
		if err := os.WriteFile(golden, alerts.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), alerts.String()); d != "" {
		t.Errorf("alerts differ from %s (-want +got; -update to accept):\n%s", golden, d)
	}
	wantProblems := []string{"testdata/scenario.jsonl:112: column 90: unexpected end of line (truncated record?)"}
	if d := cmp.Diff(wantProblems, problems); d != "" {
		t.Errorf("problems: %s", d)
	}
	wantSum := map[string]uint64{detect.PortScanName: 1, detect.ViolationName: 1, detect.EgressName: 1}
	if d := cmp.Diff(wantSum, sum.Alerts); d != "" || sum.Events != 113 || sum.BadRecords != 1 {
		t.Errorf("summary %+v: %s", sum, d)
	}
	// Every report is a JSON object naming its incident, and each
	// incident closes once.
	closed := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(alerts.String()), "\n") {
		var a struct{ ID, State string }
		if err := json.Unmarshal([]byte(l), &a); err != nil || a.ID == "" {
			t.Fatalf("bad report %q: %v", l, err)
		}
		if a.State == detect.Closed {
			closed[a.ID]++
		}
	}
	if len(closed) != 3 {
		t.Errorf("closed incidents %v", closed)
	}
	if got := testutil.ToFloat64(p.metrics.events.WithLabelValues("hubble")); got != 113 {
		t.Errorf("ward_watch_events_total = %v", got)
	}
	if got := testutil.ToFloat64(p.metrics.bad.WithLabelValues("hubble:testdata/scenario.jsonl")); got != 1 {
		t.Errorf("ward_watch_bad_records_total = %v", got)
	}
}

// failWriter fails every write: alerts that cannot be written stop the
// run instead of vanishing.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestAlertWriteFailureStops(t *testing.T) {
	cfg, tab, eng := setup(t)
	p, err := New(Options{Config: cfg, Table: tab, Engine: eng, Alerts: failWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	src := &source.Lines{Label: "hubble", Path: "testdata/scenario.jsonl", Decoder: source.NewHubble()}
	if _, err := Run(context.Background(), p, src); err == nil || !strings.Contains(err.Error(), "writing alerts") {
		t.Errorf("Run = %v, want the write error", err)
	}
}

// TestTwoSources: sources deliver from their own goroutines; the
// pipeline serialises them and counts each.
func TestTwoSources(t *testing.T) {
	cfg, tab, eng := setup(t)
	var audit strings.Builder
	for i := range 50 {
		audit.WriteString(`{"time":"2026-12-06T07:00:` + twoDigits(i%60) + `Z","level":"INFO","msg":"decision","decision":"deny","rule":"authz/shop/deny-admin","method":"GET","path":"/admin","status":403,"latency":1,"request_id":"r` + twoDigits(i) + `","client_ip":"10.244.1.5"}` + "\n")
	}
	p, err := New(Options{Config: cfg, Table: tab, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), p,
		&source.Lines{Label: "hubble", Path: "testdata/scenario.jsonl", Decoder: source.NewHubble()},
		&source.Lines{Label: "proxy-audit", Path: "audit.log", In: strings.NewReader(audit.String()), Decoder: &source.ProxyAudit{}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.BySource["hubble"] != 113 || sum.BySource["proxy"] != 50 || sum.Events != 163 {
		t.Errorf("by source %v, events %d", sum.BySource, sum.Events)
	}
}

func twoDigits(i int) string { return string([]byte{byte('0' + i/10%10), byte('0' + i%10)}) }

// TestQuietInputClosesIncidents: on a followed input that goes quiet,
// clock time passes for the detectors: the incident closes without a new
// event.
func TestQuietInputClosesIncidents(t *testing.T) {
	cfg, tab, eng := setup(t)
	clock := event.NewManualClock(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	var alerts bytes.Buffer
	p, err := New(Options{Config: cfg, Table: tab, Engine: eng, Clock: clock, Alerts: &alerts})
	if err != nil {
		t.Fatal(err)
	}
	e := event.Event{Time: time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC).UnixNano(), Kind: event.Flow, Proto: event.TCP, Flags: event.SYN,
		Verdict: event.Forwarded, Src: netip.MustParseAddr("10.244.1.5"), Dst: netip.MustParseAddr("10.244.0.30"), DstPort: 5432}
	if err := p.Deliver([]event.Event{e}); err != nil {
		t.Fatal(err)
	}
	states := func() string {
		var s []string
		for _, l := range strings.Split(strings.TrimSpace(alerts.String()), "\n") {
			var a struct{ State string }
			_ = json.Unmarshal([]byte(l), &a)
			s = append(s, a.State)
		}
		return strings.Join(s, " ")
	}
	clock.Advance(9 * time.Minute)
	if err := p.Tick(); err != nil {
		t.Fatal(err)
	}
	if got := states(); got != "open" {
		t.Fatalf("after 9 quiet minutes: %q, want the incident still open", got)
	}
	clock.Advance(2 * time.Minute)
	if err := p.Tick(); err != nil {
		t.Fatal(err)
	}
	if got := states(); got != "open closed" {
		t.Fatalf("after 11 quiet minutes: %q, want it closed (incidents.idle 10m)", got)
	}
}

// TestPodNamesWithoutIPs: manifests from git carry no pod IP; Hubble's
// own namespace and pod names then give the identities, and the engine
// still judges.
func TestPodNamesWithoutIPs(t *testing.T) {
	set, err := manifest.Parse(manifest.Options{}, "git.yaml", []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: db:1}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-nobody, namespace: shop}
spec: {podSelector: {matchLabels: {app: db}}, policyTypes: [Ingress]}
`))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	cfg := detect.Default()
	cfg.ClusterCIDRs = detect.Prefixes{netip.MustParsePrefix("10.244.0.0/16")}
	var alerts bytes.Buffer
	p, err := New(Options{Config: cfg, Table: identity.FromManifests(set, cfg.ClusterCIDRs...), Engine: eng, Alerts: &alerts})
	if err != nil {
		t.Fatal(err)
	}
	lines := `{"flow":{"time":"2026-12-06T07:00:00Z","verdict":"FORWARDED","IP":{"source":"10.244.3.3","destination":"10.244.4.4"},"l4":{"TCP":{"source_port":40000,"destination_port":5432,"flags":{"SYN":true}}},"source":{"namespace":"shop","pod_name":"web-7d4b9c-x2x9q"},"destination":{"namespace":"shop","pod_name":"db-0"}}}
{"flow":{"time":"2026-12-06T07:00:01Z","verdict":"FORWARDED","IP":{"source":"10.244.3.3","destination":"10.244.5.5"},"l4":{"TCP":{"source_port":40001,"destination_port":5432,"flags":{"SYN":true}}}}}
`
	sum, err := Run(context.Background(), p, &source.Lines{Label: "hubble", Path: "-", In: strings.NewReader(lines), Decoder: source.NewHubble()})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Alerts[detect.ViolationName] != 1 || sum.Judged != 1 || sum.Unjudged != 1 {
		t.Errorf("summary %+v: want one violation judged through the pod names (the nameless flow is unknown: counted unjudged)", sum)
	}
	if !strings.Contains(alerts.String(), `"workload":"shop/StatefulSet/db"`) || !strings.Contains(alerts.String(), `"workload":"shop/Deployment/web"`) {
		t.Errorf("alerts %s", alerts.String())
	}
}

// TestSummaryWhileRunning: Summary may be read while events flow (the
// live view does, every second); under -race this fails if it hands out
// the pipeline's own maps.
func TestSummaryWhileRunning(t *testing.T) {
	cfg, tab, eng := setup(t)
	p, err := New(Options{Config: cfg, Table: tab, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			e := event.Event{Time: time.Date(2026, 12, 6, 8, 0, i, 0, time.UTC).UnixNano(), Origin: event.OriginHubble, Kind: event.Flow,
				Verdict: event.Forwarded, Src: netip.MustParseAddr("10.244.1.5"), Dst: netip.MustParseAddr("10.244.0.30"), DstPort: uint16(5000 + i), Proto: event.TCP, Flags: event.SYN}
			_ = p.Deliver([]event.Event{e})
		}
	}()
	for {
		s := p.Summary()
		for range s.Alerts {
		}
		for range s.BySource {
		}
		select {
		case <-done:
			if s := p.Summary(); s.Events != 200 || len(s.Alerts) == 0 {
				t.Errorf("summary %+v", s)
			}
			return
		default:
		}
	}
}

// TestNoPodIPsAndIPBlocks: a workload with no pod IP known (manifests
// from a repository) is judged as matched by no ipBlock only where no
// ipBlock holds the address. db admits 10.244.3.0/24 alone: web's pod at
// 10.244.3.3 was judged as matched by none, a false policy-violation;
// it is unjudged (counted). At 10.244.9.9, which no ipBlock holds, the
// judgement is exact: a violation.
func TestNoPodIPsAndIPBlocks(t *testing.T) {
	set, err := manifest.Parse(manifest.Options{}, "git.yaml", []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: db:1}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web-subnet, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress: [{from: [{ipBlock: {cidr: 10.244.3.0/24}}]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	cfg := detect.Default()
	cfg.ClusterCIDRs = detect.Prefixes{netip.MustParsePrefix("10.244.0.0/16")}
	for _, c := range []struct {
		src                  string
		violations, unjudged uint64
	}{{"10.244.3.3", 0, 1}, {"10.244.9.9", 1, 0}} {
		var alerts bytes.Buffer
		p, err := New(Options{Config: cfg, Table: identity.FromManifests(set, cfg.ClusterCIDRs...), Engine: eng, Alerts: &alerts})
		if err != nil {
			t.Fatal(err)
		}
		lines := `{"flow":{"time":"2026-12-06T07:00:00Z","verdict":"FORWARDED","IP":{"source":"` + c.src + `","destination":"10.244.4.4"},"l4":{"TCP":{"source_port":40000,"destination_port":5432,"flags":{"SYN":true}}},"source":{"namespace":"shop","pod_name":"web-7d4b9c-x2x9q"},"destination":{"namespace":"shop","pod_name":"db-0"}}}
`
		sum, err := Run(context.Background(), p, &source.Lines{Label: "hubble", Path: "-", In: strings.NewReader(lines), Decoder: source.NewHubble()})
		if err != nil {
			t.Fatal(err)
		}
		if uint64(sum.Alerts[detect.ViolationName]) != c.violations || uint64(sum.Unjudged) != c.unjudged {
			t.Errorf("from %s: summary %+v, want %d violations, %d unjudged\n%s", c.src, sum, c.violations, c.unjudged, alerts.String())
		}
	}
}
