package proxy

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const fullConfig = `listen: ":8443"
tls:
  profile: modern
  spiffe:
    svid: certs/web.pem
    key: certs/web-key.pem
    bundle: certs/bundle.pem
    allow: ["spiffe://example.org/ns/shop/**"]
upstream:
  url: http://127.0.0.1:8080
workload:
  namespace: shop
  labels: {app: web}
authorization:
  policies: [policies.yaml]
jwt:
  issuers:
    - issuer: https://id.example.com
      audiences: [shop]
      algorithms: [ES256]
      jwksFile: jwks.json
clientIP:
  trustedProxies: [10.0.0.0/8, 192.0.2.1]
allow: [10.0.0.0/8, "2001:db8::/32"]
deny: [10.9.0.0/16]
rateLimit: {rate: 100, burst: 200, key: "header:X-Api-Key"}
maxConcurrency: 500
limits: {maxBodyBytes: 1048576, maxURLBytes: 8192}
timeouts: {readHeader: 5s, idle: 2m}
admin: off
`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig("/etc/ward/proxy.yaml", []byte(fullConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS.Profile != "modern" || c.Workload.Labels["app"] != "web" || c.RateLimit.Key != "header:X-Api-Key" || time.Duration(c.Timeouts.Idle) != 2*time.Minute {
		t.Errorf("config %+v", c)
	}
	if got := c.Path(c.TLS.SPIFFE.SVID); got != "/etc/ward/certs/web.pem" {
		t.Errorf("relative path resolved to %s", got)
	}
	d, err := ParseConfig("p.yaml", []byte("upstream: {url: 'http://localhost:8080'}\n"))
	if err != nil || d.Listen != ":8443" || d.Admin != "127.0.0.1:9901" {
		t.Errorf("defaults: %+v, %v", d, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct{ doc, want string }{
		{"", "p.yaml: empty configuration"},
		{"upstream: {url: http://x}\nlisten: [\n", "p.yaml:2:"},
		{"upstream: {url: http://x}\nupstreams: {}\n", "p.yaml:2: field upstreams not found"},
		{"listen: ':1'\n", "p.yaml:1: upstream.url is required"},
		{"upstream:\n  url: ftp://x\n", "p.yaml:2: upstream.url \"ftp://x\" must be an http:// or https:// URL"},
		// A password is not repeated in the error, which reaches logs.
		{"upstream:\n  url: http://ward:s3cret@x\n", "p.yaml:2: upstream.url \"http://xxxxx@x\": scheme, host and port only"},
		// Nor a username (often a token) or a query value (a key).
		{"upstream:\n  url: https://TOKEN@x\n", "p.yaml:2: upstream.url \"https://xxxxx@x\": scheme, host and port only"},
		{"upstream:\n  url: https://x/?code=KEY&sig=SIG\n", "p.yaml:2: upstream.url \"https://x/?code=xxxxx&sig=xxxxx\": scheme, host and port only"},
		{"upstream: {url: http://x}\ntls:\n  profile: old\n  cert: a\n  key: b\n", "p.yaml:3: tls.profile \"old\""},
		{"upstream: {url: http://x}\ntls: {cert: a}\n", "p.yaml:2: tls needs cert and key, or spiffe"},
		{"upstream: {url: http://x}\nallow:\n  - 10.0.0.0/8\n  - 10.1.2.3/8\n", "p.yaml:4: allow[1]: \"10.1.2.3/8\" has host bits set"},
		{"upstream: {url: http://x}\ndeny: [bogus]\n", "p.yaml:2: deny[0]: \"bogus\" is not an address or CIDR"},
		// Trusting every address lets every client choose its own.
		{"upstream: {url: http://x}\nclientIP:\n  trustedProxies:\n    - 10.0.0.0/8\n    - 0.0.0.0/0\n", "p.yaml:5: clientIP.trustedProxies[1]: \"0.0.0.0/0\" trusts every address"},
		{"upstream: {url: http://x}\nclientIP: {trustedProxies: ['::/0']}\n", "p.yaml:2: clientIP.trustedProxies[0]: \"::/0\" trusts every address"},
		// The same in pieces, as VPN configurations write a default route.
		{"upstream: {url: http://x}\nclientIP:\n  trustedProxies: [10.0.0.0/8, 0.0.0.0/1, 128.0.0.0/1]\n", "p.yaml:3: clientIP.trustedProxies [10.0.0.0/8 0.0.0.0/1 128.0.0.0/1] together trust every IPv4 address"},
		{"upstream: {url: http://x}\nclientIP:\n  trustedProxies: ['8000::/1', '::/1']\n", "p.yaml:3: clientIP.trustedProxies [8000::/1 ::/1] together trust every IPv6 address"},
		{"upstream: {url: http://x}\njwt:\n  issuers:\n    - issuer: https://id\n      jwksURL: https://id/jwks\n", "p.yaml:4: jwt.issuers[0].algorithms is required"},
		// A token minted for another service must not pass here unless
		// the configuration says so.
		{"upstream: {url: http://x}\njwt:\n  issuers:\n    - issuer: https://id\n      algorithms: [ES256]\n      jwksURL: https://id/jwks\n", "p.yaml:4: jwt.issuers[0].audiences is required"},
		{"upstream: {url: http://x}\njwt:\n  issuers:\n    - issuer: https://id\n      audiences: [a]\n      anyAudience: true\n      algorithms: [ES256]\n      jwksURL: https://id/jwks\n", "p.yaml:4: jwt.issuers[0] sets both audiences and anyAudience"},
		{"upstream: {url: http://x}\nrateLimit:\n  rate: 10\n  burst: 10\n  key: cookie\n", "p.yaml:5: rateLimit.key \"cookie\""},
		{"upstream: {url: http://x}\nauthorization: {policies: [a.yaml]}\n", "p.yaml:1: workload.namespace is required"},
		{"upstream: {url: http://x}\ntimeouts: {read: soon}\n", "p.yaml:2:"},
		{"upstream: {url: http://x}\ntls:\n  spiffe: {svid: a, key: b, bundle: c}\n", "p.yaml:3: tls.spiffe.allow lists no SPIFFE ID"},
		{"upstream: {url: http://x}\ntls:\n  spiffe: {svid: a, socket: unix:///s, allow: [x]}\n", "p.yaml:3: tls.spiffe takes a Workload API socket or svid"},
		{"upstream: {url: http://x}\nwaf:\n  paths: [api]\n", "p.yaml:3: waf.paths[0] \"api\" must start with /"},
		{"upstream: {url: http://x}\nwaf: {mode: log}\n", "p.yaml:2: waf.mode \"log\""},
		// A second document is never read: refused, not ignored (it
		// could hold the authorization the operator meant).
		{"upstream: {url: http://x}\n---\nauthorization: {policies: [a.yaml]}\n", "p.yaml:3: a second YAML document"},
		{"upstream: {url: http://x}\n---\n", "p.yaml:3: a second YAML document"},
		{"upstream: {url: http://x}\nlimits: {maxBodyBytes: -1}\n", "p.yaml:2: limits.maxBodyBytes must not be negative"},
		{"upstream: {url: http://x}\nlimits:\n  maxURLBytes: -5\n", "p.yaml:3: limits.maxURLBytes must not be negative"},
		{"upstream:\n  url: http://x\n  maxResponseHeaderBytes: -1\n", "p.yaml:3: upstream.maxResponseHeaderBytes must not be negative"},
		{"upstream: {url: http://x}\nroutes:\n  - name: a\n    match: {prefix: /}\n    upstream: {url: http://y, maxResponseHeaderBytes: -1}\n", "p.yaml:5: routes[0].upstream.maxResponseHeaderBytes must not be negative"},
	}
	for _, tt := range tests {
		_, err := ParseConfig("p.yaml", []byte(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseConfig(%q) = %v, want an error containing %q", tt.doc, err, tt.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(fullConfig))
	f.Add([]byte("upstream: {url: http://x}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("fuzz.yaml", data)
		if err == nil && c.Upstream.URL == "" {
			t.Fatal("accepted a configuration without upstream")
		}
	})
}

// TestExampleConfigs: every configuration under examples/proxy parses.
func TestExampleConfigs(t *testing.T) {
	files, err := filepath.Glob("../examples/proxy/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configurations: %v", err)
	}
	for _, f := range files {
		if filepath.Base(f) == "policies.yaml" {
			continue
		}
		if _, err := LoadConfig(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
