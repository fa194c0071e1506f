package detect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wardsec/ward/srcpos"
)

// Error is the position error of this package's loader.
type Error = srcpos.Error

// Config holds every threshold. Defaults are the published ones (see
// docs/watch.md for their sources).
type Config struct {
	PortScan  PortScan `yaml:"portScan"`
	SYNFlood  Flood    `yaml:"synFlood"`
	ICMPFlood Flood    `yaml:"icmpFlood"`
	Egress    Egress   `yaml:"egress"`
	Policy    Policy   `yaml:"policy"`
	Baseline  Baseline `yaml:"baseline"`
	// DNSZoneTransfer and DNSTunnel judge DNS queries (docs/watch.md).
	DNSZoneTransfer DNSZoneTransfer `yaml:"dnsZoneTransfer"`
	DNSTunnel       DNSTunnel       `yaml:"dnsTunnel"`
	Incidents       Incidents       `yaml:"incidents"`
	Limits          Limits          `yaml:"limits"`
	// ClusterCIDRs are the pod address ranges: an unclaimed address in
	// them is an unknown workload, not the internet.
	ClusterCIDRs Prefixes `yaml:"clusterCIDRs"`
}

// Prefixes is a list of CIDRs; a bad one is an error at its line.
type Prefixes []netip.Prefix

// UnmarshalYAML reads a sequence of CIDRs.
func (p *Prefixes) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: want a list of CIDRs", n.Line)
	}
	out := Prefixes{}
	for _, c := range n.Content {
		pr, err := netip.ParsePrefix(c.Value)
		if c.Kind != yaml.ScalarNode || err != nil {
			return fmt.Errorf("line %d: %q is not a CIDR (want 10.0.0.0/8 or fd00::/8)", c.Line, c.Value)
		}
		out = append(out, pr.Masked())
	}
	*p = out
	return nil
}

// PortScan is Zeek scan.zeek's detector: failed connections from one
// source to DistinctPorts ports of one host, or to DistinctHosts hosts on
// one port, within Window.
type PortScan struct {
	Enabled       bool          `yaml:"enabled"`
	Window        time.Duration `yaml:"window"`
	DistinctPorts int           `yaml:"distinctPorts"`
	DistinctHosts int           `yaml:"distinctHosts"`
}

// Flood is a rate threshold per (source, destination) pair: PPS packets
// per second on average over Window.
type Flood struct {
	Enabled bool          `yaml:"enabled"`
	Window  time.Duration `yaml:"window"`
	PPS     int           `yaml:"pps"`
}

// Egress flags workloads reaching external addresses that no
// NetworkPolicy ipBlock (and no Allow entry) covers.
type Egress struct {
	Enabled bool     `yaml:"enabled"`
	Allow   Prefixes `yaml:"allow"`
}

// Policy judges observed flows with the NetworkPolicy engine.
type Policy struct {
	Enabled bool `yaml:"enabled"`
	// Drops reports dropped flows the policies allow (stale or broken
	// rules).
	Drops bool `yaml:"drops"`
}

// DNSZoneTransfer flags AXFR and IXFR queries (NeuVector's default).
type DNSZoneTransfer struct {
	Enabled bool `yaml:"enabled"`
}

// DNSTunnel flags the shapes of DNS tunnels (the Zeek-based
// anomalous-dns thresholds): a query name longer than MaxName
// characters, or more than DistinctNames distinct names under one
// registered domain from one client within Window. Names under
// ClusterDomain (search-path expansions included) and under an Exempt
// domain are not judged.
type DNSTunnel struct {
	Enabled       bool          `yaml:"enabled"`
	Window        time.Duration `yaml:"window"`
	DistinctNames int           `yaml:"distinctNames"`
	MaxName       int           `yaml:"maxName"`
	ClusterDomain string        `yaml:"clusterDomain"`
	Exempt        []string      `yaml:"exempt"`
}

// Incidents groups alerts: evidence for the same detector, source and
// destination group joins the open incident until it has been Idle that
// long or has lasted MaxDuration.
type Incidents struct {
	Idle        time.Duration `yaml:"idle"`
	MaxDuration time.Duration `yaml:"maxDuration"`
	Samples     int           `yaml:"samples"`
}

// Limits bound memory whatever the input.
type Limits struct {
	// MaxTracked bounds the keys of each detector's window table; keys
	// beyond it are not tracked and are counted (ward_watch_untracked_total)
	// and alerted as detector saturation.
	MaxTracked int `yaml:"maxTracked"`
	// MaxIncidents bounds open incidents.
	MaxIncidents int `yaml:"maxIncidents"`
	// MaxSkew is how far ahead of the clock an event's time may be; a
	// later time is clamped to the clock (a forged timestamp must not
	// expire every window).
	MaxSkew time.Duration `yaml:"maxSkew"`
}

// Default returns the published thresholds.
func Default() Config {
	return Config{
		PortScan:        PortScan{Enabled: true, Window: 5 * time.Minute, DistinctPorts: 15, DistinctHosts: 25},
		SYNFlood:        Flood{Enabled: true, Window: 5 * time.Second, PPS: 800},
		ICMPFlood:       Flood{Enabled: true, Window: 5 * time.Second, PPS: 100},
		Egress:          Egress{Enabled: true},
		Policy:          Policy{Enabled: true, Drops: true},
		Baseline:        Baseline{Enabled: true, Learn: time.Hour, NewListener: true, NewPeer: true},
		DNSZoneTransfer: DNSZoneTransfer{Enabled: true},
		DNSTunnel: DNSTunnel{Enabled: true, Window: time.Hour, DistinctNames: 8, MaxName: 90,
			ClusterDomain: "cluster.local", Exempt: []string{"in-addr.arpa", "ip6.arpa"}},
		Incidents: Incidents{Idle: 10 * time.Minute, MaxDuration: time.Hour, Samples: 5},
		Limits:    Limits{MaxTracked: 1 << 21, MaxIncidents: 10000, MaxSkew: 5 * time.Minute},
	}
}

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

func yamlErr(name string, err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &Error{File: name, Line: n, Err: errors.New(srcpos.UnknownField(m[2], reflect.TypeFor[Config]()))}
	}
	return &Error{File: name, Err: errors.New(msg)}
}

// ParseConfig reads a configuration: the defaults, overridden by what
// the file sets. Unknown fields, wrong types, a second document and
// thresholds out of range are errors at their file and line.
func ParseConfig(name string, data []byte) (Config, error) {
	c := Default()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return c, yamlErr(name, err)
	}
	if len(root.Content) == 0 {
		return c, nil
	}
	lines := map[string]int{}
	fieldLines(root.Content[0], "", lines)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, yamlErr(name, err)
	}
	switch line, err := srcpos.NextDocument(dec); {
	case err != nil:
		return c, yamlErr(name, err)
	case line > 0:
		return c, &Error{File: name, Line: line, Err: errors.New("a second YAML document: the configuration is one document")}
	}
	if err := c.validate(); err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return c, &Error{File: name, Line: lineOf(lines, fe.path), Err: fmt.Errorf("%s: %s", fe.path, fe.msg)}
		}
		return c, &Error{File: name, Err: err}
	}
	return c, nil
}

type fieldError struct{ path, msg string }

func (e *fieldError) Error() string { return e.path + ": " + e.msg }

// validate checks every threshold.
func (c *Config) validate() error {
	pos := func(path string, v int) error {
		if v < 1 {
			return &fieldError{path, fmt.Sprintf("must be at least 1, not %d", v)}
		}
		return nil
	}
	dur := func(path string, d time.Duration) error {
		if d <= 0 {
			return &fieldError{path, fmt.Sprintf("must be a positive duration, not %s", d)}
		}
		return nil
	}
	for _, err := range []error{
		dur("portScan.window", c.PortScan.Window),
		pos("portScan.distinctPorts", c.PortScan.DistinctPorts),
		pos("portScan.distinctHosts", c.PortScan.DistinctHosts),
		dur("synFlood.window", c.SYNFlood.Window),
		pos("synFlood.pps", c.SYNFlood.PPS),
		dur("icmpFlood.window", c.ICMPFlood.Window),
		pos("icmpFlood.pps", c.ICMPFlood.PPS),
		dur("baseline.learn", c.Baseline.Learn),
		dur("dnsTunnel.window", c.DNSTunnel.Window),
		pos("dnsTunnel.distinctNames", c.DNSTunnel.DistinctNames),
		pos("dnsTunnel.maxName", c.DNSTunnel.MaxName),
		dur("incidents.idle", c.Incidents.Idle),
		dur("incidents.maxDuration", c.Incidents.MaxDuration),
		pos("incidents.samples", c.Incidents.Samples),
		pos("limits.maxTracked", c.Limits.MaxTracked),
		pos("limits.maxIncidents", c.Limits.MaxIncidents),
		dur("limits.maxSkew", c.Limits.MaxSkew),
	} {
		if err != nil {
			return err
		}
	}
	if c.Limits.MaxTracked > 1<<30 {
		return &fieldError{"limits.maxTracked", fmt.Sprintf("at most %d", 1<<30)}
	}
	if c.PortScan.DistinctPorts > 1000 || c.PortScan.DistinctHosts > 1000 {
		return &fieldError{"portScan", "distinctPorts and distinctHosts are at most 1000 (each is remembered per key)"}
	}
	if c.DNSTunnel.DistinctNames > 1000 {
		return &fieldError{"dnsTunnel.distinctNames", "at most 1000 (each is remembered per client and domain)"}
	}
	if c.DNSTunnel.ClusterDomain != "" {
		d, err := domainName(c.DNSTunnel.ClusterDomain)
		if err != nil {
			return &fieldError{"dnsTunnel.clusterDomain", err.Error()}
		}
		c.DNSTunnel.ClusterDomain = d
	}
	for i, x := range c.DNSTunnel.Exempt {
		d, err := domainName(x)
		if err != nil {
			return &fieldError{"dnsTunnel.exempt", err.Error()}
		}
		c.DNSTunnel.Exempt[i] = d
	}
	if c.Incidents.Samples > 100 {
		return &fieldError{"incidents.samples", "at most 100"}
	}
	return nil
}

// domainName is a configured domain as query names are compared with
// it: lower-case, without a trailing dot.
func domainName(s string) (string, error) {
	d := strings.ToLower(strings.TrimSuffix(s, "."))
	if d == "" || strings.ContainsAny(d, " \t/:*") || strings.Contains(d, "..") || strings.HasPrefix(d, ".") {
		return "", fmt.Errorf("%q is not a domain name (want cluster.local or example.com)", s)
	}
	return d, nil
}

func fieldLines(n *yaml.Node, path string, out map[string]int) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		p := n.Content[i].Value
		if path != "" {
			p = path + "." + p
		}
		out[p] = n.Content[i].Line
		fieldLines(n.Content[i+1], p, out)
	}
}

// lineOf is the line of path or its nearest parent written in the file.
func lineOf(lines map[string]int, path string) int {
	for path != "" {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}
