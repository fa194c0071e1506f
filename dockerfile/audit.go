package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/internal/registry"
	"github.com/wardsec/ward/internal/secretscan"
	"github.com/wardsec/ward/srcpos"
)

// Options tune an audit.
type Options struct {
	// Target judges this stage (by name, as docker build --target does)
	// instead of the last one. Audit returns an error wrapping
	// ErrUnknownTarget when no stage has that name.
	Target string
	// Shellless lists extra final base images accepted as shell-less,
	// by name without tag or digest ("registry.example.com/base/static"),
	// from ward.yaml. Docker Hub names may be written short ("busybox")
	// or long ("docker.io/library/busybox").
	Shellless []string
	// DigestSeverity is the severity of dockerfile/base-not-pinned. Its
	// zero value is finding.Info, so leaving it unset keeps the rule's
	// default.
	DigestSeverity finding.Severity
	// TrustedRegistries are ward.yaml's audit.registries.trusted (see
	// registry.Parse); when empty, dockerfile/untrusted-registry is not
	// run. An invalid entry makes Audit return an error.
	TrustedRegistries []string
}

// ErrUnknownTarget is wrapped by the error Audit returns when
// Options.Target names no stage.
var ErrUnknownTarget = errors.New("dockerfile: unknown target stage")

// ParseError is a Dockerfile that BuildKit's parser rejects, or that has
// no FROM instruction.
// It is srcpos.Error, the one position error of every Ward loader.
type ParseError = srcpos.Error

// Audit parses the Dockerfile text src (file is its path, used in
// findings) and returns its findings, sorted with finding.Sort. A
// Dockerfile that does not parse returns a *ParseError and no findings.
func Audit(file string, src []byte, opts Options) ([]finding.Finding, error) {
	if opts.DigestSeverity < finding.Info || opts.DigestSeverity > finding.Critical {
		return nil, fmt.Errorf("dockerfile: invalid DigestSeverity %v", opts.DigestSeverity)
	}
	trusted, err := registry.Parse(opts.TrustedRegistries)
	if err != nil {
		return nil, fmt.Errorf("dockerfile: trusted registries: %w", err)
	}
	p, err := parse(file, src)
	if err != nil {
		return nil, err
	}
	final := len(p.stages) - 1
	if opts.Target != "" {
		final = slices.IndexFunc(p.stages, func(s instructions.Stage) bool { return strings.EqualFold(s.Name, opts.Target) })
		if final < 0 {
			return nil, fmt.Errorf("%w: %s has no stage named %q", ErrUnknownTarget, file, opts.Target)
		}
	}
	a := &auditor{
		file:     file,
		opts:     opts,
		lex:      shell.NewLex(p.escape),
		argsA:    map[string]string{},
		argsB:    map[string]string{},
		byName:   map[string]int{},
		shelless: normalizeNames(opts.Shellless),
		trusted:  trusted,
	}
	a.globalArgs(p.metaArgs)
	for i := range p.stages {
		a.stage(i, &p.stages[i])
	}
	a.judgeFinal(a.stages[final])
	sups, bad := readSuppressions(file, src, p.spans)
	suppress(a.out, sups)
	return finding.Sort(append(a.out, bad...)), nil
}

// parsed is a Dockerfile as BuildKit's parser sees it.
type parsed struct {
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
	escape   rune
	spans    []span
}

// parse runs BuildKit's parser. It turns a panic of the parser into a
// ParseError: the input is untrusted, and a crafted file must not crash
// the caller.
func parse(file string, src []byte) (p *parsed, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, &ParseError{File: file, Line: 1, Err: fmt.Errorf("the Dockerfile parser failed: %v", r)}
		}
	}()
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, parseError(file, err)
	}
	// A non-nil linter: BuildKit dereferences it when a comment holds a
	// check= directive.
	stages, meta, err := instructions.Parse(res.AST, linter.New(&linter.Config{}))
	if err != nil {
		return nil, parseError(file, err)
	}
	p = &parsed{stages: stages, metaArgs: meta, escape: res.EscapeToken}
	for _, n := range res.AST.Children {
		p.spans = append(p.spans, span{n.StartLine, n.EndLine})
	}
	if len(stages) == 0 {
		line := 1
		if len(p.spans) > 0 {
			line = max(p.spans[0].start, 1)
		}
		return nil, &ParseError{File: file, Line: line, Err: errors.New("no FROM instruction")}
	}
	return p, nil
}

// parseError wraps a BuildKit error with the first line it names.
func parseError(file string, err error) *ParseError {
	line := 1
	var le *parser.LocationError
	if errors.As(err, &le) {
		for _, loc := range le.Locations {
			if len(loc) > 0 {
				line = max(loc[0].Start.Line, 1)
				break
			}
		}
		if inner := le.Unwrap(); inner != nil {
			err = inner // the location is in Line; keep BuildKit's message without it
		}
	}
	return &ParseError{File: file, Line: line, Err: err}
}

// normalizeNames turns Options.Shellless entries into normalized names.
func normalizeNames(names []string) []string {
	var out []string
	for _, n := range names {
		if name, _, _ := splitRef(strings.TrimSpace(n)); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// auditor holds the state of one audit.
type auditor struct {
	file     string
	opts     Options
	lex      *shell.Lex
	shelless []string
	trusted  registry.Trusted
	// argsA are the global ARGs that have a value; argsB the same with
	// unknown standing for values that are not known.
	argsA, argsB map[string]string
	stages       []*stage
	// byName indexes the stages already recorded by name; the first of
	// two stages with one name wins.
	byName map[string]int
	// passwdCopies are the lines of the COPY and ADD instructions that
	// wrote /etc/passwd, with their keyword (the others in uid0 are RUNs).
	passwdCopies map[int]string
	out          []finding.Finding
}

// stage is what the audit learns about one build stage.
type stage struct {
	index int
	name  string // lower case, "" when unnamed
	line  int    // of its FROM
	// parent is the index of the stage it is built FROM, -1 for an
	// image.
	parent int
	// image is the image at the root of its FROM chain, named by the
	// FROM of stage imageStage.
	image      imageRef
	imageStage int
	// env holds the ARG and ENV values known at the end of the stage,
	// inherited through FROM <stage>.
	env map[string]string
	// user is the last USER of the stage or of its FROM chain.
	user *userCmd
	// health is whether the stage or its FROM chain has a HEALTHCHECK.
	health bool
	// compiler is the first RUN of the FROM chain that runs a compiler.
	compiler *runCmd
	// goRuns are this stage's RUNs that build Go with cgo possibly on.
	goRuns []int
	// copies are the stages it copies files from.
	copies []int
	// secretFiles are its COPY and ADD sources named like secrets.
	secretFiles []secretFile
	// setuid are its instructions that set the setuid or setgid bit.
	setuid []setuidSite
	// sudoGrants are its instructions that write a passwordless sudo or
	// doas rule.
	sudoGrants []sudoGrant
	// worldWritable are its instructions that make files writable by
	// every user.
	worldWritable []permSite
	// uid0 are the user names its RUNs, or those of its FROM chain, give
	// UID 0, with the line of the last such RUN.
	uid0 map[string]int
	// onbuild are its ONBUILD triggers: BuildKit runs them at the start
	// of a stage built FROM it.
	onbuild []trigger
	// notSh is whether its SHELL, or that of its FROM chain, is Windows'
	// PowerShell or cmd (windowsShell): its shell-form RUNs are not sh
	// scripts.
	notSh bool
}

// trigger is the instruction of an ONBUILD, and the line of the ONBUILD.
type trigger struct {
	cmd  instructions.Command
	line int
}

// secretFile is a COPY or ADD source named like a secret.
type secretFile struct {
	line int
	src  string
}

// object names the stage in findings: "stage 1 (runtime)", with the
// 0-based index COPY --from accepts, or "stage 0" when unnamed.
func (s *stage) object() string {
	if s.name != "" {
		return fmt.Sprintf("stage %d (%s)", s.index, s.name)
	}
	return fmt.Sprintf("stage %d", s.index)
}

// globalObject is the Object of findings about ARGs before the first
// FROM.
const globalObject = "global ARGs"

type userCmd struct {
	line, stage int
	raw, value  string
	known       bool     // false when the value uses a build argument without value
	unset       []string // those build arguments, sorted, when known is false
	// onbuild names the stage whose ONBUILD USER this is, at line (it
	// ran at the start of stage).
	onbuild string
}

type runCmd struct {
	line, stage int
	what        string
}

func (a *auditor) report(rule string, sev finding.Severity, line int, object, msg, fix string) {
	a.out = append(a.out, finding.Finding{
		Rule: rule, Severity: sev, File: a.file, Line: line, Object: object, Message: msg, Fix: fix,
	})
}

// vars exposes ARG and ENV values to BuildKit's shell lexer. When marked,
// a variable without value expands to unknown.
type vars struct {
	m      map[string]string
	marked bool
}

func (v vars) Get(k string) (string, bool) {
	s, ok := v.m[k]
	if !ok && v.marked {
		return unknown, true
	}
	return s, ok
}

func (v vars) Keys() []string { return slices.Sorted(maps.Keys(v.m)) }

// expand expands build arguments and quotes in word as BuildKit does. known
// is false when a variable has no value or the word does not parse (then
// word is returned as is).
func (a *auditor) expand(word string, env map[string]string) (s string, known bool) {
	s, unmatched, err := a.lex.ProcessWord(word, vars{m: env})
	if err != nil {
		return word, false
	}
	return s, len(unmatched) == 0
}

// globalArgs records the ARGs before the first FROM, the only ones FROM
// lines see, and checks them for secrets.
func (a *auditor) globalArgs(args []instructions.ArgCommand) {
	for i := range args {
		line := lineOf(args[i].Location())
		for _, kv := range args[i].Args {
			if kv.Value == nil {
				delete(a.argsA, kv.Key)
				delete(a.argsB, kv.Key)
				a.secret("ARG", line, globalObject, kv.Key, "", false)
				continue
			}
			v, _ := a.expand(*kv.Value, a.argsA)
			a.argsA[kv.Key] = v
			if m, _, err := a.lex.ProcessWord(*kv.Value, vars{m: a.argsB, marked: true}); err == nil {
				a.argsB[kv.Key] = m
			} else {
				a.argsB[kv.Key] = unknown
			}
			a.secret("ARG", line, globalObject, kv.Key, v, true)
		}
	}
}

// lineOf is the first line of a location, 0 when there is none.
func lineOf(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

// stage records stage i and reports what is wrong in its own
// instructions.
func (a *auditor) stage(i int, s *instructions.Stage) {
	st := &stage{index: i, name: s.Name, line: lineOf(s.Location), parent: -1, imageStage: i}
	a.stages = append(a.stages, st)
	ref, _ := a.expand(s.BaseName, a.argsA)
	marked, _, err := a.lex.ProcessWord(s.BaseName, vars{m: a.argsB, marked: true})
	if err != nil {
		marked = unknown
	}
	if j, ok := a.byName[strings.ToLower(ref)]; ok && !strings.Contains(marked, unknown) {
		st.parent = j
	}
	if st.parent >= 0 {
		p := a.stages[st.parent]
		st.image, st.imageStage = p.image, p.imageStage
		st.env = maps.Clone(p.env)
		st.uid0 = maps.Clone(p.uid0)
		st.user, st.health, st.compiler = p.user, p.health, p.compiler
		st.notSh = p.notSh
	} else {
		st.image = newImageRef(ref, marked)
		st.env = map[string]string{}
		st.uid0 = map[string]int{}
		a.from(st, s.BaseName)
		a.registry(st.line, st.object(), "FROM "+s.BaseName, s.BaseName, st.image)
	}
	cmds := make([]trigger, 0, len(s.Commands))
	triggers := 0
	if st.parent >= 0 {
		triggers = len(a.stages[st.parent].onbuild)
		// BuildKit runs the ONBUILD triggers of the stage this one is
		// built FROM first, in this stage (those of an image are
		// unknown): ONBUILD USER root there is this stage's user.
		cmds = append(cmds, a.stages[st.parent].onbuild...)
	}
	for _, cmd := range s.Commands {
		cmds = append(cmds, trigger{cmd, lineOf(cmd.Location())})
	}
	for k, t := range cmds {
		cmd, line := t.cmd, t.line
		switch c := cmd.(type) {
		case *instructions.OnbuildCommand:
			if tc, ok := parseTrigger(c.Expression); ok {
				st.onbuild = append(st.onbuild, trigger{tc, line})
			}
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				if kv.Value == nil {
					if v, ok := a.argsA[kv.Key]; ok {
						st.env[kv.Key] = v
					} else {
						delete(st.env, kv.Key)
					}
					a.secret("ARG", line, st.object(), kv.Key, "", false)
					continue
				}
				v, _ := a.expand(*kv.Value, st.env)
				st.env[kv.Key] = v
				a.secret("ARG", line, st.object(), kv.Key, v, true)
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				v, _ := a.expand(kv.Value, st.env)
				st.env[kv.Key] = v
				a.secret("ENV", line, st.object(), kv.Key, v, true)
			}
		case *instructions.LabelCommand:
			for _, kv := range c.Labels {
				v, _ := a.expand(kv.Value, st.env)
				a.secret("LABEL", line, st.object(), kv.Key, v, true)
			}
		case *instructions.UserCommand:
			v, known := a.expand(c.User, st.env)
			st.user = &userCmd{line: line, stage: i, raw: c.User, value: v, known: known}
			if k < triggers {
				st.user.onbuild = a.stages[st.parent].object()
			}
			if _, unmatched, err := a.lex.ProcessWord(c.User, vars{m: st.env}); err == nil && !known {
				st.user.unset = slices.Sorted(maps.Keys(unmatched))
			}
		case *instructions.ShellCommand:
			st.notSh = windowsShell(c.Shell)
		case *instructions.HealthCheckCommand:
			st.health = true
		case *instructions.RunCommand:
			a.run(st, c, line)
			for _, m := range instructions.GetMounts(c) {
				if m.From == "" {
					continue
				}
				if _, ok := a.stageRef(m.From, i); ok {
					continue // a stage, not an image
				}
				// RUN --mount=from=<image> pulls that image.
				v, _ := a.expand(m.From, st.env)
				mk, _, err := a.lex.ProcessWord(m.From, vars{m: st.env, marked: true})
				if err != nil {
					mk = unknown
				}
				a.registry(line, st.object(), "RUN --mount=from="+m.From, m.From, newImageRef(v, mk))
			}
		case *instructions.CopyCommand:
			if j, ok := a.stageRef(c.From, i); ok {
				st.copies = append(st.copies, j)
			} else if c.From != "" {
				// COPY --from=<image> pulls that image.
				v, _ := a.expand(c.From, st.env)
				m, _, err := a.lex.ProcessWord(c.From, vars{m: st.env, marked: true})
				if err != nil {
					m = unknown
				}
				a.registry(line, st.object(), "COPY --from="+c.From, c.From, newImageRef(v, m))
			}
			st.secretFiles = append(st.secretFiles, secretSources(c.SourcePaths, line)...)
			a.chmod(st, "COPY", c.Chmod, line)
			st.sudoGrants = append(st.sudoGrants, copyNopasswd("COPY", c.SourcesAndDest, line)...)
			from := -1
			if j, ok := a.stageRef(c.From, i); ok {
				from = j
			}
			if c.From == "" || from >= 0 {
				a.copyPasswd(st, "COPY", c.SourcePaths, c.DestPath, from, line)
			}
		case *instructions.AddCommand:
			a.add(st, c, line)
			a.copyPasswd(st, "ADD", c.SourcePaths, c.DestPath, -1, line)
			st.secretFiles = append(st.secretFiles, secretSources(c.SourcePaths, line)...)
			a.chmod(st, "ADD", c.Chmod, line)
			st.sudoGrants = append(st.sudoGrants, copyNopasswd("ADD", c.SourcesAndDest, line)...)
		case *instructions.ExposeCommand:
			for _, p := range c.Ports {
				v, _ := a.expand(p, st.env)
				if port, proto, _ := strings.Cut(strings.ToLower(v), "/"); port == "22" && (proto == "" || proto == "tcp") {
					a.report(ruleExposeSSH, finding.Medium, line, st.object(), "EXPOSE "+v+": the image offers SSH", fixOf(ruleExposeSSH))
				}
			}
		}
	}
	if _, dup := a.byName[st.name]; st.name != "" && !dup {
		a.byName[st.name] = i // later stages may refer to it
	}
}

// parseTrigger parses the instruction of an ONBUILD as BuildKit does
// when it runs it; false when it does not parse (BuildKit then fails the
// build).
func parseTrigger(expr string) (instructions.Command, bool) {
	ast, err := parser.Parse(strings.NewReader(expr))
	if err != nil || len(ast.AST.Children) != 1 {
		return nil, false
	}
	cmd, err := instructions.ParseCommand(ast.AST.Children[0])
	return cmd, err == nil
}

// from checks the image reference of a FROM that does not name a stage.
func (a *auditor) from(st *stage, raw string) {
	img := st.image
	if !img.known || img.scratch() || img.digest != "" {
		return
	}
	shown := "FROM " + img.ref
	if raw != img.ref {
		shown = fmt.Sprintf("FROM %s (%s)", raw, img.ref)
	}
	switch img.tag {
	case "":
		a.report(ruleLatestTag, finding.Medium, st.line, st.object(),
			shown+" has no tag, so it pulls whatever latest is at build time", fixOf(ruleLatestTag))
	case "latest":
		a.report(ruleLatestTag, finding.Medium, st.line, st.object(),
			shown+" uses the latest tag, which moves with every release", fixOf(ruleLatestTag))
	}
	a.report(ruleBaseNotPinned, a.opts.DigestSeverity, st.line, st.object(),
		shown+" is not pinned by digest", fixOf(ruleBaseNotPinned))
}

// registry reports an image that Options.TrustedRegistries does not
// cover: the image of a FROM that names no stage, or of COPY --from. The
// empty image scratch is not pulled; an image whose name a build argument
// without value makes up is not judged.
func (a *auditor) registry(line int, object, instr, raw string, img imageRef) {
	if !a.trusted.Configured() || !img.nameKnown || img.scratch() {
		return
	}
	shown := instr
	if raw != img.ref {
		shown = fmt.Sprintf("%s (%s)", instr, img.ref) // the expanded reference
	}
	name, ok, err := a.trusted.Check(img.ref)
	switch {
	case ok:
		return
	case err != nil:
		a.report(ruleUntrustedRegistry, finding.Medium, line, object,
			fmt.Sprintf("%s is not a valid image reference (%v), so its registry cannot be checked against the trusted registries (%s)", shown, err, a.trusted),
			fixOf(ruleUntrustedRegistry))
	default:
		a.report(ruleUntrustedRegistry, finding.Medium, line, object,
			fmt.Sprintf("%s pulls %s, which is not among the trusted registries (%s)", shown, name, a.trusted),
			fixOf(ruleUntrustedRegistry))
	}
}

// stageRef resolves COPY --from: the name or index of an earlier stage.
// Images (COPY --from=nginx) give false.
func (a *auditor) stageRef(from string, current int) (int, bool) {
	if from == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(from); err == nil {
		return n, n >= 0 && n < current
	}
	j, ok := a.byName[strings.ToLower(from)]
	return j, ok
}

// Shell patterns on RUN text. A command word starts the text or follows a
// separator, and may carry a path ("./mvnw", "/usr/local/go/bin/go").
const (
	cmdStart = "(?:^|[\\s;&|()'\"`])(?:[^\\s;&|()'\"`]*/)?"
	cmdEnd   = "(?:$|[\\s;&|()'\"`])"
)

var (
	compilerRun = regexp.MustCompile(cmdStart + `(go\s+(?:build|install)|cargo\s+(?:build|install)|mvnw?|gradlew?|gcc|g\+\+|clang|clang\+\+|javac|rustc|dotnet\s+(?:build|publish))` + cmdEnd)
	goBuildRun  = regexp.MustCompile(cmdStart + `go\s+(?:build|install)` + cmdEnd)
	cgoOffRun   = regexp.MustCompile(`(?:^|[^A-Za-z0-9_])CGO_ENABLED=["']?0["']?` + cmdEnd)
	staticLink  = regexp.MustCompile(`-extldflags[= ]+["']?[^"']*-static`)
	spaces      = regexp.MustCompile(`\s+`)
)

// runText is the command a RUN executes, heredoc bodies included.
func runText(c *instructions.RunCommand) string {
	parts := slices.Clone(c.CmdLine)
	for _, f := range c.Files {
		parts = append(parts, f.Data)
	}
	return strings.Join(parts, "\n")
}

// run notes the compilers a RUN runs and Go builds that may use cgo.
func (a *auditor) run(st *stage, c *instructions.RunCommand, line int) {
	text := runText(c)
	ps := newShellParses()
	cmdPs := ps
	if st.notSh && c.PrependShell {
		// PowerShell or cmd runs the command line: the rules that read
		// its commands do not parse it as sh (secrets and packages keep
		// their reading: a literal secret is one in any language).
		cmdPs = notShell
	}
	cmds, sites, exhausted := runCommands(c, st.env, cmdPs)
	if exhausted {
		a.report(ruleRunUnanalyzed, finding.High, line, st.object(),
			fmt.Sprintf("RUN expands more variable text than Ward follows (%d KiB a word, %d KiB a RUN): the commands built from it are not known, so sudo, setuid, world-writable and NOPASSWD are not judged in them", maxExpandedWord>>10, maxExpandedTotal>>10),
			fixOf(ruleRunUnanalyzed))
	}
	if runUsesSudo(c, cmds) {
		a.report(ruleRunSudo, finding.Low, line, st.object(), "RUN uses sudo: the image ships a path from its user to root", fixOf(ruleRunSudo))
	}
	for _, u := range runInstalls(c, ps) {
		names := u.names
		more := ""
		if len(names) > 5 {
			names, more = names[:5], fmt.Sprintf(" and %d more", len(u.names)-5)
		}
		a.report(ruleUnpinnedPackage, finding.Low, line, st.object(),
			fmt.Sprintf("%s installs %s%s without a version: a rebuild gets whatever the repository serves then", u.manager, strings.Join(names, ", "), more), fixOf(ruleUnpinnedPackage))
	}
	for _, s := range runSecrets(c, ps) {
		a.report(ruleSecretInRun, finding.High, line, st.object(),
			fmt.Sprintf("RUN holds %s: the image history keeps RUN command lines, and build logs and caches show them", s), fixOf(ruleSecretInRun))
	}
	for _, name := range runUID0Users(c, ps) {
		st.uid0[name] = line
	}
	if p := runPipesToShell(c, cmdPs); p != "" {
		a.report(rulePipeToShell, finding.Medium, line, st.object(),
			fmt.Sprintf("RUN runs what it downloads without checking it (%s): whoever controls the server, the DNS or the network path at build time runs code in the build, and the image changes when the script does", p),
			fixOf(rulePipeToShell))
	}
	for _, w := range runWorldWritable(cmds, sites) {
		st.worldWritable = append(st.worldWritable, permSite{line: line, what: "RUN " + w})
	}
	if g := runNopasswd(c, cmds, cmdPs); g != "" {
		st.sudoGrants = append(st.sudoGrants, sudoGrant{line: line, what: "RUN writes " + g})
	}
	for _, m := range runSetuid(cmds) {
		st.setuid = append(st.setuid, setuidSite{line: line, what: "RUN " + m.cmd + " " + m.mode, bits: m.bits})
	}
	if m := compilerRun.FindStringSubmatch(text); m != nil && st.compiler == nil {
		st.compiler = &runCmd{line: line, stage: st.index, what: spaces.ReplaceAllString(m[1], " ")}
	}
	if !goBuildRun.MatchString(text) {
		return
	}
	if v, ok := st.env["CGO_ENABLED"]; ok && strings.TrimSpace(v) == "0" {
		return
	}
	if cgoOffRun.MatchString(text) || staticLink.MatchString(text) {
		return
	}
	st.goRuns = append(st.goRuns, line)
}

// chmod records a COPY or ADD --chmod that sets the setuid or setgid bit,
// or lets every user write.
func (a *auditor) chmod(st *stage, instr, mode string, line int) {
	if mode == "" {
		return
	}
	if v, _ := a.expand(mode, st.env); worldWritable(v) {
		st.worldWritable = append(st.worldWritable, permSite{line: line, what: instr + " --chmod=" + mode})
	}
	if v, _ := a.expand(mode, st.env); setuidBits(v) != 0 {
		st.setuid = append(st.setuid, setuidSite{line: line, what: instr + " --chmod=" + mode, bits: setuidBits(v)})
	}
}

// sudoRun matches sudo run as a command: at the start of the RUN or after
// a command separator.
var sudoRun = regexp.MustCompile(`(?:^|[;&|(]|&&|\|\|)\s*sudo(?:\s|$)`)

// secretSources are the sources, among srcs, named like secrets
// (secretscan.FileName).
func secretSources(srcs []string, line int) []secretFile {
	var out []secretFile
	for _, src := range srcs {
		src = unquote(src)
		if _, remote := remoteHost(src); remote {
			continue
		}
		if secretscan.FileName(src) {
			out = append(out, secretFile{line: line, src: src})
		}
	}
	return out
}

// archiveSuffixes are the endings of local files ADD unpacks.
var archiveSuffixes = []string{
	".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz", ".tar.zst", ".tzst",
	".gz", ".bz2", ".xz", ".zst",
}

// add checks an ADD: remote sources without checksum, or local files that
// COPY would copy.
func (a *auditor) add(st *stage, c *instructions.AddCommand, line int) {
	var hosts []string
	unpacks := false
	for _, src := range c.SourcePaths {
		src = unquote(src)
		if host, ok := remoteHost(src); ok {
			if !slices.Contains(hosts, host) {
				hosts = append(hosts, host)
			}
			continue
		}
		lower := strings.ToLower(src)
		if strings.Contains(src, "$") || slices.ContainsFunc(archiveSuffixes, func(s string) bool { return strings.HasSuffix(lower, s) }) {
			unpacks = true
		}
	}
	switch {
	case len(hosts) > 0:
		if c.Checksum == "" {
			a.report(ruleAddRemote, finding.Medium, line, st.object(),
				"ADD downloads from "+strings.Join(hosts, ", ")+" without --checksum, trusting whatever the server returns", fixOf(ruleAddRemote))
		}
	case !unpacks:
		a.report(ruleAddInsteadOfCopy, finding.Low, line, st.object(),
			"ADD copies local files; COPY states that intent and never unpacks or downloads", fixOf(ruleAddInsteadOfCopy))
	}
}

// unquote removes the quotes of a shell-form ADD or COPY source: BuildKit
// expands each source as a shell word, so `ADD "https://x/a.tgz" /d` and
// `ADD 'a.tgz' /d` name https://x/a.tgz and a.tgz. Quotes inside a word
// ("a"b.tgz) are removed too; a backslash escapes the next character
// outside single quotes.
func unquote(src string) string {
	if !strings.ContainsAny(src, "\"'") {
		return src
	}
	var b strings.Builder
	var quote rune
	escaped := false
	for _, r := range src {
		switch {
		case escaped:
			b.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped = true
		case quote == 0 && (r == '"' || r == '\''):
			quote = r
		case r == quote:
			quote = 0
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// remoteHost reports whether an ADD source is a URL or a Git remote, and
// returns its host only: URLs may carry credentials.
func remoteHost(src string) (string, bool) {
	lower := strings.ToLower(src)
	for _, scheme := range []string{"http://", "https://", "git://", "ssh://"} {
		if strings.HasPrefix(lower, scheme) {
			if u, err := url.Parse(src); err == nil && u.Hostname() != "" {
				return u.Hostname(), true
			}
			return "a remote host", true
		}
	}
	if rest, ok := strings.CutPrefix(src, "git@"); ok {
		host, _, _ := strings.Cut(rest, ":")
		host, _, _ = strings.Cut(host, "/")
		if host == "" {
			host = "a remote host"
		}
		return host, true
	}
	return "", false
}

// secret checks one ENV or ARG variable, or a LABEL. Messages name the
// variable or label, never its value.
func (a *auditor) secret(kind string, line int, object, key, value string, hasValue bool) {
	name := key
	if secretscan.Value(key) != "" || len(key) > 100 {
		name = "(name withheld)"
	}
	where := "ENV values are stored in the image configuration, readable by anyone who can pull it"
	switch kind {
	case "ARG":
		where = "build arguments are recorded in the image history and build provenance"
	case "LABEL":
		where = "labels are stored in the image configuration, readable by anyone who can pull it"
	}
	// A build argument's default says nothing of the value a build
	// passes: judged by its name alone.
	byName := secretscan.Name(key)
	if kind != "ARG" && hasValue {
		byName = secretscan.NameValue(key, value)
	}
	if byName {
		a.report(ruleSecretInEnv, finding.High, line, object,
			fmt.Sprintf("%s %s: its name suggests a secret, and %s", kind, name, where), fixOf(ruleSecretInEnv))
		return
	}
	if !hasValue {
		return
	}
	if what := secretscan.Value(value); what != "" {
		a.report(ruleSecretInEnv, finding.High, line, object,
			fmt.Sprintf("%s %s holds a value that looks like %s, and %s", kind, name, what, where), fixOf(ruleSecretInEnv))
	}
}

// judgeFinal reports what is wrong with the image the build produces:
// the stage f and what it is built from and copies.
func (a *auditor) judgeFinal(f *stage) {
	img := f.image
	imgStage := a.stages[f.imageStage]
	base := img.ref
	if !img.nameKnown {
		base = "its base image"
	}
	via := ""
	if f.imageStage != f.index {
		via = fmt.Sprintf(", through %s,", imgStage.object())
	}

	switch {
	case f.user == nil:
		if !img.nonRoot() {
			what := f.object() + ", the final stage, has no USER instruction"
			if f.parent >= 0 {
				what = f.object() + ", the final stage, and the stages it is built on have no USER instruction"
			}
			a.report(ruleUserMissing, finding.High, f.line, f.object(),
				fmt.Sprintf("%s: the container runs as the default user of %s, which is root unless that image sets another", what, base),
				fixOf(ruleUserMissing))
		}
	case (f.user.known || len(f.user.unset) > 0) && isRoot(f.user.value):
		// A value that uses build arguments without value is judged as
		// the build without --build-arg makes it: USER ${UID:-0} is root.
		u := f.user
		shown := "USER " + u.raw
		switch name, _, _ := strings.Cut(u.value, ":"); {
		case strings.TrimSpace(name) == "":
			shown = fmt.Sprintf("USER %s (%q: no user, which is uid 0)", u.raw, u.value)
		case u.raw != u.value:
			shown = fmt.Sprintf("USER %s (%s)", u.raw, u.value)
		}
		runs := "the final image runs as root"
		if !u.known {
			args := make([]string, len(u.unset))
			for i, a := range u.unset {
				args[i] = "--build-arg " + a
			}
			runs += " unless the build is given " + strings.Join(args, " or ")
		}
		if u.onbuild != "" {
			shown = fmt.Sprintf("ONBUILD %s of %s (BuildKit runs it at the start of a stage built on it)", shown, u.onbuild)
		}
		msg := shown + ": " + runs
		if u.stage != f.index {
			msg = fmt.Sprintf("%s in %s, which %s (the final stage) is built on: %s",
				shown, a.stages[u.stage].object(), f.object(), runs)
		}
		a.report(ruleUserRoot, finding.High, u.line, a.stages[u.stage].object(), msg, fixOf(ruleUserRoot))
	case f.user.known && f.uid0[userName(f.user.value)] != 0:
		// A name that a RUN of the final image made UID 0: runc looks
		// the name up in the image's /etc/passwd at start.
		u := f.user
		name := userName(u.value)
		a.report(ruleUserRoot, finding.High, u.line, a.stages[u.stage].object(),
			fmt.Sprintf("USER %s: the %s gives %s UID 0 in the image's /etc/passwd: the final image runs as root", u.raw, a.instructionAt(f.uid0[name]), name),
			fixOf(ruleUserRoot))
	}

	shellless := img.shellless(a.shelless)
	if img.nameKnown && !shellless {
		a.report(ruleFinalHasShell, finding.Medium, imgStage.line, imgStage.object(),
			fmt.Sprintf("the final image%s is based on %s, which has a shell: it is not scratch, distroless or another shell-less image", via, base),
			fixOf(ruleFinalHasShell))
	}

	switch {
	case img.compiler():
		a.report(ruleNoMultiStage, finding.Medium, imgStage.line, imgStage.object(),
			fmt.Sprintf("the final image%s is based on %s, a compiler image: the toolchain ships with the program", via, base),
			fixOf(ruleNoMultiStage))
	case f.compiler != nil:
		c := f.compiler
		where := "the final stage"
		if c.stage != f.index {
			where = fmt.Sprintf("%s, which the final stage is built on,", a.stages[c.stage].object())
		}
		a.report(ruleNoMultiStage, finding.Medium, c.line, a.stages[c.stage].object(),
			fmt.Sprintf("a RUN of %s uses %s: the compiler ships in the final image with the program", where, c.what),
			fixOf(ruleNoMultiStage))
	}

	for i := f.index; i >= 0; i = a.stages[i].parent {
		s := a.stages[i]
		for _, sf := range s.secretFiles {
			a.report(ruleCopySecretFile, finding.High, sf.line, s.object(),
				fmt.Sprintf("%s puts %s, named like a secret, into the final image: anyone who can pull the image reads it", s.object(), sf.src),
				fixOf(ruleCopySecretFile))
		}
		for _, su := range s.setuid {
			msg := fmt.Sprintf("%s sets the setuid or setgid bit of a file of the final image: whoever runs it runs as the file's owner (root unless a --chown or chown says otherwise), whatever the container's USER", su.what)
			if su.bits == modeSetgid {
				msg = fmt.Sprintf("%s sets the setgid bit of a file of the final image: whoever runs it runs with the file's group (root's unless a --chown or chown says otherwise), whatever the container's USER's groups; on a directory it only makes the files created in it take its group", su.what)
			}
			a.report(ruleSetuidFile, finding.Medium, su.line, s.object(), msg, fixOf(ruleSetuidFile))
		}
		for _, w := range s.worldWritable {
			a.report(ruleWorldWritable, finding.Low, w.line, s.object(),
				fmt.Sprintf("%s makes files of the final image writable by every user: whoever runs code in the container, under any UID, can change them (programs, scripts, configuration) for the users that run or read them", w.what),
				fixOf(ruleWorldWritable))
		}
		for _, g := range s.sudoGrants {
			a.report(ruleSudoNopasswd, finding.High, g.line, s.object(),
				fmt.Sprintf("%s into the final image: any process of a user it names runs anything as root with `sudo -n` (or doas), whatever the container's USER", g.what),
				fixOf(ruleSudoNopasswd))
		}
	}

	if !f.health {
		a.report(ruleNoHealthcheck, finding.Info, f.line, f.object(),
			fmt.Sprintf("%s, the final stage, has no HEALTHCHECK", f.object()), fixOf(ruleNoHealthcheck))
	}

	if shellless {
		for _, i := range a.dependencies(f.index) {
			s := a.stages[i]
			for _, line := range s.goRuns {
				a.report(ruleGoCgoEnabled, finding.Medium, line, s.object(),
					fmt.Sprintf("RUN go build in %s does not set CGO_ENABLED=0, and the final image, based on %s, takes its output: a cgo binary needs the build image's libc",
						s.object(), base), fixOf(ruleGoCgoEnabled))
			}
		}
	}
}

// dependencies are the stages the final image takes files from: through
// FROM <stage> and COPY --from, transitively, in index order.
func (a *auditor) dependencies(final int) []int {
	seen := map[int]bool{final: true}
	queue := []int{final}
	for len(queue) > 0 {
		s := a.stages[queue[0]]
		queue = queue[1:]
		next := slices.Clone(s.copies)
		if s.parent >= 0 {
			next = append(next, s.parent)
		}
		for _, j := range next {
			if !seen[j] {
				seen[j] = true
				queue = append(queue, j)
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// userName returns the user part of a USER value.
func userName(user string) string {
	u, _, _ := strings.Cut(user, ":")
	return strings.TrimSpace(u)
}

// isRoot reports whether a USER value makes the container run as root:
// its user part is "root" or a number equal to 0, with or without a sign
// ("+0", "-0": runc reads it with strconv.Atoi), or empty: BuildKit
// writes the expanded value as the image's user, and an empty one
// (USER $UID with UID unset or empty), or an empty user part (":1000"),
// starts the container as uid 0, whatever user the base image set. The
// group does not matter.
func isRoot(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	u = strings.TrimSpace(u)
	if u == "root" || u == "" {
		return true
	}
	n, err := strconv.Atoi(u)
	return err == nil && n == 0
}

// passwdLineUID0 matches a line of an /etc/passwd file whose UID is 0.
var passwdLineUID0 = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.-]*\$?):[^:]*:0+:`)

// maxPasswdSize bounds the /etc/passwd a COPY brings from the build
// context that is read.
const maxPasswdSize = 1 << 20

// copyPasswd records the user names that a COPY or ADD writing the
// image's /etc/passwd gives UID 0: those of the stage it copies from
// (COPY --from=stage /etc/passwd /etc/passwd), or of the file in the
// build context, taken as the Dockerfile's directory. A passwd file
// copied in with "app:x:0:0:..." made USER app root unseen.
func (a *auditor) copyPasswd(st *stage, kw string, sources []string, dest string, from int, line int) {
	dest, _ = a.expand(unquote(dest), st.env)
	var srcs []string
	for _, src := range sources {
		src = unquote(src)
		switch {
		case dest == "/etc/passwd":
		case (dest == "/etc/" || dest == "/etc") && path.Base(src) == "passwd":
		default:
			continue
		}
		srcs = append(srcs, src)
	}
	if len(srcs) == 0 {
		return
	}
	record := func(name string) {
		st.uid0[name] = line
		if a.passwdCopies == nil {
			a.passwdCopies = map[int]string{}
		}
		a.passwdCopies[line] = kw
	}
	if from >= 0 {
		for _, name := range slices.Sorted(maps.Keys(a.stages[from].uid0)) {
			record(name)
		}
		return
	}
	if a.file == "" || a.file == "-" {
		return
	}
	for _, src := range srcs {
		if strings.ContainsAny(src, "*?[") || strings.Contains(src, "://") {
			continue
		}
		// A source cannot leave the context: BuildKit resolves ".." at
		// its root.
		p := filepath.Join(filepath.Dir(a.file), filepath.FromSlash(path.Clean("/"+src)))
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxPasswdSize {
			continue
		}
		data, err := os.ReadFile(p) // #nosec G304 -- a file of the build context of the Dockerfile being audited
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n") {
			if m := passwdLineUID0.FindStringSubmatch(strings.TrimSpace(l)); m != nil && m[1] != "root" {
				record(m[1])
			}
		}
	}
}

// instructionAt names the instruction at line that gave a user UID 0.
func (a *auditor) instructionAt(line int) string {
	if kw, ok := a.passwdCopies[line]; ok {
		return fmt.Sprintf("%s at line %d", kw, line)
	}
	return fmt.Sprintf("RUN at line %d", line)
}
