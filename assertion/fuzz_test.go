package assertion

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardsec/ward/srcpos"
)

// FuzzParse holds the ward.yaml loader to Ward's input contract on any
// bytes: no panic; an error is a *srcpos.Error naming the file and a line
// inside it; a config it accepts has each assertion and ignore at a line of
// the input, with a name, an expectation and both sides. The seeds are the
// repository's ward.yaml files and this package's tables; the committed
// corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"../examples/*/ward.yaml", "../peers/testdata/*/ward.yaml", "../internal/cli/testdata/*/ward.yaml", "../internal/cli/testdata/*/*/ward.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			data, err := os.ReadFile(file) // #nosec G304 -- test seeds from the repository
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, doc := range []string{
		"assertions:\n  - {name: a, from: {namespace: web}, to: {cidr: 10.0.0.0/8}, ports: [53/UDP, 80-90/TCP, \"443\"], expect: deny}\n",
		"assertions:\n  - name: b\n    from: {selector: {matchExpressions: [{key: app, operator: In, values: [x]}]}}\n    to: {selector: {app: y}}\n    expect: allow\n",
		"x: &a [1]\nassertions: [*a]\n",
		"assertions:\n  - &s {name: s, from: {}, to: {}, expect: deny}\n  - *s\n",
		"ignore:\n  - {rule: pss/*, path: build/, object: legacy/*, reason: r}\naudit: {shellless: [a/b], digest: low, registries: {trusted: [ghcr.io/x]}}\n",
		"\xef\xbb\xbfassertions: []\n",
		"\xff\xfea\x00:\x00 \x001\x00\n\x00",
		"assertions:\n- name: c\n  from: {namespace: a}\n  to: {namespace: b}\n  expect: deny\n---\nassertions: []\n",
	} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		// yaml breaks lines at \n, \r and, as YAML 1.1 does, at NEL,
		// LS and PS (U+0085, U+2028, U+2029): an upper bound.
		lines := 1
		for _, br := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
			lines += bytes.Count(data, []byte(br))
		}
		cfg, err := Parse("ward.yaml", data)
		if err != nil {
			var pe *srcpos.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is a %T, not a *srcpos.Error", err, err)
			}
			if pe.File != "ward.yaml" || pe.Line < 0 || pe.Line > lines {
				t.Fatalf("error %v: location %s:%d outside the input of %d lines", err, pe.File, pe.Line, lines)
			}
			if cfg != nil {
				t.Fatalf("error %v with a config", err)
			}
			return
		}
		for _, a := range cfg.Assertions {
			if a.Name == "" || (a.Expect != Allow && a.Expect != Deny) || a.Line < 1 || a.Line > lines {
				t.Fatalf("accepted assertion %+v of an input of %d lines", a, lines)
			}
			if a.From.CIDR.IsValid() && a.To.CIDR.IsValid() {
				t.Fatalf("accepted assertion %q with two CIDRs", a.Name)
			}
		}
		for _, ig := range cfg.Ignores {
			if ig.Line < 1 || ig.Line > lines || ig.Validate() != nil {
				t.Fatalf("accepted ignore %+v", ig)
			}
		}
		cfg.LabelKeys()
	})
}
