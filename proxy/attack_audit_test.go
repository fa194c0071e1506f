package proxy

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wardsec/ward/internal/testenv"
)

// TestAttackRateLimitDryRunAudited: rateLimit.dryRun promises to log the
// refusals it would make, but its verdict carried no decision and
// audit.Set dropped it: the records of requests over the limit read as
// any other, so an operator trying the limit out saw no client over it.
func TestAttackRateLimitDryRunAudited(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(),
		replace: []string{`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, `rateLimit: {rate: 0.01, burst: 1, key: "header:X-Dry", dryRun: true}`}})
	for range 3 {
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "X-Dry", "dry")
		if status(resp) != 200 || len(got) != 1 {
			t.Fatalf("dry run: status %d, the upstream received %d requests; want 200 and 1", status(resp), len(got))
		}
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	var over int
	for _, l := range strings.Split(strings.TrimSpace(h.audit.String()), "\n") {
		if strings.Contains(l, `"dry_run":"ratelimit: rate limit exceeded"`) {
			over++
			if !strings.Contains(l, `"decision":"allow"`) || !strings.Contains(l, `"rule":"authz/`) {
				t.Errorf("a dry-run record hides the decision that was made: %s", l)
			}
		}
	}
	if over != 2 {
		t.Errorf("%d records of the 2 requests over the limit:\n%s", over, h.audit.String())
	}
}

// TestAttackAuditPeerKept: a verified token's principal replaced the
// SPIFFE ID of the connection in the audit record, so a workload acting
// with a user's token (a stolen one, say) left no trace of itself: the
// record keeps the peer beside the token's principal.
func TestAttackAuditPeerKept(t *testing.T) {
	u := newRawUpstream(t)
	iss := newJWTIssuer(t)
	h := startWith(t, setup{upstream: u.URL(), files: map[string][]byte{"jwks.json": iss.jwks},
		extra: "jwt: {issuers: [{issuer: https://id.test, anyAudience: true, algorithms: [ES256], jwksFile: jwks.json}]}\n"})
	if resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "Authorization", "Bearer "+iss.token(t, "alice")); status(resp) != 200 || len(got) != 1 {
		t.Fatalf("with a token: %.100q", resp)
	}
	if resp, _ := sendRaw(t, h, u, "web", "GET", "/api/items"); status(resp) != 200 {
		t.Fatalf("without a token: %.100q", resp)
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(h.audit.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d records, want 2:\n%s", len(lines), h.audit.String())
	}
	if l := lines[0]; !strings.Contains(l, `"principal":"https://id.test/alice"`) || !strings.Contains(l, `"peer":"spiffe://example.org/ns/shop/sa/web"`) {
		t.Errorf("with a token: %s", l)
	}
	if l := lines[1]; !strings.Contains(l, `"principal":"spiffe://example.org/ns/shop/sa/web"`) || strings.Contains(l, `"peer"`) {
		t.Errorf("without a token: %s", l)
	}
}

// TestEarlyRefusalRecordsClient: a request refused for its form (a dot
// segment, a lower-case method) or its size was recorded without its
// client address, since the address was resolved after those checks: the
// log did not say who sent malformed requests, and `ward watch
// --proxy-audit` took each such record for a bad one (exit 2 on the
// proxy's own log). The address is resolved first now; every record of
// a client behind the trusted proxy names it.
func TestEarlyRefusalRecordsClient(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), extra: "clientIP: {trustedProxies: [127.0.0.0/8]}\n"})
	for _, tc := range []struct {
		method, target string
		hdr            []string
		want           int
	}{
		{"GET", "/api/../admin", nil, 400},
		{"delete", "/api/items", nil, 400},
		{"POST", "/api/items", []string{"Content-Length", "2048"}, 413},
		{"GET", "/api/items", nil, 200},
	} {
		resp, _ := sendRaw(t, h, u, "web", tc.method, tc.target, append([]string{"X-Forwarded-For", "192.0.2.44"}, tc.hdr...)...)
		if status(resp) != tc.want {
			t.Errorf("%s %s: %.120q, want %d", tc.method, tc.target, resp, tc.want)
		}
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(h.audit.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d records, want 4:\n%s", len(lines), h.audit.String())
	}
	for _, l := range lines {
		if !strings.Contains(l, `"client_ip":"192.0.2.44"`) {
			t.Errorf("record without the client: %s", l)
		}
	}
}

// TestAttackAuditRecordHoldsRequestData: the audit record promises no
// query string or body, and records a few hundred bytes. A client chose
// what went in, at any length: CRS 921180 (paranoia level 3) expands
// the name of a repeated parameter into its message, which the record's
// waf field (reason, when blocking) held lower-cased, so a name from the
// query (8 KiB) or a form body (the WAF's 128 KiB) was logged whole;
// and a method is any token as long as the request line (64 KiB), which
// the record held whole and the upstream received; so was a path, which
// limits.maxURLBytes refused (414) but the record held whole. Records that size
// crowd the others out of audit.bufferBytes (dropped, or 503 for every
// client with whenFull: refuse). Messages now keep their macros
// unexpanded (but numbers, the anomaly score), methods over 32 bytes are
// refused, and a record cuts a method at 64 bytes and a path at 8 KiB.
func TestAttackAuditRecordHoldsRequestData(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: detect, paranoiaLevel: 3}\n",
		replace: []string{"maxBodyBytes: 1024", "maxBodyBytes: 1048576"}})
	name := "querysecret" + strings.Repeat("q", 3000)
	if resp, got := sendRaw(t, h, u, "web", "GET", "/api/items?"+name+"=1&"+name+"=2"); status(resp) != 200 || len(got) != 1 {
		t.Fatalf("repeated query parameter: %.100q", resp)
	}
	// Longer than a record may be (1 KiB), so that a name logged whole
	// fails the test; at paranoia level 3 a larger body takes the WAF
	// seconds under -race on a loaded machine (the client gives up at 5 s).
	body := "bodysecret" + strings.Repeat("b", 2000)
	postBody(t, h, u, rawPost{path: "/api/items", client: "pollute", ctype: "application/x-www-form-urlencoded", body: body + "=1&" + body + "=2"}, 200)
	method := strings.Repeat("M", 60000)
	if resp, got := sendRaw(t, h, u, "web", method, "/api/items"); status(resp) != 400 || len(got) != 0 {
		t.Errorf("a 60000-byte method: status %d, the upstream received %d requests; want 400 and none", status(resp), len(got))
	}
	if resp, got := sendRaw(t, h, u, "web", "UPDATEREDIRECTREF", "/api/items"); status(resp) != 200 || len(got) != 1 {
		t.Errorf("UPDATEREDIRECTREF: status %d, the upstream received %d requests; want 200 and 1", status(resp), len(got))
	}
	path := "/api/" + strings.Repeat("p", 60000)
	if resp, got := sendRaw(t, h, u, "web", "GET", path); status(resp) != 414 || len(got) != 0 {
		t.Errorf("a 60005-byte path: status %d, the upstream received %d requests; want 414 and none", status(resp), len(got))
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(h.audit.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d records, want 5", len(lines))
	}
	if want := `"path":"` + path[:8192] + `","path_truncated":true,"path_bytes":60005,`; !strings.Contains(lines[4], want) || len(lines[4]) > 8192+512 {
		t.Errorf("the long path's record: %d bytes: %.300s", len(lines[4]), lines[4])
	}
	lines = lines[:4]
	for i, l := range lines {
		if len(l) > 1024 || strings.Contains(l, "secret") {
			t.Errorf("record %d: %d bytes, request data logged: %.300s", i, len(l), l)
		}
	}
	if !strings.Contains(lines[0], "921180 HTTP Parameter Pollution (%{MATCHED_VAR_NAME})") || !strings.Contains(lines[0], "(Total Score: ") {
		t.Errorf("the WAF's matches are not recorded: %s", lines[0])
	}
	if want := `"method":"` + method[:64] + `","method_truncated":true,"method_bytes":60000,`; !strings.Contains(lines[2], want) || !strings.Contains(lines[2], `"reason":"method longer than 32 bytes"`) {
		t.Errorf("the long method's record: %.300s", lines[2])
	}
}

// TestAttackJWKSCredentialsLogged: an issuer whose JWKS URL carries
// credentials: a username that is a token (`https://TOKEN@id.example.com/jwks`,
// sent as Basic authentication) or a query secret (an Azure Functions
// `?code=`, a SAS `?sig=`). Once a fetch failed, its error named the URL
// (this package's own errors as written; net/http's url.Error with only
// a password hidden), and every refused request's audit record and the
// warning of the reload that could not check tunnels again held the
// secret. URLs are now written with the whole userinfo and every query
// value redacted (xxxxx), keys kept; the fetch still sends them. The
// identity provider here drops the connection while down, so the error
// is net/http's.
func TestAttackJWKSCredentialsLogged(t *testing.T) {
	const secret = "s3cret-jwks-token"
	iss := newJWTIssuer(t)
	var up atomic.Bool
	var auth, code atomic.Value
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = c.Close() // no response: the client's url.Error names the URL
			}
			return
		}
		auth.Store(r.Header.Get("Authorization"))
		code.Store(r.URL.Query().Get("code"))
		_, _ = w.Write(iss.jwks)
	}))
	defer idp.Close()
	u := newRawUpstream(t)
	var logs testenv.SyncBuffer
	jwksURL := strings.Replace(idp.URL, "http://", "http://"+secret+"@", 1) + "/jwks?code=" + secret
	h := startWith(t, setup{upstream: u.URL(), log: slog.New(slog.NewTextHandler(&logs, nil)),
		extra: "jwt: {issuers: [{issuer: https://id.test, anyAudience: true, algorithms: [ES256], jwksURL: '" + jwksURL + "'}]}\n"})
	tok := iss.token(t, "alice")
	if resp, _ := sendRaw(t, h, u, "web", "GET", "/api/items", "Authorization", "Bearer "+tok); status(resp) != 401 {
		t.Errorf("JWKS down: status %d, want 401", status(resp))
	}
	up.Store(true)
	if err := h.srv.Reload(); err != nil { // a new verifier: no wait for the refetch interval
		t.Fatal(err)
	}
	if resp, _ := sendRaw(t, h, u, "web", "GET", "/api/items", "Authorization", "Bearer "+tok); status(resp) != 200 {
		t.Errorf("JWKS up: status %d, want 200", status(resp))
	}
	if got, _ := auth.Load().(string); got != "Basic "+base64.StdEncoding.EncodeToString([]byte(secret+":")) {
		t.Errorf("the JWKS fetch sent Authorization %q, want the URL's username", got)
	}
	if got, _ := code.Load().(string); got != secret {
		t.Errorf("the JWKS fetch sent code=%q, want the URL's", got)
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.audit.String(), "http://xxxxx@"+strings.TrimPrefix(idp.URL, "http://")+"/jwks?code=xxxxx") {
		t.Errorf("the audit record of the refusal does not name the redacted URL:\n%s", h.audit.String())
	}
	for name, out := range map[string]string{"audit": h.audit.String(), "log": logs.String()} {
		if strings.Contains(out, secret) {
			t.Errorf("the %s output holds the JWKS secret:\n%s", name, out)
		}
	}
}
