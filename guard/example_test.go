package guard_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/wardsec/ward/guard"
)

func ExampleChain() {
	header := func(name string) guard.Middleware {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Add("X-Seen-By", name)
				next.ServeHTTP(w, r)
			})
		}
	}
	h := guard.Chain(header("clientip"), header("authz"))(http.NotFoundHandler())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Header()["X-Seen-By"])
	// Output: [clientip authz]
}
