package fastyaml

import (
	"math"
	"testing"

	yaml2 "go.yaml.in/yaml/v2"
	"go.yaml.in/yaml/v3"
)

// TestInfNaNAsKubectl: InfNaN is the one list of infinities and NaNs,
// which package manifest uses too; it held a second one that took "+.nan"
// and "--.inf" for floats. Both must be what kubectl's reader (yaml.v2,
// through sigs.k8s.io/yaml) resolves as one, and yaml.v3 too.
func TestInfNaNAsKubectl(t *testing.T) {
	var cands []string
	for _, sign := range []string{"", "+", "-", "++", "--", "+-"} {
		for _, w := range []string{".inf", ".Inf", ".INF", ".iNF", ".InF", "inf", "Inf",
			".nan", ".NaN", ".NAN", ".Nan", ".nAN", "nan", "NaN", ".infinity", "..inf", ".inf."} {
			cands = append(cands, sign+w)
		}
	}
	floatOf := func(v any) bool {
		f, ok := v.(float64)
		return ok && (math.IsInf(f, 0) || math.IsNaN(f))
	}
	for _, c := range cands {
		var v2 any
		if err := yaml2.Unmarshal([]byte(c), &v2); err != nil {
			t.Fatalf("%q: yaml.v2: %v", c, err)
		}
		var v3 any
		if err := yaml.Unmarshal([]byte(c), &v3); err != nil {
			t.Fatalf("%q: yaml.v3: %v", c, err)
		}
		if got, want := InfNaN(c), floatOf(v2); got != want || floatOf(v3) != want {
			t.Errorf("%q: InfNaN %v, yaml.v2 %v (%#v), yaml.v3 %v", c, got, want, v2, floatOf(v3))
		}
	}
}
