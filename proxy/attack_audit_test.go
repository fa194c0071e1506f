package proxy

import (
	"strings"
	"testing"
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
