package clientip

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// capture is a handler that records the request it was given.
type capture struct {
	req *http.Request
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.req = r }

func TestHandlerUntrustedPeerScrubbed(t *testing.T) {
	r := mustResolver(t)
	h := http.Header{
		"X-Forwarded-For":   {"10.0.0.1"},
		"Forwarded":         {"for=10.0.0.1"},
		"X-Real-Ip":         {"10.0.0.1"},
		"X-Forwarded-Host":  {"admin.internal"},
		"X-Forwarded-Proto": {"https"},
		"True-Client-Ip":    {"10.0.0.1"},
		"X_forwarded_for":   {"10.0.0.1"},       // CGI gateways read this as X-Forwarded-For
		"x-forwarded-host":  {"admin.internal"}, // not canonical: built in code
		"Connection":        {"keep-alive, X-Forwarded-For", "x_real_ip, X-Custom"},
		"X-Custom":          {"kept"},
		"Accept":            {"text/plain"},
	}
	orig := h.Clone()
	req := request("203.0.113.7:5555", h)
	var c capture
	r.Handler(&c).ServeHTTP(httptest.NewRecorder(), req)

	if c.req == req {
		t.Fatal("next got the caller's request, want a copy")
	}
	if !reflect.DeepEqual(req.Header, orig) {
		t.Errorf("caller's headers changed:\n got %v\nwant %v", req.Header, orig)
	}
	want := http.Header{
		"Connection": {"keep-alive", "X-Custom"},
		"X-Custom":   {"kept"},
		"Accept":     {"text/plain"},
	}
	if !reflect.DeepEqual(c.req.Header, want) {
		t.Errorf("next saw headers\n %v\nwant %v", c.req.Header, want)
	}
	if a, ok := FromContext(c.req.Context()); !ok || a != netip.MustParseAddr("203.0.113.7") {
		t.Errorf("FromContext = %v, %v; want 203.0.113.7, true", a, ok)
	}
	if _, ok := FromContext(req.Context()); ok {
		t.Error("the caller's request context changed")
	}
}

func TestHandlerConnectionOnlyTokens(t *testing.T) {
	// A Connection header naming only forwarding headers disappears
	// entirely, and the named headers do not appear.
	r := mustResolver(t)
	req := request("203.0.113.7:5555", http.Header{"Connection": {"X-Forwarded-For", " forwarded "}})
	var c capture
	r.Handler(&c).ServeHTTP(httptest.NewRecorder(), req)
	if len(c.req.Header) != 0 {
		t.Errorf("next saw headers %v, want none", c.req.Header)
	}
}

func TestHandlerTrustedPeerUntouched(t *testing.T) {
	r := mustResolver(t)
	h := http.Header{
		"X-Forwarded-For":   {"6.6.6.6, 203.0.113.7"},
		"X-Forwarded-Proto": {"https"},
		"Connection":        {"X-Forwarded-For"},
	}
	req := request("10.0.0.5:5555", h)
	var c capture
	r.Handler(&c).ServeHTTP(httptest.NewRecorder(), req)
	if reflect.ValueOf(c.req.Header).Pointer() != reflect.ValueOf(h).Pointer() {
		t.Error("headers of a trusted peer were copied, want them passed on as they are")
	}
	if a, ok := FromContext(c.req.Context()); !ok || a != netip.MustParseAddr("203.0.113.7") {
		t.Errorf("FromContext = %v, %v; want 203.0.113.7, true", a, ok)
	}
}

func TestHandlerNoCopyWhenClean(t *testing.T) {
	r := mustResolver(t)
	h := http.Header{"Accept": {"*/*"}, "Connection": {"close"}}
	req := request("203.0.113.7:5555", h)
	var c capture
	r.Handler(&c).ServeHTTP(httptest.NewRecorder(), req)
	if reflect.ValueOf(c.req.Header).Pointer() != reflect.ValueOf(h).Pointer() {
		t.Error("clean headers were copied")
	}
}

func TestHandlerUnknownClient(t *testing.T) {
	r := mustResolver(t)
	req := request("10.0.0.5:5555", xff("203.0.113.7, garbage"))
	var c capture
	r.Handler(&c).ServeHTTP(httptest.NewRecorder(), req)
	a, ok := FromContext(c.req.Context())
	if !ok || a.IsValid() {
		t.Errorf("FromContext = %v, %v; want the invalid address, true", a, ok)
	}
}

// hopByHopAfterAdding models the bug class of Traefik CVE-2024-45410 and
// CVE-2021-32813: a proxy that appends its peer to X-Forwarded-For and
// then deletes the headers its client listed in Connection. It forwards to
// next what it would send upstream.
func hopByHopAfterAdding(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := r.Clone(r.Context())
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		out.Header.Add("X-Forwarded-For", host)
		for _, line := range out.Header.Values("Connection") {
			for tok := range strings.SplitSeq(line, ",") {
				out.Header.Del(strings.TrimSpace(tok))
			}
		}
		out.Header.Del("Connection")
		next.ServeHTTP(w, out)
	})
}

func TestHandlerConnectionTrick(t *testing.T) {
	r := mustResolver(t)
	var without, with capture
	mk := func() *http.Request {
		return request("203.0.113.7:5555", http.Header{
			"X-Forwarded-For": {"10.0.0.1"},
			"Connection":      {"keep-alive, X-Forwarded-For"},
		})
	}
	// Negative control: without Handler the vulnerable proxy sends no
	// X-Forwarded-For, so the next hop would take the proxy for the client.
	hopByHopAfterAdding(&without).ServeHTTP(httptest.NewRecorder(), mk())
	if got := without.req.Header.Values("X-Forwarded-For"); len(got) != 0 {
		t.Fatalf("control: X-Forwarded-For = %q, want it deleted by the vulnerable proxy (else this test proves nothing)", got)
	}
	r.Handler(hopByHopAfterAdding(&with)).ServeHTTP(httptest.NewRecorder(), mk())
	if got := with.req.Header.Values("X-Forwarded-For"); !slices.Equal(got, []string{"203.0.113.7"}) {
		t.Errorf("X-Forwarded-For upstream = %q, want [203.0.113.7]: the client's value gone, the proxy's kept", got)
	}
}

// TestHandlerReverseProxyOverTCP runs Handler in front of
// httputil.ReverseProxy on real sockets: spoofed forwarding headers and a
// Connection header naming one must leave the backend with exactly the
// client's real address. A control run without Handler shows that the
// reverse proxy alone passes the spoofed headers on.
func TestHandlerReverseProxyOverTCP(t *testing.T) {
	seen := make(chan http.Header, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
	}))
	defer backend.Close()
	target, err := url.Parse(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	// The test client connects from 127.0.0.1, which is not trusted.
	r := mustResolver(t)

	send := func(t *testing.T, h http.Handler) http.Header {
		t.Helper()
		front := httptest.NewServer(h)
		defer front.Close()
		req, err := http.NewRequest(http.MethodGet, front.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Forwarded-For", "10.0.0.1")
		req.Header.Set("X-Real-IP", "10.0.0.1")
		req.Header.Set("Forwarded", "for=10.0.0.1")
		req.Header.Set("Connection", "X-Forwarded-For")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return <-seen
	}

	t.Run("control", func(t *testing.T) {
		got := send(t, rp)
		if got.Get("X-Real-Ip") == "" || got.Get("Forwarded") == "" {
			t.Fatalf("control: backend headers %v, want the spoofed X-Real-Ip and Forwarded (else this test proves nothing)", got)
		}
	})
	t.Run("handler", func(t *testing.T) {
		var clientIP netip.Addr
		got := send(t, r.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			clientIP, _ = FromContext(req.Context())
			rp.ServeHTTP(w, req)
		})))
		if xff := got.Values("X-Forwarded-For"); !slices.Equal(xff, []string{"127.0.0.1"}) {
			t.Errorf("backend X-Forwarded-For = %q, want [127.0.0.1]", xff)
		}
		for _, k := range []string{"X-Real-Ip", "Forwarded"} {
			if v := got.Values(k); len(v) != 0 {
				t.Errorf("backend %s = %q, want none", k, v)
			}
		}
		if clientIP != netip.MustParseAddr("127.0.0.1") {
			t.Errorf("client IP = %v, want 127.0.0.1", clientIP)
		}
	})
}

func TestIsSpoofable(t *testing.T) {
	for name, want := range map[string]bool{
		"X-Forwarded-For":                        true,
		"x_forwarded_for":                        true,
		"X-FORWARDED-PROTO":                      true,
		"X-Original-Forwarded-For":               true,
		"x-original-forwarded-fory":              false,
		"X-Forwarded-Anything":                   true,
		"x_forwarded_" + strings.Repeat("x", 80): true,
		"X-Forwarded-":                           false,
		"X-Forwardedx":                           false,
		"Forwarded":                              true,
		"X-Original-Host":                        true,
		"X-Url-Scheme":                           true,
		"front_end_https":                        true,
		"X-Forwarded":                            true, // django-ipware's HTTP_X_FORWARDED
		"Client-IP":                              true,
		"client_ip":                              true,
		"Forwarded-For":                          true,
		"X-Forwarded-Fo":                         true, // the X-Forwarded-* family
		"Client-IPs":                             false,
		"DO-Connecting-IP":                       true,
		"X-AppEngine-User-IP":                    true,
		"Accept":                                 false,
		"":                                       false,
	} {
		if got := isSpoofable(name); got != want {
			t.Errorf("isSpoofable(%q) = %v, want %v", name, got, want)
		}
	}
}
