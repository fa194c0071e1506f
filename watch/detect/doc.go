// Package detect holds the detectors of `ward watch`: policy violations
// judged by Ward's NetworkPolicy engine, unexpected egress, port scans,
// SYN floods and ICMP floods, with the published thresholds as defaults
// and every threshold in a configuration file (ParseConfig).
//
// Detectors judge by event time, so a replayed capture raises the alerts
// the live stream did; windows are tumbling windows per key (Zeek's
// epochs), held in bounded tables of fixed-size keys: memory stays within
// Limits.MaxTracked keys per table whatever the input, and keys refused at
// the limit are counted and alerted (detector-saturated), never silently
// lost. An event dated beyond the injected clock's MaxSkew is clamped to
// the clock, so one forged timestamp cannot expire every window.
//
// Evidence is grouped into incidents: one per detector, source (a
// workload, else an address) and destination group, open until idle for
// Incidents.Idle or older than Incidents.MaxDuration. An incident is
// reported when it opens, again each time its evidence doubles, and once
// when it closes, each report carrying the same ID, a few sample events,
// the thresholds crossed and, for policy alerts, the engine's explanation.
package detect
