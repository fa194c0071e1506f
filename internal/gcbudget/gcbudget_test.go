package gcbudget

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	for _, c := range []struct {
		live, base uint64
		ratio      float64
		want       int64
	}{
		{0, 2 << 30, 1.6, 2 << 30},
		{1 << 30, 2 << 30, 1.6, 2 << 30}, // 1.6 GiB < 2 GiB
		{5 << 30, 2 << 30, 1.6, 8 << 30}, // the ratio wins
		{10 << 30, 2 << 30, 1.5, 15 << 30},
		{math.MaxUint64, 2 << 30, 1.6, math.MaxInt64},
	} {
		if got := Limit(c.live, c.base, c.ratio); got != c.want {
			t.Errorf("Limit(%d, %d, %v) = %d, want %d", c.live, c.base, c.ratio, got, c.want)
		}
	}
}

// TestFollowsLiveHeap: with a small base, the limit set after
// collections follows the live heap (ratio times it), and stop restores
// the earlier settings.
func TestFollowsLiveHeap(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	percent := debug.SetGCPercent(100)
	debug.SetGCPercent(percent)
	stop := start(1<<20, 1.5)
	if p := debug.SetGCPercent(GCPercent); p != GCPercent {
		t.Errorf("GOGC %d after start, want %d", p, GCPercent)
	}
	live := make([][]byte, 0, 64)
	for range 64 {
		live = append(live, make([]byte, 1<<20)) // 64 MiB live
	}
	// Cleanups run on their own goroutine after a collection: collect
	// until the limit has moved.
	// A cleanup may still report a collection from while live was being
	// allocated: wait for one that saw all of it.
	want := int64(64 << 20 * 3 / 2)
	var got int64
	for range 500 {
		runtime.GC()
		time.Sleep(time.Millisecond)
		if got = debug.SetMemoryLimit(-1); got >= want*95/100 {
			break
		}
	}
	runtime.KeepAlive(live)
	if got < want*95/100 || got > want*13/10 {
		t.Errorf("limit %d with 64 MiB live, want about 1.5 times it (%d)", got, want)
	}
	stop()
	if after := debug.SetMemoryLimit(-1); after != before {
		t.Errorf("after stop the limit is %d, want %d as before", after, before)
	}
	if p := debug.SetGCPercent(percent); p != percent {
		t.Errorf("after stop GOGC is %d, want %d as before", p, percent)
	}
}
