package harden_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/wardsec/ward/guard/harden"
)

func ExampleHeaders() {
	h := harden.Headers(http.NotFoundHandler())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Header().Get("X-Content-Type-Options"), rec.Header().Get("X-Frame-Options"))
	// Output: nosniff DENY
}
