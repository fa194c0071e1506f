package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite", pure Go

	"github.com/wardsec/ward/srcpos"
	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
)

// Defaults of Config.
const (
	DefaultRetention   = 30 * 24 * time.Hour
	DefaultQueue       = 4096
	DefaultBatch       = 256
	DefaultBusyTimeout = 5 * time.Second
	DefaultPruneEvery  = time.Hour
)

// applicationID marks a ward watch store in the SQLite header ("Ward").
const applicationID = 0x57617264

// migrations[i] takes the schema from version i to i+1; SchemaVersion is
// their count.
var migrations = []string{
	`CREATE TABLE schema_version (version INTEGER NOT NULL);
	CREATE TABLE alerts (
		id          TEXT PRIMARY KEY,
		detector    TEXT NOT NULL,
		severity    TEXT NOT NULL,
		state       TEXT NOT NULL,
		source      TEXT NOT NULL,
		destination TEXT NOT NULL,
		first       INTEGER NOT NULL, -- Unix nanoseconds
		last        INTEGER NOT NULL,
		count       INTEGER NOT NULL,
		summary     TEXT NOT NULL,
		report      TEXT NOT NULL     -- the alert report, JSON
	);
	CREATE INDEX alerts_last ON alerts (last);
	CREATE TABLE baseline_start (id INTEGER PRIMARY KEY CHECK (id = 1), start INTEGER NOT NULL);
	CREATE TABLE baseline_listeners (
		workload TEXT NOT NULL, proto INTEGER NOT NULL, port INTEGER NOT NULL,
		PRIMARY KEY (workload, proto, port)
	) WITHOUT ROWID;
	CREATE TABLE baseline_peers (
		src TEXT NOT NULL, dst TEXT NOT NULL, proto INTEGER NOT NULL, port INTEGER NOT NULL,
		PRIMARY KEY (src, dst, proto, port)
	) WITHOUT ROWID;`,
}

// SchemaVersion is the schema this ward writes.
var SchemaVersion = len(migrations)

// Config tunes a Store.
type Config struct {
	// Retention is how long an incident is kept after its last time
	// (DefaultRetention if 0).
	Retention time.Duration
	// Queue is how many writes wait at most (DefaultQueue if 0); beyond,
	// they are dropped and counted.
	Queue int
	// Batch is the most writes one transaction carries (DefaultBatch if 0).
	Batch int
	// BusyTimeout is how long a write waits for another writer's lock
	// (DefaultBusyTimeout if 0).
	BusyTimeout time.Duration
	// PruneEvery is how often old incidents are deleted while running
	// (DefaultPruneEvery if 0); they are also deleted at Open.
	PruneEvery time.Duration
	// Now is the clock retention counts from (time.Now if nil).
	Now func() time.Time
	// OnError, when set, hears of each failed write.
	OnError func(error)
	// Existing, when set, refuses to create the file: it must be a store
	// already (a reader's open).
	Existing bool
}

// Stats count what became of the writes.
type Stats struct {
	Reports         uint64 `json:"reports"`         // alert reports written
	Keys            uint64 `json:"keys"`            // baseline keys written
	Dropped         uint64 `json:"dropped"`         // alert reports dropped (a full queue, a failed write)
	BaselineDropped uint64 `json:"baselineDropped"` // baseline changes dropped
	Pruned          uint64 `json:"pruned"`          // incidents deleted as older than the retention
}

// Alert is a stored incident: its latest report.
type Alert struct {
	ID, Detector, Severity, State, Summary string
	// Source and Dest name the ends (a workload, a group or an address).
	Source, Dest string
	First, Last  time.Time
	Count        uint64
	// Report is the alert report as emitted (JSON).
	Report json.RawMessage
}

type item struct {
	alert *Alert
	base  *detect.BaselineSnapshot
}

// Store is an open ward watch store. Alert and Learned queue writes and
// never block; Close writes what is queued.
type Store struct {
	db   *sql.DB
	path string
	cfg  Config

	ch   chan item
	done chan struct{}

	mu          sync.Mutex
	stats       Stats
	baseDropped bool

	cmu    sync.RWMutex // held for reading by the queueing calls, for writing by Close
	closed bool
}

// Open opens the store at path, creating it (mode 0600, its directory
// 0700) unless cfg.Existing, in WAL mode with a busy timeout; migrates its
// schema; deletes incidents older than the retention; and starts the
// writer. A file that is not a ward watch store, or is corrupt, or was
// written by a newer ward, is an error naming it.
func Open(path string, cfg Config) (*Store, error) {
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = DefaultBusyTimeout
	}
	if cfg.PruneEvery <= 0 {
		cfg.PruneEvery = DefaultPruneEvery
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	fail := func(err error) error { return &srcpos.Error{File: path, Err: err} }
	if cfg.Existing {
		if _, err := os.Stat(path); err != nil {
			return nil, fail(fmt.Errorf("no ward watch store: %w", err))
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fail(err)
		}
		// Created here, not by SQLite, for its mode: alerts name
		// workloads and addresses. SQLite gives its -wal and -shm files
		// the same mode.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- the store the user named
		if err != nil {
			return nil, fail(err)
		}
		if err := f.Close(); err != nil {
			return nil, fail(err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fail(err)
	}
	s := &Store{db: db, path: path, cfg: cfg, ch: make(chan item, cfg.Queue), done: make(chan struct{})}
	if err := s.migrate(); err != nil {
		_ = db.Close()
		return nil, fail(err)
	}
	if !cfg.Existing {
		// WAL (kept in the file, set once it is known to be ours): a
		// reader (ward watch alerts) and the writer do not wait for each
		// other.
		if _, err := db.Exec("PRAGMA journal_mode = WAL"); err != nil {
			_ = db.Close()
			return nil, fail(err)
		}
		if err := s.prune(); err != nil {
			_ = db.Close()
			return nil, fail(err)
		}
	}
	go s.loop()
	return s, nil
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// migrate checks the file is a ward watch store of a version this ward
// knows and brings its schema up to SchemaVersion.
func (s *Store) migrate() error {
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return notOurs(err)
	}
	defer func() { _ = tx.Rollback() }()
	var app int64
	if err := tx.QueryRow("PRAGMA application_id").Scan(&app); err != nil {
		return notOurs(err)
	}
	var tables int
	if err := tx.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&tables); err != nil {
		return notOurs(err)
	}
	version := 0
	switch {
	case app == 0 && tables == 0:
		if s.cfg.Existing {
			return errors.New("not a ward watch store: an empty file")
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
			return err
		}
	case app != applicationID:
		return errors.New("not a ward watch store: another application's SQLite database")
	default:
		if err := tx.QueryRow("SELECT version FROM schema_version").Scan(&version); err != nil {
			return notOurs(err)
		}
	}
	switch {
	case version > SchemaVersion:
		return fmt.Errorf("store schema version %d is newer than this ward's (%d): a newer ward wrote it; run that one, or give another --store", version, SchemaVersion)
	case version == SchemaVersion:
		return nil
	case s.cfg.Existing:
		return fmt.Errorf("store schema version %d is older than this ward's (%d): run ward watch on it once to migrate it", version, SchemaVersion)
	}
	for _, m := range migrations[version:] {
		if _, err := tx.Exec(m); err != nil {
			return fmt.Errorf("migrating the schema: %w", err)
		}
	}
	if version == 0 {
		_, err = tx.Exec("INSERT INTO schema_version (version) VALUES (?)", SchemaVersion)
	} else {
		_, err = tx.Exec("UPDATE schema_version SET version = ?", SchemaVersion)
	}
	if err != nil {
		return err
	}
	return tx.Commit()
}

func notOurs(err error) error {
	return fmt.Errorf("not a ward watch store, or a corrupt one: %w", err)
}

// Alert queues one alert report (copied: the Alert changes as the
// incident grows); report is its JSON when the caller made it already
// (nil: made here, and not kept by the caller after). It never blocks:
// with the queue full, the report is dropped and counted.
func (s *Store) Alert(a *detect.Alert, report []byte) {
	first, _ := time.Parse(time.RFC3339Nano, a.First)
	last, _ := time.Parse(time.RFC3339Nano, a.Last)
	if report == nil {
		var err error
		if report, err = json.Marshal(a); err != nil {
			s.count(func(st *Stats) { st.Dropped++ })
			return
		}
	}
	s.enqueue(item{alert: &Alert{
		ID: a.ID, Detector: a.Detector, Severity: a.Severity, State: a.State, Summary: a.Summary,
		Source: peerName(a.Source), Dest: peerName(a.Dest), First: first, Last: last, Count: a.Count, Report: report,
	}})
}

// peerName names an end for the listing.
func peerName(p detect.Peer) string {
	switch {
	case p.Workload != "":
		return p.Workload
	case p.Group != "":
		return p.Group
	case p.Address != "":
		return p.Address
	}
	return p.Identity
}

// Learned queues what the baseline learned (detect's BaselineChanges).
// It never blocks: with the queue full, the change is dropped, counted,
// and BaselineDropped then asks for the whole baseline at the end.
func (s *Store) Learned(snap detect.BaselineSnapshot) {
	if snap.Empty() {
		return
	}
	s.enqueue(item{base: &snap})
}

func (s *Store) enqueue(it item) {
	s.cmu.RLock()
	defer s.cmu.RUnlock()
	if !s.closed {
		select {
		case s.ch <- it:
			return
		default:
		}
	}
	s.dropped([]item{it})
}

func (s *Store) dropped(items []item) {
	s.count(func(st *Stats) {
		for _, it := range items {
			if it.alert != nil {
				st.Dropped++
			} else {
				st.BaselineDropped++
				s.baseDropped = true
			}
		}
	})
}

func (s *Store) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// BaselineDropped reports whether a baseline change was dropped: the
// whole baseline should then be saved (SaveBaseline) before Close.
func (s *Store) BaselineDropped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseDropped
}

// Stats returns the counters so far.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// loop writes the queue in batches and prunes on a ticker until Close.
func (s *Store) loop() {
	defer close(s.done)
	tick := time.NewTicker(s.cfg.PruneEvery)
	defer tick.Stop()
	batch := make([]item, 0, s.cfg.Batch)
	for {
		select {
		case it, ok := <-s.ch:
			if !ok {
				return
			}
			batch = append(batch[:0], it)
			more := true
			for more && len(batch) < s.cfg.Batch {
				select {
				case it, ok := <-s.ch:
					if !ok {
						more = false
						break
					}
					batch = append(batch, it)
				default:
					more = false
				}
			}
			if err := s.write(batch); err != nil {
				s.dropped(batch)
				s.report(fmt.Errorf("store %s: %d writes dropped: %w", s.path, len(batch), err))
			}
		case <-tick.C:
			if err := s.prune(); err != nil {
				s.report(fmt.Errorf("store %s: deleting old incidents: %w", s.path, err))
			}
		}
	}
}

func (s *Store) report(err error) {
	if s.cfg.OnError != nil {
		s.cfg.OnError(err)
	}
}

const (
	upsertAlert = `INSERT INTO alerts (id, detector, severity, state, source, destination, first, last, count, summary, report)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET detector = excluded.detector, severity = excluded.severity, state = excluded.state,
		source = excluded.source, destination = excluded.destination, first = excluded.first, last = excluded.last,
		count = excluded.count, summary = excluded.summary, report = excluded.report`
	upsertStart = `INSERT INTO baseline_start (id, start) VALUES (1, ?)
	ON CONFLICT (id) DO UPDATE SET start = min(start, excluded.start)`
	insertListener = `INSERT OR IGNORE INTO baseline_listeners (workload, proto, port) VALUES (?, ?, ?)`
	insertPeer     = `INSERT OR IGNORE INTO baseline_peers (src, dst, proto, port) VALUES (?, ?, ?, ?)`
)

// write writes items in one transaction.
func (s *Store) write(items []item) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	var stmts [4]*sql.Stmt
	prep := func(i int, q string) (*sql.Stmt, error) {
		if stmts[i] == nil {
			st, err := tx.Prepare(q)
			if err != nil {
				return nil, err
			}
			stmts[i] = st
		}
		return stmts[i], nil
	}
	var reports, keys uint64
	for _, it := range items {
		if a := it.alert; a != nil {
			st, err := prep(0, upsertAlert)
			if err != nil {
				return err
			}
			if _, err := st.Exec(a.ID, a.Detector, a.Severity, a.State, a.Source, a.Dest, a.First.UnixNano(), a.Last.UnixNano(), int64(a.Count), a.Summary, string(a.Report)); err != nil { // #nosec G115 -- counts stay far below 2^63
				return err
			}
			reports++
			continue
		}
		b := it.base
		if !b.Start.IsZero() {
			st, err := prep(1, upsertStart)
			if err != nil {
				return err
			}
			if _, err := st.Exec(b.Start.UnixNano()); err != nil {
				return err
			}
		}
		for _, k := range b.Listeners {
			st, err := prep(2, insertListener)
			if err != nil {
				return err
			}
			if _, err := st.Exec(k.Workload, int(k.Proto), int(k.Port)); err != nil {
				return err
			}
		}
		for _, k := range b.Peers {
			st, err := prep(3, insertPeer)
			if err != nil {
				return err
			}
			if _, err := st.Exec(k.Src, k.Dst, int(k.Proto), int(k.Port)); err != nil {
				return err
			}
		}
		keys += uint64(len(b.Listeners) + len(b.Peers))
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.count(func(st *Stats) { st.Reports += reports; st.Keys += keys })
	return nil
}

// SaveBaseline writes a baseline (the whole one, at the end, when changes
// were dropped) now, in one transaction.
func (s *Store) SaveBaseline(snap detect.BaselineSnapshot) error {
	if err := s.write([]item{{base: &snap}}); err != nil {
		return &srcpos.Error{File: s.path, Err: fmt.Errorf("saving the baseline: %w", err)}
	}
	return nil
}

// Baseline reads the stored baseline (empty in a new store).
func (s *Store) Baseline() (detect.BaselineSnapshot, error) {
	var snap detect.BaselineSnapshot
	fail := func(err error) (detect.BaselineSnapshot, error) {
		return detect.BaselineSnapshot{}, &srcpos.Error{File: s.path, Err: fmt.Errorf("reading the baseline: %w", err)}
	}
	var start int64
	switch err := s.db.QueryRow("SELECT start FROM baseline_start WHERE id = 1").Scan(&start); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fail(err)
	default:
		snap.Start = time.Unix(0, start).UTC()
	}
	rows, err := s.db.Query("SELECT workload, proto, port FROM baseline_listeners")
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var k detect.ListenerKey
		var proto, port int
		if err := rows.Scan(&k.Workload, &proto, &port); err != nil {
			_ = rows.Close()
			return fail(err)
		}
		if k.Proto, k.Port, err = protoPort(proto, port); err != nil {
			_ = rows.Close()
			return fail(err)
		}
		snap.Listeners = append(snap.Listeners, k)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fail(err)
	}
	rows, err = s.db.Query("SELECT src, dst, proto, port FROM baseline_peers")
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var k detect.PeerKey
		var proto, port int
		if err := rows.Scan(&k.Src, &k.Dst, &proto, &port); err != nil {
			_ = rows.Close()
			return fail(err)
		}
		if k.Proto, k.Port, err = protoPort(proto, port); err != nil {
			_ = rows.Close()
			return fail(err)
		}
		snap.Peers = append(snap.Peers, k)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fail(err)
	}
	return snap, nil
}

func protoPort(proto, port int) (event.Proto, uint16, error) {
	if proto < 0 || proto > 255 || port < 0 || port > 65535 {
		return 0, 0, fmt.Errorf("a baseline key with protocol %d, port %d", proto, port)
	}
	return event.Proto(proto), uint16(port), nil // #nosec G115 -- checked just above
}

// prune deletes incidents whose last time is older than the retention.
func (s *Store) prune() error {
	r, err := s.db.Exec("DELETE FROM alerts WHERE last < ?", s.cfg.Now().Add(-s.cfg.Retention).UnixNano())
	if err != nil {
		return err
	}
	n, err := r.RowsAffected()
	if err == nil && n > 0 {
		s.count(func(st *Stats) { st.Pruned += uint64(n) }) // #nosec G115 -- n > 0, checked just above
	}
	return err
}

// Query selects stored incidents.
type Query struct {
	// Since keeps incidents whose last time is at or after it (zero: all).
	Since time.Time
	// Detector keeps one detector's incidents ("" for all).
	Detector string
}

// Alerts lists the stored incidents (the latest report of each), newest
// last time first.
func (s *Store) Alerts(q Query) ([]Alert, error) {
	since := int64(0)
	if !q.Since.IsZero() {
		since = q.Since.UnixNano()
	}
	rows, err := s.db.Query(`SELECT id, detector, severity, state, source, destination, first, last, count, summary, report
		FROM alerts WHERE last >= ? AND (? = '' OR detector = ?) ORDER BY last DESC, id`, since, q.Detector, q.Detector)
	if err != nil {
		return nil, &srcpos.Error{File: s.path, Err: err}
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		var a Alert
		var first, last, count int64
		var report string
		if err := rows.Scan(&a.ID, &a.Detector, &a.Severity, &a.State, &a.Source, &a.Dest, &first, &last, &count, &a.Summary, &report); err != nil {
			return nil, &srcpos.Error{File: s.path, Err: err}
		}
		a.First, a.Last, a.Count, a.Report = time.Unix(0, first).UTC(), time.Unix(0, last).UTC(), uint64(count), json.RawMessage(report) // #nosec G115 -- written from a uint64 count
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, &srcpos.Error{File: s.path, Err: err}
	}
	return out, nil
}

// Close stops taking writes, writes what is queued, and closes the
// database. It returns the counters.
func (s *Store) Close() (Stats, error) {
	s.cmu.Lock()
	if s.closed {
		s.cmu.Unlock()
		return s.Stats(), nil
	}
	s.closed = true
	close(s.ch)
	s.cmu.Unlock()
	<-s.done
	err := s.db.Close()
	if err != nil {
		err = &srcpos.Error{File: s.path, Err: err}
	}
	return s.Stats(), err
}

// DefaultPath is where ward watch keeps its store unless told otherwise:
// $XDG_STATE_HOME/ward/watch.db, else ~/.local/state/ward/watch.db (the
// XDG base directory specification's state directory: data that should
// outlive a restart but is not worth a backup).
func DefaultPath() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) { // a relative one is invalid: ignored, as the specification says
		return filepath.Join(d, "ward", "watch.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no default store (%w): give --store PATH, or --store none", err)
	}
	return filepath.Join(home, ".local", "state", "ward", "watch.db"), nil
}
