// Package source reads `ward watch` events from line-oriented inputs:
// Hubble flow exports (JSON lines) and `ward proxy` audit records, from a
// file, standard input, or a followed file that survives rotation.
//
// Lines is the Source; a Decoder turns each line into an event. Bad
// lines are reported to the sink as *srcpos.Error with the file and line,
// counted, and skipped: a line longer than MaxLine is never buffered
// whole, a truncated or malformed record never stops the stream, and no
// input makes a decoder panic (FuzzHubble).
//
// The Hubble decoder reads the few fields Ward needs in one pass over the
// line and allocates nothing for a flow; HubbleReference decodes the same
// lines through encoding/json into HubbleRecord, for differential tests
// and as the benchmark's baseline.
package source
