package lint

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/netpol"
)

// chunksPerWorker splits parallel work finer than one range per
// goroutine, so that a range of costly items does not leave the other
// goroutines idle.
const chunksPerWorker = 8

// split returns how many goroutines and ranges parallel uses for n items.
func split(n int) (workers, chunks int) {
	workers = max(1, min(runtime.GOMAXPROCS(0), n))
	return workers, min(n, workers*chunksPerWorker)
}

// parallel calls fn(w, k, lo, hi) for ranges [lo, hi) that together cover
// [0, n) once, numbered k in order from 0 to split's chunks, on up to
// GOMAXPROCS goroutines, and returns when all calls have returned. Each
// goroutine makes its w with newWorker.
func parallel[W any](n int, newWorker func() W, fn func(w W, k, lo, hi int)) {
	workers, chunks := split(n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			w := newWorker()
			for k := int(next.Add(1) - 1); k < chunks; k = int(next.Add(1) - 1) {
				fn(w, k, k*n/chunks, (k+1)*n/chunks)
			}
		})
	}
	wg.Wait()
}

// forEach calls fn(i) for every i in [0, n) in parallel.
func forEach(n int, fn func(i int)) {
	parallel(n, func() struct{} { return struct{}{} }, func(_ struct{}, _, lo, hi int) {
		for i := lo; i < hi; i++ {
			fn(i)
		}
	})
}

// memos are what checks remember while they run: each goroutine of
// checkAll has its own.
type memos struct {
	// nsMatch is, by selector string, the sorted names of the
	// namespaces a namespaceSelector matches.
	nsMatch map[string][]string
	// peerMatches is, by peer (see peersMatchNothing), whether a
	// selector peer matches some workload.
	peerMatches map[string]bool
	// hasDNS is, by class, whether its members may reach DNS.
	hasDNS map[*netpol.Class]bool
}

func newMemos() *memos {
	return &memos{nsMatch: map[string][]string{}, peerMatches: map[string]bool{}, hasDNS: map[*netpol.Class]bool{}}
}

// checkAll calls check(c, i) for every i in [0, n), where c is a copy of
// l with its own memos and findings, one per goroutine, and appends the
// findings to l.out in order of i, as a loop calling check(l, i) would.
// check must change nothing else of c.
func (l *linter) checkAll(n int, check func(c *linter, i int)) {
	_, chunks := split(n)
	outs := make([][]finding.Finding, chunks)
	worker := func() *linter {
		c := *l
		c.memo = newMemos()
		return &c
	}
	parallel(n, worker, func(c *linter, k, lo, hi int) {
		c.out = nil
		for i := lo; i < hi; i++ {
			check(c, i)
		}
		outs[k] = c.out
	})
	for _, out := range outs {
		l.out = append(l.out, out...)
	}
}
