// Package webhook delivers `ward watch`'s alerts to an HTTP endpoint (a
// chat or incident tool's incoming webhook, a SIEM's HTTP collector):
// batched as JSON arrays of the alert reports, signed with an HMAC when a
// secret is given, retried with capped exponential backoff and jitter,
// and never on the detectors' path. Every alert is delivered or counted as
// dropped (a full queue, a refusal, or retries past a deadline).
package webhook
