package assertion

import (
	"errors"
	"strings"
	"testing"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/netpol"
)

func TestParseAudit(t *testing.T) {
	cfg, err := Parse("ward.yaml", []byte(`assertions: []
ignore:
  - rule: pss/*
    object: legacy/*
    reason: legacy apps move to restricted next quarter
  - rule: dockerfile/no-healthcheck
    path: build/
    reason: Kubernetes probes check health
audit:
  shellless: [registry.example.com/base/static]
  digest: low
  registries:
    trusted:
      - registry.example.com
      - ghcr.io/myorg
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Ignores) != 2 || cfg.Ignores[0].Line != 3 || cfg.Ignores[1].Path != "build/" || cfg.Ignores[0].File != "ward.yaml" {
		t.Errorf("Ignores = %+v", cfg.Ignores)
	}
	if len(cfg.Shellless) != 1 || cfg.DigestSeverity == nil || *cfg.DigestSeverity != finding.Low {
		t.Errorf("audit settings: %v %v", cfg.Shellless, cfg.DigestSeverity)
	}
	if strings.Join(cfg.TrustedRegistries, ",") != "registry.example.com,ghcr.io/myorg" {
		t.Errorf("TrustedRegistries = %v", cfg.TrustedRegistries)
	}
}

func TestParseAuditErrors(t *testing.T) {
	tests := []struct{ doc, want string }{
		{"ignore:\n  - rule: pss/*\n", "ward.yaml:2: ignore of pss/* needs a reason"},
		{"ignore:\n  - reason: why\n", "ward.yaml:2: ignore needs a rule"},
		{"ignore:\n  - rule: x\n    reason: y\n    pth: z\n", "ward.yaml:4: field pth not found"},
		{"ignore:\n  - rule: x\n    path: '[a'\n    reason: y\n", "ward.yaml:2: ignore of x: bad path pattern"},
		// An empty path or object silenced the rule everywhere.
		{"ignore:\n  - rule: \"*\"\n    path:\n    reason: vendored\n", "ward.yaml:3: ignore: path is empty; omit it to mean every file"},
		{"ignore:\n  - rule: \"*\"\n    reason: vendored\n    path: ~\n", "ward.yaml:4: ignore: path is empty"},
		{"ignore:\n  - {rule: \"pss/*\", object: \"\", reason: legacy}\n", "ward.yaml:2: ignore: object is empty; omit it to mean every object"},
		{"ignore:\n  - {rule: \"pss/*\", object: \" \", reason: legacy}\n", "ward.yaml:2: ignore: object is empty"},
		{"audit:\n  digest: severe\n", "ward.yaml:2: audit.digest: finding: unknown severity"},
		{"audit:\n  registries:\n    trusted:\n      - ghcr.io/ok\n      - myorg\n", "ward.yaml:5: audit.registries.trusted: \"myorg\": \"myorg\" is not a registry host"},
		{"audit:\n  registries:\n    trusted:\n      - {host: x}\n", "ward.yaml:4: audit.registries.trusted: want a registry host"},
		{"audit:\n  registries:\n    trusted: [ghcr.io/x:1.0]\n", "ward.yaml:3: audit.registries.trusted: \"ghcr.io/x:1.0\": a registry or repository prefix has no tag"},
		{"audit:\n  registries:\n    trustd: [ghcr.io]\n", "ward.yaml:3: field trustd not found"},
	}
	for _, tt := range tests {
		_, err := Parse("ward.yaml", []byte(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want error containing %q", tt.doc, err, tt.want)
		}
	}
}

// TestParseUnknownKeys: a misspelt key anywhere in an assertion is an
// error at its line, as in docs/ward-yaml.md: with "port:" for "ports:"
// the assertion would silently cover every port.
func TestParseUnknownKeys(t *testing.T) {
	const head = "assertions:\n  - name: a\n    expect: deny\n"
	tests := []struct{ doc, want string }{
		{head + "    from: {namespace: web}\n    to: {namespace: db}\n    port: [\"5432/TCP\"]\n", "ward.yaml:6: field port not found"},
		{head + "    from:\n      namespace: web\n      selectr: {app: web}\n    to: {namespace: db}\n", "ward.yaml:6: field selectr not found"},
		{head + "    from: {namespace: web}\n    to:\n      selector:\n        matchLabels: {app: db}\n        matchLabel: {tier: x}\n", "ward.yaml:8: field matchLabel not found"},
		{head + "    from: {namespace: web}\n    to:\n      selector:\n        matchExpressions:\n          - {key: app, operator: In, value: [db]}\n", "ward.yaml:8: field value not found"},
		{head + "    from: {namespace: web}\n    to: {namespace: db}\n---\nassertions: []\n", "ward.yaml:7: a second YAML document"},
		// Top-level keys are decoded by yaml, whose message named a Go
		// type ("not found in type assertion.rawConfig").
		{"asertions: []\n", "ward.yaml:1: field asertions not found (want assertions, ignore, audit)"},
		{"Assertions: []\n", "ward.yaml:1: field Assertions not found: did you mean assertions?"},
		{"audit:\n  shelless: [x]\n", "ward.yaml:2: field shelless not found (want shellless, digest, registries)"},
		{"apiVersion: v1\nkind: Pod\n", "ward.yaml:1: field apiVersion not found (want assertions, ignore, audit): this file holds Kubernetes objects"},
	}
	for _, tt := range tests {
		_, err := Parse("ward.yaml", []byte(tt.doc))
		var e *Error
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &e) {
			t.Errorf("Parse(%q) = %v, want an *Error containing %q", tt.doc, err, tt.want)
		}
	}
}

// TestTraceOnePolicy: "isolated by 1 policy", not "1 policies".
func TestTraceOnePolicy(t *testing.T) {
	x := &netpol.Explanation{
		Egress:  netpol.Side{Direction: "egress", Endpoint: "a/Pod/x", Isolated: true, Policies: []netpol.PolicyVerdict{{Policy: "a/p", File: "p.yaml", Line: 1}}},
		Ingress: netpol.Side{Direction: "ingress", Endpoint: "b/Pod/y", Isolated: true, Allows: true, Policies: []netpol.PolicyVerdict{{Policy: "b/p", File: "p.yaml", Line: 5}, {Policy: "b/q", File: "p.yaml", Line: 9}}},
	}
	got := strings.Join(Trace(x), "\n")
	for _, want := range []string{"egress of a/Pod/x blocks (isolated by 1 policy)", "ingress of b/Pod/y allows (isolated by 2 policies)"} {
		if !strings.Contains(got, want) {
			t.Errorf("trace:\n%s\nwant %q", got, want)
		}
	}
}

// TestParseTrailingSeparator: a `---` that ends ward.yaml, with nothing, a
// comment or a null after it, opens no second document (before: "a second
// YAML document", at a line past the end of a file without a final line
// break); a second document that holds something, or does not parse, is
// still an error at its line.
func TestParseTrailingSeparator(t *testing.T) {
	const doc = "assertions:\n  - {name: a, from: {namespace: web}, to: {namespace: db}, expect: deny}\n"
	for _, tail := range []string{"---\n", "---", "--- # end\n", "---\n# end\n", "---\n~\n", "---\n---\n"} {
		cfg, err := Parse("ward.yaml", []byte(doc+tail))
		if err != nil || len(cfg.Assertions) != 1 {
			t.Errorf("Parse(%q) = %v", doc+tail, err)
		}
	}
	for _, tc := range []struct{ tail, want string }{
		{"---\nassertions: []\n", "ward.yaml:4: a second YAML document"},
		{"---\n---\nignore: []\n", "ward.yaml:5: a second YAML document"},
		{"---\n[\n", "ward.yaml:"},
	} {
		_, err := Parse("ward.yaml", []byte(doc+tc.tail))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error %q...", doc+tc.tail, err, tc.want)
		}
	}
}
