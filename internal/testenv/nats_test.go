package testenv

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestNATSServer: the server listens on its port with JetStream on, stops
// and starts again on the same port.
func TestNATSServer(t *testing.T) {
	s := NATSServer(t, "")
	info := func() string {
		t.Helper()
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return line
	}
	if l := info(); !strings.HasPrefix(l, "INFO ") || !strings.Contains(l, `"jetstream":true`) {
		t.Errorf("server greeting %q: want INFO with JetStream", l)
	}
	s.Stop()
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)), time.Second); err == nil {
		c.Close()
		t.Error("the stopped server still listens")
	}
	s.Start()
	if l := info(); !strings.HasPrefix(l, "INFO ") {
		t.Errorf("restarted server greeting %q", l)
	}
}
