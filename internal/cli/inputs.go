package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/wardsec/ward/compose"
	"github.com/wardsec/ward/dockerfile"
	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/helmchart"
	"github.com/wardsec/ward/kustomize"
	"github.com/wardsec/ward/manifest"
)

// inputs are the paths `ward check` was given, sorted by what reads them.
type inputs struct {
	// manifests go to manifest.Load: the paths given, minus Dockerfiles
	// and Compose files named explicitly; directories are walked by the
	// loader, which skips the files in notManifest.
	manifests   []string
	dockerfiles []string
	composes    []string
	notManifest map[string]bool
	// lateComposes are files the loader read as manifests and skipped
	// whole that are Compose files after all (lateComposes), by path;
	// shared by the environments' copies of inputs.
	lateComposes map[string]bool
	// kustomized are kustomization directories: their files are rendered
	// (rendered), never read as manifests.
	kustomized []string
	// charts are Helm chart directories, rendered too (charts.go).
	charts   []string
	rendered []manifest.Rendered
	// unreadable are paths that could not be read or rendered.
	unreadable []finding.Finding
	// warnings are what the walk left out on purpose, said on stderr.
	warnings []string
	// named are the files (absolute) the kustomizations built name, and
	// unnamed the files with Kubernetes objects met in a kustomization's
	// directory: those not named are announced as not read, unless a
	// kustomization failed (kustomizeFailed) and could not say.
	named           map[string]bool
	unnamed         []string
	kustomizeFailed bool
	// unscanned are the YAML and JSON files of a kustomization's
	// directory that the quick scan did not take for Compose files: those
	// no kustomization reads are parsed for Compose content once the
	// kustomizations are built (composesBeside).
	unscanned []string
	// configs are the files named ward.yaml given or met walking the
	// paths: one at most is read (configPath), the others are announced.
	configs []string
	// wardObjects are the files named ward.yaml met walking the paths
	// that hold Kubernetes objects, not Ward's settings (which have no
	// apiVersion or kind): kubectl apply -R applies them, so the loader
	// reads them.
	wardObjects map[string]bool
	// from maps each chart and kustomization directory rendered without
	// error to what it gave the loader: rendered streams' names, or the
	// resource files of a kustomization read directly (emptyPaths).
	from map[string][]string
	// streams hold the data of standard input ("-") and of the named
	// pipes and devices (/dev/fd/N) given as PATH, read once by
	// readStreams: a pipe cannot be read twice, and its content decides
	// whether it is a Compose file, as a file's does.
	streams map[string][]byte
	// given are the files given as PATH (not met walking a directory),
	// and dotEnvDirs the directories of the .env files met walking:
	// composeProjects audits the project docker compose makes in each.
	given      map[string]bool
	dotEnvDirs []string
}

// listedComposes adds to the Compose files those that the COMPOSE_FILE
// of a .env file met walking a directory (dotEnvs) lists
// (compose.ListedFiles): docker compose, run in that directory, loads
// them whatever their names, such as stack.conf, which the walk does not
// take for Compose files. Listed files that are not regular files are
// left out, as a .env that does not parse is: the Compose files beside
// it report it (dotEnvCache).
func (in *inputs) listedComposes(dotEnvs []string, maxSize int64) {
	for _, p := range dotEnvs {
		src, err := manifest.ReadFile(p, maxSize)
		if err != nil {
			continue
		}
		env, err := compose.DotEnv(p, src)
		if err != nil {
			continue
		}
		for _, f := range compose.ListedFiles(filepath.Dir(p), env) {
			if st, err := os.Stat(f.Path); err != nil || !st.Mode().IsRegular() || slices.Contains(in.composes, f.Path) {
				continue
			}
			in.composes = append(in.composes, f.Path)
			in.notManifest[f.Path] = true
		}
	}
}

// readStreams reads standard input (stdin, for "-") and the paths given
// that are neither regular files nor directories (named pipes, /dev/fd/N)
// once each, under maxSize, into in.streams, and moves those that are
// Compose files by content (compose.IsCompose, as for a file of any name
// given as PATH) from the manifests to the Compose files: cat
// compose.yaml | ward check - audits the Compose file, as docker compose
// -f - runs it. One that cannot be read is input/unreadable.
func (in *inputs) readStreams(stdin io.Reader, maxSize int64) {
	var keep []string
	for _, p := range in.manifests {
		if _, done := in.streams[p]; done {
			keep = append(keep, p) // given twice: read once (the loader gives it once)
			continue
		}
		var data []byte
		var err error
		if p == "-" {
			data, err = manifest.ReadAll(stdin, maxSize)
		} else {
			st, serr := os.Stat(p)
			if serr != nil || st.IsDir() || st.Mode().IsRegular() {
				keep = append(keep, p)
				continue
			}
			data, err = manifest.ReadFile(p, maxSize)
		}
		if err != nil {
			in.unreadable = append(in.unreadable, unreadable(p, 0, err))
			continue
		}
		if in.streams == nil {
			in.streams = map[string][]byte{}
		}
		in.streams[p] = data
		if compose.IsCompose(p, nil) || compose.IsCompose("", data) {
			in.composes = append(in.composes, p)
			continue
		}
		keep = append(keep, p)
	}
	in.manifests = keep
}

// loaderData is the data of streams for the manifest loader: none for
// one audited as a Compose file (given twice, it is read once).
func (in *inputs) loaderData() map[string][]byte {
	if len(in.streams) == 0 {
		return nil
	}
	out := make(map[string][]byte, len(in.streams))
	for p, d := range in.streams {
		if !slices.Contains(in.composes, p) {
			out[p] = d
		} else {
			out[p] = nil
		}
	}
	return out
}

// readInput reads an input to audit: the data of a stream readStreams
// read, else the file at path, under maxSize.
func (in *inputs) readInput(path string, maxSize int64) ([]byte, error) {
	if data, ok := in.streams[path]; ok {
		return data, nil
	}
	return manifest.ReadFile(path, maxSize)
}

// skip reports whether the manifest loader must leave path alone.
func (in *inputs) skip(path string) bool {
	if in.notManifest[path] || filepath.Base(path) == "ward.yaml" && !in.wardObjects[path] {
		return true
	}
	for _, d := range slices.Concat(in.kustomized, in.charts) {
		if strings.HasPrefix(path, d+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// kustomizeFindings are the input/unreadable findings of a kustomization
// that could not be built, with a fix that says what to do about a
// refused reference.
func kustomizeFindings(err error) []finding.Finding {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var out []finding.Finding
	for _, e := range errs {
		for _, f := range inputFindings(e) {
			switch {
			case errors.Is(e, kustomize.ErrNotLocal):
				f.Fix = "Vendor what it names into the tree (a file or directory beside the kustomization), or render it where fetching is wanted and pipe the output: kustomize build DIR | ward check -"
			case errors.Is(e, kustomize.ErrMissing):
				f.Fix = "Fix the path (kustomize would try a missing resource as a git repository), or remove the entry."
			}
			out = append(out, f)
		}
	}
	return out
}

// found is a kustomization directory found under a path given on the
// command line, and the root it may reach (kustomize.Root of that path).
type found struct{ dir, root string }

// render builds the kustomizations that no other one builds on (overlays,
// not their bases) with package kustomize: offline, refusing any
// non-local reference (input/unreadable at the kustomization's line), and
// under maxSize (--max-input-size).
func (in *inputs) render(ks []found, maxSize int64) {
	refs := map[string][]string{}
	refsOf := func(d string) []string {
		r, ok := refs[d]
		if !ok {
			r = kustomize.References(d, maxSize)
			refs[d] = r
		}
		return r
	}
	referenced := map[string]bool{}
	for _, k := range ks {
		for _, r := range refsOf(filepath.Clean(k.dir)) {
			referenced[r] = true
		}
	}
	// A base is left to the kustomizations that build on it only when one
	// of them is built: kustomizations that only reference each other (a
	// cycle, which kustomize reports) are built too, not left unread.
	reached := map[string]bool{}
	var reach func(d string)
	reach = func(d string) {
		if reached[d] {
			return
		}
		reached[d] = true
		for _, r := range refsOf(d) {
			reach(r)
		}
	}
	for _, k := range ks {
		if d := filepath.Clean(k.dir); !referenced[d] {
			reach(d)
		}
	}
	for _, k := range ks {
		d := filepath.Clean(k.dir)
		in.kustomized = append(in.kustomized, d)
		if referenced[d] && reached[d] {
			continue
		}
		res, err := kustomize.Build(d, k.root, maxSize)
		for _, f := range res.Named {
			if abs, err := filepath.Abs(f); err == nil {
				in.named[abs] = true
			}
		}
		switch {
		case err != nil:
			in.unreadable = append(in.unreadable, kustomizeFindings(err)...)
			in.kustomizeFailed = true
		case res.Data != nil:
			name := d + " (kustomize build)"
			in.rendered = append(in.rendered, manifest.Rendered{Name: name, Dir: d, Data: res.Data})
			in.from[d] = append(in.from[d], name) // a chart's too, if d is one
		case helmchart.IsChart(d):
			// Only resources listed, of a chart directory: read as
			// written, as streams of d, an environment apart from the
			// chart's (environments.go), which it may well duplicate.
			for _, f := range res.Files {
				data, err := manifest.ReadFile(f, maxSize)
				if err != nil {
					in.unreadable = append(in.unreadable, unreadable(f, 0, err))
					continue
				}
				in.rendered = append(in.rendered, manifest.Rendered{Name: f, Dir: d, Data: data})
			}
			in.from[d] = append(slices.Clone(in.from[d]), res.Files...)
		default:
			// Only resources listed: read as written, no kustomize run.
			in.manifests = append(in.manifests, res.Files...)
			in.from[d] = append(slices.Clone(in.from[d]), res.Files...)
		}
	}
}

// ownedCompose reports whether a file of a chart (chart) or kustomization
// directory is a Dockerfile or a Compose file, which the chart or
// kustomization does not read but docker does: by name, or, in a
// kustomization, by content too (a chart's values files would pass for
// Compose files by content).
func ownedCompose(path string, info fs.FileInfo, chart bool, maxSize int64) bool {
	name := info.Name()
	switch {
	case dockerfile.IsDockerfile(name):
		return true
	case !composeExt(name) || name == "ward.yaml":
		return false
	case compose.IsCompose(name, nil):
		return true
	}
	return !chart && compose.IsComposeFile(path, info.Size(), maxSize)
}

// composesBeside adds the Compose files of kustomization directories
// that the quick scan (compose.IsComposeFile) missed, as one whose
// services key carries an anchor or is merged in with <<: kustomize does
// not read them, so the loader never skips them for findLateComposes to
// find, but docker compose runs them. Files a kustomization reads
// (resources, patches, generators' files) are left to it.
func (in *inputs) composesBeside(maxSize int64) {
	for _, f := range in.unscanned {
		abs, err := filepath.Abs(f)
		if err != nil || in.named[abs] || slices.Contains(in.composes, f) {
			continue
		}
		if isYAML(f) && slices.Contains(in.unnamed, f) {
			// Top-level apiVersion and kind keys: Kubernetes objects,
			// which docker compose refuses (and a dump is not parsed
			// twice).
			continue
		}
		if composeContent(f, maxSize) {
			in.composes = append(in.composes, f)
			in.notManifest[f] = true
		}
	}
}

// composeContent reports whether the file at path, of at most maxSize
// bytes, is a Compose file by its content, parsed (compose.IsCompose).
func composeContent(path string, maxSize int64) bool {
	src, err := manifest.ReadFile(path, maxSize)
	return err == nil && compose.IsCompose(path, src)
}

// hiddenParseLimit bounds the files of a hidden directory parsed for a
// Compose file the quick scan missed: a cache's large JSON files are not
// parsed whole for a warning. hiddenParseBudget bounds the bytes parsed
// so in one hidden directory: a cache of 2,000 JSON files of a few MiB
// each is not parsed through either.
const hiddenParseLimit = 4 << 20

var hiddenParseBudget int64 = 32 << 20 // a variable for tests

// hiddenLimit bounds the entries hiddenDirs looks at in each hidden
// directory: a cache of thousands of files is not read through.
const hiddenLimit = 2000

// hiddenDirs announces the hidden directories of dir (the walk skips
// them) that hold a Helm chart, a kustomization, a file with Kubernetes
// objects (werf keeps its chart in .helm/, for example), a Compose file
// or a Dockerfile (.devcontainer/ holds both). .git is not looked into.
func (in *inputs) hiddenDirs(dir string, maxSize int64) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		h := filepath.Join(dir, e.Name())
		if !strings.HasPrefix(e.Name(), ".") || e.Name() == ".git" {
			continue
		}
		if st, err := os.Stat(h); err != nil || !st.IsDir() {
			continue
		}
		what, seen, budget := "", 0, hiddenParseBudget
		objects := "" // what a file kubectl apply -R would apply holds, when Ward checks it or cannot tell
		_ = filepath.WalkDir(h, func(path string, d fs.DirEntry, err error) error {
			if seen++; err != nil || seen > hiddenLimit || objects != "" {
				return filepath.SkipAll
			}
			found := ""
			switch {
			case d.IsDir() && helmchart.IsChart(path):
				found = "a Helm chart (" + path + ")"
			case d.IsDir() && kustomize.IsKustomization(path):
				found = "a kustomization (" + path + ")"
			case d.Type().IsRegular() && dockerfile.IsDockerfile(d.Name()):
				found = "a Dockerfile (" + path + ")"
			case d.Type().IsRegular():
				info, err := d.Info()
				switch {
				case err != nil:
				case composeExt(d.Name()) && compose.IsComposeFile(path, info.Size(), maxSize):
					found = "a Compose file (" + path + ")"
				case looksLikeObjects(path, info.Size(), maxSize):
					found = "Kubernetes objects (" + path + ")"
					// Past the budget, or where the file does not
					// parse, what it holds is not known: it counts as
					// objects Ward checks (a privileged pod behind a
					// kubeconfig past the budget, or beside a
					// duplicate key, passed with exit 0).
					switch budget -= info.Size(); {
					case budget < 0:
						objects = fmt.Sprintf("a file with apiVersion and kind keys, not parsed (past the %d MiB parse budget), which may hold objects Ward checks (%s)", hiddenParseBudget>>20, path)
					default:
						objects = heldObjects(path, maxSize)
					}
				case composeExt(d.Name()) && info.Size() <= hiddenParseLimit:
					// One the quick scan misses (an anchored or merged
					// services key).
					if budget -= info.Size(); budget >= 0 && composeContent(path, maxSize) {
						found = "a Compose file (" + path + ")"
					}
				}
			}
			if what == "" {
				what = found
			}
			if found != "" && d.IsDir() {
				// A chart's templates and a kustomization's patches are
				// no objects as written; the directory is named.
				return filepath.SkipDir
			}
			return nil
		})
		switch {
		case what != "":
		case seen > hiddenLimit:
			// Not looked through: it may hold anything.
			what = fmt.Sprintf("more than %d entries, not looked through for Kubernetes objects, charts, kustomizations, Compose files or Dockerfiles", hiddenLimit)
		case budget < 0:
			what = fmt.Sprintf("more than %d MiB of YAML and JSON files, not all looked through for Compose files", hiddenParseBudget>>20)
		}
		switch {
		case objects != "":
			// kubectl apply -R and Argo CD's directory apps read hidden
			// directories: a privileged pod a change put in deploy/.x/
			// was applied while ward check said "score 100/100" with a
			// warning on stderr. It is an input error, as any file
			// that cannot be read (ward.yaml can ignore it by path).
			in.unreadable = append(in.unreadable, finding.Finding{Rule: ruleUnreadable, Severity: finding.High, File: h,
				Message: fmt.Sprintf("not read: a hidden directory, which the walk skips and kubectl apply -R reads, holds %s", objects),
				Fix:     "give the directory as PATH to check it, move the objects out of it, or, if they are never applied, ignore input/unreadable for it in ward.yaml"})
		case what != "":
			in.warnings = append(in.warnings, fmt.Sprintf("%s: not read: a hidden directory, which the walk skips, holds %s; give it as PATH to check it", h, what))
		}
	}
}

// heldObjects says what the file at path, of at most maxSize bytes,
// holds when it holds objects of a kind Ward checks (typed objects of
// known kinds, policies Ward does not evaluate, custom resources
// carrying pod specs), or when it cannot be read or parsed, which leaves
// that unknown; "" for a tool's configuration in Kubernetes' style, such
// as kind's `kind: Cluster` or a kubeconfig, which reads whole and holds
// none.
func heldObjects(path string, maxSize int64) string {
	data, err := manifest.ReadFile(path, maxSize)
	if err != nil {
		return fmt.Sprintf("a file with apiVersion and kind keys that cannot be read (%v), which may hold objects Ward checks", err)
	}
	set, err := manifest.Parse(manifest.Options{}, path, data)
	if err != nil || set == nil {
		return fmt.Sprintf("a file with apiVersion and kind keys that does not parse (%v), which may hold objects Ward checks", err)
	}
	if len(set.Objects)+len(set.Unsupported) == 0 &&
		!slices.ContainsFunc(set.Skipped, func(sk manifest.Skipped) bool { return len(sk.PodSpecs) > 0 }) {
		return ""
	}
	return "Kubernetes objects Ward checks (" + path + ")"
}

// unreadSource announces a file of a directory walk that deploys
// Kubernetes objects in a form Ward does not read: a packaged Helm chart
// (helm install takes it), or Jsonnet (Argo CD and Tanka evaluate it).
func (in *inputs) unreadSource(path string) {
	switch {
	case strings.HasSuffix(path, ".jsonnet"):
		in.warnings = append(in.warnings, fmt.Sprintf("%s: not read: Jsonnet, which Argo CD and Tanka evaluate into Kubernetes objects, is not evaluated by ward; check its output (jsonnet %s | ward check -)", path, path))
	case helmchart.IsArchive(path):
		in.warnings = append(in.warnings, fmt.Sprintf("%s: not read: a packaged Helm chart, which helm install takes, is not rendered by ward; unpack it (tar xzf %s) and give the chart directory as PATH", path, path))
	}
}

// objectKeys finds apiVersion and kind keys at the top of a YAML
// document, or anywhere in JSON.
var objectKeys = [2]*regexp.Regexp{
	regexp.MustCompile(`(?m)^(?:\x{feff})?apiVersion:|"apiVersion"\s*:`),
	regexp.MustCompile(`(?m)^(?:\x{feff})?kind:|"kind"\s*:`),
}

// looksLikeObjects is a cheap test of a file the walk leaves out: a YAML
// or JSON file of at most maxSize bytes with top-level apiVersion and
// kind keys (a values file has neither).
func looksLikeObjects(path string, size, maxSize int64) bool {
	if maxSize <= 0 {
		maxSize = manifest.DefaultMaxFileSize
	}
	if ext := strings.ToLower(filepath.Ext(path)); !isYAML(path) && ext != ".json" || size > maxSize {
		return false
	}
	data, err := os.ReadFile(path) // #nosec G304 -- a file of the tree the user named
	if err != nil {
		return false
	}
	return objectKeys[0].Match(data) && objectKeys[1].Match(data)
}

// composeExt reports whether a file's name ends as a Compose file's may:
// .yaml, .yml or .json.
func composeExt(name string) bool {
	return isYAML(name) || strings.EqualFold(filepath.Ext(name), ".json")
}

func isYAML(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

// scanInputs classifies paths: Dockerfiles by name, Compose files by name
// or content, directories with a Chart.yaml rendered as Helm charts with
// chart, directories with a kustomization rendered with kustomize,
// everything else left to the manifest loader (which reads *.yaml, *.yml
// and *.json in directories and skips hidden ones). Directories are walked
// as the loader walks them (manifest.Walk); no file is read past maxSize.
func scanInputs(paths []string, maxSize int64, chart *helmchart.Options) *inputs {
	in := &inputs{notManifest: map[string]bool{}, lateComposes: map[string]bool{}, from: map[string][]string{}, named: map[string]bool{}, wardObjects: map[string]bool{}, given: map[string]bool{}}
	classify := func(path string, explicit bool) {
		name := filepath.Base(path)
		if explicit {
			in.given[path] = true
		}
		if dockerfile.IsDockerfile(name) {
			in.dockerfiles = append(in.dockerfiles, path)
			in.notManifest[path] = true
			return
		}
		if name == "ward.yaml" {
			st, err := os.Stat(path)
			if !explicit && err == nil && st.Mode().IsRegular() && looksLikeObjects(path, st.Size(), maxSize) {
				in.wardObjects[path] = true
				return
			}
			in.configs = append(in.configs, path)
		}
		if !explicit {
			in.unreadSource(path)
		} else if helmchart.IsArchive(path) {
			in.unreadable = append(in.unreadable, finding.Finding{Rule: ruleUnreadable, Severity: finding.High, File: path,
				Message: "a packaged Helm chart: ward renders chart directories, not archives",
				Fix:     "unpack it (tar xzf " + path + ") and give the chart directory, with the --values and --set helm install takes"})
			in.notManifest[path] = true
			return
		}
		if !composeExt(name) || name == "ward.yaml" {
			if explicit {
				in.manifests = append(in.manifests, path)
			}
			return
		}
		isCompose := compose.IsCompose(name, nil)
		if st, err := os.Stat(path); !isCompose && err == nil && st.Mode().IsRegular() {
			// Only regular files are looked into: a named pipe read here
			// would be empty for the loader.
			isCompose = compose.IsComposeFile(path, st.Size(), maxSize)
		}
		switch {
		case isCompose:
			in.composes = append(in.composes, path)
			in.notManifest[path] = true
		case explicit:
			in.manifests = append(in.manifests, path)
		}
	}
	var kustomizations []found
	var dotEnvs []string // the .env files met walking the directories
	for _, p := range paths {
		if p == "-" {
			in.manifests = append(in.manifests, p)
			continue
		}
		st, err := os.Stat(p)
		isChart := err == nil && st.IsDir() && helmchart.IsChart(p)
		if c, ok := inChart(p); ok && !isChart {
			in.unreadable = append(in.unreadable, chartPart(p, c))
			continue
		}
		if err == nil && st.Mode().IsRegular() && slices.Contains(kustomize.FileNames, filepath.Base(p)) {
			// kustomize builds the directory: the file alone holds no
			// object that is applied.
			dir := filepath.Dir(p)
			in.unreadable = append(in.unreadable, finding.Finding{Rule: ruleUnreadable, Severity: finding.High, File: p,
				Message: "a kustomization file: kustomize builds its directory, " + dir + ", and the file on its own holds nothing that is applied",
				Fix:     "give the directory, " + dir + ", to build the kustomization"})
			continue
		}
		if err != nil || !st.IsDir() {
			// Missing paths go to the loader, which reports them.
			classify(p, true)
			continue
		}
		// A kustomization's files are its to read (kustomize decides which
		// are resources), a chart's are helm's (it installs templates/ and
		// crds/ only), but the kustomizations and charts below them are
		// still found: an overlay kept under the directory of another
		// kustomization that does not build on it is rendered on its own,
		// as it would be deployed. owners are those directories, the
		// innermost last.
		type owner struct {
			dir   string
			chart bool
		}
		var owners []owner
		switch {
		case isChart:
			in.renderChart(p, chart)
			owners = append(owners, owner{p, true})
			kustomizations = in.chartKustomization(kustomizations, p, p)
		case kustomize.IsKustomization(p):
			kustomizations = append(kustomizations, found{p, kustomize.Root(p)})
			owners = append(owners, owner{p, false})
		default:
			in.manifests = append(in.manifests, p)
		}
		ownerOf := func(path string) (owner, bool) {
			for i := len(owners) - 1; i >= 0; i-- {
				if strings.HasPrefix(path, owners[i].dir+string(filepath.Separator)) {
					return owners[i], true
				}
			}
			return owner{}, false
		}
		err = manifest.Walk(p, func(path string, info fs.FileInfo, err error) error {
			if err != nil {
				return nil // the loader's own walk reports unreadable entries
			}
			if info.IsDir() {
				if o, ok := ownerOf(path); ok && o.chart && filepath.Dir(path) == o.dir {
					switch filepath.Base(path) {
					case "templates", "charts", "crds":
						return filepath.SkipDir // the chart's, rendered
					}
				}
				if path != p && helmchart.IsChart(path) {
					in.renderChart(path, chart)
					owners = append(owners, owner{path, true})
					kustomizations = in.chartKustomization(kustomizations, path, p)
					return nil
				}
				if path != p && kustomize.IsKustomization(path) {
					kustomizations = append(kustomizations, found{path, kustomize.Root(p)})
					owners = append(owners, owner{path, false})
				}
				if _, owned := ownerOf(path + string(filepath.Separator)); !owned && !kustomize.IsKustomization(path) {
					in.hiddenDirs(path, maxSize)
				}
				return nil
			}
			if !info.Mode().IsRegular() {
				return nil
			}
			if info.Name() == ".env" {
				dotEnvs = append(dotEnvs, path)
			}
			o, ok := ownerOf(path)
			if ok && !o.chart && composeExt(info.Name()) && !slices.Contains(kustomize.FileNames, info.Name()) {
				in.unscanned = append(in.unscanned, path)
			}
			switch {
			case !ok:
				classify(path, false)
			case ownedCompose(path, info, o.chart, maxSize):
				// Neither helm nor kustomize reads a Dockerfile or a
				// Compose file; docker does, wherever it lies.
				classify(path, false)
			case o.chart && kustomize.IsKustomization(o.dir) && !slices.Contains(kustomize.FileNames, info.Name()) && looksLikeObjects(path, info.Size(), maxSize):
				in.unnamed = append(in.unnamed, path) // the kustomization's, if it names it
			case o.chart && looksLikeObjects(path, info.Size(), maxSize):
				in.warnings = append(in.warnings, fmt.Sprintf("%s: not read: it holds Kubernetes objects but lies in the Helm chart %s outside templates/ and crds/, so helm does not install it; give it as PATH to check it", path, o.dir))
			case !o.chart && !slices.Contains(kustomize.FileNames, info.Name()) && looksLikeObjects(path, info.Size(), maxSize):
				in.unnamed = append(in.unnamed, path)
			}
			return nil
		})
		if err != nil {
			in.unreadable = append(in.unreadable, finding.Finding{Rule: ruleUnreadable, Severity: finding.High, File: p, Message: err.Error()})
		}
	}
	in.listedComposes(dotEnvs, maxSize)
	for _, d := range dotEnvs {
		in.dotEnvDirs = append(in.dotEnvDirs, filepath.Dir(d))
	}
	in.render(kustomizations, maxSize)
	in.composesBeside(maxSize)
	for _, f := range in.unnamed {
		abs, err := filepath.Abs(f)
		if in.kustomizeFailed || err != nil || in.named[abs] {
			continue
		}
		in.warnings = append(in.warnings, fmt.Sprintf("%s: not read: it holds Kubernetes objects but lies in the directory of a kustomization and no kustomization names it, so kustomize does not deploy it; list it under resources, or give it as PATH to check it", f))
	}
	return in
}
