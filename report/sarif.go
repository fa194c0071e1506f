package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/wardsec/ward/finding"
)

// SARIFOptions describe the run for SARIF output.
type SARIFOptions struct {
	// Version is Ward's version, written as tool.driver.version.
	Version string
	// Rules describe every rule a finding may name; a finding whose rule is
	// missing gets a minimal descriptor, so that every result's ruleId is
	// in tool.driver.rules as GitHub code scanning requires.
	Rules []finding.Rule
	// Fallback is the location of findings without a file (a namespace
	// that no input declares, say): typically the first path checked.
	Fallback string
	// Root, when set, makes file locations relative to it (GitHub resolves
	// them against the repository root).
	Root string
}

// The subset of SARIF 2.1.0 that Ward writes. Field order follows the
// specification's examples.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string          `json:"id"`
	Name                 string          `json:"name"`
	ShortDescription     sarifText       `json:"shortDescription"`
	FullDescription      sarifText       `json:"fullDescription"`
	Help                 sarifText       `json:"help"`
	DefaultConfiguration sarifConfig     `json:"defaultConfiguration"`
	Properties           sarifProperties `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifProperties struct {
	SecuritySeverity string   `json:"security-severity"`
	Tags             []string `json:"tags"`
	Equivalents      []string `json:"equivalents,omitempty"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          map[string]string  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification"`
}

// securitySeverity maps severities onto GitHub's security-severity scale
// (critical above 9.0, high 7.0-8.9, medium 4.0-6.9, low below 4.0).
var securitySeverity = map[finding.Severity]string{
	finding.Critical: "9.5",
	finding.High:     "8.0",
	finding.Medium:   "5.5",
	finding.Low:      "3.0",
	finding.Info:     "1.0",
}

func sarifLevel(s finding.Severity) string {
	switch {
	case s >= finding.High:
		return "error"
	case s == finding.Medium:
		return "warning"
	}
	return "note"
}

// digits matches numbers in messages, left out of fingerprints so that a
// count or a line number in the text does not make a finding look new.
var digits = regexp.MustCompile(`[0-9]+`)

// fingerprint identifies a finding across runs without its line, so that
// code scanning keeps an alert when lines above it move.
func fingerprint(f finding.Finding, uri string) string {
	h := sha256.New()
	for _, s := range []string{f.Rule, uri, f.Object, digits.ReplaceAllString(f.Message, "#")} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	// The environments a finding holds in, when not all: the same finding
	// suppressed in one environment and not in another is two results,
	// and code scanning takes results of one fingerprint as one alert,
	// which the suppressed one would close. Findings of every environment
	// (and of input without environments) keep their fingerprint.
	for _, env := range f.Environments {
		h.Write([]byte("env " + env))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// SARIF writes findings as a SARIF 2.1.0 log for GitHub code scanning:
// every rule named by a result is described in tool.driver.rules (with its
// severity as security-severity), every result has a file and a line
// (1 when unknown) and a line-independent partial fingerprint, and
// suppressed findings carry a suppression with its justification.
func SARIF(w io.Writer, findings []finding.Finding, opts SARIFOptions) error {
	index := map[string]int{}
	var rules []sarifRule
	describe := func(r finding.Rule) {
		if _, ok := index[r.ID]; ok {
			return
		}
		help := r.Summary
		if r.Rationale != "" {
			help += "\n\nWhy: " + r.Rationale
		}
		if r.Fix != "" {
			help += "\n\nFix: " + r.Fix
		}
		help += "\n\nSuppress: see https://github.com/wardsec/ward/blob/main/docs/rules.md#suppressing-findings"
		full := r.Rationale
		if full == "" {
			full = r.Summary
		}
		index[r.ID] = len(rules)
		tags := []string{"security"}
		if family, _, ok := strings.Cut(r.ID, "/"); ok {
			tags = append(tags, family)
		}
		rules = append(rules, sarifRule{
			ID:                   r.ID,
			Name:                 ruleName(r.ID),
			ShortDescription:     sarifText{Text: r.Summary},
			FullDescription:      sarifText{Text: full},
			Help:                 sarifText{Text: help},
			DefaultConfiguration: sarifConfig{Level: sarifLevel(r.Severity)},
			Properties: sarifProperties{
				SecuritySeverity: securitySeverity[r.Severity],
				Tags:             tags,
				Equivalents:      r.Equivalents,
			},
		})
	}
	known := map[string]finding.Rule{}
	for _, r := range opts.Rules {
		known[r.ID] = r
	}
	results := []sarifResult{}
	for _, f := range findings {
		if _, ok := index[f.Rule]; !ok {
			r, ok := known[f.Rule]
			if !ok {
				r = finding.Rule{ID: f.Rule, Severity: f.Severity, Summary: f.Rule}
			}
			describe(r)
		}
		uri, line := f.File, f.Line
		switch {
		case uri == "":
			uri, line = opts.Fallback, 1
		case uri == "-" && f.Origin != "":
			// Rendered from standard input: the template is what a
			// repository holds (its line is unknown).
			uri, line = f.Origin, 1
		}
		uri = sarifURI(uri, opts.Root)
		if line < 1 {
			line = 1
		}
		text := f.Message
		if f.Object != "" {
			text = f.Object + ": " + text
		}
		if len(f.Environments) > 0 {
			text += "\nIn: " + strings.Join(f.Environments, ", ")
		}
		if f.Fix != "" {
			text += "\nFix: " + f.Fix
		}
		res := sarifResult{
			RuleID:              f.Rule,
			RuleIndex:           index[f.Rule],
			Level:               sarifLevel(f.Severity),
			Message:             sarifText{Text: text},
			Locations:           []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}, Region: sarifRegion{StartLine: line}}}},
			PartialFingerprints: map[string]string{"wardFinding/v1": fingerprint(f, uri)},
			Properties:          map[string]string{"security-severity": securitySeverity[f.Severity], "severity": f.Severity.String()},
		}
		if f.Object != "" {
			res.Properties["object"] = f.Object
		}
		if s := f.Suppressed; s != nil {
			kind := "inSource"
			if s.By == "config" {
				kind = "external"
			}
			res.Suppressions = []sarifSuppression{{Kind: kind, Justification: s.Reason}}
		}
		results = append(results, res)
	}
	if rules == nil {
		rules = []sarifRule{}
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs: []sarifRun{{
			Tool: sarifTool{Driver: sarifDriver{
				Name: "ward", Version: opts.Version,
				InformationURI: "https://github.com/wardsec/ward",
				Rules:          rules,
			}},
			Results: results,
		}},
	}
	return JSON(w, log)
}

// sarifURI writes path as a relative URI reference with forward slashes,
// relative to root when root is set and contains it, or as a file URI
// when it is absolute.
func sarifURI(path, root string) string {
	if path == "" || path == "-" {
		return "stdin"
	}
	if root != "" {
		if rel, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(rel, "..") {
			path = rel
		}
	}
	abs := filepath.IsAbs(path)
	path = filepath.ToSlash(filepath.Clean(path))
	// Percent-encode what a URI reference may not hold verbatim.
	var b strings.Builder
	if abs {
		// An absolute path outside root: a file URI, which code scanning
		// maps onto the checkout; as a bare /path it names no file of
		// the repository.
		b.WriteString("file://")
		if !strings.HasPrefix(path, "/") {
			b.WriteByte('/') // C:/x
		}
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"%<>\^`+"`"+`{|}#?[]`, c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// ruleName turns "pod/writable-root-fs" into "PodWritableRootFs", the
// PascalCase name SARIF viewers show.
func ruleName(id string) string {
	var b strings.Builder
	up := true
	for _, r := range id {
		switch {
		case r == '/' || r == '-' || r == '_' || r == '.':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(r)))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
