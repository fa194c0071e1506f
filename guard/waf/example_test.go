package waf_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wardsec/ward/guard/waf"
)

func Example() {
	w, err := waf.New(waf.Config{}) // Block mode, paranoia level 1, threshold 5
	if err != nil {
		panic(err)
	}
	defer w.Close()
	app := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(rw, "ok, %d bytes of body", len(b))
	})
	h := w.Handler(app)

	for _, r := range []*http.Request{
		httptest.NewRequest("GET", "/api/items?page=2&sort=name", nil),
		httptest.NewRequest("GET", "/?id=1'%20OR%20'1'='1", nil),
		httptest.NewRequest("GET", "/?file=../../../../etc/passwd", nil),
		form("/comments", "author=eve&comment=<script>alert(1)</script>"),
		form("/comments", "author=eve&comment=Nice+post!"),
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		fmt.Printf("%s %s: %d %q\n", r.Method, r.RequestURI, rec.Code, rec.Body)
	}
	// Output:
	// GET /api/items?page=2&sort=name: 200 "ok, 0 bytes of body"
	// GET /?id=1'%20OR%20'1'='1: 403 "Forbidden\n"
	// GET /?file=../../../../etc/passwd: 403 "Forbidden\n"
	// POST /comments: 403 "Forbidden\n"
	// POST /comments: 200 "ok, 29 bytes of body"
}

func form(path, body string) *http.Request {
	r := httptest.NewRequest("POST", path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// In Detect mode nothing is blocked; every match is reported.
func ExampleWAF_Check() {
	w, err := waf.New(waf.Config{
		Mode: waf.Detect,
		OnMatch: func(r *http.Request, m waf.Match) {
			fmt.Printf("%s: rule %d (%s): %s\n", r.URL.Path, m.RuleID, m.Severity, m.Message)
		},
	})
	if err != nil {
		panic(err)
	}
	defer w.Close()

	d, err := w.Check(httptest.NewRequest("GET", "/search?q=1%20UNION%20SELECT%20password%20FROM%20users", nil))
	if err != nil {
		panic(err)
	}
	fmt.Printf("blocked: %v, score %d\n", d.Blocked, d.Score)
	// Output:
	// /search: rule 942100 (critical): SQL Injection Attack Detected via libinjection
	// /search: rule 942190 (critical): Detects MSSQL code execution and information gathering attempts
	// /search: rule 942270 (critical): Looking for basic sql injection. Common attack string for mysql, oracle and others
	// /search: rule 942360 (critical): Detects concatenated basic SQL injection and SQLLFI attempts
	// /search: rule 949110 (): Inbound Anomaly Score Exceeded (Total Score: 20)
	// blocked: false, score 20
}
