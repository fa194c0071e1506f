package source

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/wardsec/ward/watch/event"
)

// ProxyRecord is a `ward proxy` audit record (docs/proxy.md, "Audit
// records"): the slog JSON line written for message "decision".
type ProxyRecord struct {
	Time      string `json:"time"`
	Msg       string `json:"msg"`
	Decision  string `json:"decision"`
	Reason    string `json:"reason"`
	Rule      string `json:"rule"`
	Principal string `json:"principal"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Status    int    `json:"status"`
	Latency   int64  `json:"latency"`
	RequestID string `json:"request_id"`
	ClientIP  string `json:"client_ip"`
	Audited   bool   `json:"audited"`
	Route     string `json:"route"`
	WAF       string `json:"waf"`
	Outcome   string `json:"outcome"`
}

// ProxyAudit decodes `ward proxy` audit records into Request events: the
// client is Src, the proxy (when given) Dst. Other log lines of the same
// stream (msg other than "decision") are skipped. Audit records are one
// per HTTP request, far fewer than flows: they are decoded with
// encoding/json.
type ProxyAudit struct {
	// Proxy is the proxy's listening address, the requests' destination;
	// the records do not carry it.
	Proxy netip.AddrPort
}

// Decode implements Decoder.
func (p *ProxyAudit) Decode(line []byte, e *event.Event) (bool, uint64, error) {
	var r ProxyRecord
	if err := json.Unmarshal(line, &r); err != nil {
		return false, 0, err
	}
	if r.Msg != "decision" {
		return false, 0, nil
	}
	t, err := time.Parse(time.RFC3339Nano, r.Time)
	if err != nil {
		return false, 0, fmt.Errorf("bad time %q", r.Time)
	}
	if err := inRange(t, r.Time); err != nil {
		return false, 0, err
	}
	// No client_ip: the proxy did not know the client (a trusted proxy's
	// forwarding header that does not parse, a Unix socket peer). The
	// record is read, and counted, but names no one to judge.
	var src netip.Addr
	if r.ClientIP != "" {
		if src, err = netip.ParseAddr(r.ClientIP); err != nil {
			return false, 0, fmt.Errorf("bad client_ip %q", r.ClientIP)
		}
	}
	*e = event.Event{
		Time: t.UnixNano(), Origin: event.OriginProxy, Kind: event.Request, Proto: event.TCP,
		Src: src.Unmap(), Dst: p.Proxy.Addr(), DstPort: p.Proxy.Port(),
		Rule: r.Rule, Reason: r.Outcome, Direction: event.Ingress,
		L7: &event.L7{Method: r.Method, Path: r.Path, Status: r.Status, Decision: r.Decision,
			Principal: r.Principal, RequestID: r.RequestID, Route: r.Route, WAF: r.WAF},
	}
	switch r.Decision {
	case "allow":
		e.Verdict = event.Forwarded
	case "deny":
		e.Verdict = event.Dropped
	default:
		return false, 0, fmt.Errorf("unknown decision %q", r.Decision)
	}
	// The whole record, not its request_id alone: a client's own
	// X-Request-Id names its record when it comes through a trusted hop
	// that passes the header on (and always where guard's audit is not
	// told whom to trust), and IDs are what the fleet deduplicates (the
	// stream's Nats-Msg-Id, the consumers' window): every request sent
	// with one id was one event, the rest dropped as delivered twice.
	// The same record read twice is still one event.
	e.ID = event.ID(event.OriginProxy, line)
	return true, 0, nil
}
