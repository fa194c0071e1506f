// Package assertion reads reachability expectations (the `assertions` of
// ward.yaml) and checks them against a compiled netpol.Engine.
//
// An assertion names sources and destinations by namespace and label
// selector (or a CIDR for addresses outside the cluster), a list of ports,
// and whether traffic must be allowed or denied. `deny` holds when no
// selected pair is allowed on any listed port; `allow` holds when every
// selected pair is allowed on every listed port. A side that selects
// nothing fails the assertion, so a renamed workload cannot make a check
// pass vacuously. Every failure carries the explain trace of a failing
// flow. The file format is documented in docs/ward-yaml.md.
package assertion
