package waf

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental"
)

// Modes.
const (
	// Block rejects requests whose inbound anomaly score reaches the
	// threshold (Coraza's SecRuleEngine On).
	Block = "block"
	// Detect runs every rule and reports matches, but never rejects
	// (SecRuleEngine DetectionOnly).
	Detect = "detect"
)

// Defaults for the zero Config fields.
const (
	DefaultParanoiaLevel    = 1
	DefaultAnomalyThreshold = 5
	DefaultMaxBodyBytes     = 128 << 10
)

// maxBodyLimit is Coraza's ceiling for SecRequestBodyLimit (1 GiB).
const maxBodyLimit = 1 << 30

// DefaultAllowedMethods are the methods CRS rule 911100 lets through when
// Config.AllowedMethods is empty: CRS's own default (GET HEAD POST
// OPTIONS) plus PUT, PATCH and DELETE, which REST APIs use. Which methods
// a route accepts is better decided by authorization rules.
var DefaultAllowedMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// DefaultAllowedContentTypes are the request body types CRS rule 920420
// lets through when Config.AllowedContentTypes is empty: CRS's own
// default. A body of any other type (text/plain, application/octet-stream)
// scores as a critical match.
var DefaultAllowedContentTypes = []string{
	"application/x-www-form-urlencoded", "multipart/form-data", "text/xml",
	"application/xml", "application/soap+xml", "application/json",
}

// ErrInvalidConfig is wrapped by the errors New returns for a bad Config.
var ErrInvalidConfig = errors.New("waf: invalid config")

// Config configures a WAF. The zero Config is valid: blocking mode,
// paranoia level 1, anomaly threshold 5, 128 KiB of body inspected.
type Config struct {
	// Mode is Block (the default when empty) or Detect.
	Mode string

	// ParanoiaLevel is the CRS paranoia level, 1 to 4 (default 1). Each
	// level adds rules: more attacks caught and more false positives.
	ParanoiaLevel int

	// AnomalyThreshold is the inbound anomaly score at which a request is
	// blocked (default 5, which one critical match reaches). CRS scores
	// critical matches 5, errors 4, warnings 3 and notices 2.
	AnomalyThreshold int

	// MaxBodyBytes is how much of a request body is inspected (default
	// 128 KiB, at most 1 GiB). The body is held in memory while it is
	// inspected. In Block mode a longer body is refused with 413; in
	// Detect mode its first MaxBodyBytes are inspected and the whole body
	// is passed on.
	MaxBodyBytes int64

	// AllowedMethods are the request methods CRS accepts (rule 911100);
	// empty means DefaultAllowedMethods. Names are upper-case letters.
	AllowedMethods []string

	// AllowedContentTypes are the media types, without parameters, that
	// request bodies may have (CRS rule 920420); empty means
	// DefaultAllowedContentTypes. Names are lower case, "type/subtype".
	AllowedContentTypes []string

	// OnMatch, when set, is called for every rule that matched a request,
	// in both modes, before Check or Inspect returns (for an audit log).
	// r is the request as given to Check. It must be safe for concurrent
	// use.
	OnMatch func(r *http.Request, m Match)
}

// WAF inspects HTTP requests with the OWASP Core Rule Set (CRS v4)
// running on Coraza. It is safe for concurrent use.
//
// Security trade-offs (see the package documentation): CRS refuses some
// legitimate requests, more at higher paranoia levels, so run Detect mode
// first; it misses payloads it has no signature for and whatever it cannot
// see (compressed bodies, body bytes past MaxBodyBytes in Detect mode,
// responses, which are never inspected). Each request costs hundreds of
// microseconds to many milliseconds of CPU and up to twice MaxBodyBytes of
// memory, so put the WAF after authentication and rate limiting. Match
// data may contain up to 100 bytes of what the client sent.
type WAF struct {
	waf     coraza.WAF
	block   bool
	maxBody int64
	onMatch func(*http.Request, Match)
	// messages caches, by rule id, the message of a rule whose msg
	// holds a macro, as written (see message).
	messages sync.Map
}

// New compiles the Core Rule Set with cfg. Compiling takes about a tenth of
// a second and tens of megabytes: build one WAF per configuration, share
// it between routes and requests, and call Close when replacing it.
func New(cfg Config) (*WAF, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cw, err := coraza.NewWAF(coraza.NewWAFConfig().
		WithRootFS(coreruleset.FS).
		WithDirectives(directives(cfg)))
	if err != nil {
		return nil, fmt.Errorf("waf: loading the core rule set: %w", err)
	}
	return &WAF{
		waf:     cw,
		block:   cfg.Mode == Block,
		maxBody: cfg.MaxBodyBytes,
		onMatch: cfg.OnMatch,
	}, nil
}

// Close releases the compiled rules that this WAF shares with others
// (Coraza caches compiled patterns across instances). Requests in flight
// are unaffected. The WAF must not be used afterwards.
func (w *WAF) Close() error {
	if c, ok := w.waf.(experimental.WAFCloser); ok {
		return c.Close()
	}
	return nil
}

// withDefaults validates c and fills in its zero fields.
func (c Config) withDefaults() (Config, error) {
	switch c.Mode {
	case "":
		c.Mode = Block
	case Block, Detect:
	default:
		return c, fmt.Errorf("%w: mode %q, want %q or %q", ErrInvalidConfig, c.Mode, Detect, Block)
	}
	switch {
	case c.ParanoiaLevel == 0:
		c.ParanoiaLevel = DefaultParanoiaLevel
	case c.ParanoiaLevel < 1 || c.ParanoiaLevel > 4:
		return c, fmt.Errorf("%w: paranoia level %d, want 1 to 4", ErrInvalidConfig, c.ParanoiaLevel)
	}
	switch {
	case c.AnomalyThreshold == 0:
		c.AnomalyThreshold = DefaultAnomalyThreshold
	case c.AnomalyThreshold < 0:
		return c, fmt.Errorf("%w: anomaly threshold %d, want a positive score", ErrInvalidConfig, c.AnomalyThreshold)
	}
	switch {
	case c.MaxBodyBytes == 0:
		c.MaxBodyBytes = DefaultMaxBodyBytes
	case c.MaxBodyBytes < 0 || c.MaxBodyBytes > maxBodyLimit:
		return c, fmt.Errorf("%w: max body bytes %d, want 1 to %d", ErrInvalidConfig, c.MaxBodyBytes, maxBodyLimit)
	}
	if len(c.AllowedMethods) == 0 {
		c.AllowedMethods = DefaultAllowedMethods
	}
	for _, m := range c.AllowedMethods {
		if !isMethod(m) {
			return c, fmt.Errorf("%w: allowed method %q, want upper-case letters", ErrInvalidConfig, m)
		}
	}
	if len(c.AllowedContentTypes) == 0 {
		c.AllowedContentTypes = DefaultAllowedContentTypes
	}
	for _, t := range c.AllowedContentTypes {
		if !isMediaType(t) {
			return c, fmt.Errorf("%w: allowed content type %q, want lower-case type/subtype", ErrInvalidConfig, t)
		}
	}
	return c, nil
}

// isMethod reports whether m is a non-empty run of upper-case ASCII
// letters: every standard method, and nothing that could break out of a
// SecLang string.
func isMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}

// isMediaType reports whether t is a lower-case "type/subtype" of RFC 9110
// token characters, less those that mean something in a SecLang string or
// a CRS list (quotes, "|", "%", space).
func isMediaType(t string) bool {
	typ, sub, ok := strings.Cut(t, "/")
	return ok && len(t) <= 127 && isToken(typ) && isToken(sub)
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$&^_.+-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Ward's own rules. IDs below 100000 are for local rules; CRS uses
// 900000 to 999999 and Coraza's recommended configuration 200000 on.
const (
	// scoreRuleID reports the inbound anomaly score to Inspect.
	scoreRuleID = 99001
	// argsLimitRuleID and the next refuse requests with more arguments
	// than Coraza keeps (ARGUMENTS_LIMIT_REACHED).
	argsLimitRuleID = 99002
)

// directives is the SecLang configuration for c, which is valid: every
// value in it is a number, a checked method name or a checked media type.
func directives(c Config) string {
	engine := "On"
	if c.Mode == Detect {
		engine = "DetectionOnly"
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("Include @coraza.conf-recommended")
	p("SecRuleEngine %s", engine)
	// Coraza keeps at most SecArgumentsLimit (1000) arguments per source
	// and drops the rest unseen: refuse such requests, or filler arguments
	// would hide an attack. Upstream Coraza's recommended configuration has
	// these rules (200004, 200005); the copy in coraza-coreruleset v4.25.0
	// predates them. Local ids, so that a newer copy does not clash.
	p(`SecRule ARGUMENTS_LIMIT_REACHED "@eq 1" "id:%d,phase:1,t:none,log,deny,status:400,msg:'Argument limit reached; request rejected (GET/PATH args)'"`, argsLimitRuleID)
	p(`SecRule ARGUMENTS_LIMIT_REACHED "@eq 1" "id:%d,phase:2,t:none,log,deny,status:400,msg:'Argument limit reached; request rejected (POST args)'"`, argsLimitRuleID+1)
	// Bodies are buffered by Inspect, which never hands Coraza more than
	// the limit; in memory only, never in temporary files.
	p("SecRequestBodyAccess On")
	p("SecRequestBodyLimit %d", c.MaxBodyBytes)
	p("SecRequestBodyInMemoryLimit %d", c.MaxBodyBytes)
	p("SecRequestBodyLimitAction ProcessPartial")
	// Requests only: no response inspection, no Coraza audit log (matches
	// go to Config.OnMatch).
	p("SecResponseBodyAccess Off")
	p("SecAuditEngine Off")
	p("Include @crs-setup.conf.example")
	p(`SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%d"`, c.ParanoiaLevel)
	p(`SecAction "id:900001,phase:1,pass,t:none,nolog,setvar:tx.detection_paranoia_level=%d"`, c.ParanoiaLevel)
	p(`SecAction "id:900110,phase:1,pass,t:none,nolog,setvar:tx.inbound_anomaly_score_threshold=%d"`, c.AnomalyThreshold)
	p(`SecAction "id:900200,phase:1,pass,t:none,nolog,setvar:'tx.allowed_methods=%s'"`, strings.Join(c.AllowedMethods, " "))
	p(`SecAction "id:900220,phase:1,pass,t:none,nolog,setvar:'tx.allowed_request_content_type=|%s|'"`, strings.Join(c.AllowedContentTypes, "| |"))
	// No CRS reporting rule (980170): the score comes from scoreRuleID.
	p(`SecAction "id:900115,phase:1,pass,t:none,nolog,setvar:tx.reporting_level=0"`)
	p("Include @owasp_crs/*.conf")
	if c.Mode != Detect {
		// CRS's 922120 scores 5 for any Content-Transfer-Encoding in a
		// multipart part, 7bit, 8bit and binary included, which change
		// no byte: Apache HttpClient 4's MultipartEntityBuilder writes
		// them on every part, and its uploads were refused at the
		// default threshold. In block mode every other encoding is
		// refused with 400 before the rules run (transferEncoded), so
		// the rule has nothing left to score.
		p("SecRuleRemoveById 922120")
	}
	// Phase 5 runs even after a phase 2 interruption.
	p(`SecAction "id:%d,phase:5,pass,t:none,nolog,noauditlog,msg:'ward inbound anomaly score',logdata:'%%{tx.blocking_inbound_anomaly_score}'"`, scoreRuleID)
	return b.String()
}
