package srcpos

import (
	"reflect"
	"testing"
)

type fieldsInner struct {
	Window   string `yaml:"window"`
	MaxHosts int    `yaml:"maxHosts,omitempty"`
	Skip     int    `yaml:"-"`
}

type fieldsRoot struct {
	Scan           *fieldsInner  `yaml:"portScan"`
	Routes         []fieldsInner `yaml:"routes"`
	Name           string
	fieldsEmbedded `yaml:",inline"`
}

type fieldsEmbedded struct {
	Extra bool `yaml:"extra"`
}

// TestUnknownField: yaml.v3's "not found in type pkg.T" names a Go type;
// users get the keys they may write, or the one they mistyped the case of.
func TestUnknownField(t *testing.T) {
	root := reflect.TypeFor[fieldsRoot]()
	for _, tt := range []struct{ in, want string }{
		{"field windw not found in type srcpos.fieldsInner", "field windw not found (want window, maxHosts)"},
		{"field maxhosts not found in type srcpos.fieldsInner", "field maxhosts not found: did you mean maxHosts? (keys are case-sensitive)"},
		{"field portscan not found in type srcpos.fieldsRoot", "field portscan not found: did you mean portScan? (keys are case-sensitive)"},
		{"field x not found in type srcpos.fieldsRoot", "field x not found (want portScan, routes, name, extra)"},
		{"field x not found in type other.T", "field x not found"},
		{"cannot unmarshal !!str `a` into int", "cannot unmarshal !!str `a` into int"},
	} {
		if got := UnknownField(tt.in, root); got != tt.want {
			t.Errorf("UnknownField(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
