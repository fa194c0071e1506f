// Package gcbudget sets how much memory Ward's garbage collector may use
// beyond the live heap.
//
// Go's collector lets the heap grow by GOGC percent of the live heap
// before it collects. Ward runs with GOGC=200: loading a manifest tree
// allocates quickly and collecting less often saves time. On a large
// cluster dump (a live heap of a gigabyte and more) the same setting
// means a peak of three times the live heap. Start therefore also sets a
// soft memory limit that follows the live heap: the runtime may use Base
// bytes in all, or Ratio times the live heap when that is more. Small
// inputs keep GOGC=200; large ones get a collector that works harder
// (an effective GOGC of (Ratio-1)*100) instead of a peak that grows
// three times as fast as the input. The limit never drops below what the
// live heap needs, so the collector does not thrash.
//
// GOGC or GOMEMLIMIT in the environment turn all of it off: the user's
// settings win.
package gcbudget
