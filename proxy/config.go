package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wardsec/ward/guard/authz"
	"github.com/wardsec/ward/guard/clientip"
	"github.com/wardsec/ward/internal/regfile"
	"github.com/wardsec/ward/internal/urlredact"
	"github.com/wardsec/ward/srcpos"
)

// Config is `ward proxy`'s configuration file (docs/proxy.md). Relative
// file paths in it are relative to the file's directory.
type Config struct {
	// Listen is the address of the proxy's listener, ":8443" by default.
	Listen string `yaml:"listen"`
	// TLS of the listener; without it the proxy serves plain HTTP (only
	// for a sidecar that a mesh or a node-local socket protects).
	TLS *ServerTLS `yaml:"tls"`
	// Upstream is where allowed requests go.
	Upstream Upstream `yaml:"upstream"`
	// Workload is the workload the proxy fronts: it selects the
	// AuthorizationPolicies that apply, as Istio does.
	Workload Workload `yaml:"workload"`
	// Authorization lists Istio AuthorizationPolicy files; "none" says
	// explicitly that the proxy runs without (see Off).
	Authorization *Authorization `yaml:"authorization"`
	// JWT configures bearer token verification; "none" as for
	// Authorization.
	JWT *JWT `yaml:"jwt"`
	// ClientIP configures trusted proxies in front of this one.
	ClientIP *ClientIP `yaml:"clientIP"`
	// Allow and Deny are client CIDR lists (deny wins; empty allow means
	// any).
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
	// RateLimit limits requests per key.
	RateLimit *RateLimit `yaml:"rateLimit"`
	// WAF filters requests with the OWASP Core Rule Set.
	WAF *WAF `yaml:"waf"`
	// MaxConcurrency enables the adaptive concurrency limiter with this
	// maximum.
	MaxConcurrency int `yaml:"maxConcurrency"`
	// Headers configures the request headers the proxy removes.
	Headers *Headers `yaml:"headers"`
	// Upgrades are the Upgrade protocols forwarded (HTTP/1.1 upgrades,
	// such as WebSocket): [websocket] when empty, [none] for none. A
	// request offering any other is forwarded without its Upgrade.
	// Protocols that carry HTTP requests (h2c) are an error.
	Upgrades []string `yaml:"upgrades"`
	// Audit configures the audit records' output.
	Audit    Audit    `yaml:"audit"`
	Limits   Limits   `yaml:"limits"`
	Timeouts Timeouts `yaml:"timeouts"`
	// Routes send requests, by host and path, to their own upstream with
	// their own checks; the first that matches, in file order, wins. A
	// request no route matches gets 404. Without routes every request
	// goes to Upstream.
	Routes []Route `yaml:"routes"`
	// Admin serves /healthz, /readyz and /metrics; "127.0.0.1:9901" by
	// default, "off" to disable.
	Admin string `yaml:"admin"`

	file  string
	lines map[string]int
	off   map[string]bool // sections written as "none"
}

// offSections are the sections that a reload may not drop unless the new
// configuration writes them as "none": a half-written or truncated file
// must not turn a check off.
var offSections = []string{"authorization", "jwt"}

// Off reports whether section ("authorization", "jwt") is written as
// "none": turned off on purpose.
func (c *Config) Off(section string) bool { return c.off[section] }

// ServerTLS is the listener's TLS: a certificate and key, or a SPIFFE
// SVID with the client IDs admitted (mutual TLS).
type ServerTLS struct {
	Profile string  `yaml:"profile"`
	Cert    string  `yaml:"cert"`
	Key     string  `yaml:"key"`
	SPIFFE  *SPIFFE `yaml:"spiffe"`
}

// SPIFFE names where the SVID and the trust bundle come from, files or
// the SPIFFE Workload API (a SPIRE agent's socket), and the peer IDs
// admitted (patterns: exact, "*" segments, trailing "**").
type SPIFFE struct {
	SVID   string `yaml:"svid"`
	Key    string `yaml:"key"`
	Bundle string `yaml:"bundle"`
	// Socket is the Workload API address, such as
	// unix:///run/spire/sockets/agent.sock, instead of the files.
	Socket string   `yaml:"socket"`
	Allow  []string `yaml:"allow"`
}

// Headers configures the request headers the proxy removes before any
// check: identity headers a client could forge (see identityHeaders and
// authProxyHeaders) are always removed; Strip adds more. Keep names
// auth-proxy headers (authProxyHeaders) or forwarding headers
// (forwardingHeaders: X-Real-IP, X-Forwarded-Prefix, ...) that a trusted proxy in front
// (clientIP.trustedProxies) sets itself and the upstream needs: they are
// kept from trusted peers, and still removed from every other one.
type Headers struct {
	Strip []string `yaml:"strip"`
	Keep  []string `yaml:"keep"`
}

// Upstream is the service behind the proxy.
type Upstream struct {
	URL string `yaml:"url"`
	// TLS to the upstream, for https URLs: a CA file, or SPIFFE mutual TLS.
	CA     string  `yaml:"ca"`
	SPIFFE *SPIFFE `yaml:"spiffe"`
	// Timeouts; unset ones take the defaults below, "0s" turns one off.
	// ConnectTimeout bounds the TCP connect and the TLS handshake (5 s).
	ConnectTimeout *Duration `yaml:"connectTimeout"`
	// ResponseHeaderTimeout bounds the wait for the response's headers
	// once the request is sent (15 s).
	ResponseHeaderTimeout *Duration `yaml:"responseHeaderTimeout"`
	// Timeout bounds the whole exchange, as Envoy's route timeout (15 s).
	// Upgraded connections (WebSocket) are exempt once the upstream has
	// switched protocols (101): they have IdleTimeout.
	Timeout *Duration `yaml:"timeout"`
	// IdleTimeout closes an exchange or an upgraded connection with no
	// byte in either direction for this long (5 min, Envoy's
	// stream_idle_timeout).
	IdleTimeout *Duration `yaml:"idleTimeout"`
	// MinBodyRate is the slowest a client may send a request body, in
	// bytes per second, after a grace of 5 s (1024); 0 turns it off. A
	// slower client gets 408 and frees its upstream connection.
	MinBodyRate *int64 `yaml:"minBodyRate"`
	// MaxResponseHeaderBytes caps the upstream's response header section
	// (1 MiB; 0: the default): a larger one is an upstream error (502),
	// not megabytes buffered per request.
	MaxResponseHeaderBytes int64 `yaml:"maxResponseHeaderBytes"`
}

// Upstream timeout defaults.
const (
	defaultConnectTimeout        = 5 * time.Second
	defaultResponseHeaderTimeout = 15 * time.Second
	defaultRouteTimeout          = 15 * time.Second
	defaultIdleTimeout           = 5 * time.Minute
	defaultMinBodyRate           = 1024
	// As http.DefaultMaxHeaderBytes for requests; Go's transport would
	// otherwise read 10 MiB of response headers.
	defaultMaxResponseHeaderBytes = 1 << 20
)

// or returns d, or def when d is unset.
func (d *Duration) or(def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return time.Duration(*d)
}

// Workload identifies the workload the proxy fronts.
type Workload struct {
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

// Authorization lists Istio AuthorizationPolicy files.
type Authorization struct {
	Policies      []string `yaml:"policies"`
	RootNamespace string   `yaml:"rootNamespace"`
}

// JWT configures bearer tokens.
type JWT struct {
	Issuers  []Issuer `yaml:"issuers"`
	Required bool     `yaml:"required"`
	// OutputClaimToHeaders copies claims of a verified token into request
	// headers for the upstream (Istio's field of the same name); a client
	// sending such a header has it removed.
	OutputClaimToHeaders []ClaimToHeader `yaml:"outputClaimToHeaders"`
}

// ClaimToHeader names a header and the token claim it carries.
type ClaimToHeader struct {
	Header string `yaml:"header"`
	Claim  string `yaml:"claim"`
}

// Issuer is one token issuer.
type Issuer struct {
	Issuer    string   `yaml:"issuer"`
	Audiences []string `yaml:"audiences"`
	// AnyAudience accepts a token meant for any service (Istio's
	// behaviour without audiences); without it, Audiences is required,
	// so that a token minted for another service is not replayed here.
	AnyAudience bool     `yaml:"anyAudience"`
	Algorithms  []string `yaml:"algorithms"`
	JWKSURL     string   `yaml:"jwksURL"`
	JWKSFile    string   `yaml:"jwksFile"`
	// JWKSCA is a PEM file of the CAs that sign the JWKS server's
	// certificate (the system's roots when empty).
	JWKSCA string `yaml:"jwksCA"`
}

// ClientIP configures X-Forwarded-For handling.
type ClientIP struct {
	TrustedProxies []string `yaml:"trustedProxies"`
}

// RateLimit limits requests per key: "ip", "principal", "subject" or
// "header:NAME".
type RateLimit struct {
	Rate   float64 `yaml:"rate"`
	Burst  int     `yaml:"burst"`
	Key    string  `yaml:"key"`
	DryRun bool    `yaml:"dryRun"`
	// Redis, when set, shares the limit between proxies ("host:port").
	Redis string `yaml:"redis"`
	// IPv6Prefix is the prefix length IPv6 clients are keyed by with key
	// ip (and for anonymous clients with principal or subject): 64 by
	// default, since one host commonly owns a /64.
	IPv6Prefix int `yaml:"ipv6Prefix"`
}

// WAF configures request filtering with the OWASP Core Rule Set
// (package guard/waf).
type WAF struct {
	// Paths are the routes the WAF inspects: path prefixes such as
	// "/api/" or "/login" (all requests when empty). Other routes skip
	// it, so a costly rule set runs only where it is wanted.
	Paths []string `yaml:"paths"`
	// Mode is "block" (default) or "detect" (log, never refuse).
	Mode                string   `yaml:"mode"`
	ParanoiaLevel       int      `yaml:"paranoiaLevel"`
	AnomalyThreshold    int      `yaml:"anomalyThreshold"`
	MaxBodyBytes        int64    `yaml:"maxBodyBytes"`
	AllowedMethods      []string `yaml:"allowedMethods"`
	AllowedContentTypes []string `yaml:"allowedContentTypes"`
	// Off turns the WAF off for a route (routes[].waf: {off: true}).
	Off bool `yaml:"off"`
}

// Route is a gateway route (as an Istio VirtualService HTTP route or a
// Caddy handle block): requests it matches go to its upstream through
// its checks. Unset sections take the top-level ones.
type Route struct {
	Name  string     `yaml:"name"`
	Match RouteMatch `yaml:"match"`
	// Upstream, with its timeouts; the top-level one when unset. Paths
	// are forwarded unchanged (no prefix rewriting).
	Upstream *Upstream `yaml:"upstream"`
	// Authorization policies for this route's requests.
	Authorization *Authorization `yaml:"authorization"`
	// JWT overrides whether a token is required (the issuers are the
	// top-level jwt's).
	JWT       *RouteJWT  `yaml:"jwt"`
	RateLimit *RateLimit `yaml:"rateLimit"`
	WAF       *WAF       `yaml:"waf"`
	// Limits replace the top-level size limits for this route.
	Limits *Limits `yaml:"limits"`
}

// RouteMatch selects requests by host and path. Host is exact
// (case-insensitive, port ignored) or "*.example.com" (any subdomain);
// empty matches any host. Path is exact, Prefix a plain string prefix
// of the path (as Envoy's prefix); one of them is required ("/" for all).
// Paths are matched after normalization (slashes merged).
type RouteMatch struct {
	Host   string `yaml:"host"`
	Path   string `yaml:"path"`
	Prefix string `yaml:"prefix"`
}

// RouteJWT is a route's JWT setting.
type RouteJWT struct {
	Required bool `yaml:"required"`
}

// Audit configures where audit records go and what happens when the
// output does not keep up. Its settings take effect at start.
type Audit struct {
	// Output is "stdout" (default), "off", or a file path (appended to,
	// reopened on SIGHUP and when rotated away).
	Output string `yaml:"output"`
	// BufferBytes bounds the records waiting for the output (1 MiB by
	// default).
	BufferBytes int `yaml:"bufferBytes"`
	// WhenFull is "drop" (default: the record is dropped and counted in
	// ward_audit_dropped_total) or "refuse" (requests get 503 while the
	// output is stalled or the buffer over half full, and until it has
	// caught up).
	WhenFull string `yaml:"whenFull"`
}

// Limits cap request sizes and refuse bodies on GET, HEAD and TRACE.
type Limits struct {
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	MaxURLBytes  int   `yaml:"maxURLBytes"`
	// AllowGetBody forwards GET requests with a body (a search API such
	// as Elasticsearch's), each on an upstream connection closed after
	// it. Without it they are refused with 400: an upstream that ignores
	// a GET's body reads it as a request of its own, which no check saw
	// (CL.0 request smuggling). HEAD and TRACE bodies are always refused.
	AllowGetBody bool `yaml:"allowGetBody"`
}

// Timeouts of the listener.
type Timeouts struct {
	ReadHeader Duration `yaml:"readHeader"`
	Read       Duration `yaml:"read"`
	Write      Duration `yaml:"write"`
	Idle       Duration `yaml:"idle"`
	// MaxConnectionAge closes client connections this old: idle ones at
	// once, busy ones after their current response, WebSocket tunnels
	// at once (their response was the 101) (off by default).
	MaxConnectionAge Duration `yaml:"maxConnectionAge"`
}

// Duration reads "5s", "1m30s".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration such as 5s or 1m30s", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Error is an invalid configuration, with the line of the field at
// fault: srcpos.Error, the one position error of every Ward loader.
type Error = srcpos.Error

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// LoadConfig reads and validates a configuration file.
func LoadConfig(path string) (*Config, error) {
	data, err := regfile.Read(path, 0)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	return ParseConfig(path, data)
}

// ParseConfig parses and validates configuration text; name is used in
// errors and to resolve relative paths.
func ParseConfig(name string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlErr(name, err)
	}
	c := &Config{file: name, lines: map[string]int{}, off: map[string]bool{}}
	if len(root.Content) == 0 {
		return nil, &Error{File: name, Err: errors.New("empty configuration: at least upstream.url is required")}
	}
	lines(root.Content[0], "", c.lines)
	data = c.sectionsOff(root.Content[0], data)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlErr(name, err)
	}
	// One document: a second one would be silently ignored, with
	// whatever it holds (an authorization section, say).
	if len(root.Content) > 0 {
		rest := yaml.NewDecoder(bytes.NewReader(data))
		var first, second yaml.Node
		if err := rest.Decode(&first); err == nil {
			if err := rest.Decode(&second); err == nil {
				line := second.Line
				if len(second.Content) > 0 {
					line = second.Content[0].Line
				}
				return nil, &Error{File: name, Line: line, Err: errors.New("a second YAML document: the configuration is one document (merge it into the first, or remove the ---)")}
			}
		}
	}
	c.file = name
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// sectionsOff records the sections written as a plain "none" and returns
// data with that word blanked to "~" (null) in place, so that the strict
// decoder reads an absent section and every line and column stays where
// it was for error messages.
func (c *Config) sectionsOff(root *yaml.Node, data []byte) []byte {
	if root.Kind != yaml.MappingNode {
		return data
	}
	var out []byte
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if v.Kind != yaml.ScalarNode || v.Style != 0 || v.Value != "none" || !slices.Contains(offSections, k.Value) {
			continue
		}
		off := offset(data, v.Line, v.Column)
		if off < 0 || !bytes.HasPrefix(data[off:], []byte("none")) {
			continue
		}
		if out == nil {
			out = bytes.Clone(data)
		}
		copy(out[off:], "~   ")
		c.off[k.Value] = true
	}
	if out == nil {
		return data
	}
	return out
}

// offset returns the byte offset of a 1-based line and column, or -1.
func offset(data []byte, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	off += col - 1
	if off >= len(data) {
		return -1
	}
	return off
}

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

// lines records the line of every field path ("upstream.url",
// "allow[1]").
func lines(n *yaml.Node, path string, out map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			out[p] = n.Content[i].Line
			lines(n.Content[i+1], p, out)
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			out[p] = e.Line
			lines(e, p, out)
		}
	}
}

func (c *Config) errorf(path, format string, args ...any) error {
	line := 0
	for p := path; p != ""; {
		if l, ok := c.lines[p]; ok {
			line = l
			break
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	if line == 0 {
		line = 1 // a missing field: the document
	}
	return &Error{File: c.file, Line: line, Err: fmt.Errorf(format, args...)}
}

// lineOf returns the line of a field path, 0 when unknown.
func (c *Config) lineOf(path string) int { return c.lines[path] }

// Path resolves a file path of the configuration against its directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(c.file), p)
}

// File returns the configuration's file name.
func (c *Config) File() string { return c.file }

func (c *Config) validate() error {
	if c.Listen == "" {
		c.Listen = ":8443"
	}
	if c.Admin == "" {
		c.Admin = "127.0.0.1:9901"
	}
	routed := len(c.Routes) > 0
	for _, r := range c.Routes {
		routed = routed && r.Upstream != nil
	}
	if !routed || c.Upstream.URL != "" {
		if err := c.validateUpstream("upstream", &c.Upstream); err != nil {
			return err
		}
	}
	if err := c.validateRoutes(); err != nil {
		return err
	}
	if err := c.validateLimits("limits", &c.Limits); err != nil {
		return err
	}
	for i, r := range c.Routes {
		if r.Limits != nil {
			if err := c.validateLimits(fmt.Sprintf("routes[%d].limits", i), r.Limits); err != nil {
				return err
			}
		}
	}
	if t := c.TLS; t != nil {
		switch t.Profile {
		case "", "intermediate", "modern":
		default:
			return c.errorf("tls.profile", "tls.profile %q: want intermediate or modern (nothing weaker is configurable)", t.Profile)
		}
		switch {
		case t.SPIFFE == nil && (t.Cert == "" || t.Key == ""):
			return c.errorf("tls", "tls needs cert and key, or spiffe")
		case t.SPIFFE != nil && (t.Cert != "" || t.Key != ""):
			return c.errorf("tls", "tls takes cert and key, or spiffe, not both")
		}
	}
	for _, s := range []struct {
		path string
		s    *SPIFFE
	}{{"tls.spiffe", tlsSPIFFE(c.TLS)}, {"upstream.spiffe", c.Upstream.SPIFFE}} {
		if s.s == nil {
			continue
		}
		files := s.s.SVID != "" || s.s.Key != "" || s.s.Bundle != ""
		switch {
		case s.s.Socket != "" && files:
			return c.errorf(s.path, "%s takes a Workload API socket or svid, key and bundle files, not both", s.path)
		case s.s.Socket != "" && !strings.HasPrefix(s.s.Socket, "unix://") && !strings.HasPrefix(s.s.Socket, "tcp://"):
			return c.errorf(s.path+".socket", "%s.socket %q: want unix:///path or tcp://host:port", s.path, s.s.Socket)
		case s.s.Socket == "" && (s.s.SVID == "" || s.s.Key == "" || s.s.Bundle == ""):
			return c.errorf(s.path, "%s needs svid, key and bundle files, or a Workload API socket", s.path)
		}
		if len(s.s.Allow) == 0 {
			return c.errorf(s.path, "%s.allow lists no SPIFFE ID: nobody would be admitted", s.path)
		}
	}
	for _, l := range []struct {
		name  string
		cidrs []string
	}{{"allow", c.Allow}, {"deny", c.Deny}, {"clientIP.trustedProxies", clientIPTrusted(c.ClientIP)}} {
		trusted := l.name == "clientIP.trustedProxies"
		var ps []netip.Prefix
		for i, s := range l.cidrs {
			p, err := parsePrefix(s)
			if err != nil {
				return c.errorf(fmt.Sprintf("%s[%d]", l.name, i), "%s[%d]: %v", l.name, i, err)
			}
			if trusted && trustsEvery(p) {
				// Every peer and every hop trusted: the client writes
				// the left-most hop, and so chooses its own address
				// (clientip.New refuses it too).
				return c.errorf(fmt.Sprintf("%s[%d]", l.name, i), "%s[%d]: %q trusts every address: every client could choose its own address in X-Forwarded-For; list the proxies in front of ward", l.name, i, s)
			}
			ps = append(ps, p)
		}
		if !trusted {
			continue
		}
		if fam, every := clientip.TrustsEveryAddress(ps); every {
			// The same in pieces (0.0.0.0/1 and 128.0.0.0/1).
			return c.errorf(l.name, "%s %v together trust every %s address: every client could choose its own address in X-Forwarded-For; list the proxies in front of ward", l.name, l.cidrs, fam)
		}
	}
	if err := c.validateRateLimit("rateLimit", c.RateLimit); err != nil {
		return err
	}
	if j := c.JWT; j != nil {
		if len(j.Issuers) == 0 {
			return c.errorf("jwt", "jwt lists no issuer")
		}
		for i, is := range j.Issuers {
			p := fmt.Sprintf("jwt.issuers[%d]", i)
			switch {
			case is.Issuer == "":
				return c.errorf(p, "%s.issuer is required", p)
			case len(is.Algorithms) == 0:
				return c.errorf(p, "%s.algorithms is required (such as [ES256]): a token's own alg header is never trusted", p)
			case len(is.Audiences) == 0 && !is.AnyAudience:
				return c.errorf(p, "%s.audiences is required (the services a token must be meant for), or anyAudience: true to accept a token meant for any service (Istio's behaviour without audiences)", p)
			case len(is.Audiences) > 0 && is.AnyAudience:
				return c.errorf(p, "%s sets both audiences and anyAudience", p)
			case (is.JWKSURL == "") == (is.JWKSFile == ""):
				return c.errorf(p, "%s needs exactly one of jwksURL and jwksFile", p)
			case is.JWKSCA != "" && !strings.HasPrefix(is.JWKSURL, "https://"):
				return c.errorf(p, "%s.jwksCA needs an https:// jwksURL", p)
			}
		}
		for i, ch := range j.OutputClaimToHeaders {
			p := fmt.Sprintf("jwt.outputClaimToHeaders[%d]", i)
			if !validHeaderName(ch.Header) || ch.Claim == "" {
				return c.errorf(p, "%s needs a header name and a claim", p)
			}
			if slices.Contains(proxySetHeaders, headerKey(ch.Header)) {
				// A claim (some identity providers let users edit theirs)
				// would replace what the proxy vouches for, or the framing.
				return c.errorf(p+".header", "%s.header %s is set by the proxy itself or frames the request: name another header", p, ch.Header)
			}
		}
	}
	if h := c.Headers; h != nil {
		for i, name := range h.Strip {
			if !validHeaderName(name) {
				return c.errorf(fmt.Sprintf("headers.strip[%d]", i), "headers.strip[%d] %q is not a header name", i, name)
			}
		}
		for i, name := range h.Keep {
			p := fmt.Sprintf("headers.keep[%d]", i)
			k := headerKey(name)
			switch {
			case !plainHeaderName(name):
				return c.errorf(p, "%s %q is not a header name of letters, digits and '-' (others are removed from every request)", p, name)
			case !keepable(k) || slices.Contains(identityHeaders, k):
				return c.errorf(p, "%s %s: only the auth-proxy identity headers and forwarding headers removed by default can be kept (Remote-User, X-Forwarded-User, X-Auth-Request-*, X-Real-IP, X-Forwarded-Prefix, ...; see docs/proxy.md)", p, name)
			case slices.ContainsFunc(h.Strip, func(s string) bool { return headerKey(s) == k }):
				return c.errorf(p, "%s %s is also in headers.strip", p, name)
			case c.JWT != nil && slices.ContainsFunc(c.JWT.OutputClaimToHeaders, func(ch ClaimToHeader) bool { return headerKey(ch.Header) == k }):
				return c.errorf(p, "%s %s is set from a JWT claim (jwt.outputClaimToHeaders): it cannot come from a client too", p, name)
			case c.ClientIP == nil || len(c.ClientIP.TrustedProxies) == 0:
				return c.errorf(p, "%s %s: headers are kept from trusted proxies only, and clientIP.trustedProxies names none", p, name)
			}
		}
	}
	for i, u := range c.Upgrades {
		if !validHeaderName(u) || (u == "none" && len(c.Upgrades) > 1) {
			return c.errorf(fmt.Sprintf("upgrades[%d]", i), "upgrades[%d] %q: want protocol names such as websocket, or [none]", i, u)
		}
		switch strings.ToLower(u) {
		case "h2c", "h2", "http", "tls":
			// After the 101 the connection carries HTTP requests (h2c's
			// streams, RFC 2817's TLS) straight to the upstream: none
			// of them would be checked (h2c smuggling).
			return c.errorf(fmt.Sprintf("upgrades[%d]", i), "upgrades[%d] %s: the tunnel would carry HTTP requests to the upstream past every check (h2c smuggling)", i, u)
		}
	}
	if a := c.Authorization; a != nil && len(a.Policies) == 0 {
		return c.errorf("authorization", "authorization lists no policy file")
	}
	if c.Authorization != nil && c.Workload.Namespace == "" {
		return c.errorf("workload", "workload.namespace is required to select AuthorizationPolicies")
	}
	if err := c.validateWAF("waf", c.WAF); err != nil {
		return err
	}
	if c.Audit.BufferBytes < 0 {
		return c.errorf("audit.bufferBytes", "audit.bufferBytes must not be negative")
	}
	if c.MaxConcurrency < 0 {
		return c.errorf("maxConcurrency", "maxConcurrency must not be negative")
	}
	return nil
}

// Size limit defaults (docs/proxy.md).
const (
	defaultMaxBodyBytes = 10 << 20
	defaultMaxURLBytes  = 8192
)

// validateLimits refuses negative limits and puts the defaults in place
// of 0.
func (c *Config) validateLimits(path string, l *Limits) error {
	switch {
	case l.MaxBodyBytes < 0:
		return c.errorf(path+".maxBodyBytes", "%s.maxBodyBytes must not be negative (0: the default)", path)
	case l.MaxURLBytes < 0:
		return c.errorf(path+".maxURLBytes", "%s.maxURLBytes must not be negative (0: the default)", path)
	}
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = defaultMaxBodyBytes
	}
	if l.MaxURLBytes == 0 {
		l.MaxURLBytes = defaultMaxURLBytes
	}
	return nil
}

func (c *Config) validateRoutes() error {
	names := map[string]bool{}
	for i := range c.Routes {
		r := &c.Routes[i]
		p := fmt.Sprintf("routes[%d]", i)
		if err := c.canonicalMatch(p+".match", &r.Match); err != nil {
			return err
		}
		m := r.Match
		switch {
		case r.Name == "":
			return c.errorf(p, "%s.name is required", p)
		case names[r.Name]:
			return c.errorf(p+".name", "%s.name %q is used twice", p, r.Name)
		case (m.Path == "") == (m.Prefix == ""):
			return c.errorf(p+".match", "%s.match needs exactly one of path and prefix (prefix: / for every path)", p)
		case m.Path != "" && !strings.HasPrefix(m.Path, "/"), m.Prefix != "" && !strings.HasPrefix(m.Prefix, "/"):
			return c.errorf(p+".match", "%s.match paths start with /", p)
		case strings.Contains(m.Host, "*") && (!strings.HasPrefix(m.Host, "*.") || strings.Count(m.Host, "*") > 1):
			return c.errorf(p+".match.host", "%s.match.host %q: exact, or *.domain", p, m.Host)
		case r.JWT != nil && c.JWT == nil:
			return c.errorf(p+".jwt", "%s.jwt needs the top-level jwt section (its issuers)", p)
		case r.Authorization != nil && len(r.Authorization.Policies) == 0:
			return c.errorf(p+".authorization", "%s.authorization lists no policy file", p)
		case r.Authorization != nil && c.Workload.Namespace == "":
			return c.errorf("workload", "workload.namespace is required to select AuthorizationPolicies")
		}
		names[r.Name] = true
		if r.Upstream != nil {
			if err := c.validateUpstream(p+".upstream", r.Upstream); err != nil {
				return err
			}
		} else if c.Upstream.URL == "" {
			return c.errorf(p, "%s has no upstream, and there is no top-level one", p)
		}
		if err := c.validateRateLimit(p+".rateLimit", r.RateLimit); err != nil {
			return err
		}
		if err := c.validateWAF(p+".waf", r.WAF); err != nil {
			return err
		}
	}
	return nil
}

// forRoute is the configuration a route's requests are checked with: the
// top-level one with the route's sections in place.
func (c *Config) forRoute(r *Route) *Config {
	d := *c
	d.Routes = nil
	if r.Upstream != nil {
		d.Upstream = *r.Upstream
	}
	if r.Authorization != nil {
		d.Authorization = r.Authorization
	}
	if r.JWT != nil && c.JWT != nil {
		j := *c.JWT
		j.Required = r.JWT.Required
		d.JWT = &j
	}
	if r.RateLimit != nil {
		d.RateLimit = r.RateLimit
	}
	if r.WAF != nil {
		d.WAF = r.WAF
	}
	if d.WAF != nil && d.WAF.Off {
		d.WAF = nil
	}
	if r.Limits != nil {
		d.Limits = *r.Limits
	}
	return &d
}

func (c *Config) validateRateLimit(path string, rl *RateLimit) error {
	if rl == nil {
		return nil
	}
	switch {
	case rl.Rate <= 0:
		return c.errorf(path+".rate", "%s.rate must be a positive number of requests per second", path)
	case rl.Burst < 1:
		return c.errorf(path+".burst", "%s.burst must be at least 1", path)
	case rl.Redis != "" && rl.Rate < 1:
		return c.errorf(path+".rate", "with redis, %s.rate is a whole number of requests per second", path)
	case rl.IPv6Prefix < 0 || rl.IPv6Prefix > 128:
		return c.errorf(path+".ipv6Prefix", "%s.ipv6Prefix must be 1 to 128 (64 by default)", path)
	}
	if rl.IPv6Prefix == 0 {
		rl.IPv6Prefix = 64
	}
	switch k := rl.Key; {
	case k == "", k == "ip", k == "principal", k == "subject":
	case strings.HasPrefix(k, "header:") && len(k) > len("header:"):
		if name := k[len("header:"):]; c.removedHeader(name) {
			// Every request would have the same (empty) key: one
			// bucket for all clients.
			return c.errorf(path+".key", "%s.key %q: %s is removed from every request before the checks (an identity header, headers.strip, or a JWT claim header the proxy sets after them); to key by an auth proxy's header, name it in headers.keep", path, k, name)
		}
	default:
		return c.errorf(path+".key", "%s.key %q: want ip, principal, subject or header:NAME", path, k)
	}
	return nil
}

// removedHeader reports whether the header name is removed from every
// request (from untrusted peers at least) before the checks see it.
func (c *Config) removedHeader(name string) bool {
	k := headerKey(name)
	same := func(s string) bool { return headerKey(s) == k }
	switch {
	case !plainHeaderName(name), strings.HasPrefix(k, "x-envoy-"), slices.Contains(identityHeaders, k):
		return true
	case c.Headers != nil && slices.ContainsFunc(c.Headers.Strip, same):
		return true
	case c.JWT != nil && slices.ContainsFunc(c.JWT.OutputClaimToHeaders, func(ch ClaimToHeader) bool { return same(ch.Header) }):
		return true
	case keepable(k):
		return c.Headers == nil || !slices.ContainsFunc(c.Headers.Keep, same)
	}
	return false
}

func (c *Config) validateWAF(path string, w *WAF) error {
	if w == nil {
		return nil
	}
	switch {
	case w.Mode != "" && w.Mode != "block" && w.Mode != "detect":
		return c.errorf(path+".mode", "%s.mode %q: want block or detect", path, w.Mode)
	case w.ParanoiaLevel < 0 || w.ParanoiaLevel > 4:
		return c.errorf(path+".paranoiaLevel", "%s.paranoiaLevel must be 1 to 4", path)
	case w.AnomalyThreshold < 0:
		return c.errorf(path+".anomalyThreshold", "%s.anomalyThreshold must be positive", path)
	case w.MaxBodyBytes < 0:
		return c.errorf(path+".maxBodyBytes", "%s.maxBodyBytes must not be negative", path)
	}
	for i, p := range w.Paths {
		if !strings.HasPrefix(p, "/") {
			return c.errorf(fmt.Sprintf("%s.paths[%d]", path, i), "%s.paths[%d] %q must start with /", path, i, p)
		}
		n, err := canonicalPath(p)
		if err != nil {
			return c.errorf(fmt.Sprintf("%s.paths[%d]", path, i), "%s.paths[%d] %q never matches a request: %v", path, i, p, err)
		}
		w.Paths[i] = n
	}
	return nil
}

// canonicalMatch puts a route's match in the form requests are compared
// in (routeHost, canonicalPath), or refuses one no request can take: a
// match in another form would never match, and its requests would go to
// the next route that does, with that route's checks.
func (c *Config) canonicalMatch(path string, m *RouteMatch) error {
	if m.Host != "" {
		name := strings.TrimPrefix(m.Host, "*.")
		host, ok := authz.CanonicalHost(name)
		// "*.10.0.0.1" and "*.[::1]" would take names under an address,
		// which the canonical Host refuses ("1.10.0.0.1" is no IPv4
		// address, and ends in a number): no request.
		if _, err := netip.ParseAddr(strings.Trim(host, "[]")); ok && name != m.Host && err == nil {
			return c.errorf(path+".host", "%s.host %q: no request names a host under an address (*. takes subdomains of a name)", path, m.Host)
		}
		if !ok || routeHost(host) != host || strings.HasSuffix(name, ":") {
			// Not a form a request can take (authz.CanonicalHost refuses
			// "127.1", "[::ffff:10.0.0.1]" or "xn--admin-" with 400).
			return c.errorf(path+".host", "%s.host %q: a host name, IPv4 address in dotted decimal or [IPv6] address, without a port (ports are ignored)", path, m.Host)
		}
		m.Host = m.Host[:len(m.Host)-len(name)] + host
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"path", &m.Path}, {"prefix", &m.Prefix}} {
		if !strings.HasPrefix(*f.v, "/") {
			continue // required and checked by validateRoutes
		}
		n, err := canonicalPath(*f.v)
		if err != nil {
			return c.errorf(path+"."+f.name, "%s.%s %q never matches a request: %v", path, f.name, *f.v, err)
		}
		*f.v = n
	}
	return nil
}

// canonicalPath returns a path (or prefix) from the configuration in the
// form request paths are compared in (authz.Normalize: unreserved escapes
// decoded, others upper-cased, other bytes escaped), or an error when no
// request path has it: one with a query or fragment, "//", a dot segment,
// an encoded slash or a form the canonical-request step refuses.
func canonicalPath(p string) (string, error) {
	if strings.ContainsAny(p, "?#") {
		return "", errors.New("request paths are compared without query or fragment")
	}
	n, err := authz.Normalize(p)
	if err == nil {
		err = authz.Ambiguous(n)
	}
	if err != nil {
		return "", fmt.Errorf("such paths are refused (%w)", err)
	}
	a, errA := url.PathUnescape(n)
	b, errB := url.PathUnescape(p)
	if errA != nil || errB != nil || a != b {
		return "", fmt.Errorf("request paths are compared as %q", n)
	}
	return n, nil
}

// proxySetHeaders are request headers the proxy sets itself or that
// frame or route the request: a claim may not be copied into them.
var proxySetHeaders = []string{
	"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded", "x-request-id",
	"x-forwarded-client-cert", "authorization", "host", "content-length", "transfer-encoding",
	"connection", "upgrade", "te", "trailer", "keep-alive", "proxy-connection",
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 5.6.2).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validateUpstream checks an upstream; path is where it is written.
func (c *Config) validateUpstream(path string, up *Upstream) error {
	u, err := url.Parse(up.URL)
	// Errors reach logs: userinfo and query values (a token, a key) in
	// the URL are not repeated there.
	shown := urlredact.String(up.URL)
	switch {
	case up.URL == "":
		return c.errorf(path, "%s.url is required", path)
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		return c.errorf(path+".url", "%s.url %q must be an http:// or https:// URL with a host", path, shown)
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil || u.Opaque != "":
		// The upstream would get another path or query than the one the
		// checks decided on ("/x" as "/base/x"): paths are forwarded
		// unchanged, as to an Envoy cluster, which has no path.
		return c.errorf(path+".url", "%s.url %q: scheme, host and port only (no path, query or user; paths are forwarded unchanged)", path, shown)
	case u.Scheme == "http" && (up.CA != "" || up.SPIFFE != nil):
		return c.errorf(path+".url", "%s TLS settings need an https:// URL", path)
	case up.MinBodyRate != nil && *up.MinBodyRate < 0:
		return c.errorf(path+".minBodyRate", "%s.minBodyRate must not be negative (0 turns it off)", path)
	case up.MaxResponseHeaderBytes < 0:
		return c.errorf(path+".maxResponseHeaderBytes", "%s.maxResponseHeaderBytes must not be negative (0: the default, 1 MiB)", path)
	}
	if s := up.SPIFFE; s != nil {
		files := s.SVID != "" || s.Key != "" || s.Bundle != ""
		switch {
		case s.Socket != "" && files:
			return c.errorf(path+".spiffe", "%s.spiffe takes a Workload API socket or svid, key and bundle files, not both", path)
		case s.Socket == "" && (s.SVID == "" || s.Key == "" || s.Bundle == ""):
			return c.errorf(path+".spiffe", "%s.spiffe needs svid, key and bundle files, or a Workload API socket", path)
		case len(s.Allow) == 0:
			return c.errorf(path+".spiffe", "%s.spiffe.allow lists no SPIFFE ID: nobody would be admitted", path)
		}
	}
	return nil
}

func tlsSPIFFE(t *ServerTLS) *SPIFFE {
	if t == nil {
		return nil
	}
	return t.SPIFFE
}

func clientIPTrusted(c *ClientIP) []string {
	if c == nil {
		return nil
	}
	return c.TrustedProxies
}

// parsePrefixes reads a list of CIDRs or addresses (validate has already
// reported the first bad one with its line).
func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// parsePrefix reads a CIDR or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("%q is not a CIDR", s)
		}
		if p != p.Masked() {
			return p, fmt.Errorf("%q has host bits set (did you mean %s?)", s, p.Masked())
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// trustsEvery reports whether the one prefix p covers a whole address
// family (0.0.0.0/0, ::/0, ::ffff:0.0.0.0/96).
func trustsEvery(p netip.Prefix) bool {
	_, every := clientip.TrustsEveryAddress([]netip.Prefix{p})
	return every
}
