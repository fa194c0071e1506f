package compose

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/interpolation"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/tree"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/internal/registry"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/srcpos"
)

// Options are Audit's settings.
type Options struct {
	// Policies are the NetworkPolicies (with their Namespaces) checked
	// with the file, as `ward fw --docker` would enforce them on its
	// containers: compose/embedded-dns-bypasses-policy runs when it holds
	// any. Only its Policies and Namespaces are read.
	Policies *manifest.Set
	// TrustedRegistries are ward.yaml's audit.registries.trusted (see
	// registry.Parse); when empty, compose/untrusted-registry is not run.
	// An invalid entry makes Audit return an error.
	TrustedRegistries []string
	// Environment holds the variables interpolated into the file: the
	// project's .env file (see DotEnv), which docker compose reads from
	// the file's directory. Variables not in it are unset.
	Environment map[string]string
	// OnBuild, when set, is called for each service that builds its image
	// from a Dockerfile on disk (build: without dockerfile_inline, from a
	// local context), with the Dockerfile's path and the stage it builds:
	// for the caller to audit that Dockerfile as the service builds it.
	OnBuild func(Build)
	// Included are the files the project's include entries name, read by
	// the caller (under its size limit): docker compose imports their
	// services into the project, so a service may join one with
	// network_mode, pid or ipc service:<name> (or container:<name>), and
	// is judged as joining it. They are loaded on their own, each with
	// its relative paths left as written, and not audited here (the
	// caller audits them as files of their own); one that does not load
	// is passed over.
	Included []Source
}

// Build is a service's build from a Dockerfile on disk (Options.OnBuild).
type Build struct {
	Service string
	File    string // the Compose file whose build key Line is on
	// Dockerfile is the path of the Dockerfile: build.dockerfile (default
	// Dockerfile) in build.context (default the file's directory),
	// relative paths joined to the Compose file's directory.
	Dockerfile string
	Target     string // build.target: the stage built, "" for the last
	Line       int    // of the service's build key
}

// ParseError reports a file that is not YAML, not a Compose file, or not
// valid Compose. Line is 0 when unknown.
// It is srcpos.Error, the one position error of every Ward loader.
type ParseError = srcpos.Error

// Source is one file of a Compose project: its path as findings should
// show it, and its text.
type Source struct {
	File string
	Src  []byte
}

// Audit loads the Compose file text src and returns its findings, sorted
// with finding.Sort. file is the file's path as findings should show it.
// It is AuditProject of that one file.
func Audit(file string, src []byte, opts Options) ([]finding.Finding, error) {
	return AuditProject([]Source{{File: file, Src: src}}, opts)
}

// AuditProject loads the Compose files files as one project, merged in
// their order as docker compose merges the files it is given with -f (or
// finds: ProjectFiles), and returns the project's findings, sorted with
// finding.Sort: a service that a later file changes or defines is judged
// as merged, so an override that makes a service of the first file
// privileged, or joins its network namespace, is judged with it. Each
// finding points at the last file that sets the key it is about, else at
// the first file that defines the service. Relative paths are those of
// the first file's directory, the project's, as in docker compose.
//
// AuditProject reads nothing from disk or from the process environment:
// variables are interpolated from opts.Environment alone, with HOME "~"
// unless it sets HOME (unset variables
// become empty, or false or 0 where Compose wants a boolean or number,
// but true for privileged (lenientCasts);
// defaults apply; ${VAR:?msg} does not fail; a security-relevant field
// taken from a variable set nowhere and without a default is reported,
// compose/unset-variable), env_file, label_file and
// include are not read, and services that extend a service of another
// file are audited without what they would inherit from it.
//
// With opts.Policies, the services are also judged as `ward fw --docker`
// would see their containers (compose/embedded-dns-bypasses-policy); the
// project name is then opts.Environment's COMPOSE_PROJECT_NAME, else
// the files' name: key, else the name of the first file's directory (the
// current directory's, for a file given without one). The project name
// is also that of the containers Compose names itself
// (<project>-<service>-<index>), which container:<name> may join.
//
// Findings silenced by a # ward:ignore comment of the file they point
// at are returned with Suppressed set. A file that does not parse or is
// not valid Compose returns a *ParseError and no findings.
func AuditProject(files []Source, opts Options) ([]finding.Finding, error) {
	if len(files) == 0 {
		return nil, nil
	}
	trusted, err := registry.Parse(opts.TrustedRegistries)
	if err != nil {
		return nil, fmt.Errorf("compose: trusted registries: %w", err)
	}
	all := make([]*positions, len(files))
	for i, f := range files {
		pos, perr := parsePositions(f.Src)
		if perr != nil {
			perr.File = f.File
			return nil, perr
		}
		all[i] = pos
	}
	project, err := load(files, all, opts.Environment)
	if err != nil {
		return nil, err
	}
	services := project.AllServices()
	joinable := maps.Clone(services)
	for _, inc := range opts.Included {
		pos, perr := parsePositions(inc.Src)
		if perr != nil {
			continue
		}
		p, err := load([]Source{inc}, []*positions{pos}, opts.Environment)
		if err != nil {
			continue
		}
		for n, s := range p.AllServices() {
			if _, ok := joinable[n]; !ok {
				joinable[n] = s
			}
		}
	}
	dir, err := filepath.Abs(filepath.Dir(files[0].File))
	if err != nil {
		dir = ""
	}
	name := projectName(files[0].File, all, opts.Environment)
	audits := make([]*audit, len(files))
	for i, f := range files {
		a := &audit{file: f.File, dir: dir, projectDir: filepath.Dir(files[0].File), name: name,
			pos: all[i], project: project, services: services, joinable: joinable, trusted: trusted}
		a.run()
		a.unsetVariables(home(opts.Environment), all[i+1:])
		a.inlineDockerfiles(opts.TrustedRegistries)
		if err := a.embeddedDNS(opts.Policies); err != nil {
			return nil, err
		}
		audits[i] = a
	}
	fs := pick(audits)
	if opts.OnBuild != nil {
		builds(audits, opts.OnBuild)
	}
	var out []finding.Finding
	for i, f := range files {
		sups, bad := parseSuppressions(f.Src, f.File, all[i])
		mine := append([]finding.Finding{}, bad...)
		for _, x := range fs {
			if x.File == f.File {
				mine = append(mine, x)
			}
		}
		applySuppressions(mine, sups, all[i])
		out = append(out, mine...)
	}
	return finding.Sort(out), nil
}

// pick chooses, for each finding of the merged project, the file it
// points at: every audit ran the same checks on the same project, each
// with the positions of its own file, so the n-th finding of a rule,
// service and message is the same finding in each. The audit that found
// the key it is about wins, the last such (later files override earlier
// ones), else the one whose line is that of the list or mapping the
// finding is about rather than of its item (itemLine found none there),
// else the first that knows the service's line, else the first.
func pick(audits []*audit) []finding.Finding {
	type key struct {
		rule, object, message string
		n                     int
	}
	best := map[key]finding.Finding{}
	score := map[key]int{}
	var order []key
	for _, a := range audits {
		seen := map[key]int{}
		for _, f := range a.findings {
			k := key{f.Rule, f.Object, f.Message, 0}
			k.n = seen[k]
			seen[k]++
			service, _ := strings.CutPrefix(f.Object, "service ")
			service, _, _ = strings.Cut(service, " ")
			sc := 0
			switch {
			case f.Line <= 0:
			case f.Line == a.pos.serviceLine(service):
				sc = 1
			case a.pos.listKeyLine(service, f.Line):
				sc = 2 // no item of the list matched: an item of another file's may
			default:
				sc = 3
			}
			old, ok := score[k]
			if !ok {
				order = append(order, k)
			}
			if !ok || sc > old || sc == 3 && old == 3 {
				best[k], score[k] = f, sc
			}
		}
	}
	out := make([]finding.Finding, 0, len(order))
	for _, k := range order {
		out = append(out, best[k])
	}
	return out
}

// load runs compose-go on the files, from memory, merging them in order.
func load(files []Source, all []*positions, env map[string]string) (project *types.Project, err error) {
	file := files[0].File
	// compose-go asserts types of the model in places; a panic on
	// malformed input must not crash Ward.
	defer func() {
		if r := recover(); r != nil {
			project, err = nil, &ParseError{File: file, Err: fmt.Errorf("compose-go: %v", r)}
		}
	}()
	details := types.ConfigDetails{
		WorkingDir:  filepath.Dir(file),
		Environment: home(env),
	}
	for i, f := range files {
		content := all[i].blankVersion(f.Src)
		if all[i].extendsOtherFile() {
			if content, err = withoutOtherFileExtends(content, f.File); err != nil {
				return nil, &ParseError{File: f.File, Line: yamlErrorLine(err), Err: err}
			}
		}
		details.ConfigFiles = append(details.ConfigFiles, types.ConfigFile{Filename: f.File, Content: content})
	}
	project, err = loader.LoadWithContext(context.Background(), details,
		loader.WithProfiles([]string{"*"}),
		func(o *loader.Options) {
			o.SetProjectName("ward", true)
			o.ResolvePaths = false
			o.SkipConsistencyCheck = true
			o.SkipInclude = true
			o.SkipResolveEnvironment = true
			o.SkipResolveLabels = true
			o.Interpolate.Substitute = substitute
			o.Interpolate.TypeCastMapping = lenientCasts(o.Interpolate.TypeCastMapping)
		})
	if err != nil {
		return nil, loadError(files, all, err)
	}
	return project, nil
}

// loadError is err located in the file it is about: the file its message
// names, else the first whose positions find what it names, else the
// first file.
func loadError(files []Source, all []*positions, err error) *ParseError {
	msg := err.Error()
	for i, f := range files {
		if len(files) > 1 && strings.Contains(msg, f.File) {
			return &ParseError{File: f.File, Line: errorLine(all[i], err), Err: err}
		}
	}
	for i, f := range files {
		if line := errorLine(all[i], err); line > 0 {
			return &ParseError{File: f.File, Line: line, Err: err}
		}
	}
	return &ParseError{File: files[0].File, Err: err}
}

// DotEnv parses src, the text of the .env file named file, as docker
// compose does, for Options.Environment: its variables may refer to those
// defined before them, never to the process environment. Text that does
// not parse gives a *ParseError with its line.
func DotEnv(file string, src []byte) (map[string]string, error) {
	env, err := dotenv.UnmarshalBytesWithLookup(src, nil)
	if err != nil {
		return nil, &ParseError{File: file, Line: dotEnvLine(err), Err: err}
	}
	return env, nil
}

// dotEnvErrLine finds the "line N" of a dotenv error.
var dotEnvErrLine = regexp.MustCompile(`\bline (\d+)\b`)

func dotEnvLine(err error) int {
	if m := dotEnvErrLine.FindStringSubmatch(err.Error()); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			return n
		}
	}
	return 0
}

// home is env with HOME set to "~" when env does not set it: Compose
// takes HOME from the environment it runs in, which is a user's home
// directory, and ${HOME}/.ssh is judged as ~/.ssh.
func home(env map[string]string) types.Mapping {
	m := types.Mapping(maps.Clone(env))
	if m == nil {
		m = types.Mapping{}
	}
	if _, ok := m["HOME"]; !ok {
		m["HOME"] = "~"
	}
	return m
}

// substitute interpolates like Compose, but quietly and leniently, since
// Audit does not know the environment a file is used with: unset
// variables become empty without compose-go's warning (also inside
// defaults), and required ones (${VAR:?msg}, ${VAR?msg}) do not fail.
func substitute(s string, m template.Mapping) (string, error) {
	return template.SubstituteWithOptions(s, m, template.WithoutLogging, template.WithSubstitutionFunction(expand))
}

// operators are Compose's ${VAR<op>word} forms.
var operators = []string{":?", "?", ":-", "-", ":+", "+"}

// expand evaluates the inside of a ${...} that has an operator, as
// compose-go's template package does; it reports false for a plain
// ${VAR}, which the caller looks up.
func expand(sub string, m template.Mapping) (string, bool, error) {
	op, at := "", len(sub)
	for _, o := range operators {
		if i := strings.Index(sub, o); i >= 0 && i < at {
			op, at = o, i
		}
	}
	if op == "" {
		return "", false, nil
	}
	name, word := sub[:at], sub[at+len(op):]
	v, set := m(name)
	nonEmpty := set && v != ""
	switch op {
	case ":?", "?":
		return v, true, nil
	case ":-":
		if nonEmpty {
			return v, true, nil
		}
	case "-":
		if set {
			return v, true, nil
		}
	case ":+":
		if !nonEmpty {
			return v, true, nil
		}
	case "+":
		if !set {
			return v, true, nil
		}
	}
	w, err := substitute(word, m)
	return w, true, err
}

// lenientCasts wraps compose-go's casts of interpolated values to
// booleans and numbers: an empty value, which is what an unset variable
// gives, becomes false or 0 instead of failing the load.
//
// But privileged: docker compose fails on an empty value there, so a
// variable set nowhere in the project (${PRIV}, ${PRIV:?msg}) must come
// from the environment compose runs in, whose value Ward cannot know:
// it is judged true, never the harmless false.
func lenientCasts(casts map[tree.Path]interpolation.Cast) map[tree.Path]interpolation.Cast {
	out := make(map[tree.Path]interpolation.Cast, len(casts))
	for p, cast := range casts {
		parts := p.Parts()
		unknownIsTrue := len(parts) > 0 && parts[len(parts)-1] == "privileged"
		out[p] = func(v string) (any, error) {
			r, err := cast(v)
			if err != nil && strings.TrimSpace(v) == "" {
				if unknownIsTrue {
					return cast("true")
				}
				for _, zero := range []string{"false", "0"} {
					if r, err := cast(zero); err == nil {
						return r, nil
					}
				}
			}
			return r, err
		}
	}
	return out
}

// errPath finds a dotted path such as services.web.ports.0 in a
// compose-go error message.
var errPath = regexp.MustCompile(`\b((?:services|networks|volumes|secrets|configs|models|include|name)(?:\.[A-Za-z0-9_\-]+)*)`)

// errProperty finds the key named by a schema error such as
// "services.web additional properties 'foo' not allowed".
var errProperty = regexp.MustCompile(`(?:^|[\s:])((?:[A-Za-z0-9_\-]+\.)*[A-Za-z0-9_\-]+)?\s*additional propert(?:y|ies) '([^']+)'`)

// errorLine locates a compose-go error in the file: the line of the key a
// schema error names, or the deepest line the dotted path it names
// resolves to, or a "line N" it mentions.
func errorLine(pos *positions, err error) int {
	msg := err.Error()
	if m := errProperty.FindStringSubmatch(msg); m != nil {
		var path []string
		if m[1] != "" {
			path = strings.Split(m[1], ".")
		}
		if line := pos.pathLine(append(path, m[2])); line > 0 {
			return line
		}
	}
	for _, m := range errPath.FindAllString(msg, -1) {
		if line := pos.pathLine(strings.Split(m, ".")); line > 0 {
			return line
		}
	}
	return yamlErrorLine(err)
}
