// Command upstream is the tiny service behind the proxy example: it
// answers every request with what it received, on 127.0.0.1:8080.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"time"
)

func main() {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"method": r.Method, "path": r.URL.Path,
			"x-forwarded-for": r.Header.Get("X-Forwarded-For"), "x-forwarded-proto": r.Header.Get("X-Forwarded-Proto"),
			"x-forwarded-client-cert": r.Header.Get("X-Forwarded-Client-Cert"), "x-request-id": r.Header.Get("X-Request-Id"),
			"x-remote-user": r.Header.Get("X-Remote-User"),
		})
	})
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
