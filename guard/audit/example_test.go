package audit_test

import (
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/wardsec/ward/guard/audit"
)

func ExampleSet() {
	l, err := audit.New(os.Stdout, nil)
	if err != nil {
		panic(err)
	}
	h := l.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		audit.Set(r.Context(), audit.Verdict{Decision: audit.Deny, Reason: "client IP not allowed", Rule: "ipallow"})
		http.Error(w, "forbidden", http.StatusForbidden)
	}))
	r := httptest.NewRequest("GET", "/admin", nil)
	r.Header.Set("X-Request-Id", "example-1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	// A record such as (time and latency vary):
	// {"time":"...","level":"INFO","msg":"decision","decision":"deny","reason":"client IP not allowed","rule":"ipallow",...}
}
