package dockerinv

import (
	"context"
	"time"
)

// SetBackoff replaces Watch's backoff bounds and its wait, so that tests
// neither sleep nor depend on the clock.
func SetBackoff(c *Client, lo, hi time.Duration, sleep func(context.Context, time.Duration) error) {
	c.minBackoff, c.maxBackoff, c.sleep = lo, hi, sleep
}

// FakePorts makes Inventory find bridge ports with ports (by sandbox
// key) instead of asking the kernel.
type FakePorts func(sandboxKey string) ([]string, error)

func (f FakePorts) of(key string) ([]string, error) { return f(key) }

// portsOf says every bridge exists, with no ports.
func (f FakePorts) portsOf(string) ([]string, bool) { return nil, true }

// FakeBridges finds containers' ports with Of and bridges' ports in
// Bridges.
type FakeBridges struct {
	Of      FakePorts
	Bridges map[string][]string
}

func (f FakeBridges) of(key string) ([]string, error) { return f.Of(key) }

func (f FakeBridges) portsOf(br string) ([]string, bool) {
	ports, ok := f.Bridges[br]
	return ports, ok
}

// SetBridges replaces how c finds containers' and bridges' ports.
func SetBridges(c *Client, f FakeBridges) {
	c.ports = func() (portFinder, error) { return f, nil }
}

// SetPorts replaces how c finds containers' bridge ports.
func SetPorts(c *Client, f FakePorts) {
	c.ports = func() (portFinder, error) { return f, nil }
}
