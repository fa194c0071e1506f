package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardsec/ward/assertion"
	"github.com/wardsec/ward/compose"
	"github.com/wardsec/ward/dockerfile"
	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/lint"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/mesh"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/podsec"
	"github.com/wardsec/ward/report"
	"github.com/wardsec/ward/suppress"
)

// Rule ids the check command reports itself.
const (
	ruleUnreadable  = "input/unreadable"
	ruleInvalid     = "input/invalid"
	ruleStaleIgnore = "input/stale-ignore"
)

// inputRules describe the findings about the input itself.
var inputRules = []finding.Rule{
	{ID: ruleUnreadable, Severity: finding.High,
		Summary:   "An input file cannot be read or parsed (YAML, JSON, Dockerfile or Compose syntax).",
		Rationale: "Ward cannot check what it cannot read; the rest of the input is still checked, and the run exits 2 so that CI does not pass on a broken file.",
		Fix:       "Correct the path, or fix the file so that it can be read and parses; or leave it out of the paths given to ward."},
	{ID: ruleInvalid, Severity: finding.High,
		Summary:   "A Kubernetes object of a kind Ward models is malformed: a wrong field type, an invalid port, selector, CIDR or protocol, or a field a NetworkPolicy or Istio security policy does not define.",
		Rationale: "The API server would reject the object, so what it was meant to enforce is not in force. Ward reports it and checks everything else.",
		Fix:       "Fix the object so the Kubernetes API would accept it."},
	{ID: ruleStaleIgnore, Severity: finding.Info,
		Summary:   "An ignore entry in ward.yaml matches no finding.",
		Rationale: "Stale suppressions hide nothing today but would silently hide a future finding that happens to match; removing them keeps the list reviewable.",
		Fix:       "Remove the entry, or narrow it to what it was meant to silence."},
}

// allRules is every rule `ward check` can report, for SARIF descriptors
// and documentation.
func allRules() []finding.Rule {
	var rs []finding.Rule
	rs = append(rs, lint.Rules...)
	rs = append(rs, assertion.Rules...)
	rs = append(rs, podsec.Rules...)
	rs = append(rs, mesh.Rules...)
	rs = append(rs, dockerfile.Rules...)
	rs = append(rs, compose.Rules...)
	rs = append(rs, suppress.Rules...)
	rs = append(rs, inputRules...)
	return rs
}

type checkFlags struct {
	out, failOn, config  string
	pssLevel, pssVersion string
	target               string
	showSuppressed       bool
}

func checkCmd(e *env) *cobra.Command {
	var fl checkFlags
	c := &cobra.Command{
		Use:   "check PATH...",
		Short: "Audit manifests, Dockerfiles and Compose files and check assertions: the CI gate",
		Long: `Check everything in PATH: NetworkPolicy lint and the assertions of
ward.yaml (in PATH, or --config); the hardening audit of pod templates
(Pod Security Standards and Ward's own rules), Services, Ingresses, RBAC,
secrets in ConfigMaps, Istio mesh settings,
Dockerfiles (Dockerfile, Containerfile, *.Dockerfile) and Compose files
(by name or content). Directories with a Chart.yaml are rendered as Helm
charts, offline (--values, --set, --release-name, -n, --kube-version as
helm template takes them; docs/usage.md). See docs/rules.md for every rule
and how to suppress it.

Input errors do not stop the check: unreadable or malformed inputs become
findings, everything else is still checked, and the run exits 2.

Exit codes: 0 clean, 1 findings at or above --fail-on (suppressed findings
never count), 2 usage or input error.`,
		Example: `  ward check examples/shop
  ward check deploy/ Dockerfile -o sarif > ward.sarif
  ward check deploy/ -o json --fail-on medium --pss-level baseline`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e.chartKubeVersion(cmd, fl.pssVersion)
			return e.check(args, &fl)
		},
	}
	c.Flags().StringVarP(&fl.out, "output", "o", "text", "output format: text, json or sarif")
	c.Flags().StringVar(&fl.failOn, "fail-on", "high", "exit 1 on findings at or above this severity: info, low, medium, high, critical")
	c.Flags().StringVar(&fl.config, "config", "", "ward.yaml with assertions, ignores and audit settings (default: ward.yaml in PATH when present)")
	c.Flags().StringVar(&fl.pssLevel, "pss-level", "restricted", "Pod Security Standards level: baseline or restricted")
	c.Flags().StringVar(&fl.pssVersion, "pss-version", "latest", "Pod Security Standards version, such as v1.30, or latest")
	c.Flags().StringVar(&fl.target, "target", "", "judge this build stage of each Dockerfile instead of the last one")
	c.Flags().BoolVar(&fl.showSuppressed, "show-suppressed", false, "list suppressed findings too (they are always counted)")
	e.addWorkloadsFlag(c)
	return c
}

func (e *env) check(args []string, fl *checkFlags) error {
	if err := outputFlag(fl.out, "text", "json", "sarif"); err != nil {
		return err
	}
	min, err := finding.ParseSeverity(fl.failOn)
	if err != nil {
		return fail(ExitError, fmt.Errorf("--fail-on: %w", err))
	}
	// --pss-level and --pss-version before any input is read (a large dump
	// takes seconds), as the other flags are.
	if _, err := podsec.Audit(&manifest.Set{}, podsec.Options{Level: fl.pssLevel}); err != nil {
		return fail(ExitError, fmt.Errorf("--pss-level: %w", err))
	}
	if _, err := podsec.Audit(&manifest.Set{}, podsec.Options{Version: fl.pssVersion}); err != nil {
		return fail(ExitError, fmt.Errorf("--pss-version: %w", err))
	}
	path, err := configPath(fl.config, args)
	if err != nil {
		return fail(ExitError, err)
	}
	cfg := &assertion.Config{}
	if path != "" {
		if cfg, err = e.readConfig(path); err != nil {
			return err
		}
	}
	ignores, warns, err := resolveIgnores(cfg)
	if err != nil {
		return fail(ExitError, err)
	}
	for _, w := range warns {
		fmt.Fprintf(e.stderr, "ward: warning: %s\n", report.PrintableLines(fmt.Sprint(w)))
	}
	digest := finding.Info
	if cfg.DigestSeverity != nil {
		digest = *cfg.DigestSeverity
	}
	podOpts := podsec.Options{Level: fl.pssLevel, Version: fl.pssVersion, DigestSeverity: digest, TrustedRegistries: cfg.TrustedRegistries}

	in := scanInputs(args, e.maxInput, &e.chart)
	in.readStreams(e.stdin, e.maxInput)
	for _, c := range in.configs {
		if path == "" || filepath.Clean(c) != filepath.Clean(path) {
			used := "none is: no PATH given is a directory holding one"
			if path != "" {
				used = "the assertions, ignores and settings are those of " + path
			}
			fmt.Fprintf(e.stderr, "ward: warning: %s is not read: %s (one ward.yaml per run: a directory given as PATH, or --config)\n", report.Printable(c), report.Printable(used))
		}
	}
	envs := e.environments(in)
	if len(envs) > 1 {
		fmt.Fprintf(e.stderr, "ward: %d kustomizations or charts emit the same objects: each is checked as an environment of its own, with the input that none of them emits (%s); findings that do not hold in all name theirs\n",
			len(envs), environmentNames(envs))
	}
	var (
		fss    = make([][]finding.Finding, len(envs))
		staleN = map[string]int{} // environments in which an ignore entry matched nothing
		stale  []suppress.Ignore
		objs   = map[string]bool{} // the objects checked, and those skipped, in any environment
		skips  = map[string]bool{}
	)
	// Standard input, read once for all environments: as PATH or as
	// --workloads (joinWorkloads loads it in each environment too).
	var stdin []byte
	if len(envs) > 1 && (slices.Contains(in.manifests, "-") || slices.Contains(e.workloads, "-")) {
		limit := e.maxInput
		if limit <= 0 {
			limit = manifest.DefaultMaxFileSize
		}
		// One byte past the limit, for the loader to say it is too large.
		if stdin, err = io.ReadAll(io.LimitReader(e.stdin, limit+1)); err != nil {
			return fail(ExitError, fmt.Errorf("reading standard input: %w", err))
		}
	}
	for i, env := range envs {
		if stdin != nil {
			e.stdin = bytes.NewReader(stdin)
		}
		fs, set, st, err := e.checkEnvironment(env.in, args, path, cfg, fl, podOpts, ignores)
		if err != nil {
			return err
		}
		fss[i] = fs
		for _, ig := range st {
			k := fmt.Sprintf("%s:%d", ig.File, ig.Line)
			if staleN[k]++; staleN[k] == len(envs) {
				stale = append(stale, ig)
			}
		}
		for _, o := range set.Objects {
			objs[o.Source.String()+" "+o.Ref().String()] = true
		}
		for _, o := range set.Skipped {
			if len(o.Pods) > 0 { // its pod specs were audited
				objs[o.Source.String()+" "+o.Kind+" "+o.Namespace+"/"+o.Name] = true
				continue
			}
			skips[o.Source.String()+" "+o.Kind+" "+o.Namespace+"/"+o.Name] = true
		}
		e.warnPodSpecs(set, true)
	}
	fs := mergeEnvironments(envs, fss)
	for _, ig := range stale {
		fs = append(fs, finding.Finding{Rule: ruleStaleIgnore, Severity: finding.Info, File: ig.File, Line: ig.Line,
			Message: fmt.Sprintf("ignore of %s matches no finding", ig.Rule), Fix: inputRules[2].Fix})
	}

	inputErrors := 0
	for _, f := range fs {
		if f.Rule == ruleUnreadable || f.Rule == ruleInvalid {
			inputErrors++
		}
	}
	fs = finding.Sort(fs)
	summary := finding.Summarize(fs)
	res := &report.CheckResult{Findings: fs, Summary: report.CheckSummary{
		Summary: summary, FailOn: min.String(),
		Failed: finding.AtLeast(fs, min), Objects: len(objs),
		Files:   len(in.dockerfiles) + len(in.allComposes()),
		Skipped: len(skips), InputErrors: inputErrors,
	}}
	res.Summary.Score = report.Score(res.Summary)

	switch fl.out {
	case "sarif":
		fallback := args[0]
		// Absolute paths under the current directory (ward check
		// $GITHUB_WORKSPACE) are written relative to it, as code
		// scanning resolves them against the repository's root.
		root, _ := os.Getwd()
		err = report.SARIF(e.stdout, fs, report.SARIFOptions{Version: Version, Rules: allRules(), Fallback: fallback, Root: root})
	case "json":
		res.Findings = visible(fs, fl.showSuppressed)
		err = report.JSON(e.stdout, res)
	default:
		res.Findings = visible(fs, fl.showSuppressed)
		err = report.FindingsText(e.stdout, res, report.TextOptions{Color: e.color()})
	}
	if err != nil {
		return err
	}
	switch {
	case inputErrors > 0:
		return fail(ExitError, nil)
	case res.Summary.Failed:
		return fail(ExitFindings, nil)
	}
	return nil
}

// checkEnvironment loads and checks the input of one environment (see
// environments.go): the findings, with suppressions applied and origins
// set, the Set checked, and the ignore entries that matched nothing.
func (e *env) checkEnvironment(in *inputs, args []string, path string, cfg *assertion.Config, fl *checkFlags, podOpts podsec.Options,
	ignores []suppress.Ignore) ([]finding.Finding, *manifest.Set, []suppress.Ignore, error) {
	digest := podOpts.DigestSeverity
	set, loadErr := e.loadWith(in, true)
	if set == nil {
		set = &manifest.Set{}
	}
	mixed := e.findLateComposes(in, set)
	composes := in.allComposes()
	fs := append(slices.Clone(in.unreadable), inputFindings(loadErr)...)
	fs = append(fs, mixed...)
	fs = append(fs, kustomizationObjects(set)...)
	if len(fs) == 0 && set.KubernetesObjects == 0 && len(in.dockerfiles)+len(composes) == 0 && path == "" {
		return nil, nil, nil, fail(ExitError, noManifests(args, "no Kubernetes object, Dockerfile, Compose file or ward.yaml"))
	}
	// One path of several that gave nothing, such as the empty output of a
	// failed render on standard input, is an input error too: never a
	// clean result about what was not read.
	fs = append(fs, emptyPaths(args, set, in, path)...)
	set, joined, err := e.joinWorkloads(set, args)
	if err != nil {
		return nil, nil, nil, err
	}
	eng, err := e.compile(set)
	if err != nil {
		return nil, nil, nil, err
	}
	start := time.Now()
	fs = append(fs, lint.Run(set, eng)...)
	if len(cfg.Assertions) > 0 {
		fs = append(fs, assertion.Findings(cfg.File, assertion.Check(eng, cfg))...)
		// As ward assert: the assertions are not decided while policies
		// Ward does not evaluate are not acknowledged for them. The
		// finding is ward.yaml's, so a wildcard ignore of a vendored
		// directory, which silences that directory's Calico policy's
		// input/unsupported-policy, does not pass the assertions too.
		if open := unacknowledged(set, ignores); len(open) > 0 {
			fs = append(fs, finding.Finding{Rule: assertion.RuleUndecided, Severity: finding.High, File: cfg.File, Line: cfg.Assertions[0].Line,
				Message: undecidedMessage(open), Fix: undecidedFix})
		}
	}
	// A workload is protected when policies isolate its ingress and do not
	// let every outside address in on every port (ingress: [{}] isolates
	// and allows everything).
	podOpts.IngressIsolated = func(w *manifest.Workload) bool {
		eps := eng.EndpointsOf(w)
		for _, ep := range eps {
			if !ep.Class().Isolated(netpol.Ingress) {
				return false
			}
			open := true
			for _, x := range eng.Endpoints() {
				if x.IsExternal() && !eng.Allowed(x, ep).IsAll() {
					open = false
					break
				}
			}
			if open {
				return false
			}
		}
		return len(eps) > 0
	}
	pfs, err := podsec.Audit(set, podOpts)
	if err != nil { // invalid --pss-level or --pss-version; nothing printed yet
		return nil, nil, nil, fail(ExitError, err)
	}
	fs = append(fs, pfs...)
	fs = append(fs, mesh.Audit(set, mesh.Options{})...)
	// The files --workloads brought in are context, not under check.
	fs = slices.DeleteFunc(fs, func(f finding.Finding) bool { return joined[f.File] })
	e.log.Debug("audited manifests", "findings", len(fs), "elapsed", time.Since(start))

	start = time.Now()
	dopts := dockerfile.Options{Target: fl.target, Shellless: cfg.Shellless, DigestSeverity: digest, TrustedRegistries: cfg.TrustedRegistries}
	audited := map[string]bool{} // the Dockerfiles audited, by absolute path
	for _, p := range in.dockerfiles {
		if abs, err := filepath.Abs(p); err == nil {
			audited[abs] = true
		}
		src, err := manifest.ReadFile(p, e.maxInput)
		if err != nil {
			fs = append(fs, unreadable(p, 0, err))
			continue
		}
		for _, w := range dockerfile.NotRead(src) {
			e.warn("%s:%s", p, w)
		}
		dfs, err := dockerfile.Audit(p, src, dopts)
		var pe *dockerfile.ParseError
		switch {
		case errors.As(err, &pe):
			fs = append(fs, unreadable(p, pe.Line, pe.Err))
		case err != nil:
			return nil, nil, nil, fail(ExitError, err) // a usage error: --target names no stage
		}
		fs = append(fs, dfs...)
	}
	var builds []composeBuild
	dotEnvs := dotEnvCache{}
	projects, bad := composeProjects(composes, in.given, in.dotEnvDirs, in.streams, dotEnvs, e.maxInput)
	fs = append(fs, bad...)
	var composeRead []string
	var refs []composeRef
	// A file part of several projects is read once, and what is found in
	// it once (the projects may judge it alike).
	type readResult struct {
		src      []byte
		included []compose.Source
		err      error
	}
	read := map[string]*readResult{}
	seenFinding := map[string]bool{}
	addComposeFindings := func(cfs []finding.Finding) {
		for _, f := range cfs {
			k := strings.Join([]string{f.Rule, f.File, strconv.Itoa(f.Line), f.Object, f.Message}, "\x00")
			if !seenFinding[k] {
				seenFinding[k] = true
				fs = append(fs, f)
			}
		}
	}
	for _, project := range projects {
		var srcs, included []compose.Source
		for _, p := range project.files {
			if r, ok := read[p]; ok {
				if r.err == nil {
					srcs = append(srcs, compose.Source{File: p, Src: r.src})
					included = append(included, r.included...)
				}
				continue
			}
			r := &readResult{}
			read[p] = r
			composeRead = append(composeRead, p)
			src, err := in.readInput(p, e.maxInput)
			if err != nil {
				r.err = err
				fs = append(fs, unreadable(p, 0, err))
				continue
			}
			r.src = src
			for _, r := range compose.References(p, src) {
				refs = append(refs, composeRef{file: p, Reference: r})
				if r.Service != "" || r.Path == "" {
					continue
				}
				// An included file's services may be joined
				// (network_mode: service:NAME): read for that, under
				// the limit; composeReferences says whether it is
				// audited.
				if st, err := os.Stat(r.Path); err == nil && st.Mode().IsRegular() {
					if isrc, err := manifest.ReadFile(r.Path, e.maxInput); err == nil {
						included = append(included, compose.Source{File: r.Path, Src: isrc})
						read[p].included = append(read[p].included, compose.Source{File: r.Path, Src: isrc})
					}
				}
			}
			srcs = append(srcs, compose.Source{File: p, Src: src})
		}
		if len(srcs) == 0 {
			continue
		}
		env := project.env
		onBuild := func(b compose.Build) {
			if cb := (composeBuild{file: b.File, Build: b}); !slices.Contains(builds, cb) {
				builds = append(builds, cb)
			}
		}
		cfs, err := compose.AuditProject(srcs, compose.Options{Policies: set, TrustedRegistries: cfg.TrustedRegistries, Environment: env, OnBuild: onBuild, Included: included})
		var pe *compose.ParseError
		switch {
		case errors.As(err, &pe):
			file := pe.File
			if file == "" {
				file = srcs[0].File
			}
			addComposeFindings([]finding.Finding{unreadable(file, pe.Line, pe.Err)})
		case err != nil:
			addComposeFindings([]finding.Finding{unreadable(srcs[0].File, 0, err)})
		}
		addComposeFindings(cfs)
	}
	fs = append(fs, e.auditBuilds(builds, audited, dopts, fs)...)
	e.warnComposeFiles(dotEnvs, composeRead)
	fs = append(fs, e.composeReferences(refs, composeRead)...)
	e.log.Debug("audited files", "dockerfiles", len(in.dockerfiles), "compose", len(composes), "elapsed", time.Since(start))

	fs, stale := suppress.Apply(fs, set, ignores)
	addOrigins(fs, set)
	return fs, set, stale, nil
}

// composeRef is a file the Compose file file names and AuditProject does
// not read (an include entry's, or one a service extends).
type composeRef struct {
	file string
	compose.Reference
}

// composeReferences says what the Compose files read name and
// AuditProject does not read. A file that is among them (read, by
// absolute path) was audited on its own: a warning on stderr says that
// what it brings is not judged with the file that names it. Any other
// (not there, outside the paths given, a name no walk finds, remote,
// written with a variable) is an input/unreadable finding: docker compose
// reads it into the project, and what it defines would go unchecked.
func (e *env) composeReferences(refs []composeRef, read []string) []finding.Finding {
	audited := map[string]bool{}
	for _, f := range read {
		if abs, err := filepath.Abs(f); err == nil {
			audited[abs] = true
		}
	}
	var out []finding.Finding
	for _, r := range refs {
		if abs, err := filepath.Abs(r.Path); r.Path != "" && err == nil && audited[abs] {
			if r.Service == "" {
				e.warn("%s:%d: include %s is audited on its own, not merged into this project: what its services are is judged there, and here only which namespaces a service joining one of them (service:NAME) shares; check the merged project too (docker compose config | ward check -)", r.file, r.Line, r.Name)
				continue
			}
			e.warn("%s:%d: %s", r.file, r.Line, r.What)
			continue
		}
		name := r.Name
		if name == "" {
			name = "an entry that is not a plain path"
		}
		f := finding.Finding{Rule: ruleUnreadable, Severity: finding.High, File: r.file, Line: r.Line,
			Message: "include " + name + ": docker compose loads this file into the project, but it is not among the Compose files checked, so the services it defines go unchecked",
			Fix:     "Give the file as PATH too (ward checks it on its own), or keep it beside the Compose file under a name ward finds (*.yaml, *.yml); ward does not fetch remote files or interpolate these paths."}
		if r.Service != "" {
			f.Object = "service " + r.Service
			f.Message = "extends " + name + ": docker compose reads the service it extends from this file, but it is not among the Compose files checked, so what " + r.Service + " inherits goes unchecked"
		}
		out = append(out, f)
	}
	return out
}

// composeProject is a set of Compose files docker compose merges into
// one project, and the variables it interpolates into them: those of the
// .env of the project's directory (where docker compose runs).
type composeProject struct {
	files []string
	env   map[string]string
}

// composeProjects groups the Compose files to audit into the projects
// docker compose makes of them. Each directory's own project, what
// docker compose run there without -f loads (compose.ProjectFiles: the
// files the COMPOSE_FILE of the directory's .env lists, wherever they
// are, else compose.yaml or its like and the override file beside it),
// is audited, merged as docker compose merges it, with the variables of
// that directory's .env, when one of its files is among composes (its
// default file given, or the directory walked: the directories of the
// walked .env files, dotEnvDirs, included). A file may be part of
// several projects (a compose.yaml of its own directory, and one that
// another directory's COMPOSE_FILE lists). A file given as PATH (given)
// that is not part of its directory's project is audited on its own, as
// docker compose -f FILE loads it (no override file); so is a file met
// walking that is part of no project. A directory whose .env cannot be
// read or parsed makes no project, with the .env's input/unreadable
// finding (bad), once: its interpolation is unknown; the files met there
// are audited only in the projects of other directories that list them.
// Files that COMPOSE_FILE lists but that are not regular
// files are left out (docker compose fails on them; warnComposeFiles
// says so).
//
// A stream (standard input, a named pipe: streams) is a project of its
// own, as docker compose -f - runs it: no file is looked for beside it.
func composeProjects(composes []string, given map[string]bool, dotEnvDirs []string, streams map[string][]byte, dotEnvs dotEnvCache, maxInput int64) (projects []composeProject, bad []finding.Finding) {
	absOf := func(p string) string {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return filepath.Clean(p)
	}
	byAbs := map[string]string{} // the files among composes, as given
	for _, p := range composes {
		if _, ok := byAbs[absOf(p)]; !ok {
			byAbs[absOf(p)] = p
		}
	}
	covered, seen := map[string]bool{}, map[string]bool{} // files, projects
	add := func(project []string, env map[string]string) {
		var key []string
		for _, f := range project {
			covered[absOf(f)] = true
			key = append(key, absOf(f))
		}
		if k := strings.Join(key, "\x00"); !seen[k] {
			seen[k] = true
			projects = append(projects, composeProject{files: project, env: env})
		}
	}
	// own is the project of directory dir, and whether its .env is read.
	own := func(dir string) (project []string, env map[string]string, ok bool) {
		env, ok, b := dotEnvs.inDir(dir, maxInput)
		if !ok {
			bad = append(bad, b...)
			return nil, nil, false
		}
		for _, f := range compose.ProjectFiles(dir, env) {
			if g, ok := byAbs[absOf(f)]; ok {
				f = g // as given
			}
			if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() && !slices.ContainsFunc(project, func(q string) bool { return absOf(q) == absOf(f) }) {
				project = append(project, f)
			}
		}
		return project, env, true
	}
	var alone []string
	for _, p := range composes {
		if _, ok := streams[p]; ok {
			env, ok, b := dotEnvs.of(p, maxInput) // where docker compose -f - runs
			if !ok {
				bad = append(bad, b...)
				continue
			}
			add([]string{p}, env)
			continue
		}
		project, env, ok := own(filepath.Dir(p))
		if !ok {
			continue
		}
		if slices.ContainsFunc(project, func(q string) bool { return absOf(q) == absOf(p) }) {
			add(project, env)
			continue
		}
		alone = append(alone, p)
	}
	for _, dir := range dotEnvDirs {
		project, env, ok := own(dir)
		if ok && slices.ContainsFunc(project, func(q string) bool { _, ok := byAbs[absOf(q)]; return ok }) {
			add(project, env)
		}
	}
	for _, p := range alone {
		if !covered[absOf(p)] || given[p] {
			env, _, _ := dotEnvs.of(p, maxInput) // read above
			add([]string{p}, env)
		}
	}
	return projects, bad
}

// dotEnvCache holds the .env files of Compose files' directories, read
// once each.
type dotEnvCache map[string]*dotEnvResult

type dotEnvResult struct {
	env      map[string]string
	bad      *finding.Finding // the .env cannot be read or parsed
	reported bool
}

// of returns the variables of the .env file beside the Compose file p,
// which docker compose interpolates into it (nil when there is none).
// ok is false when that .env cannot be read or parsed: bad is then its
// input/unreadable finding, the first time only. A .env unread would
// leave ${PRIVILEGED} empty where Compose sets it.
func (c dotEnvCache) of(p string, maxInput int64) (env map[string]string, ok bool, bad []finding.Finding) {
	return c.inDir(filepath.Dir(p), maxInput)
}

// inDir is of for the .env of directory dir.
func (c dotEnvCache) inDir(dir string, maxInput int64) (env map[string]string, ok bool, bad []finding.Finding) {
	path := filepath.Join(dir, ".env")
	r, seen := c[path]
	if !seen {
		r = &dotEnvResult{}
		c[path] = r
		st, err := os.Stat(path)
		switch {
		case err == nil && st.Mode().IsRegular():
			var src []byte
			src, err = manifest.ReadFile(path, maxInput)
			if err == nil {
				r.env, err = compose.DotEnv(path, src)
			}
		case errors.Is(err, os.ErrNotExist):
			err = nil
		}
		var pe *compose.ParseError
		switch {
		case errors.As(err, &pe):
			f := unreadable(path, pe.Line, pe.Err)
			r.bad = &f
		case err != nil:
			f := unreadable(path, 0, err)
			r.bad = &f
		}
	}
	if r.bad == nil {
		return r.env, true, nil
	}
	if r.reported {
		return nil, false, nil
	}
	r.reported = true
	return nil, false, []finding.Finding{*r.bad}
}

// findLateComposes finds the Compose files among the files the loader
// read as manifests and skipped (documents without apiVersion or kind),
// adds them to in.lateComposes and drops their skipped documents from
// set. scanInputs' cheap scan (compose.IsComposeFile) looks for the
// services key as it is usually written, at the start of a line; a file
// that writes it otherwise (an anchor or a tag on the key, an escape in
// it, an indented root mapping, a key split over two lines) went to the
// loader, which skipped it as YAML that is not Kubernetes': a privileged
// service in it passed as a clean result. Only skipped files are read
// again, so a cluster dump is still read once, and only regular ones: a
// named pipe opened a second time blocked until another writer came
// (ward check hung), and gave that writer's data if one did; standard
// input and pipes are judged by the data readStreams read.
//
// A file or stream that is not a Compose file as a whole but holds a
// Compose document with services among other documents (Kubernetes
// objects, then services: ...) gives an input/unreadable finding at that
// document, returned, which is dropped from the skipped documents:
// docker compose refuses such a stream, kubectl cannot apply the
// document, and the services were passed over in silence.
func (e *env) findLateComposes(in *inputs, set *manifest.Set) []finding.Finding {
	files := map[string]bool{}
	for _, s := range set.Skipped {
		if s.Source.Origin == "" && s.Source.File != "" && s.Kind == "" && s.APIVersion == "" {
			files[s.Source.File] = true
		}
	}
	// services are the lines of the Compose documents of the files read
	// that are not Compose files as a whole (Kubernetes objects, then a
	// Compose document).
	services := map[string]map[int]bool{}
	var out []finding.Finding
	for _, f := range slices.Sorted(maps.Keys(files)) {
		if in.lateComposes[f] || slices.Contains(in.composes, f) {
			continue
		}
		src, ok := in.streams[f]
		if !ok {
			if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
				continue
			}
			var err error
			if src, err = manifest.ReadFile(f, e.maxInput); err != nil {
				continue
			}
		}
		if compose.IsCompose(f, nil) || compose.IsCompose("", src) {
			if !ok {
				in.lateComposes[f] = true
			}
			continue
		}
		for _, l := range compose.ServiceDocuments(src) {
			if services[f] == nil {
				services[f] = map[int]bool{}
			}
			services[f][l] = true
			// Every one, whether or not the loader's report of skipped
			// documents, which it bounds, holds it.
			out = append(out, finding.Finding{Rule: ruleUnreadable, Severity: finding.High, File: f, Line: l,
				Message: "a Compose document among documents that are not Compose: docker compose refuses the whole stream and kubectl cannot apply this document, so its services are not checked",
				Fix:     "Keep the Compose file apart from the Kubernetes manifests and give it as a PATH of its own (or pipe it alone: cat compose.yaml | ward check -)."})
		}
	}
	set.Skipped = slices.DeleteFunc(set.Skipped, func(s manifest.Skipped) bool {
		if s.Source.Origin != "" {
			return false
		}
		return in.lateComposes[s.Source.File] || s.Kind == "" && s.APIVersion == "" && services[s.Source.File][s.Source.Line]
	})
	return out
}

// kustomizationObjects are the input/unreadable findings of kustomize's
// own documents (a Kustomization or Component) the loader met among
// manifests, on standard input or in a file of another name (a
// kustomization file found by name is built, and one given as PATH is
// refused in scanInputs), dropped from set's skipped documents: kustomize
// builds the directory a kustomization file is in, and nobody applies
// the object itself, so `cat kustomization.yaml | ward check -` passed at
// 100/100 whatever the directory deploys.
func kustomizationObjects(set *manifest.Set) []finding.Finding {
	var out []finding.Finding
	set.Skipped = slices.DeleteFunc(set.Skipped, func(s manifest.Skipped) bool {
		group, _, _ := strings.Cut(s.APIVersion, "/")
		if group != "kustomize.config.k8s.io" || s.Kind != "Kustomization" && s.Kind != "Component" {
			return false
		}
		out = append(out, finding.Finding{Rule: ruleUnreadable, Severity: finding.High, File: s.Source.File, Line: s.Source.Line, Origin: s.Source.Origin,
			Message: "a kustomize " + s.Kind + ": kustomize builds the directory of its kustomization file, and the object on its own holds nothing that is applied",
			Fix:     "give the kustomization's directory as PATH, or check what it builds: kustomize build DIR | ward check -"})
		return true
	})
	return out
}

// allComposes are the Compose files to audit: those scanInputs found and
// those the loader skipped (findLateComposes).
func (in *inputs) allComposes() []string {
	return slices.Concat(in.composes, slices.Sorted(maps.Keys(in.lateComposes)))
}

// warnComposeFiles says on stderr which files the COMPOSE_FILE of a .env
// read (dotEnvs) names that are not among the Compose files audited:
// docker compose, run in that directory without -f, loads and merges
// them into the project (a privileged override among them included).
func (e *env) warnComposeFiles(dotEnvs dotEnvCache, composes []string) {
	audited := map[string]bool{}
	for _, c := range composes {
		if abs, err := filepath.Abs(c); err == nil {
			audited[abs] = true
		}
	}
	for _, dotEnv := range slices.Sorted(maps.Keys(dotEnvs)) {
		r := dotEnvs[dotEnv]
		if r.bad != nil {
			continue
		}
		for _, f := range compose.ListedFiles(filepath.Dir(dotEnv), r.env) {
			if abs, err := filepath.Abs(f.Path); err == nil && audited[abs] {
				continue
			}
			e.warn("%s: not read: COMPOSE_FILE names %s, which docker compose run in %s loads and merges into the project, but it is not among the Compose files ward checks; give it as PATH", dotEnv, f.Name, filepath.Dir(dotEnv))
		}
	}
}

// emptyPaths are the input/unreadable findings of the paths given (args)
// that gave nothing to check: a file, standard input or directory in which
// the manifest loader found no Kubernetes object (set.EmptyPaths) and that
// holds nothing else check reads either (a Dockerfile, a Compose file, a
// chart or kustomization, the ward.yaml used as config, an input error),
// or a chart or kustomization that rendered no object.
func emptyPaths(args []string, set *manifest.Set, in *inputs, config string) []finding.Finding {
	empty := map[string]bool{}
	for _, p := range slices.Concat(set.EmptyPaths, set.EmptyRendered) {
		empty[p] = true
	}
	emptyArgs := map[string]int{} // a path given twice ("- -") may give once
	for _, p := range set.EmptyPaths {
		emptyArgs[p]++
	}
	var out []finding.Finding
	for _, p := range args {
		if gave, ok := in.from[filepath.Clean(p)]; ok {
			if slices.ContainsFunc(gave, func(g string) bool { return !empty[g] }) {
				continue
			}
		} else {
			if emptyArgs[p] == 0 {
				continue
			}
			emptyArgs[p]--
			held := p != "-" && slices.ContainsFunc(slices.Concat(in.dockerfiles, in.allComposes(), in.kustomized, in.charts, []string{config}), func(q string) bool {
				return q != "" && within(q, p)
			})
			held = held || slices.ContainsFunc(in.unreadable, func(f finding.Finding) bool { return within(f.File, p) })
			if held {
				continue
			}
		}
		out = append(out, unreadable(p, 0, noManifests([]string{p}, "no Kubernetes object, Dockerfile, Compose file or ward.yaml")))
	}
	return out
}

// within reports whether path is dir or lies under it.
func within(path, dir string) bool {
	path, dir = filepath.Clean(path), filepath.Clean(dir)
	if path == dir || dir == "." && !filepath.IsAbs(path) && !strings.HasPrefix(path, "..") {
		return true
	}
	return strings.HasPrefix(path, strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator))
}

// addOrigins sets the Origin of findings inside objects rendered from a
// template (helm template's "# Source:" comments): the origin of the last
// object of the same file starting at or before the finding's line.
func addOrigins(fs []finding.Finding, set *manifest.Set) {
	starts := map[string][]manifest.Source{}
	add := func(s manifest.Source) {
		if s.Line > 0 {
			starts[s.File] = append(starts[s.File], s)
		}
	}
	for _, o := range set.Objects {
		add(o.Source)
	}
	for _, s := range set.Skipped {
		add(s.Source)
	}
	for _, u := range set.Unsupported {
		add(u.Source)
	}
	for _, ss := range starts {
		slices.SortFunc(ss, func(a, b manifest.Source) int { return a.Line - b.Line })
	}
	for i := range fs {
		ss := starts[fs[i].File]
		j := sort.Search(len(ss), func(j int) bool { return ss[j].Line > fs[i].Line }) - 1
		if j >= 0 && fs[i].Line > 0 && fs[i].Origin == "" {
			fs[i].Origin = ss[j].Origin
		}
	}
}

// visible drops suppressed findings unless show.
func visible(fs []finding.Finding, show bool) []finding.Finding {
	out := []finding.Finding{}
	for _, f := range fs {
		if show || f.Suppressed == nil {
			out = append(out, f)
		}
	}
	return out
}

func unreadable(file string, line int, err error) finding.Finding {
	return finding.Finding{Rule: ruleUnreadable, Severity: finding.High, File: file, Line: line,
		Message: err.Error(), Fix: inputRules[0].Fix}
}

// color reports whether standard output is a terminal that wants colour
// (NO_COLOR unset: https://no-color.org).
func (e *env) color() bool {
	f, ok := e.stdout.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// inputFindings turns load errors into findings: input/unreadable for a
// file that cannot be read or parsed, input/invalid for a malformed object.
func inputFindings(err error) []finding.Finding {
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var out []finding.Finding
	for _, e := range errs {
		f := finding.Finding{Rule: ruleUnreadable, Severity: finding.High, Message: e.Error(), Fix: inputRules[0].Fix}
		var me *manifest.Error
		if errors.As(e, &me) {
			f.File, f.Line, f.Object = me.File, me.Line, me.Object
			f.Message = me.Err.Error()
			if me.Object != "" {
				f.Rule = ruleInvalid
				f.Fix = inputRules[1].Fix
				if errors.Is(me.Err, manifest.ErrDuplicate) {
					f.Fix = "Remove one of the two definitions; for overlays or charts meant for different clusters, give ward check one of them at a time (ward check DIR)."
				}
			}
		}
		out = append(out, f)
	}
	return out
}

// composeBuild is a service of Compose file file that builds its image
// from a Dockerfile on disk.
type composeBuild struct {
	file string
	compose.Build
}

// auditBuilds audits the Dockerfiles Compose services build from as they
// build them: one not among the inputs (audited holds those, by absolute
// path) is read and audited, and one built at a build.target stage is
// audited at that stage, so that a service's image is never judged by a
// stage it does not build, nor not at all. Findings already in have (the
// Dockerfile given too, its last stage built) are not repeated. A
// Dockerfile that does not exist is left to docker compose to report.
func (e *env) auditBuilds(builds []composeBuild, audited map[string]bool, dopts dockerfile.Options, have []finding.Finding) []finding.Finding {
	type key struct{ rule, file, object, message string }
	seen := map[key]bool{}
	for _, f := range have {
		seen[key{f.Rule, f.File, f.Object, f.Message}] = true
	}
	done := map[[2]string]bool{}
	var out []finding.Finding
	for _, b := range builds {
		abs, err := filepath.Abs(b.Dockerfile)
		if err != nil || done[[2]string{abs, b.Target}] || audited[abs] && b.Target == "" {
			continue
		}
		done[[2]string{abs, b.Target}] = true
		if st, err := os.Stat(abs); err != nil || !st.Mode().IsRegular() {
			continue
		}
		src, err := manifest.ReadFile(b.Dockerfile, e.maxInput)
		if err != nil {
			out = append(out, unreadable(b.Dockerfile, 0, err))
			continue
		}
		opts := dopts
		opts.Target = b.Target
		dfs, err := dockerfile.Audit(b.Dockerfile, src, opts)
		var pe *dockerfile.ParseError
		switch {
		case errors.As(err, &pe):
			out = append(out, unreadable(b.Dockerfile, pe.Line, pe.Err))
			continue
		case err != nil: // build.target names no stage: docker compose fails to build it too
			out = append(out, unreadable(b.file, b.Line, fmt.Errorf("service %s: build.target %q: %w", b.Service, b.Target, err)))
			continue
		}
		for _, f := range dfs {
			if k := (key{f.Rule, f.File, f.Object, f.Message}); !seen[k] {
				seen[k] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// resolveIgnores resolves ward.yaml's ignore entries against Ward's rules
// (and the peer auditors' check ids, suppress.Resolve).
func resolveIgnores(cfg *assertion.Config) ([]suppress.Ignore, []suppress.Warning, error) {
	ids := make([]string, 0, 128)
	for _, r := range allRules() {
		ids = append(ids, r.ID)
	}
	return suppress.Resolve(cfg.Ignores, ids)
}

// undecidedFix is the fix of assertion.RuleUndecided, as documented.
var undecidedFix = func() string {
	for _, r := range assertion.Rules {
		if r.ID == assertion.RuleUndecided {
			return r.Fix
		}
	}
	panic("assertion.Rules has no " + assertion.RuleUndecided)
}()
