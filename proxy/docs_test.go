package proxy

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// docConfig returns the configuration docs/proxy.md shows: its YAML blocks
// (the annotated configuration, then routes) as one file; with
// alternatives false, without the listener's cert and key, for which the
// block shows tls.spiffe as the alternative.
func docConfig(t *testing.T, alternatives bool) []byte {
	t.Helper()
	doc, err := os.ReadFile("../docs/proxy.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?ms)^```yaml\n(.*?)^```").FindAllSubmatch(doc, -1)
	if len(blocks) < 2 {
		t.Fatalf("docs/proxy.md has %d YAML blocks, want the configuration and routes", len(blocks))
	}
	var b strings.Builder
	for _, m := range blocks {
		for line := range strings.SplitSeq(string(m[1]), "\n") {
			if !alternatives && (strings.HasPrefix(line, "  cert: ") || strings.HasPrefix(line, "  key: ")) {
				continue
			}
			b.WriteString(line + "\n")
		}
	}
	return []byte(b.String())
}

// TestDocConfig: the configuration docs/proxy.md shows parses, strictly,
// with the values it shows.
func TestDocConfig(t *testing.T) {
	c, err := ParseConfig("proxy.md.yaml", docConfig(t, false))
	if err != nil {
		t.Fatalf("the configuration of docs/proxy.md does not parse: %v", err)
	}
	if len(c.Routes) == 0 || c.Routes[0].Name != "uploads" || c.JWT == nil || len(c.JWT.Issuers) != 1 {
		t.Errorf("the configuration parsed, but not as shown: %d routes, jwt %+v", len(c.Routes), c.JWT)
	}
}

// TestDocConfigFields: every field of Config (and of the types it holds)
// appears as a key in docs/proxy.md's configuration, so none is
// undocumented.
func TestDocConfigFields(t *testing.T) {
	var root yaml.Node
	if err := yaml.Unmarshal(docConfig(t, true), &root); err != nil {
		t.Fatal(err)
	}
	// Keys written in the blocks, and keys named in their comments
	// ("# or jwksFile: jwks.json", "# keep: [...]").
	keys := map[string]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		for _, c := range []string{n.HeadComment, n.LineComment, n.FootComment} {
			for _, m := range regexp.MustCompile(`([A-Za-z]+):`).FindAllStringSubmatch(c, -1) {
				keys[m[1]] = true
			}
		}
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				keys[c.Value] = true
			}
			walk(c)
		}
	}
	walk(&root)
	doc, err := os.ReadFile("../docs/proxy.md")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	seen := map[reflect.Type]bool{}
	var fields func(ty reflect.Type, path string)
	fields = func(ty reflect.Type, path string) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct || seen[ty] {
			return
		}
		seen[ty] = true
		for f := range ty.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			// A key of the blocks, or one the text names (`off: true`).
			if !keys[name] && !strings.Contains(string(doc), "`"+name+":") && !strings.Contains(string(doc), "{"+name+":") {
				missing = append(missing, path+name)
			}
			fields(f.Type, path+name+".")
		}
	}
	fields(reflect.TypeFor[Config](), "")
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("configuration fields docs/proxy.md does not show: %s", strings.Join(missing, ", "))
	}
}

// TestUnknownFieldMessage: a mistyped key is named with the key meant,
// not with a Go type the user never sees ("not found in type
// proxy.RateLimit").
func TestUnknownFieldMessage(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{"upstream: {url: http://x}\nratelimit: {rate: 5}\n", "p.yaml:2: field ratelimit not found: did you mean rateLimit?"},
		{"upstream: {url: http://x}\nrateLimit: {rate: 5, brust: 5}\n", "p.yaml:2: field brust not found (want rate, burst, key, dryRun, redis, ipv6Prefix)"},
		{"upstream: {url: http://x}\nlimits: {allowGETBody: true}\n", "p.yaml:2: field allowGETBody not found: did you mean allowGetBody?"},
		{"upstream: {url: http://x}\nroutes:\n  - name: a\n    match: {prefix: /}\n    limits: {allowGetBodies: true}\n", "p.yaml:5: field allowGetBodies not found (want maxBodyBytes, maxURLBytes, allowGetBody)"},
	} {
		_, err := ParseConfig("p.yaml", []byte(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "proxy.") {
			t.Errorf("ParseConfig(%q) = %v, want an error containing %q", tt.doc, err, tt.want)
		}
	}
}
