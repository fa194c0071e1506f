package proxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestMaxConnectionAgeLetsRequestsFinish: a long request (a download, a
// long poll, a stream) is ended by maxConnectionAge once it is itself
// that old, not once its connection is. A request sent on a keep-alive
// connection just before the connection's limit used to be cut within
// 100 ms (503 before the upstream answered), where it had finished and
// the connection closed after its response; a stream that outlives the
// limit is still ended (TestAttackStreamOutlivesMaxConnectionAge).
func TestMaxConnectionAgeLetsRequestsFinish(t *testing.T) {
	const limit = time.Hour
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	// The connection is twice the limit old.
	s := &connSet{conns: map[net.Conn]*connInfo{server: {start: time.Now().Add(-2 * limit), state: http.StateActive}}}
	r := httptest.NewRequest("GET", "/download", nil)
	r = r.WithContext(context.WithValue(r.Context(), connKey{}, server))
	var ended []string
	// The first stream is older than the limit...
	s.stream(r, nil, func(outcome string) { ended = append(ended, "old: "+outcome) })
	for si := range s.streams {
		if si.start.IsZero() || time.Since(si.start) > time.Minute {
			t.Fatalf("a stream's start is %v, not the time it was recorded", si.start)
		}
		si.start = time.Now().Add(-limit - time.Minute)
	}
	// ...the second has just started, on the same old connection.
	s.stream(r, nil, func(outcome string) { ended = append(ended, "fresh: "+outcome) })
	s.reap(limit, func() *Proxy { return nil })
	if len(ended) != 1 || ended[0] != "old: "+outcomeMaxConnectionAge {
		t.Fatalf("streams ended: %q; want only the one older than maxConnectionAge, whatever its connection's age", ended)
	}
}
