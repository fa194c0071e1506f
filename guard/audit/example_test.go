package audit_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/wardsec/ward/guard/audit"
)

func ExampleSet() {
	var out bytes.Buffer
	l, err := audit.New(&out, nil)
	if err != nil {
		panic(err)
	}
	h := l.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		audit.Set(r.Context(), audit.Verdict{Decision: audit.Deny, Reason: "client IP not allowed", Rule: "ipallow"})
		http.Error(w, "forbidden", http.StatusForbidden)
	}))
	r := httptest.NewRequest("GET", "/admin?token=secret", nil)
	r.Header.Set("X-Request-Id", "example-1")
	h.ServeHTTP(httptest.NewRecorder(), r)

	// The record also has the time and the latency, which vary.
	var rec struct {
		Decision, Reason, Rule, Path string
		Status                       int
	}
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		panic(err)
	}
	var raw map[string]any
	_ = json.Unmarshal(out.Bytes(), &raw)
	fmt.Println(rec.Decision, rec.Rule, rec.Status, rec.Path, raw["request_id"])
	fmt.Println(rec.Reason)
	// Output:
	// deny ipallow 403 /admin example-1
	// client IP not allowed
}
