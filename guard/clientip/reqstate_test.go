package clientip

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/wardsec/ward/internal/reqstate"
)

// With a request state in the context (the audit log's), the address is
// stored there instead of in a copy, and an untrusted peer's forwarding
// headers are still removed from a copy only.
func TestHandlerRequestState(t *testing.T) {
	res, err := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		peer, xff, want string
	}{
		{"192.0.2.7:1", "203.0.113.9", "192.0.2.7"}, // untrusted: header ignored and removed
		{"10.0.0.1:1", "203.0.113.9", "203.0.113.9"},
		{"192.0.2.7:1", "", "192.0.2.7"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		var st reqstate.Context
		st.Init(r.Context())
		r = r.WithContext(&st)
		var got netip.Addr
		var gotXFF string
		res.Handler(http.HandlerFunc(func(_ http.ResponseWriter, in *http.Request) {
			got, _ = FromContext(in.Context())
			gotXFF = in.Header.Get("X-Forwarded-For")
		})).ServeHTTP(httptest.NewRecorder(), r)
		if got.String() != tc.want {
			t.Errorf("%s %q: client %v, want %s", tc.peer, tc.xff, got, tc.want)
		}
		if a, _ := FromContext(&st); a != got {
			t.Errorf("%s: the request state holds %v, want %v", tc.peer, a, got)
		}
		trusted := tc.peer[:3] == "10."
		if !trusted && gotXFF != "" {
			t.Errorf("%s: X-Forwarded-For %q reached next from an untrusted peer", tc.peer, gotXFF)
		}
		if r.Header.Get("X-Forwarded-For") != tc.xff {
			t.Errorf("%s: the caller's headers were modified", tc.peer)
		}
	}
}
