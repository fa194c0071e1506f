package webhook_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/wardsec/ward/watch/webhook"
)

func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("%s %s\n", r.Header.Get("X-Ward-Signature")[:7], body)
	}))
	defer srv.Close()
	s, err := webhook.New(webhook.Config{URL: srv.URL, Secret: []byte("shared secret")})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The pipeline writes one JSON alert a line.
	_, _ = s.Write([]byte(`{"detector":"port-scan","state":"opened"}` + "\n"))
	st := s.Close(context.Background())
	fmt.Printf("delivered %d, dropped %d\n", st.Delivered, st.Dropped)
	// Output:
	// sha256= [{"detector":"port-scan","state":"opened"}]
	// delivered 1, dropped 0
}
