package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardsec/ward/internal/testenv"
)

// startRedis runs a private redis-server on a free loopback port for the
// test and stops it afterwards.
func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	testenv.RequireCommand(t, "redis-server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes") // #nosec G204 -- a fixed program with a port number
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	t.Cleanup(func() { _ = c.Close() })
	for i := 0; ; i++ {
		if err := c.Ping(context.Background()).Err(); err == nil {
			return c
		} else if i == 100 {
			t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRedis: two limiters (two proxy instances) share one budget through a
// real redis-server.
func TestRedis(t *testing.T) {
	c := startRedis(t)
	mk := func() *Redis {
		l, err := NewRedis(RedisConfig{Client: c, Rate: 3, Burst: 3, Period: time.Minute, Key: ByHeader("X-Key")})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a, b := mk(), mk()
	allowed := 0
	for i := range 6 {
		l := a
		if i%2 == 1 {
			l = b
		}
		err := l.Check(req("client-1"))
		switch {
		case err == nil:
			allowed++
		case !errors.Is(err, ErrLimited):
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if allowed != 3 {
		t.Errorf("%d of 6 requests allowed across two instances, want the shared burst of 3", allowed)
	}
	rec := httptest.NewRecorder()
	a.Handler(http.NotFoundHandler()).ServeHTTP(rec, req("client-1"))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("over the limit: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if err := a.Check(req("client-2")); err != nil {
		t.Errorf("another client: %v", err)
	}
}

// TestRedisDown: with Redis unreachable the limiter fails closed (503),
// or open when configured so.
func TestRedisDown(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	closed, _ := NewRedis(RedisConfig{Client: c, Rate: 1, Burst: 1, Key: ByHeader("X-Key")})
	rec := httptest.NewRecorder()
	closed.Handler(http.NotFoundHandler()).ServeHTTP(rec, req("a"))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("fail closed: %d, want 503", rec.Code)
	}
	open, _ := NewRedis(RedisConfig{Client: c, Rate: 1, Burst: 1, Key: ByHeader("X-Key"), FailOpen: true})
	if err := open.Check(req("a")); err != nil {
		t.Errorf("fail open: %v", err)
	}
}
