// Package event is the one event model of `ward watch`: every source
// (Hubble flow exports, `ward proxy` audit records, conntrack, nflog)
// turns what it reads into Event values, and every stage after it
// (identity, detectors, alerts) reads only Events.
//
// An Event is a compact value: addresses are netip.Addr, time is Unix
// nanoseconds, enumerations are single bytes, and the few strings a
// source supplies (namespace and pod names hinted by Hubble, node, drop
// reason, rule) are interned by the source through an Interner, so that
// decoding a flow allocates nothing. Only L7 requests (proxy audit
// records, a low-rate input) carry a pointer to an L7 record, and DNS
// queries (Hubble's DNS visibility, resolver logs) one to a DNS record.
//
// # Delivery
//
// A Source runs until its input ends, its context is cancelled or its Sink
// fails. It fills a batch of events it owns (up to BatchSize) and hands it
// to Sink.Deliver; the slice is reused once Deliver returns, so a sink that
// keeps an event copies the value (an Event holds no mutable shared
// state; its L7 and DNS records are never changed after delivery). Input the source
// cannot turn into events, and events it knows it lost, are reported to
// Sink.Problem and counted, never silently skipped: a bad line is a
// *srcpos.Error naming the file and line.
//
// # Time
//
// Detectors judge by event time (Event.Time), so a replayed file gives the
// same alerts as the live stream did. A source whose input has no time of
// its own (conntrack, nflog) stamps events from a Clock; tests inject a
// ManualClock and replay time exactly.
//
// # Identity of events
//
// Event.ID is a 64-bit identifier stable across processes and machines
// (xxhash of the origin and the input's own identity of the event: a
// Hubble flow's uuid, a proxy record's request id, else the raw record),
// so consumers deduplicate events delivered twice.
package event
