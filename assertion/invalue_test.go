package assertion

import (
	"strings"
	"testing"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

// TestInValueMatchesNothing: a typo in one value of an In requirement
// ("app In [postgres, rediss]") left the side matching postgres alone, and
// "web never reaches the stores" passed while web reached redis. Each
// value must select something, as the side as a whole must.
func TestInValueMatchesNothing(t *testing.T) {
	set, err := manifest.Parse(manifest.Options{}, "in.yaml", []byte(`
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: web, image: web:1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: postgres, namespace: shop, labels: {app: postgres, tier: data}}
spec: {containers: [{name: db, image: db:1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: redis, namespace: shop, labels: {app: redis, tier: cache}}
spec: {containers: [{name: db, image: db:1}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: pg, namespace: shop}
spec:
  podSelector: {matchLabels: {app: postgres}}
  ingress: []
`))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, to, expect string
		passed           bool
		reason           string
	}{
		{"typo in one value", "{matchExpressions: [{key: app, operator: In, values: [postgres, rediss]}]}", "deny", false, `value "rediss"`},
		{"value excluded by another requirement", "{matchExpressions: [{key: app, operator: In, values: [postgres, redis]}, {key: tier, operator: In, values: [data]}]}", "deny", false, `value "redis"`},
		{"every value matches, deny fails on redis", "{matchExpressions: [{key: app, operator: In, values: [postgres, redis]}]}", "deny", false, "1 of 2 pairs are allowed"},
		{"every value matches, deny holds", "{matchExpressions: [{key: app, operator: In, values: [postgres]}]}", "deny", true, ""},
		{"NotIn with an unknown value", "{matchExpressions: [{key: app, operator: NotIn, values: [web, nothing]}]}", "deny", false, "pairs are allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("ward.yaml", []byte(`
assertions:
  - name: a
    from: {namespace: shop, selector: {app: web}}
    to: {namespace: shop, selector: `+tt.to+`}
    expect: `+tt.expect+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			r := Check(eng, cfg)[0]
			if r.Passed != tt.passed || !strings.Contains(r.Reason, tt.reason) {
				t.Fatalf("passed %v (%s), want %v and a reason with %q", r.Passed, r.Reason, tt.passed, tt.reason)
			}
			if !tt.passed && strings.Contains(tt.reason, "value") {
				if fs := Findings("ward.yaml", []Result{r}); len(fs) != 1 || fs[0].Rule != "assert/no-match" {
					t.Errorf("findings %+v, want one assert/no-match", fs)
				}
			}
		})
	}
}
