// Command proxyload measures `ward proxy` against a bare
// httputil.ReverseProxy with the same TLS, in the same run: requests per
// second and median latency through each, in interleaved rounds, and TLS
// handshakes per second with ECDSA P-256.
//
// The servers (a ~100-byte upstream, the bare proxy and ward's proxy with
// every check and the audit log on) run in this process; the load comes
// from a child process (proxyload -generate), so that with taskset the two
// can be pinned to different cores, as bench/proxy does.
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardsec/ward/guard/harden"
	"github.com/wardsec/ward/guard/tlsconf"
	"github.com/wardsec/ward/proxy"
)

func main() {
	gen := flag.Bool("generate", false, "be the load generator (used by the parent): read \"URL DURATION\" lines on stdin, answer each with a result")
	conns := flag.Int("c", 32, "connections")
	dur := flag.Duration("d", 3*time.Second, "duration of each measurement")
	rounds := flag.Int("rounds", 5, "interleaved rounds (pairs of measurements, the order alternating)")
	token := flag.String("token", "", "with -generate: bearer token")
	caFile := flag.String("ca", "", "with -generate: CA certificate")
	pin := flag.String("pin", "", "run the generator under `taskset -c CPUS`")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the servers during ward's first round to `PATH` (and of the bare proxy's to PATH.bare)")
	bareTimeouts := flag.Bool("bare-timeouts", false, "give the bare proxy's server ward's read, write and idle timeouts (harden.DefaultTimeouts) besides the read-header timeout both have")
	together := flag.Bool("together", false, "run the two proxies at once, each in its own process on the same core, under the same load, and compare their CPU time per request: the machine's drift hits both alike")
	serveKind := flag.String("server", "", "be one server (bare or ward) of -together, with the files in -dir (used by the parent)")
	serveDir := flag.String("dir", "", "with -server: the run's directory")
	leaveOut := flag.String("without", "", "comma-separated checks to leave out of ward's configuration: authz, jwt, allow, ratelimit, audit")
	flag.Parse()
	if *gen {
		if err := generate(*caFile, *token, *conns); err != nil {
			fmt.Fprintln(os.Stderr, "proxyload:", err)
			os.Exit(1)
		}
		return
	}
	profile = *cpuprofile
	hardenedBare = *bareTimeouts
	for _, w := range strings.Split(*leaveOut, ",") {
		if w != "" {
			without[w] = true
		}
	}
	if *serveKind != "" {
		if err := serveOne(*serveKind, *serveDir); err != nil {
			fmt.Fprintln(os.Stderr, "proxyload:", err)
			os.Exit(1)
		}
		return
	}
	runf := run
	if *together {
		runf = runTogether
	}
	if err := runf(*conns, *dur, *rounds, *pin); err != nil {
		fmt.Fprintln(os.Stderr, "proxyload:", err)
		os.Exit(1)
	}
}

var (
	profile string
	// without lists configuration sections left out (-without), to see
	// what each check costs.
	without = map[string]bool{}
	// hardenedBare gives the bare proxy's server ward's timeouts.
	hardenedBare bool
)

func proxyConfig(upURL string) string {
	parts := []string{
		"tls: {cert: tls.crt, key: tls.key}",
		fmt.Sprintf("upstream: {url: %q}", upURL),
		"workload: {namespace: foo, labels: {app: api}}",
		"admin: \"off\"",
	}
	for _, p := range []struct{ name, yaml string }{
		{"authz", "authorization: {policies: [policies.yaml]}"},
		{"jwt", `jwt: {issuers: [{issuer: "https://id.example.com", audiences: [api], algorithms: [ES256], jwksFile: jwks.json}]}`},
		{"allow", "allow: [127.0.0.0/8, 10.0.0.0/8]"},
		{"ratelimit", "rateLimit: {rate: 1000000, burst: 1000000, key: ip}"},
	} {
		if !without[p.name] {
			parts = append(parts, p.yaml)
		}
	}
	return strings.Join(parts, "\n") + "\n"
}

type result struct {
	RPS float64       `json:"rps"`
	P50 time.Duration `json:"p50"`
	P99 time.Duration `json:"p99"`
	// CPU is the servers' process CPU time (user + system) per request
	// during the round, measured by the parent: on a shared machine it
	// moves less than throughput, which depends on the CPU time the
	// scheduler grants.
	CPU time.Duration `json:"-"`
	Sys time.Duration `json:"-"` // the system part of CPU
	N   int           `json:"n"`
}

// generate answers each line "DURATION URL..." on stdin by loading each
// URL at once with conns keep-alive connections for DURATION, and writes
// their results as a JSON array on a line. Each URL keeps its connections from one measurement to the
// next, so that measurements are short and can be interleaved finely:
// this machine's speed drifts within seconds, and both proxies must see
// the same drift.
func generate(caFile, token string, conns int) error {
	pem, err := os.ReadFile(caFile) // #nosec G304 -- the parent's own file
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	clients := map[string][]*http.Client{}
	in := bufio.NewScanner(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) < 2 {
			return fmt.Errorf("bad command %q: want a duration, then URLs", in.Text())
		}
		d, err := time.ParseDuration(f[0])
		if err != nil {
			return fmt.Errorf("bad command %q: %w", in.Text(), err)
		}
		rs := make([]result, len(f)-1)
		errs := make([]error, len(f)-1)
		var wg sync.WaitGroup
		for i, target := range f[1:] {
			cs := clients[target]
			if cs == nil {
				for range conns {
					cs = append(cs, &http.Client{Transport: &http.Transport{
						TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12},
						MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1,
					}})
				}
				clients[target] = cs
			}
			wg.Go(func() { rs[i], errs[i] = loadOnce(cs, target, token, d) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if err := out.Encode(rs); err != nil {
			return err
		}
	}
	return in.Err()
}

// loadOnce loads target through each of clients, one request at a time
// each, for d.
func loadOnce(clients []*http.Client, target, token string, d time.Duration) (result, error) {
	var mu sync.Mutex
	var lat []time.Duration
	total := 0
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	var firstErr error
	for _, c := range clients {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", target, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				t0 := time.Now()
				resp, err := c.Do(req)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != 200 {
					mu.Lock()
					firstErr = fmt.Errorf("status %d", resp.StatusCode)
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			total += len(mine)
			mu.Unlock()
		})
	}
	wg.Wait()
	if firstErr != nil {
		return result{}, firstErr
	}
	slices.Sort(lat)
	r := result{RPS: float64(total) / d.Seconds(), N: total}
	if len(lat) > 0 {
		r.P50 = lat[len(lat)/2]
		r.P99 = lat[len(lat)*99/100]
	}
	return r, nil
}

// policiesYAML are the five policies of ward's configuration.
const policiesYAML = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: foo}
spec: {action: DENY, rules: [{to: [{operation: {paths: ["/admin*", "/debug/*"]}}]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-internal, namespace: foo}
spec: {action: DENY, rules: [{from: [{source: {notRemoteIpBlocks: ["127.0.0.0/8"]}}], to: [{operation: {paths: ["/internal/*"]}}]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: probes, namespace: foo}
spec: {rules: [{to: [{operation: {methods: ["GET"], paths: ["/healthz"]}}]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ops, namespace: foo}
spec: {rules: [{to: [{operation: {paths: ["/metrics"]}}], when: [{key: "request.headers[X-Team]", values: ["ops-*"]}]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: users, namespace: foo}
spec:
  rules:
  - from: [{source: {requestPrincipals: ["https://id.example.com/*"]}}]
    to: [{operation: {methods: ["GET"], paths: ["/api/*"]}}]
    when: [{key: "request.auth.claims[groups]", values: ["users"]}]
`

// setup writes the run's files into dir (the TLS key pair, the JWKS and
// the policies) and returns the token the load sends and the certificate.
func setup(dir string) (token string, certPEM []byte, err error) {
	_, certPEM, keyPEM, err := tlsconf.NewSelfSigned("localhost")
	if err != nil {
		return "", nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", nil, err
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		return "", nil, err
	}
	token, err = josejwt.Signed(signer).Claims(map[string]any{"iss": "https://id.example.com", "sub": "load", "aud": "api",
		"groups": []string{"users"}, "exp": time.Now().Add(time.Hour).Unix()}).Serialize()
	if err != nil {
		return "", nil, err
	}
	for name, data := range map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM, "jwks.json": jwks, "policies.yaml": []byte(policiesYAML)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return "", nil, err
		}
	}
	return token, certPEM, nil
}

// startUpstream starts the upstream, a fixed ~100-byte body, and returns
// its URL.
func startUpstream() (string, error) {
	body := []byte(strings.Repeat("x", 100))
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = up.Serve(upLn) }()
	return "http://" + upLn.Addr().String(), nil
}

// startBare starts the bare reverse proxy to upURL, with the same TLS,
// and returns its address.
func startBare(dir, upURL string) (string, error) {
	target, _ := url.Parse(upURL)
	kp, err := tlsconf.LoadKeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		return "", err
	}
	// The same BufferPool and transport settings as ward's
	// (proxy.buildUpstream), so that the ratio measures the checks and not
	// the tuning.
	bare := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		BufferPool: bufferPool{},
		Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 15 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
	}
	bareLn, err := tls.Listen("tcp", "127.0.0.1:0", tlsconf.Server(tlsconf.Intermediate, kp.GetCertificate))
	if err != nil {
		return "", err
	}
	bareSrv := &http.Server{Handler: bare, ReadHeaderTimeout: 5 * time.Second}
	if hardenedBare {
		bareSrv = harden.Server("", bare, harden.Timeouts{}, nil)
	}
	go func() { _ = bareSrv.Serve(bareLn) }()
	return bareLn.Addr().String(), nil
}

// startWard starts ward's proxy to upURL with every check (allowlist, JWT
// cached, five policies, rate limit, the audit log written to a file)
// until ctx ends, and returns its address.
func startWard(ctx context.Context, dir, upURL string) (string, error) {
	if err := os.WriteFile(filepath.Join(dir, "proxy.yaml"), []byte(proxyConfig(upURL)), 0o600); err != nil {
		return "", err
	}
	auditFile, err := os.Create(filepath.Join(dir, "audit.log")) // #nosec G304 -- in this run's own temporary directory
	if err != nil {
		return "", err
	}
	var auditOut io.Writer = auditFile
	if without["audit"] {
		auditOut = io.Discard
	}
	srv, err := proxy.NewServer(filepath.Join(dir, "proxy.yaml"), slog.New(slog.DiscardHandler), auditOut)
	if err != nil {
		_ = auditFile.Close()
		return "", err
	}
	wardLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = auditFile.Close()
		return "", err
	}
	go func() {
		_ = srv.Serve(ctx, wardLn, nil, time.Second)
		_ = auditFile.Close()
	}()
	return wardLn.Addr().String(), nil
}

func run(conns int, dur time.Duration, rounds int, pin string) error {
	dir, err := os.MkdirTemp("", "proxyload")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	token, certPEM, err := setup(dir)
	if err != nil {
		return err
	}
	upURL, err := startUpstream()
	if err != nil {
		return err
	}
	bareAddr, err := startBare(dir, upURL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wardAddr, err := startWard(ctx, dir, upURL)
	if err != nil {
		return err
	}

	// One generator for the whole run, fed a measurement at a time.
	gen, err := startGenerator(dir, token, conns, pin)
	if err != nil {
		return err
	}
	defer gen.stop()
	measure := func(u string, d time.Duration) (result, error) {
		cpu0, sys0 := cpuTime()
		rs, err := gen.load(d, u)
		if err != nil {
			return result{}, err
		}
		cpu1, sys1 := cpuTime()
		r := rs[0]
		if r.N > 0 {
			r.CPU = (cpu1 - cpu0) / time.Duration(r.N)
			r.Sys = (sys1 - sys0) / time.Duration(r.N)
		}
		return r, nil
	}
	load := func(u string) (result, error) { return measure(u, dur) }
	bareURL := "https://" + bareAddr + "/api/items"
	wardURL := "https://" + wardAddr + "/api/items"
	var ratios, cpuRatios []float64
	var bareRes, wardRes []result
	// Warm-up: connections and handshakes, not measured.
	for _, u := range []string{bareURL, wardURL} {
		if _, err := measure(u, 300*time.Millisecond); err != nil {
			return err
		}
	}
	for i := range rounds {
		var b, w result
		bareRound := func() error {
			return profiled(i == 0, profile+".bare", func() (err error) { b, err = load(bareURL); return err })
		}
		wardRound := func() error {
			return profiled(i == 0, profile, func() (err error) { w, err = load(wardURL); return err })
		}
		// The order alternates, so that a drift of the machine's speed
		// within a round favours neither.
		first, second := bareRound, wardRound
		if i%2 == 1 {
			first, second = wardRound, bareRound
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
		bareRes, wardRes = append(bareRes, b), append(wardRes, w)
		ratios = append(ratios, w.RPS/b.RPS)
		cpuRatios = append(cpuRatios, float64(b.CPU)/float64(w.CPU))
		fmt.Printf("round %d: bare %.0f req/s p50 %v p99 %v cpu %v/req (sys %v) | ward %.0f req/s p50 %v p99 %v cpu %v/req (sys %v) | ward/bare %.2f (by CPU time %.2f)\n",
			i+1, b.RPS, b.P50, b.P99, b.CPU.Round(100*time.Nanosecond), b.Sys.Round(100*time.Nanosecond),
			w.RPS, w.P50, w.P99, w.CPU.Round(100*time.Nanosecond), w.Sys.Round(100*time.Nanosecond), w.RPS/b.RPS, float64(b.CPU)/float64(w.CPU))
	}
	med := func(xs []float64) float64 { s := slices.Clone(xs); sort.Float64s(s); return s[len(s)/2] }
	medDur := func(rs []result, p99 bool) time.Duration {
		var ds []time.Duration
		for _, r := range rs {
			if p99 {
				ds = append(ds, r.P99)
			} else {
				ds = append(ds, r.P50)
			}
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	sorted := slices.Clone(ratios)
	sort.Float64s(sorted)
	fmt.Printf("median of %d rounds, %d connections, %v each: ward/bare throughput %.2f (spread %.2f-%.2f); p50 bare %v, ward %v; p99 bare %v, ward %v (%.2fx)\n",
		rounds, conns, dur, med(ratios), sorted[0], sorted[len(sorted)-1], medDur(bareRes, false), medDur(wardRes, false),
		medDur(bareRes, true), medDur(wardRes, true), float64(medDur(wardRes, true))/float64(medDur(bareRes, true)))
	sortedCPU := slices.Clone(cpuRatios)
	sort.Float64s(sortedCPU)
	fmt.Printf("servers' CPU time per request, bare/ward: median %.2f (spread %.2f-%.2f)\n", med(cpuRatios), sortedCPU[0], sortedCPU[len(sortedCPU)-1])

	// TLS handshakes per second with ECDSA P-256 against ward's listener.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	n, start := 0, time.Now()
	for time.Since(start) < 2*time.Second {
		c, err := tls.Dial("tcp", wardAddr, &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS13})
		if err != nil {
			return err
		}
		_ = c.Close()
		n++
	}
	fmt.Printf("TLS 1.3 handshakes, ECDSA P-256, one client at a time: %.0f per second (client and server in one process)\n", float64(n)/time.Since(start).Seconds())
	return nil
}

// cpuTime is this process's CPU time so far (user and system), and its
// system part.
func cpuTime() (cpu, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Stime.Nano())
}

// profiled runs f, under a CPU profile written to path when on and
// -cpuprofile was given.
func profiled(on bool, path string, f func() error) error {
	if !on || profile == "" {
		return f()
	}
	out, err := os.Create(path) // #nosec G304 -- the path the user asked for
	if err != nil {
		return err
	}
	defer out.Close()
	if err := pprof.StartCPUProfile(out); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	return f()
}

// bufferPool is ward's httputil.BufferPool of 32 KiB buffers.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte { return *buffers.Get().(*[]byte) }

func (bufferPool) Put(b []byte) {
	if cap(b) == 32<<10 {
		b = b[:cap(b)]
		buffers.Put(&b)
	}
}

// serveOne is one server of -together: the upstream and the proxy of kind
// (bare or ward) in this process. It writes the proxy's address on a line,
// then answers each line "cpu" on stdin with this process's CPU time so
// far in nanoseconds, until stdin closes.
func serveOne(kind, dir string) error {
	upURL, err := startUpstream()
	if err != nil {
		return err
	}
	var addr string
	switch kind {
	case "bare":
		addr, err = startBare(dir, upURL)
	case "ward":
		addr, err = startWard(context.Background(), dir, upURL)
	default:
		err = fmt.Errorf("-server %q: want bare or ward", kind)
	}
	if err != nil {
		return err
	}
	fmt.Println(addr)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cpu, _ := cpuTime()
		fmt.Println(int64(cpu))
	}
	return in.Err()
}

// proc is a child process of this program that answers a line on its
// standard input with a line on its standard output: a server of
// -together, or the load generator.
type proc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// startProc starts this program with args, under taskset -c pin when pin
// is set.
func startProc(pin string, args ...string) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...) // #nosec G204 -- this program itself
	if pin != "" {
		cmd = exec.Command("taskset", append([]string{"-c", pin, self}, args...)...) // #nosec G204 -- this program itself
	}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &proc{cmd: cmd, in: in, out: bufio.NewScanner(out)}, nil
}

// line reads the process's next line.
func (p *proc) line() (string, error) {
	if !p.out.Scan() {
		return "", fmt.Errorf("%s stopped: %v", filepath.Base(p.cmd.Path), p.out.Err())
	}
	return p.out.Text(), nil
}

// ask writes a line and reads the answer.
func (p *proc) ask(line string) (string, error) {
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		return "", err
	}
	return p.line()
}

func (p *proc) stop() { _ = p.in.Close(); _ = p.cmd.Wait() }

// startServer starts a server of -together (kind bare or ward) and
// returns it with its address.
func startServer(kind, dir string) (*proc, string, error) {
	args := []string{"-server", kind, "-dir", dir}
	if len(without) > 0 {
		args = append(args, "-without", strings.Join(slices.Sorted(maps.Keys(without)), ","))
	}
	if hardenedBare {
		args = append(args, "-bare-timeouts")
	}
	p, err := startProc("", args...)
	if err != nil {
		return nil, "", err
	}
	addr, err := p.line()
	if err != nil {
		p.stop()
		return nil, "", fmt.Errorf("%s server did not start: %w", kind, err)
	}
	return p, addr, nil
}

// cpu is a server's CPU time so far.
func cpu(p *proc) (time.Duration, error) {
	a, err := p.ask("cpu")
	if err != nil {
		return 0, err
	}
	var ns int64
	_, err = fmt.Sscan(a, &ns)
	return time.Duration(ns), err
}

// generator is the load generator (-generate).
type generator struct{ *proc }

func startGenerator(dir, token string, conns int, pin string) (generator, error) {
	p, err := startProc(pin, "-generate", "-ca", filepath.Join(dir, "tls.crt"), "-token", token, "-c", fmt.Sprint(conns))
	return generator{p}, err
}

// load loads each of urls at once for d and returns their results.
func (g generator) load(d time.Duration, urls ...string) ([]result, error) {
	a, err := g.ask(d.String() + " " + strings.Join(urls, " "))
	if err != nil {
		return nil, fmt.Errorf("generator: %w", err)
	}
	var rs []result
	if err := json.Unmarshal([]byte(a), &rs); err != nil || len(rs) != len(urls) {
		return nil, fmt.Errorf("generator: %q: %v", a, err)
	}
	return rs, nil
}

// runTogether runs the bare proxy and ward's, each with its own upstream
// in its own process (both on this process's CPUs: run it under taskset
// with GOMAXPROCS=1, as the single-process mode), loads both at once from
// one generator, and compares their CPU time per request, round by
// round. Throughput is not compared here (the two share the core); the
// CPU time per request is what sets the throughput of a proxy alone on a
// core, measured under the same conditions for both at every instant.
func runTogether(conns int, dur time.Duration, rounds int, pin string) error {
	dir, err := os.MkdirTemp("", "proxyload")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	token, _, err := setup(dir)
	if err != nil {
		return err
	}
	bare, bareAddr, err := startServer("bare", dir)
	if err != nil {
		return err
	}
	defer bare.stop()
	ward, wardAddr, err := startServer("ward", dir)
	if err != nil {
		return err
	}
	defer ward.stop()
	gen, err := startGenerator(dir, token, conns, pin)
	if err != nil {
		return err
	}
	defer gen.stop()
	bareURL, wardURL := "https://"+bareAddr+"/api/items", "https://"+wardAddr+"/api/items"
	round := func(d time.Duration) (b, w result, err error) {
		b0, err := cpu(bare)
		if err != nil {
			return b, w, err
		}
		w0, err := cpu(ward)
		if err != nil {
			return b, w, err
		}
		rs, err := gen.load(d, bareURL, wardURL)
		if err != nil {
			return b, w, err
		}
		b1, err := cpu(bare)
		if err != nil {
			return b, w, err
		}
		w1, err := cpu(ward)
		if err != nil {
			return b, w, err
		}
		b, w = rs[0], rs[1]
		if b.N == 0 || w.N == 0 {
			return b, w, errors.New("no request served")
		}
		b.CPU, w.CPU = (b1-b0)/time.Duration(b.N), (w1-w0)/time.Duration(w.N)
		return b, w, nil
	}
	if _, _, err := round(300 * time.Millisecond); err != nil { // warm-up
		return err
	}
	var ratios []float64
	for i := range rounds {
		b, w, err := round(dur)
		if err != nil {
			return err
		}
		r := float64(b.CPU) / float64(w.CPU)
		ratios = append(ratios, r)
		fmt.Printf("round %d: bare %d req, cpu %v/req, p99 %v | ward %d req, cpu %v/req, p99 %v | bare/ward CPU per request %.2f\n",
			i+1, b.N, b.CPU.Round(100*time.Nanosecond), b.P99, w.N, w.CPU.Round(100*time.Nanosecond), w.P99, r)
	}
	sorted := slices.Clone(ratios)
	sort.Float64s(sorted)
	fmt.Printf("together, %d rounds of %v, %d connections to each: CPU time per request bare/ward median %.2f (spread %.2f-%.2f)\n",
		rounds, dur, conns, sorted[len(sorted)/2], sorted[0], sorted[len(sorted)-1])
	return nil
}
