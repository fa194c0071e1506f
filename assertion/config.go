package assertion

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/internal/registry"
	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/portset"
	"github.com/wardsec/ward/srcpos"
	"github.com/wardsec/ward/suppress"
)

// Config is a parsed ward.yaml: reachability assertions, and the audit's
// settings and ignores (docs/ward-yaml.md).
type Config struct {
	File       string
	Assertions []*Assertion
	// Ignores silence reviewed findings, each with a reason.
	Ignores []suppress.Ignore
	// Shellless lists extra base images (repository, no tag) that the
	// Dockerfile audit accepts as final images without a shell.
	Shellless []string
	// DigestSeverity is the severity of findings about images not pinned
	// by digest; nil means the default (info).
	DigestSeverity *finding.Severity
	// TrustedRegistries are audit.registries.trusted: registry hosts and
	// repository prefixes images may come from. Empty: the untrusted-
	// registry rules do not run. Every entry has been validated.
	TrustedRegistries []string
}

// Assertion is one expectation.
type Assertion struct {
	Name   string
	From   Selector
	To     Selector
	Ports  portset.Set // empty: any port
	Expect Expect
	Line   int
}

// Expect is what an assertion requires.
type Expect string

// The expectations.
const (
	Allow Expect = "allow"
	Deny  Expect = "deny"
)

// Selector picks one side of an assertion: workloads by namespace and/or
// label selector, or external addresses by CIDR.
type Selector struct {
	Namespace string
	Labels    labels.Selector // nil: any labels
	CIDR      netip.Prefix    // valid: external addresses in this range
	text      string
}

func (s Selector) String() string { return s.text }

// Error is an invalid ward.yaml, with the line of the offending node:
// srcpos.Error, the one position error of every Ward loader.
type Error = srcpos.Error

// ReadFile reads and parses a ward.yaml of at most maxSize bytes (0 means
// manifest.DefaultMaxFileSize).
func ReadFile(path string, maxSize int64) (*Config, error) {
	data, err := manifest.ReadFile(path, maxSize)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	return Parse(path, data)
}

type rawSide struct {
	Namespace string    `yaml:"namespace"`
	Selector  yaml.Node `yaml:"selector"`
	CIDR      string    `yaml:"cidr"`
}

type rawAssertion struct {
	Name   string    `yaml:"name"`
	From   *rawSide  `yaml:"from"`
	To     *rawSide  `yaml:"to"`
	Ports  yaml.Node `yaml:"ports"`
	Expect string    `yaml:"expect"`
}

type rawConfig struct {
	Assertions []yaml.Node `yaml:"assertions"`
	Ignore     []yaml.Node `yaml:"ignore"`
	Audit      rawAudit    `yaml:"audit"`
}

// rawAudit and rawRegistries are named, not anonymous, so that an unknown
// key's message can list the keys taken there (unknownField).
type rawAudit struct {
	Shellless  []string      `yaml:"shellless"`
	Digest     yaml.Node     `yaml:"digest"`
	Registries rawRegistries `yaml:"registries"`
}

type rawRegistries struct {
	Trusted []yaml.Node `yaml:"trusted"`
}

type rawIgnore struct {
	Rule   string `yaml:"rule"`
	Path   string `yaml:"path"`
	Object string `yaml:"object"`
	Reason string `yaml:"reason"`
}

// Parse parses ward.yaml content; name is used in errors.
func Parse(name string, data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var raw rawConfig
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(name, err)
	}
	switch line, err := srcpos.NextDocument(dec); {
	case err != nil:
		return nil, yamlError(name, err)
	case line > 0:
		return nil, &Error{File: name, Line: line, Err: errors.New("a second YAML document: ward.yaml holds one")}
	}
	cfg := &Config{File: name}
	names := map[string]int{}
	for i := range raw.Assertions {
		n := &raw.Assertions[i]
		a, err := parseAssertion(name, n)
		if err != nil {
			return nil, err
		}
		if prev, ok := names[a.Name]; ok {
			return nil, &Error{File: name, Line: n.Line, Err: fmt.Errorf("assertion name %q already used on line %d", a.Name, prev)}
		}
		names[a.Name] = n.Line
		cfg.Assertions = append(cfg.Assertions, a)
	}
	for i := range raw.Ignore {
		n := &raw.Ignore[i]
		if err := knownKeys(name, n, "rule", "path", "object", "reason"); err != nil {
			return nil, err
		}
		// A path or object written empty (path:, path: ~, object: "")
		// decoded as one not given, which silences the rule everywhere:
		// a value lost to a typo must not widen the entry.
		for k := 0; k+1 < len(n.Content); k += 2 {
			key, v := n.Content[k], n.Content[k+1]
			if (key.Value == "path" || key.Value == "object") &&
				(v.ShortTag() == "!!null" || (v.Kind == yaml.ScalarNode && strings.TrimSpace(v.Value) == "")) {
				return nil, &Error{File: name, Line: key.Line, Err: fmt.Errorf("ignore: %s is empty; omit it to mean every %s", key.Value, map[string]string{"path": "file", "object": "object"}[key.Value])}
			}
		}
		var r rawIgnore
		if err := n.Decode(&r); err != nil {
			return nil, yamlError(name, err)
		}
		ig := suppress.Ignore{Rule: r.Rule, Path: r.Path, Object: r.Object, Reason: r.Reason, File: name, Line: n.Line}
		if err := ig.Validate(); err != nil {
			return nil, &Error{File: name, Line: n.Line, Err: err}
		}
		cfg.Ignores = append(cfg.Ignores, ig)
	}
	cfg.Shellless = raw.Audit.Shellless
	if d := &raw.Audit.Digest; d.Kind != 0 {
		sev, err := finding.ParseSeverity(d.Value)
		if err != nil {
			return nil, &Error{File: name, Line: d.Line, Err: fmt.Errorf("audit.digest: %w", err)}
		}
		cfg.DigestSeverity = &sev
	}
	for i := range raw.Audit.Registries.Trusted {
		n := &raw.Audit.Registries.Trusted[i]
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			return nil, &Error{File: name, Line: n.Line, Err: errors.New("audit.registries.trusted: want a registry host or repository prefix, such as ghcr.io/myorg")}
		}
		if _, err := registry.Parse([]string{n.Value}); err != nil {
			return nil, &Error{File: name, Line: n.Line, Err: fmt.Errorf("audit.registries.trusted: %q: %w", n.Value, errors.Unwrap(err))}
		}
		cfg.TrustedRegistries = append(cfg.TrustedRegistries, n.Value)
	}
	return cfg, nil
}

// unknownField rewrites yaml's "field x not found in type
// assertion.rawConfig", which names a Go type, as the keys ward.yaml takes
// there; a top-level apiVersion or kind says the file holds Kubernetes
// objects, given where ward.yaml's settings are read.
func unknownField(msg string) string {
	out := srcpos.UnknownField(msg, reflect.TypeFor[rawConfig]())
	if out != msg && (strings.HasPrefix(msg, "field apiVersion not found in type assertion.rawConfig") ||
		strings.HasPrefix(msg, "field kind not found in type assertion.rawConfig")) {
		out += ": this file holds Kubernetes objects, not ward.yaml's assertions and settings (docs/ward-yaml.md)"
	}
	return out
}

// knownKeys rejects keys of mapping n other than keys (yaml.Node.Decode
// does not apply the decoder's KnownFields).
func knownKeys(file string, n *yaml.Node, keys ...string) error {
	if n.Kind != yaml.MappingNode {
		return &Error{File: file, Line: n.Line, Err: errors.New("want a mapping with " + strings.Join(keys, ", "))}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(keys, k.Value) {
			return &Error{File: file, Line: k.Line, Err: fmt.Errorf("field %s not found (want %s)", k.Value, strings.Join(keys, ", "))}
		}
	}
	return nil
}

func yamlError(name string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0]
		line := 0
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			if i := strings.IndexByte(rest, ':'); i > 0 {
				_, _ = fmt.Sscanf(rest[:i], "%d", &line)
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
		return &Error{File: name, Line: line, Err: errors.New(unknownField(msg))}
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			_, _ = fmt.Sscanf(rest[:i], "%d", &line)
			msg = strings.TrimSpace(rest[i+1:])
		}
	}
	return &Error{File: name, Line: line, Err: errors.New(msg)}
}

func parseAssertion(file string, n *yaml.Node) (*Assertion, error) {
	// yaml.Node.Decode does not reject unknown keys: with "port:" for
	// "ports:" an assertion would cover every port.
	if err := knownKeys(file, n, "name", "from", "to", "ports", "expect"); err != nil {
		return nil, err
	}
	for _, side := range []string{"from", "to"} {
		if err := sideKeys(file, child(n, side)); err != nil {
			return nil, err
		}
	}
	var r rawAssertion
	if err := n.Decode(&r); err != nil {
		return nil, yamlError(file, err)
	}
	a := &Assertion{Name: r.Name, Line: n.Line}
	if a.Name == "" {
		return nil, &Error{File: file, Line: n.Line, Err: errors.New("assertion needs a name")}
	}
	switch Expect(r.Expect) {
	case Allow, Deny:
		a.Expect = Expect(r.Expect)
	default:
		return nil, &Error{File: file, Line: n.Line, Err: fmt.Errorf("assertion %q: expect must be allow or deny, not %q", a.Name, r.Expect)}
	}
	var err error
	if r.From == nil || r.To == nil {
		return nil, &Error{File: file, Line: n.Line, Err: fmt.Errorf("assertion %q needs both from and to", a.Name)}
	}
	if a.From, err = parseSide(file, n, a.Name, "from", r.From); err != nil {
		return nil, err
	}
	if a.To, err = parseSide(file, n, a.Name, "to", r.To); err != nil {
		return nil, err
	}
	if a.From.CIDR.IsValid() && a.To.CIDR.IsValid() {
		return nil, &Error{File: file, Line: n.Line, Err: fmt.Errorf("assertion %q: from and to cannot both be CIDRs", a.Name)}
	}
	if r.Ports.Kind != 0 {
		var ports []string
		if err := r.Ports.Decode(&ports); err != nil {
			return nil, &Error{File: file, Line: r.Ports.Line, Err: fmt.Errorf("assertion %q: ports must be a list like [\"5432/TCP\", \"53/UDP\"]", a.Name)}
		}
		for _, p := range ports {
			s, err := portset.Parse(p)
			if err != nil {
				return nil, &Error{File: file, Line: r.Ports.Line, Err: fmt.Errorf("assertion %q: %v", a.Name, err)}
			}
			a.Ports = a.Ports.Union(s)
		}
		if len(ports) == 0 {
			return nil, &Error{File: file, Line: r.Ports.Line, Err: fmt.Errorf("assertion %q: ports is empty; omit it to mean any port", a.Name)}
		}
	}
	return a, nil
}

// child returns the value of key in mapping n, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// sideKeys rejects unknown keys in the from or to of an assertion, down to
// the matchExpressions of a full label selector.
func sideKeys(file string, n *yaml.Node) error {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil // Decode reports it
	}
	if err := knownKeys(file, n, "namespace", "selector", "cidr"); err != nil {
		return err
	}
	sel := child(n, "selector")
	if sel == nil || sel.Kind != yaml.MappingNode || child(sel, "matchLabels") == nil && child(sel, "matchExpressions") == nil {
		return nil // a plain label map takes any key
	}
	if err := knownKeys(file, sel, "matchLabels", "matchExpressions"); err != nil {
		return err
	}
	if exprs := child(sel, "matchExpressions"); exprs != nil && exprs.Kind == yaml.SequenceNode {
		for _, e := range exprs.Content {
			if err := knownKeys(file, e, "key", "operator", "values"); err != nil {
				return err
			}
		}
	}
	return nil
}

func parseSide(file string, n *yaml.Node, name, which string, r *rawSide) (Selector, error) {
	line := n.Line
	s := Selector{Namespace: r.Namespace}
	var parts []string
	if r.CIDR != "" {
		if r.Namespace != "" || r.Selector.Kind != 0 {
			return s, &Error{File: file, Line: line, Err: fmt.Errorf("assertion %q: %s: cidr cannot be combined with namespace or selector", name, which)}
		}
		p, err := ipset.ParsePrefix(r.CIDR)
		if err != nil {
			return s, &Error{File: file, Line: line, Err: fmt.Errorf("assertion %q: %s: %v", name, which, err)}
		}
		s.CIDR = p
		s.text = "cidr " + p.String()
		return s, nil
	}
	if r.Namespace != "" {
		parts = append(parts, "namespace "+r.Namespace)
	}
	if r.Selector.Kind != 0 {
		ls, err := labelSelector(&r.Selector)
		if err != nil {
			return s, &Error{File: file, Line: r.Selector.Line, Err: fmt.Errorf("assertion %q: %s.selector: %v", name, which, err)}
		}
		sel, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			return s, &Error{File: file, Line: r.Selector.Line, Err: fmt.Errorf("assertion %q: %s.selector: %v", name, which, err)}
		}
		s.Labels = sel
		parts = append(parts, "pods {"+sel.String()+"}")
	}
	if len(parts) == 0 {
		parts = append(parts, "every workload")
	}
	s.text = strings.Join(parts, " ")
	return s, nil
}

// labelSelector reads either a plain label map ({app: web}) or a full
// Kubernetes label selector (matchLabels / matchExpressions).
func labelSelector(n *yaml.Node) (*metav1.LabelSelector, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("want a label map or matchLabels/matchExpressions")
	}
	full := false
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k == "matchLabels" || k == "matchExpressions" {
			full = true
		}
	}
	if !full {
		var m map[string]string
		if err := n.Decode(&m); err != nil {
			return nil, fmt.Errorf("label values must be strings")
		}
		return &metav1.LabelSelector{MatchLabels: m}, nil
	}
	var raw struct {
		MatchLabels      map[string]string `yaml:"matchLabels"`
		MatchExpressions []struct {
			Key      string   `yaml:"key"`
			Operator string   `yaml:"operator"`
			Values   []string `yaml:"values"`
		} `yaml:"matchExpressions"`
	}
	if err := n.Decode(&raw); err != nil {
		return nil, err
	}
	ls := &metav1.LabelSelector{MatchLabels: raw.MatchLabels}
	for _, e := range raw.MatchExpressions {
		ls.MatchExpressions = append(ls.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: e.Key, Operator: metav1.LabelSelectorOperator(e.Operator), Values: e.Values,
		})
	}
	return ls, nil
}

// LabelKeys returns the label keys the assertions' selectors read, sorted,
// each once: what a model of the workloads must tell Pods apart by
// (manifest.Options.SelectorKeys).
func (c *Config) LabelKeys() []string {
	var keys []string
	for _, a := range c.Assertions {
		for _, s := range []Selector{a.From, a.To} {
			if s.Labels == nil {
				continue
			}
			reqs, _ := s.Labels.Requirements()
			for _, r := range reqs {
				keys = append(keys, r.Key())
			}
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}
