// Package fleet moves `ward watch` events over NATS JetStream, so that
// many hosts publish what their sources see and detectors run elsewhere,
// as a group of consumers of one durable stream.
//
// A Publisher is an event.Sink: any source feeds it. Each event is one
// message, encoded compactly (Append: a version byte and every field of
// event.Event in a fixed order, varints and length-prefixed strings; a
// conntrack event takes about 70 bytes against 420 as JSON), published to
// PREFIX.NODE with the event ID as its Nats-Msg-Id, so the server drops an
// event published twice within its duplicate window (a retry whose
// acknowledgement was lost, a publisher restarted on the same input).
// Deliver waits for the server's acknowledgement of the batch and retries
// with backoff; what it cannot publish is counted and reported as lost.
//
// A Consumer is an event.Source reading the stream through a durable pull
// consumer. Every process using the same durable name is one group: each
// event goes to one of them. A batch is acknowledged only after the sink
// (the detectors) accepted it, so a consumer that dies between the two
// loses nothing: the server delivers the batch again after the ack wait.
// Events already delivered are dropped by ID (Dedup, a bounded window),
// so such a redelivery raises no alert twice. A message that is no event
// is reported as a problem and terminated, never delivered again, and a
// decoder never panics on any input (FuzzDecode).
//
// The stream (EnsureStream) is a work queue: an event is removed once
// acknowledged, kept at most MaxAge while no detector takes it, and a
// stream full to MaxBytes refuses new events, which the publisher counts
// as lost, rather than dropping stored ones unseen.
//
// Connect reaches the server with TLS (CA, client certificate),
// user and password, a token, an nkey seed or a credentials file.
package fleet
