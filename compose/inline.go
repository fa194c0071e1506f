package compose

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wardsec/ward/dockerfile"
	"github.com/wardsec/ward/finding"
)

// inlineDockerfiles audits the Dockerfiles written into the file
// (build.dockerfile_inline): docker compose builds the service's image
// from that text, so it is judged as a Dockerfile given to ward check is,
// its build.target stage instead of the last when set. Findings are at
// the lines of the file that hold the Dockerfile's lines (a block scalar,
// `|`), or at the key's line otherwise; a Dockerfile that does not parse
// is a finding of input/unreadable's kind at its line, as for a file.
func (a *audit) inlineDockerfiles(trusted []string) {
	names := make([]string, 0, len(a.project.Services))
	for name := range a.project.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := a.project.Services[name]
		if s.Build == nil || s.Build.DockerfileInline == "" {
			continue
		}
		k, v := a.pos.pathNode([]string{"services", name, "build", "dockerfile_inline"})
		line := func(l int) int {
			switch {
			case v != nil && (v.Style&yaml.LiteralStyle != 0 || v.Style&yaml.FoldedStyle != 0) && l > 0:
				return v.Line + l
			case k != nil:
				return k.Line
			}
			return a.pos.serviceLine(name)
		}
		where := fmt.Sprintf("service %s (build.dockerfile_inline)", name)
		fs, err := dockerfile.Audit(a.file, []byte(s.Build.DockerfileInline), dockerfile.Options{Target: s.Build.Target, TrustedRegistries: trusted})
		var pe *dockerfile.ParseError
		switch {
		case errors.As(err, &pe):
			a.findings = append(a.findings, finding.Finding{Rule: ruleInlineUnreadable, Severity: finding.High, File: a.file, Line: line(pe.Line),
				Object: where, Message: fmt.Sprintf("%s does not parse as a Dockerfile: %v", where, pe.Err),
				Fix: "Fix the Dockerfile so that it parses: docker compose cannot build this service either."})
			continue
		case err != nil:
			a.findings = append(a.findings, finding.Finding{Rule: ruleInlineUnreadable, Severity: finding.High, File: a.file, Line: line(0),
				Object: where, Message: fmt.Sprintf("%s: %v", where, err),
				Fix: "Set build.target to a stage of the Dockerfile."})
			continue
		}
		for _, f := range fs {
			f.File, f.Line = a.file, line(f.Line)
			f.Object = where + " " + f.Object
			a.findings = append(a.findings, f)
		}
	}
}

// builds calls on for each service that builds from a Dockerfile in a
// local context (see Options.OnBuild), at the build key of the last file
// (of audits, one per file of the project) that sets it. Remote contexts
// (URLs, git repositories) are not followed.
func builds(audits []*audit, on func(Build)) {
	a := audits[0]
	names := make([]string, 0, len(a.project.Services))
	for name := range a.project.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b := a.project.Services[name].Build
		if b == nil || b.DockerfileInline != "" {
			continue
		}
		ctx := b.Context
		if ctx == "" {
			ctx = "."
		}
		if strings.Contains(ctx, "://") || strings.HasPrefix(ctx, "git@") || strings.HasPrefix(ctx, "github.com/") {
			continue
		}
		if !filepath.IsAbs(ctx) {
			ctx = filepath.Join(a.projectDir, ctx)
		}
		df := b.Dockerfile
		if df == "" {
			df = "Dockerfile"
		}
		if !filepath.IsAbs(df) {
			df = filepath.Join(ctx, df)
		}
		at := a
		for _, x := range audits {
			if k, _ := x.pos.field(name, "build"); k != nil {
				at = x
			}
		}
		on(Build{Service: name, File: at.file, Dockerfile: df, Target: b.Target, Line: at.pos.keyLine(name, "build")})
	}
}
