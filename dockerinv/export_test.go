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
