// Package store keeps `ward watch`'s alerts and learned baseline across
// runs in an embedded SQLite database (modernc.org/sqlite, pure Go: no
// cgo, one static binary). Every alert report is kept, the latest of each
// incident (upserted by incident ID), until its last time is older than
// the retention; the baseline detectors' learning start and learned
// listeners and peers are kept so that a restarted watch goes on from
// what it learned. Writes are batched in transactions by one goroutine
// behind a bounded queue: the detectors never wait for the disk, and what
// a full queue or a failed write drops is counted.
//
// The schema is versioned (a schema_version table): an older store is
// migrated, a newer one is refused, never downgraded; a file that is not
// a ward watch store, or is corrupt, is refused with an error naming it.
package store
