package fleet

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/wardsec/ward/internal/testenv"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/watch"
	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
	"github.com/wardsec/ward/watch/source"
)

func connect(t testing.TB, o ConnOptions) *nats.Conn {
	t.Helper()
	nc, err := Connect(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// eventually polls cond until it holds, failing t after limit.
func eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// synthetic returns n distinct events observed on node.
func synthetic(n int, node string) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = event.Event{Time: int64(1_765_000_000e9 + i), ID: event.ID(event.OriginConntrack, []byte(fmt.Sprintf("%s-%d", node, i))),
			Src: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Dst: netip.MustParseAddr("10.0.9.9"),
			SrcPort: uint16(1024 + i%60000), DstPort: 443, Proto: event.TCP, Packets: 3, Bytes: 180,
			Origin: event.OriginConntrack, Kind: event.ConnNew, Verdict: event.Forwarded, Node: node}
	}
	return evs
}

// deliver feeds evs to sink in batches of event.BatchSize.
func deliver(t testing.TB, sink event.Sink, evs []event.Event) {
	t.Helper()
	for i := 0; i < len(evs); i += event.BatchSize {
		if err := sink.Deliver(evs[i:min(i+event.BatchSize, len(evs))]); err != nil {
			t.Fatal(err)
		}
	}
}

// recorder is a sink keeping every event it is given.
type recorder struct {
	mu       sync.Mutex
	events   []event.Event
	problems []event.Problem
}

func (r *recorder) Deliver(b []event.Event) error {
	r.mu.Lock()
	r.events = append(r.events, b...)
	r.mu.Unlock()
	return nil
}

func (r *recorder) Problem(p event.Problem) {
	r.mu.Lock()
	r.problems = append(r.problems, p)
	r.mu.Unlock()
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// drained reports whether the durable consumer has nothing pending nor
// unacknowledged.
func drained(t testing.TB, nc *nats.Conn, stream, durable string) bool {
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := js.Consumer(context.Background(), stream, durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.NumPending == 0 && info.NumAckPending == 0
}

// run runs src into sink in the background; stop cancels it and returns
// its error.
func run(src event.Source, sink event.Sink) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	return func() error {
		cancel()
		err := <-done
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
}

// TestPublishConsume: events published go through the server and come out
// equal, every field included, in order.
func TestPublishConsume(t *testing.T) {
	srv := testenv.NATSServer(t, "")
	nc := connect(t, ConnOptions{URL: srv.URL})
	ctx := context.Background()
	pub, err := NewPublisher(ctx, nc, PublisherOptions{Node: "host-1"})
	if err != nil {
		t.Fatal(err)
	}
	evs := synthetic(1000, "host.1") // a node name that is no subject token
	f := full()
	evs = append(evs, f)
	deliver(t, pub, evs)
	if st := pub.Stats(); st.Stored != uint64(len(evs)) || st.Failed != 0 || st.Duplicates != 0 {
		t.Fatalf("publisher stats %+v, want %d stored", st, len(evs))
	}
	cons, err := NewConsumer(ctx, nc, ConsumerOptions{Durable: "detectors"})
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	stop := run(cons, &rec)
	eventually(t, 30*time.Second, "every event consumed", func() bool { return rec.len() == len(evs) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(evs, rec.events, addrCmp, addrPortCmp); d != "" {
		t.Errorf("consumed events differ (-published +consumed):\n%s", d)
	}
	if st := cons.Stats(); st.Delivered != uint64(len(evs)) || st.Duplicates != 0 || st.Bad != 0 {
		t.Errorf("consumer stats %+v", st)
	}
	if !drained(t, nc, DefaultStream, "detectors") {
		t.Error("events left unacknowledged")
	}
	js, _ := jetstream.New(nc)
	s, err := js.Stream(ctx, DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("%d events left in the work queue after every acknowledgement", info.State.Msgs)
	}
}

// setup loads the watch package's test policy, identities and thresholds.
func setup(t testing.TB) watch.Options {
	t.Helper()
	data, err := os.ReadFile("../testdata/watch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := detect.ParseConfig("../testdata/watch.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	set, err := manifest.Load(manifest.Options{}, "../testdata/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	return watch.Options{Config: cfg, Table: identity.FromManifests(set, cfg.ClusterCIDRs...), Engine: eng,
		Clock: event.NewManualClock(time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC))}
}

// crasher passes batches to a sink and, after the nth, closes the
// connection: the consumer dies between the sink's acceptance and the
// acknowledgement, as a process killed there would.
type crasher struct {
	event.Sink
	nc      *nats.Conn
	n, seen int
}

func (c *crasher) Deliver(b []event.Event) error {
	if c.seen == c.n {
		return errors.New("delivered after the crash")
	}
	err := c.Sink.Deliver(b)
	if c.seen++; c.seen == c.n {
		c.nc.Close()
	}
	return err
}

// TestConsumerKilled replays the watch package's scenario (a port scan,
// a forbidden connection, an unexpected egress among benign flows)
// through the server. The first consumer is killed between delivering a
// batch to the detectors and acknowledging it; a second one, in the same
// group, takes over. The detectors see every event exactly once and
// raise exactly the alerts of the direct run (the golden file): nothing
// lost, no duplicate alert.
func TestConsumerKilled(t *testing.T) {
	srv := testenv.NATSServer(t, "")
	ctx := context.Background()
	pubConn := connect(t, ConnOptions{URL: srv.URL})
	pub, err := NewPublisher(ctx, pubConn, PublisherOptions{Node: "node-a"})
	if err != nil {
		t.Fatal(err)
	}
	src := &source.Lines{Label: "hubble", Path: "../testdata/scenario.jsonl", Decoder: source.NewHubble()}
	if err := src.Run(ctx, pub); err != nil {
		t.Fatal(err)
	}
	ps := pub.Stats()
	if ps.SourceProblems != 1 || ps.Stored != ps.Events || ps.Failed != 0 {
		t.Fatalf("publisher stats %+v: want every event stored and the one truncated line reported", ps)
	}

	opts := setup(t)
	var alerts bytes.Buffer
	opts.Alerts = &alerts
	p, err := watch.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	dedup := NewDedup(1000)
	co := ConsumerOptions{Durable: "detectors", Batch: 10, AckWait: time.Second, Dedup: dedup}
	nc1 := connect(t, ConnOptions{URL: srv.URL})
	c1, err := NewConsumer(ctx, nc1, co)
	if err != nil {
		t.Fatal(err)
	}
	err = c1.Run(ctx, &crasher{Sink: p, nc: nc1, n: 3})
	if err == nil || !strings.Contains(err.Error(), "acknowledging") {
		t.Fatalf("the killed consumer ended with %v, want an acknowledgement error", err)
	}
	if st := c1.Stats(); st.Delivered != 30 {
		t.Fatalf("the killed consumer delivered %d events, want 3 batches of 10", st.Delivered)
	}

	nc2 := connect(t, ConnOptions{URL: srv.URL})
	c2, err := NewConsumer(ctx, nc2, co)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	var sum watch.Summary
	go func() {
		var err error
		sum, err = watch.Run(rctx, p, c2)
		done <- err
	}()
	eventually(t, 60*time.Second, "the batch delivered before the crash redelivered and dropped", func() bool {
		return c2.Stats().Duplicates >= 10 && drained(t, nc2, DefaultStream, "detectors")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if sum.Events != ps.Events {
		t.Errorf("the detectors saw %d events, %d were published", sum.Events, ps.Events)
	}
	st := c2.Stats()
	if st.Duplicates != 10 || st.Redelivered < 10 || st.Delivered+30 != ps.Events {
		t.Errorf("second consumer stats %+v: want the 10 unacknowledged events redelivered and dropped, the rest delivered", st)
	}
	want, err := os.ReadFile("../testdata/scenario.golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	// The policy files are named relative to the test's directory.
	got := strings.ReplaceAll(alerts.String(), `"file":"../testdata/`, `"file":"testdata/`)
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("alerts differ from the direct run's (-direct +through NATS):\n%s", d)
	}
	if n := sum.Alerts[detect.PortScanName]; n != 1 {
		t.Errorf("%d port-scan incidents, want 1", n)
	}
}

// TestGroup: two consumers of one durable split the stream; no event goes
// to both or twice.
func TestGroup(t *testing.T) {
	srv := testenv.NATSServer(t, "")
	ctx := context.Background()
	nc := connect(t, ConnOptions{URL: srv.URL})
	pub, err := NewPublisher(ctx, nc, PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	evs := append(synthetic(1500, "a"), synthetic(1500, "b")...)
	deliver(t, pub, evs)
	var recs [2]recorder
	var cons [2]*Consumer
	var stops [2]func() error
	for i := range cons {
		c, err := NewConsumer(ctx, connect(t, ConnOptions{URL: srv.URL}), ConsumerOptions{Durable: "group", Batch: 20, MaxWait: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		cons[i], stops[i] = c, run(c, &recs[i])
	}
	eventually(t, 60*time.Second, "every event consumed", func() bool { return recs[0].len()+recs[1].len() >= len(evs) })
	for _, stop := range stops {
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[uint64]int{}
	for i := range recs {
		if len(recs[i].events) == 0 {
			t.Errorf("consumer %d got no event: the group did not split the stream", i)
		}
		for _, e := range recs[i].events {
			seen[e.ID]++
		}
		t.Logf("consumer %d: %d events", i, len(recs[i].events))
	}
	for _, e := range evs {
		if seen[e.ID] != 1 {
			t.Errorf("event %x processed %d times", e.ID, seen[e.ID])
		}
	}
	if n := recs[0].len() + recs[1].len(); n != len(evs) {
		t.Errorf("%d events processed, %d published", n, len(evs))
	}
}

// TestPublisherRestart: a publisher restarted on the same input publishes
// the same events again; the server stores them once.
func TestPublisherRestart(t *testing.T) {
	srv := testenv.NATSServer(t, "")
	ctx := context.Background()
	evs := synthetic(700, "h")
	nc1 := connect(t, ConnOptions{URL: srv.URL})
	p1, err := NewPublisher(ctx, nc1, PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, p1, evs[:400]) // killed after 400 events
	nc1.Close()
	nc2 := connect(t, ConnOptions{URL: srv.URL})
	p2, err := NewPublisher(ctx, nc2, PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, p2, evs) // starts over
	if st := p2.Stats(); st.Duplicates != 400 || st.Stored != 300 || st.Failed != 0 {
		t.Errorf("restarted publisher %+v, want 400 duplicates and 300 stored", st)
	}
	js, _ := jetstream.New(nc2)
	s, err := js.Stream(ctx, DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != uint64(len(evs)) {
		t.Errorf("stream holds %d events, want %d", n, len(evs))
	}
}

// TestStreamFull: a full stream refuses events; the publisher counts and
// reports every one it could not publish.
func TestStreamFull(t *testing.T) {
	srv := testenv.NATSServer(t, "")
	ctx := context.Background()
	var mu sync.Mutex
	var lost uint64
	var msgs []string
	nc := connect(t, ConnOptions{URL: srv.URL})
	pub, err := NewPublisher(ctx, nc, PublisherOptions{Stream: StreamOptions{MaxBytes: 8 << 10}, Attempts: 2, Backoff: time.Millisecond,
		Problem: func(p event.Problem) {
			mu.Lock()
			lost += p.Lost
			msgs = append(msgs, p.Err.Error())
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	evs := synthetic(500, "h")
	deliver(t, pub, evs)
	st := pub.Stats()
	if st.Stored == 0 || st.Failed == 0 || st.Stored+st.Failed != uint64(len(evs)) || st.Failed != lost {
		t.Fatalf("stats %+v, lost reported %d: want some stored, the rest failed and reported", st, lost)
	}
	if !strings.Contains(msgs[0], "not published to stream WARD_EVENTS after 2 attempts") || !strings.Contains(msgs[0], "maximum bytes") {
		t.Errorf("problem %q", msgs[0])
	}
}

// TestBadMessage: a message that is no event is reported, never delivered
// again, and the stream goes on.
func TestBadMessage(t *testing.T) {
	srv := testenv.NATSServer(t, "")
	ctx := context.Background()
	nc := connect(t, ConnOptions{URL: srv.URL})
	pub, err := NewPublisher(ctx, nc, PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	if _, err := js.Publish(ctx, "ward.events.evil", []byte{Version, 0xff}); err != nil {
		t.Fatal(err)
	}
	deliver(t, pub, synthetic(5, "h"))
	c, err := NewConsumer(ctx, nc, ConsumerOptions{Durable: "d"})
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	stop := run(c, &rec)
	eventually(t, 30*time.Second, "the good events consumed", func() bool { return rec.len() == 5 && drained(t, nc, DefaultStream, "d") })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if len(rec.problems) != 1 || !strings.Contains(rec.problems[0].Err.Error(), "message 1 on ward.events.evil is no event: truncated or malformed integer at byte 1") {
		t.Errorf("problems %v", rec.problems)
	}
}

// TestStreamCheck: an existing stream that does not hold the publisher's
// subjects is an error, not a silent publication elsewhere.
func TestStreamCheck(t *testing.T) {
	srv := testenv.NATSServer(t, "")
	ctx := context.Background()
	nc := connect(t, ConnOptions{URL: srv.URL})
	if _, err := NewPublisher(ctx, nc, PublisherOptions{SubjectPrefix: "other"}); err != nil {
		t.Fatal(err)
	}
	_, err := NewPublisher(ctx, nc, PublisherOptions{})
	if err == nil || !strings.Contains(err.Error(), "stream WARD_EVENTS exists with subjects other.>, which do not hold ward.events.>") {
		t.Errorf("error %v", err)
	}
}

// pki writes a CA, a server certificate for 127.0.0.1 and a client
// certificate to dir.
func pki(t testing.TB, dir string) (ca, srvCert, srvKey, cliCert, cliKey string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	writeKey := func(name string, k *ecdsa.PrivateKey) string {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name, "PRIVATE KEY", der)
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ward test CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	sDER, sKey := leaf(2, "nats", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	cDER, cKey := leaf(3, "ward", x509.ExtKeyUsageClientAuth, nil)
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", sDER), writeKey("server-key.pem", sKey),
		write("client.pem", "CERTIFICATE", cDER), writeKey("client-key.pem", cKey)
}

// roundTrip publishes a few events and consumes them over nc.
func roundTrip(t *testing.T, nc *nats.Conn) {
	t.Helper()
	ctx := context.Background()
	pub, err := NewPublisher(ctx, nc, PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, pub, synthetic(50, "h"))
	c, err := NewConsumer(ctx, nc, ConsumerOptions{Durable: "d"})
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	stop := run(c, &rec)
	eventually(t, 30*time.Second, "events consumed", func() bool { return rec.len() == 50 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestTLSUserPassword: mutual TLS and a user with a password; a wrong
// password is a clear error.
func TestTLSUserPassword(t *testing.T) {
	dir := t.TempDir()
	ca, sc, sk, cc, ck := pki(t, dir)
	srv := testenv.NATSServer(t, fmt.Sprintf(`tls {
  cert_file: %q
  key_file: %q
  ca_file: %q
  verify: true
}
authorization {
  user: ward
  password: "s3cret pass"
}
`, sc, sk, ca))
	url := strings.Replace(srv.URL, "nats://", "tls://", 1)
	o := ConnOptions{URL: url, CAFile: ca, CertFile: cc, KeyFile: ck, User: "ward", Password: "s3cret pass"}
	nc := connect(t, o)
	if !nc.TLSRequired() {
		t.Error("the connection is not TLS")
	}
	if _, err := nc.TLSConnectionState(); err != nil {
		t.Errorf("TLS state: %v", err)
	}
	roundTrip(t, nc)

	bad := o
	bad.Password = "wrong"
	_, err := Connect(bad)
	want := "connecting to NATS at " + url + ": the server refused user ward and its password: nats: Authorization Violation"
	if err == nil || err.Error() != want {
		t.Errorf("wrong password: %v\nwant: %s", err, want)
	}
	noCert := o
	noCert.CertFile, noCert.KeyFile = "", ""
	if _, err := Connect(noCert); err == nil {
		t.Error("connected without the client certificate the server requires")
	}
	noCA := o
	noCA.CAFile = ""
	if _, err := Connect(noCA); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a server certificate from an unknown CA: %v", err)
	}
}

// TestNKey: an nkey user authenticates with its seed file; another seed
// is refused.
func TestNKey(t *testing.T) {
	dir := t.TempDir()
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pubKey, err := user.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	seedFile := func(name string, kp nkeys.KeyPair) string {
		seed, err := kp.Seed()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, seed, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srv := testenv.NATSServer(t, fmt.Sprintf("authorization {\n  users = [ { nkey: %q } ]\n}\n", pubKey))
	roundTrip(t, connect(t, ConnOptions{URL: srv.URL, NKeySeedFile: seedFile("ward.nk", user)}))

	other, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	otherFile := seedFile("other.nk", other)
	_, err = Connect(ConnOptions{URL: srv.URL, NKeySeedFile: otherFile})
	if err == nil || !strings.Contains(err.Error(), "the server refused the nkey seed in "+otherFile+": nats: Authorization Violation") {
		t.Errorf("another nkey: %v", err)
	}
	if _, err := Connect(ConnOptions{URL: srv.URL}); err == nil || !strings.Contains(err.Error(), "refused no credentials") {
		t.Errorf("no credentials: %v", err)
	}
}

// TestToken: a token server.
func TestToken(t *testing.T) {
	srv := testenv.NATSServer(t, "authorization {\n  token: \"t0ken\"\n}\n")
	roundTrip(t, connect(t, ConnOptions{URL: srv.URL, Token: "t0ken"}))
	if _, err := Connect(ConnOptions{URL: srv.URL, Token: "nope"}); err == nil || !strings.Contains(err.Error(), "refused the token") {
		t.Errorf("wrong token: %v", err)
	}
}

func TestConnOptionsCheck(t *testing.T) {
	for _, tc := range []struct {
		o    ConnOptions
		want string
	}{
		{ConnOptions{}, "no NATS URL"},
		{ConnOptions{URL: "http://h:4222"}, `scheme "http", want nats:// or tls://`},
		{ConnOptions{URL: "nats://"}, "names no host"},
		{ConnOptions{URL: "nats://h", CertFile: "c.pem"}, "both its certificate and its key"},
		{ConnOptions{URL: "nats://h", Password: "p"}, "a NATS password needs a user"},
		{ConnOptions{URL: "nats://h", User: "u", Token: "t"}, "given 2 ways (user and password, token)"},
		{ConnOptions{URL: "nats://u:secret@h,tls://k"}, ""},
	} {
		err := tc.o.Check()
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.o, err, tc.want)
		}
	}
	o := ConnOptions{URL: "nats://u:secret@h:4222"}
	if r := o.redacted(); strings.Contains(r, "secret") {
		t.Errorf("redacted URL %q shows the password", r)
	}
}

func TestSubjectCovers(t *testing.T) {
	for _, tc := range []struct {
		p, q string
		want bool
	}{
		{"ward.events.>", "ward.events.>", true},
		{"ward.>", "ward.events.>", true},
		{"ward.events.*", "ward.events.>", false},
		{"ward.events.*", "ward.events.a", true},
		{"ward.events.>", "ward.events", false},
		{"other.>", "ward.events.>", false},
		{">", "a.b", true},
		{"a.b", "a.b", true},
		{"a.b", "a.b.c", false},
	} {
		if got := subjectCovers(tc.p, tc.q); got != tc.want {
			t.Errorf("subjectCovers(%q, %q) = %v", tc.p, tc.q, got)
		}
	}
}

func TestDedup(t *testing.T) {
	d := NewDedup(3)
	d.Add(1, 2, 3, 2)
	if !d.Seen(1) || !d.Seen(3) || d.Len() != 3 {
		t.Fatal("window of 3 lost an ID")
	}
	d.Add(4) // forgets 1
	if d.Seen(1) || !d.Seen(2) || !d.Seen(4) || d.Len() != 3 {
		t.Errorf("after a 4th ID: seen 1 %v, 2 %v, 4 %v, len %d", d.Seen(1), d.Seen(2), d.Seen(4), d.Len())
	}
}

func TestSubjectToken(t *testing.T) {
	for in, want := range map[string]string{"": "unknown", "node-1": "node-1", "a.b c*>": "a_b_c__", "ünï": "__n__"} {
		if got := token(in); got != want {
			t.Errorf("token(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPublisherRetries: the server goes away while a batch is being
// published and comes back; the publisher retries with backoff until
// every event is stored, once (a publication that reached the server
// before its acknowledgement was lost is a duplicate the server drops).
func TestPublisherRetries(t *testing.T) {
	srv := testenv.NATSServer(t, "")
	ctx := context.Background()
	nc := connect(t, ConnOptions{URL: srv.URL})
	pub, err := NewPublisher(ctx, nc, PublisherOptions{AckTimeout: 300 * time.Millisecond, Attempts: 30, Backoff: 50 * time.Millisecond, MaxBackoff: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	evs := synthetic(600, "h")
	deliver(t, pub, evs[:100])
	srv.Stop()
	done := make(chan error, 1)
	go func() {
		var err error
		for i := 100; i < len(evs) && err == nil; i += 100 {
			err = pub.Deliver(evs[i : i+100])
		}
		done <- err
	}()
	time.Sleep(1500 * time.Millisecond)
	srv.Start()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := pub.Stats()
	// An event whose first publication reached the server while its
	// acknowledgement timed out is acknowledged as a duplicate on retry.
	if st.Retries == 0 || st.Failed != 0 || st.Stored+st.Duplicates != uint64(len(evs)) {
		t.Errorf("stats %+v: want retries, every event stored or already there, none failed", st)
	}
	t.Logf("%+v", st)
	js, _ := jetstream.New(nc)
	s, err := js.Stream(ctx, DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != uint64(len(evs)) {
		t.Errorf("stream holds %d events, want %d", n, len(evs))
	}
}

// TestConsumerSurvivesServerRestart: a detector keeps consuming across a
// restart of the server (the client reconnects; the stream and the
// durable consumer are on disk).
func TestConsumerSurvivesServerRestart(t *testing.T) {
	srv := testenv.NATSServer(t, "")
	ctx := context.Background()
	nc := connect(t, ConnOptions{URL: srv.URL})
	pub, err := NewPublisher(ctx, nc, PublisherOptions{AckTimeout: 500 * time.Millisecond, Attempts: 30, MaxBackoff: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConsumer(ctx, connect(t, ConnOptions{URL: srv.URL}), ConsumerOptions{Durable: "d", MaxWait: 200 * time.Millisecond,
		AckWait: 2 * time.Second}) // a pull answered as the server died is delivered again after the ack wait
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	stop := run(c, &rec)
	evs := synthetic(400, "h")
	deliver(t, pub, evs[:200])
	eventually(t, 30*time.Second, "the first events consumed", func() bool { return rec.len() == 200 })
	srv.Stop()
	time.Sleep(500 * time.Millisecond)
	srv.Start()
	deliver(t, pub, evs[200:])
	eventually(t, 60*time.Second, "the events published after the restart consumed", func() bool { return rec.len() >= 400 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for _, e := range rec.events {
		if seen[e.ID] {
			t.Errorf("event %x delivered twice", e.ID)
		}
		seen[e.ID] = true
	}
	if len(seen) != len(evs) {
		t.Errorf("%d distinct events consumed, %d published", len(seen), len(evs))
	}
}

// TestCreds: a server in operator mode (accounts and users as signed
// JWTs) admits a user by its credentials file; a user of an account the
// server does not know is refused.
func TestCreds(t *testing.T) {
	dir := t.TempDir()
	mustKP := func(kp nkeys.KeyPair, err error) nkeys.KeyPair {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return kp
	}
	pubOf := func(kp nkeys.KeyPair) string {
		t.Helper()
		p, err := kp.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	encode := func(c interface {
		Encode(nkeys.KeyPair) (string, error)
	}, signer nkeys.KeyPair) string {
		t.Helper()
		s, err := c.Encode(signer)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	op := mustKP(nkeys.CreateOperator())
	oc := jwt.NewOperatorClaims(pubOf(op))
	oc.Name = "ward-test"
	account := func(name string, js bool) (nkeys.KeyPair, string) {
		kp := mustKP(nkeys.CreateAccount())
		ac := jwt.NewAccountClaims(pubOf(kp))
		ac.Name = name
		if js {
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
		}
		return kp, encode(ac, op)
	}
	sys, sysJWT := account("SYS", false)
	acc, accJWT := account("WARD", true)
	creds := func(name string, account nkeys.KeyPair) string {
		u := mustKP(nkeys.CreateUser())
		uc := jwt.NewUserClaims(pubOf(u))
		uc.Name = name
		uc.IssuerAccount = pubOf(account)
		seed, err := u.Seed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := jwt.FormatUserConfig(encode(uc, account), seed)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name+".creds")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srv := testenv.NATSServer(t, fmt.Sprintf("operator: %q\nsystem_account: %q\nresolver: MEMORY\nresolver_preload: {\n  %s: %q\n  %s: %q\n}\n",
		encode(oc, op), pubOf(sys), pubOf(sys), sysJWT, pubOf(acc), accJWT))
	roundTrip(t, connect(t, ConnOptions{URL: srv.URL, CredsFile: creds("detector", acc)}))

	stranger := mustKP(nkeys.CreateAccount()) // an account the server does not know
	bad := creds("stranger", stranger)
	if _, err := Connect(ConnOptions{URL: srv.URL, CredsFile: bad}); err == nil || !strings.Contains(err.Error(), "the server refused the credentials in "+bad) {
		t.Errorf("a user of an unknown account: %v", err)
	}
}
