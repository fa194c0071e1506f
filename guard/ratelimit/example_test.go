package ratelimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/wardsec/ward/guard/ratelimit"
)

func ExampleLimiter_Handler() {
	l, err := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 2, Key: ratelimit.ByHeader("X-Client")})
	if err != nil {
		panic(err)
	}
	h := l.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for range 3 {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Client", "a")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		fmt.Printf("%d Retry-After=%q\n", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Output:
	// 200 Retry-After=""
	// 200 Retry-After=""
	// 429 Retry-After="1"
}
