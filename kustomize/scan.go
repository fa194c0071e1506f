package kustomize

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wardsec/ward/manifest"
)

// ErrNotLocal is the error of every refused reference (errors.Is).
var ErrNotLocal = errors.New("ward does not fetch or run anything a kustomization names outside its tree")

// ErrMultiple is the error of a directory holding more than one
// kustomization file (kustomization.yaml and kustomization.yml, say),
// which kustomize refuses to build.
var ErrMultiple = errors.New("multiple kustomization files, which kustomize refuses to build")

// ErrMissing is the error of a reference to nothing on disk.
var ErrMissing = errors.New("no such file or directory")

// builtins are kustomize's builtin generators and transformers, the only
// kinds a generators, transformers or validators entry may configure
// (HelmChartInflationGenerator runs helm: refused).
var builtins = map[string]bool{
	"AnnotationsTransformer": true, "ConfigMapGenerator": true, "IAMPolicyGenerator": true,
	"HashTransformer": true, "ImageTagTransformer": true, "LabelTransformer": true,
	"NamespaceTransformer": true, "PatchJson6902Transformer": true, "PatchStrategicMergeTransformer": true,
	"PatchTransformer": true, "PrefixSuffixTransformer": true, "PrefixTransformer": true,
	"SuffixTransformer": true, "ReplicaCountTransformer": true, "SecretGenerator": true,
	"ValueAddTransformer": true, "ReplacementTransformer": true,
}

// configFiles are, per builtin kind, the top-level keys of its
// configuration whose values kustomize loads as files (or URLs); for
// ReplacementTransformer, the path of each replacement.
var configFiles = map[string][]string{
	"ConfigMapGenerator": {"files", "envs", "env"}, "SecretGenerator": {"files", "envs", "env"},
	"PatchTransformer": {"path"}, "PatchJson6902Transformer": {"path"},
	"PatchStrategicMergeTransformer": {"paths"}, "ValueAddTransformer": {"targetFilePath"},
}

// gitUser is the user@ that kustomize reads as the start of a git
// address, with or without a scheme.
var gitUser = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// scpLike is git's scp-like address, host:path, which kustomize clones:
// a colon before the first slash.
var scpLike = regexp.MustCompile(`^[^/]*[^/\\]:`)

// isRemote says why kustomize would fetch ref rather than read it from
// disk, or "".
func isRemote(ref string) string {
	r := strings.TrimSpace(ref)
	l := strings.ToLower(r)
	switch {
	case strings.Contains(l, "://"):
		return "a URL"
	case strings.HasPrefix(l, "git::"), gitUser.MatchString(r):
		return "a git address (user@host)"
	case strings.HasPrefix(l, "github.com/"), strings.HasPrefix(l, "github.com:"), strings.HasPrefix(l, "gitlab.com/"), strings.HasPrefix(l, "bitbucket.org/"),
		strings.HasPrefix(l, "dev.azure.com/"), strings.HasPrefix(l, "ssh.dev.azure.com/"):
		return "a git repository (a bare host name)"
	case strings.Contains(l, "?"):
		return "a git repository (a query, such as ?ref=)"
	case strings.Contains(l, "_git/"):
		return "a git repository (_git/)"
	case strings.Contains(r, "//"):
		return "a git repository (// before a subdirectory)"
	case strings.HasSuffix(l, ".git") || strings.Contains(l, ".git/") || strings.Contains(l, ".git?"):
		return "a git repository (.git)"
	case scpLike.MatchString(r):
		return "a git address (host:path, scp-like)"
	}
	return ""
}

// Check scans the kustomization in dir and every one it reaches, and
// returns a *manifest.Error (joined with errors.Join) for each reference
// that is not local: one that names a URL, a git repository, a file or
// directory outside root (absolute, through .., or through a symlink) or
// missing (kustomize would try it as a repository), Helm charts, and
// plugins that are not kustomize builtins. Nothing is run or fetched.
// A file it reads larger than manifest.DefaultMaxFileSize is an error too
// (Build takes the limit).
func Check(dir, root string) error {
	_, err := check(dir, root, manifest.DefaultMaxFileSize)
	return err
}

// check is Check, and returns the local files the tree's kustomizations
// name (resources, patches, generator sources...), as joined to their
// kustomization's directory. Files larger than limit are errors, unread.
func check(dir, root string, limit int64) ([]string, error) {
	s := &scanner{seen: map[string]bool{}, children: map[string][]string{}, limit: limit}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, &manifest.Error{File: root, Err: err}
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	s.root = abs
	top := s.kustomization(dir, false)
	if n := s.builds(top, map[string]int{}); n > maxBuilds {
		file, _ := fileOf(dir)
		s.errs = append(s.errs, &manifest.Error{File: file, Err: fmt.Errorf("%w: over %d kustomizations to build, counting each base once per path that reaches it", ErrTooMany, maxBuilds)})
	}
	return s.files, errors.Join(s.errs...)
}

type scanner struct {
	// files are the local files the kustomizations name.
	files []string
	root  string // absolute, symlinks resolved
	limit int64  // of each file read
	seen  map[string]bool
	// children are the kustomizations each one (by key) lists.
	children map[string][]string
	errs     []error
}

// read reads a file of the tree under the size limit; the error is a
// *manifest.Error naming it.
func (s *scanner) read(file string) ([]byte, error) {
	data, err := manifest.ReadFile(file, s.limit)
	switch {
	case errors.Is(err, manifest.ErrTooLarge):
		return nil, &manifest.Error{File: file, Err: fmt.Errorf("%w: %w", manifest.ErrRead, err)}
	case err != nil:
		return nil, &manifest.Error{File: file, Err: err}
	}
	return data, nil
}

func (s *scanner) refuse(file string, n *yaml.Node, field, value, why string) {
	line := 0
	if n != nil {
		line = n.Line
	}
	if value != "" {
		s.errs = append(s.errs, &manifest.Error{File: file, Line: line,
			Err: fmt.Errorf("%s: %q is %s: %w", field, value, why, ErrNotLocal)})
		return
	}
	s.errs = append(s.errs, &manifest.Error{File: file, Line: line, Err: fmt.Errorf("%s: %s: %w", field, why, ErrNotLocal)})
}

// maxBuilds bounds the kustomizations one build may load, each base
// counted once per path that reaches it, as kustomize loads it: a tree
// where each level lists the next twice would otherwise make kustomize
// build 2^depth of them.
const maxBuilds = 10000

// ErrTooMany is the error of a tree that expands to more than maxBuilds
// kustomizations.
var ErrTooMany = errors.New("too many kustomizations to build")

// builds counts the kustomizations a build of key loads (memo caches the
// counts; -1 marks one being counted: a cycle, which kustomize reports).
func (s *scanner) builds(key string, memo map[string]int) int {
	if key == "" {
		return 0
	}
	if n, ok := memo[key]; ok {
		return max(n, 0)
	}
	memo[key] = -1
	n := 1
	for _, c := range s.children[key] {
		n += s.builds(c, memo)
		if n > maxBuilds {
			break
		}
	}
	memo[key] = n
	return n
}

// kustomization scans the kustomization of dir and returns its key (""
// when there is none). configs is set for the kustomizations listed
// under generators, transformers or validators, whose resources are
// plugin configurations.
func (s *scanner) kustomization(dir string, configs bool) string {
	file, ok := fileOf(dir)
	if !ok {
		return "" // kustomize reports it, from the disk
	}
	if names := fileNames(dir); len(names) > 1 {
		// kustomize refuses to build such a directory; reading one of
		// them would leave the others unread.
		s.errs = append(s.errs, &manifest.Error{File: file, Err: fmt.Errorf("%w (%s): keep one", ErrMultiple, strings.Join(names, ", "))})
	}
	key, err := filepath.EvalSymlinks(file)
	if err != nil {
		s.errs = append(s.errs, &manifest.Error{File: file, Err: err})
		return ""
	}
	if abs, err := filepath.Abs(key); err != nil || !within(s.root, abs) {
		s.refuse(file, nil, "kustomization file", "", "a symlink leading outside the kustomization root "+s.root)
		return ""
	}
	if configs {
		key += " configs"
	}
	if s.seen[key] {
		return key
	}
	s.seen[key] = true
	data, err := s.read(file)
	if err != nil {
		s.errs = append(s.errs, err)
		return key
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		s.errs = append(s.errs, &manifest.Error{File: file, Err: err})
		return key
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return key // empty: kustomize reports it
	}
	for _, kv := range pairs(doc.Content[0]) {
		k, v := kv[0].Value, kv[1]
		if configs && !plainKeys[k] {
			// The configurations are checked as written: a patch or
			// generator here could rewrite the files they load.
			s.refuse(file, kv[0], k, "", "a transformation of plugin configurations (a kustomization under generators, transformers or validators may only list them)")
			continue
		}
		switch field(k) {
		case "resources", "bases", "components":
			for _, e := range seq(v) {
				if p, isDir, ok := s.local(file, e, k); ok {
					switch {
					case isDir:
						s.children[key] = append(s.children[key], s.kustomization(p, configs))
					case configs:
						s.configFile(p)
					}
				}
			}
		case "generators", "transformers", "validators":
			for _, e := range seq(v) {
				if n := inline(e.Value); n != nil {
					line := e.Line
					if e.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
						line++ // the text starts under "- |"
					}
					for _, d := range n {
						s.config(file, line, k, d)
					}
					continue
				}
				if p, isDir, ok := s.local(file, e, k); ok {
					if isDir {
						s.children[key] = append(s.children[key], s.kustomization(p, true))
					} else {
						s.configFile(p)
					}
				}
			}
		case "crds", "configurations":
			for _, e := range seq(v) {
				s.local(file, e, k)
			}
		case "patchesStrategicMerge":
			for _, e := range seq(v) {
				if inline(e.Value) == nil {
					s.local(file, e, k)
				}
			}
		case "patches", "patchesJson6902", "replacements":
			for j, e := range seq(v) {
				for _, p := range getAll(e, "path") {
					s.local(file, p, fmt.Sprintf("%s[%d].path", k, j))
				}
			}
		case "openapi":
			for _, p := range getAll(v, "path") {
				s.local(file, p, "openapi.path")
			}
		case "configMapGenerator", "secretGenerator":
			for j, e := range seq(v) {
				s.kvSources(file, e, fmt.Sprintf("%s[%d]", k, j))
			}
		case "helmCharts", "helmGlobals", "helmChartInflationGenerator":
			s.refuse(file, kv[0], k, "", "Helm chart inflation runs the helm program, which may pull charts")
		}
	}
	return key
}

// kvSources checks the files, envs and env of a generator's arguments.
func (s *scanner) kvSources(file string, e *yaml.Node, field string) {
	for _, key := range []string{"files", "envs", "env"} {
		for _, v := range getAll(e, key) {
			for _, f := range seq(v) {
				s.kvFile(file, f, field+"."+key)
			}
		}
	}
}

// kvFile checks a generator source, "path" or "key=path".
func (s *scanner) kvFile(file string, f *yaml.Node, field string) {
	ref := f.Value
	if k, p, ok := strings.Cut(ref, "="); ok && !strings.Contains(k, "/") {
		ref = p
	}
	c := *f
	c.Value = ref
	s.local(file, &c, field)
}

// configFile checks a file of plugin configurations (under generators,
// transformers or validators).
func (s *scanner) configFile(file string) {
	data, err := s.read(file)
	if err != nil {
		s.errs = append(s.errs, err)
		return
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return // end, or kustomize reports the syntax error
		}
		if len(doc.Content) == 1 {
			s.config(file, 0, "config", doc.Content[0])
		}
	}
}

// config checks one plugin configuration: a builtin kind, no function
// annotations, its files local. line is the line of the inline string
// holding it (0 for a file: the node's own line is used).
func (s *scanner) config(file string, line int, field string, n *yaml.Node) {
	at := func(x *yaml.Node) *yaml.Node {
		if line > 0 {
			return &yaml.Node{Line: line + x.Line - 1}
		}
		return x
	}
	// kustomize finds the kind by its exact key; the configuration is
	// decoded case folded: every key that either reads must be a builtin.
	kind := get(n, "kind")
	for _, k := range getAll(n, "kind") {
		if !builtins[k.Value] {
			kind = k
		}
	}
	if kind == nil || !builtins[kind.Value] {
		k := ""
		if kind != nil {
			k = kind.Value
		}
		s.refuse(file, at(n), field, k, "not a kustomize builtin generator or transformer (plugins, exec and container functions are not run)")
		return
	}
	for _, kv := range pairs(get(get(n, "metadata"), "annotations")) {
		if a := kv[0].Value; strings.HasPrefix(a, "config.kubernetes.io/function") || strings.HasPrefix(a, "config.k8s.io/function") {
			s.refuse(file, at(kv[0]), field+" annotation", a, "a function to run (exec or container)")
		}
	}
	for _, key := range configFiles[kind.Value] {
		for _, v := range getAll(n, key) {
			for _, f := range seq(v) {
				if key == "paths" && inline(f.Value) != nil {
					continue // an inline patch
				}
				c := *f
				c.Line = at(f).Line
				s.kvFile(file, &c, field+" "+kind.Value+"."+key)
			}
		}
	}
	if kind.Value == "ReplacementTransformer" {
		for _, v := range getAll(n, "replacements") {
			for j, r := range seq(v) {
				for _, f := range getAll(r, "path") {
					c := *f
					c.Line = at(f).Line
					s.local(file, &c, fmt.Sprintf("%s %s.replacements[%d].path", field, kind.Value, j))
				}
			}
		}
	}
}

// local checks that the reference in n, in the kustomization file, is
// an existing file or directory inside the root, and returns its path
// (joined, not resolved) and whether it is a directory.
func (s *scanner) local(file string, n *yaml.Node, field string) (string, bool, bool) {
	ref := strings.TrimSpace(n.Value)
	if n.Kind != yaml.ScalarNode || ref == "" {
		return "", false, false
	}
	if why := isRemote(ref); why != "" {
		s.refuse(file, n, field, ref, why)
		return "", false, false
	}
	p := filepath.FromSlash(ref)
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(file), p)
	}
	res, err := filepath.EvalSymlinks(p)
	if err != nil {
		// kustomize tries a missing resource as a repository: refused
		// as well, as missing.
		s.errs = append(s.errs, &manifest.Error{File: file, Line: n.Line, Err: fmt.Errorf("%s: %q: %w", field, ref, ErrMissing)})
		return "", false, false
	}
	abs, err := filepath.Abs(res)
	if err != nil || !within(s.root, abs) {
		why := "outside the kustomization root " + s.root
		switch {
		case filepath.IsAbs(ref):
			why = "an absolute path " + why
		case strings.Contains(ref, ".."):
			why = "a path through .. " + why
		default:
			why = "a symlink leading " + why
		}
		s.refuse(file, n, field, ref, why)
		return "", false, false
	}
	st, err := os.Stat(res)
	if err != nil {
		s.refuse(file, n, field, ref, "unreadable: "+err.Error())
		return "", false, false
	}
	if !st.IsDir() {
		s.files = append(s.files, p)
	}
	return p, st.IsDir(), true
}

// deref follows YAML aliases: kustomize reads a kustomization with
// aliases resolved, so a URL behind an alias is fetched all the same.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// seq returns the elements of a sequence, or the node itself, aliases
// followed.
func seq(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return []*yaml.Node{n}
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, e := range n.Content {
		out = append(out, deref(e))
	}
	return out
}

// pairs returns the key-value pairs of mapping n, aliases followed and
// merge keys (<<) expanded: every pair that may end up in what kustomize
// reads (a merged pair a later key overrides is checked as well).
func pairs(n *yaml.Node) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	merged := map[*yaml.Node]bool{}
	var add func(n *yaml.Node)
	add = func(n *yaml.Node) {
		n = deref(n)
		if n == nil || n.Kind != yaml.MappingNode || merged[n] {
			return // each mapping is merged once: no blow-up, no cycle
		}
		merged[n] = true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], deref(n.Content[i+1])
			if k.Value == "<<" && k.Tag == "!!merge" {
				for _, m := range seq(v) {
					add(m)
				}
				continue
			}
			out = append(out, [2]*yaml.Node{k, v})
		}
	}
	add(n)
	return out
}

// get returns the value of key in mapping n (merge keys expanded), or nil.
// Keys match as in getAll; the last one wins.
func get(n *yaml.Node, key string) *yaml.Node {
	var v *yaml.Node
	for _, p := range getAll(n, key) {
		if v == nil || p != nil {
			v = p
		}
	}
	return v
}

// getAll returns the values of every key of mapping n (merge keys
// expanded) that kustomize would read as key. kustomize decodes
// kustomizations and builtin configurations with encoding/json (through
// sigs.k8s.io/yaml), which matches a field name to a key case folded, as
// strings.EqualFold does: "Path", "PATH" or "paths" with a long s (U+017F)
// are all read as "path". Every one is returned, whichever would win.
func getAll(n *yaml.Node, key string) []*yaml.Node {
	var out []*yaml.Node
	for _, p := range pairs(n) {
		if strings.EqualFold(p[0].Value, key) {
			out = append(out, p[1])
		}
	}
	return out
}

// kustomizationKeys are the fields of a kustomization the scan checks.
var kustomizationKeys = []string{
	"resources", "bases", "components", "generators", "transformers", "validators",
	"crds", "configurations", "patchesStrategicMerge", "patches", "patchesJson6902",
	"replacements", "openapi", "configMapGenerator", "secretGenerator",
	"helmCharts", "helmGlobals", "helmChartInflationGenerator",
}

// field returns the field of kustomizationKeys that kustomize reads key
// as (see getAll), or key.
func field(key string) string {
	for _, k := range kustomizationKeys {
		if strings.EqualFold(key, k) {
			return k
		}
	}
	return key
}

// inline returns the YAML documents of an entry that is an inline
// configuration or patch (a mapping), or nil for a path.
func inline(entry string) []*yaml.Node {
	if !strings.ContainsAny(entry, ":\n") {
		return nil
	}
	dec := yaml.NewDecoder(strings.NewReader(entry))
	var out []*yaml.Node
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
			out = append(out, doc.Content[0])
		}
	}
	return out
}
