package gcbudget

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Defaults of Start.
const (
	// GCPercent is GOGC while the heap is far below the budget.
	GCPercent = 200
	// Base is the memory the runtime may use in all, whatever the live
	// heap: 2 GiB.
	Base = 2 << 30
	// Ratio bounds the memory to that times the live heap once that is
	// more than Base.
	Ratio = 1.6
)

// Limit is the soft memory limit for a live heap of live bytes: base, or
// ratio times live when that is more.
func Limit(live uint64, base uint64, ratio float64) int64 {
	l := float64(live) * ratio
	if l < float64(base) {
		l = float64(base)
	}
	if l >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(l)
}

// Start applies GCPercent and a memory limit of Limit(live, Base, Ratio),
// updated after every collection, unless GOGC or GOMEMLIMIT is set in the
// environment. The returned function stops the updates and restores the
// runtime's earlier settings.
func Start() (stop func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	return start(Base, Ratio)
}

func start(base uint64, ratio float64) func() {
	prevPercent := debug.SetGCPercent(GCPercent)
	prevLimit := debug.SetMemoryLimit(Limit(0, base, ratio))
	// mu orders the updates with stop: none after it.
	var mu sync.Mutex
	stopped := false
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var arm func()
	arm = func() {
		// A new object each cycle: its cleanup runs once the collector
		// has found it unreachable, that is after a collection.
		s := new([16]byte)
		runtime.AddCleanup(s, func(struct{}) {
			mu.Lock()
			defer mu.Unlock()
			if stopped {
				return
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				debug.SetMemoryLimit(Limit(sample[0].Value.Uint64(), base, ratio))
			}
			arm()
		}, struct{}{})
	}
	arm()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		stopped = true
		debug.SetGCPercent(prevPercent)
		debug.SetMemoryLimit(prevLimit)
	}
}
