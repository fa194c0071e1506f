// Package watch runs `ward watch`: events from sources (package source,
// and the Linux sources) are resolved to workloads at their time
// (package identity), judged by the detectors (package detect) and
// reported as JSON lines of alerts with their evidence, with Prometheus
// metrics beside.
//
// Pipeline is the event.Sink every source delivers to: batches from
// several sources are serialised, each event resolved once, and the
// detectors see a batch at a time. Problems (bad records, lost events)
// are counted and passed on; Run ends with a Summary saying what was read,
// what could not be, and what was raised.
package watch
