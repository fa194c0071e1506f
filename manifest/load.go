package manifest

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	networkingv1 "k8s.io/api/networking/v1"
)

// Options configure loading.
type Options struct {
	// DefaultNamespace is the namespace of objects without one; "" means
	// "default".
	DefaultNamespace string
	// Stdin is read for the path "-"; nil means os.Stdin.
	Stdin io.Reader
	// Skip, when set, is asked about each file found by walking a
	// directory; the files it reports true for are not read. Files named
	// explicitly are always read. Ward skips its own ward.yaml this way.
	Skip func(path string) bool
	// Rendered are manifests rendered in memory (kustomize output), read
	// after paths, in order.
	Rendered []Rendered
	// FieldLines records the line of every field of workload objects
	// (Workload.Lines), so that findings about a container can point at
	// it. It costs time and memory on large cluster dumps, so only the
	// audit asks for it.
	FieldLines bool
	// Progress, when set, is called after each input is read (a file,
	// standard input, a rendered manifest), with the number read so far
	// and their bytes, on the goroutine that reads them: for a progress
	// display on long loads. It must return quickly.
	Progress func(inputs int, bytes int64)
	// SelectorKeys are label keys that selectors outside the input read,
	// such as those of ward.yaml's assertions: a Pod folded into its
	// owner whose value of one of them differs from its owner's template
	// is modelled as a workload of its own (Deviation.Modelled), as for
	// the keys the input's NetworkPolicies and Services read.
	SelectorKeys []string
	// MaxFileSize limits the size of each input (a file, standard input,
	// a named pipe); 0 means DefaultMaxFileSize. Larger inputs are errors
	// (ErrTooLarge), never read past the limit, so memory stays bounded.
	MaxFileSize int64
	// Data holds inputs read already, by the path given ("-" for
	// standard input, a named pipe): their data is taken from it rather
	// than read again, which a pipe cannot be. Like a stream, a path
	// given twice gives its data once, then nothing.
	Data map[string][]byte
}

// DefaultMaxFileSize is the default of Options.MaxFileSize: 2 GiB.
const DefaultMaxFileSize int64 = 2 << 30

// Load reads manifests from files, directories and "-" (standard input).
// Directories are walked recursively for *.yaml, *.yml and *.json files,
// skipping hidden directories; a file named explicitly is read whatever its
// extension.
//
// Load returns the Set of everything that loaded and an error joining
// (errors.Join) every *Error it met: unreadable paths, documents that do
// not parse, malformed objects. Callers that must not go on with bad input
// check the error; `ward check` keeps the Set and reports the errors.
func Load(opts Options, paths ...string) (*Set, error) {
	l := newLoader(opts)
	l.run(func(emit emitFunc) {
		for i, p := range paths {
			l.input = i
			l.readPath(p, emit)
		}
		for j, r := range opts.Rendered {
			l.input = len(paths) + j
			emit(r.Name, r.Data, nil, false)
		}
	})
	s, err := l.finish()
	// The inputs that gave nothing: no Kubernetes object and no error.
	gave := make([]bool, len(paths)+len(opts.Rendered))
	for _, f := range l.files {
		if f.seen > 0 || f.err != nil || f.errs > 0 {
			gave[f.input] = true
		}
	}
	for i, p := range paths {
		if !gave[i] {
			s.EmptyPaths = append(s.EmptyPaths, p)
		}
	}
	for j, r := range opts.Rendered {
		if !gave[len(paths)+j] {
			s.EmptyRendered = append(s.EmptyRendered, r.Name)
		}
	}
	return s, err
}

// Rendered is a manifest stream produced in memory, such as `kustomize
// build DIR` output. Objects carrying the config.kubernetes.io/origin
// annotation (kustomize's buildMetadata: [originAnnotations]) are located
// in their source file: Source.File is Dir joined with the annotation's
// path and Source.Line the line where the object starts in that file
// (0 when it cannot be found, say after a patch renamed it); their field
// lines are dropped, since they describe the rendered text.
type Rendered struct {
	// Name names the stream in errors, such as "deploy/prod (kustomize)".
	Name string
	// Dir is the directory origin paths are relative to.
	Dir  string
	Data []byte
	// Origin, when set, is the Source.Origin of the stream's objects
	// whose document has no `# Source:` comment of its own: the template
	// of a Helm chart the stream was rendered from.
	Origin string
	// Lines, when set, maps a line of Data to the line reported for it
	// (objects, their fields, errors), such as the line of the template
	// that a chart's output comes from. It must return a line >= 1 for
	// every line >= 1.
	Lines func(line int) int
}

// OriginAnnotation is kustomize's annotation naming where an object was
// written.
const OriginAnnotation = "config.kubernetes.io/origin"

// Parse loads one file held in memory; name is used in Sources and errors.
func Parse(opts Options, name string, data []byte) (*Set, error) {
	l := newLoader(opts)
	l.run(func(emit emitFunc) { emit(name, data, nil, false) })
	return l.finish()
}

// A loader reads files in one goroutine and decodes their documents in
// GOMAXPROCS others. Results are kept per document, so the Set is in input
// order whatever order the decoding ran in.
type loader struct {
	opts     Options
	files    []*loadedFile
	warnings []*Error
	seen     int   // decoded.seen of the documents collected
	read     int64 // bytes of the inputs read (Options.Progress)
	input    int   // the index of the input being read: a path, then a Rendered
	// caseExt holds the files a directory walk read whose extension is
	// .yaml, .yml or .json in another case (.YAML, .Yml): kubectl apply
	// -f on the directory skips them (see finish).
	caseExt map[string]bool
	// dataUsed holds the paths of Options.Data already read.
	dataUsed map[string]bool
}

// A loadedFile collects its documents' results in order as soon as they
// are decoded (collect), keeping at most MaxErrorsPerFile errors and
// skipped documents: a file of a million broken documents is read in
// bounded memory.
type loadedFile struct {
	name   string
	reread *rereadable  // nil unless the file can be read again
	err    error        // the file could not be read
	docs   []*loadedDoc // nil once collected
	next   int          // the first document not collected
	out    []decoded    // the results of collected documents, in order
	errs   int          // errors met, reported or not
	skips  int          // skipped documents met, reported or not
	input  int          // loader.input when it was read
	seen   int          // decoded.seen of its documents collected
}

type loadedDoc struct {
	document
	index   int // in the file
	units   []unit
	out     []decoded    // one per unit
	pending atomic.Int32 // units not decoded yet
	done    atomic.Bool  // out is final
}

type job struct {
	file *loadedFile
	doc  *loadedDoc
	unit int
}

func newLoader(opts Options) *loader {
	if opts.DefaultNamespace == "" {
		opts.DefaultNamespace = "default"
	}
	return &loader{opts: opts}
}

// An emitFunc hands the loader a file read (or that could not be read);
// reread says it is a regular file that can be read again.
type emitFunc func(name string, data []byte, err error, reread bool)

// run calls produce, which emits files in input order, and decodes them.
func (l *loader) run(produce func(emit emitFunc)) {
	workers := runtime.GOMAXPROCS(0)
	jobs := make(chan job, 64*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			d := decoder{defaultNamespace: l.opts.DefaultNamespace, fieldLines: l.opts.FieldLines}
			for j := range jobs {
				d.file, d.reread = j.file.name, j.file.reread
				j.doc.decodeUnit(&d, j.unit)
			}
		})
	}
	produce(func(name string, data []byte, err error, reread bool) {
		if n := len(l.files); n > 0 {
			l.collect(l.files[n-1])
		}
		f := &loadedFile{name: name, err: err, input: l.input}
		l.files = append(l.files, f)
		l.read += int64(len(data))
		if l.opts.Progress != nil {
			l.opts.Progress(len(l.files), l.read)
		}
		if err != nil {
			return
		}
		if reread && slimDecode {
			f.reread = &rereadable{name: name, size: len(data), hash: maphash.Bytes(rereadSeed, data),
				limit: l.opts.MaxFileSize, defaultNamespace: l.opts.DefaultNamespace, fieldLines: l.opts.FieldLines}
		}
		data, cuts, err := normalize(data)
		if err != nil {
			f.err = &Error{File: name, Err: fmt.Errorf("%w: %w", ErrSyntax, err)}
			return
		}
		eachDocument(data, cuts, l.renderedOrigin(name), func(doc document) {
			ld := &loadedDoc{document: doc, index: len(f.docs)}
			if doc.unread != "" {
				// Not applied: not read either, but said so.
				ld.out = []decoded{{errs: []error{&Error{File: name, Line: doc.line, Err: fmt.Errorf("%w: %s", ErrSyntax, doc.unread)}}}}
				ld.done.Store(true)
				f.docs = append(f.docs, ld)
				l.collect(f)
				return
			}
			ld.units = docUnits(doc, ld.index)
			ld.out = make([]decoded, len(ld.units))
			ld.pending.Store(int32(len(ld.units))) // #nosec G115 -- a document has far fewer than 2^31 units
			f.docs = append(f.docs, ld)
			for i := range ld.units {
				jobs <- job{file: f, doc: ld, unit: i}
			}
			l.collect(f)
		})
	})
	close(jobs)
	wg.Wait()
	for _, f := range l.files {
		l.collect(f)
	}
}

// collect takes the results of f's documents decoded so far, in order up
// to the first one still decoding, and drops the documents. Errors and
// skipped documents past MaxErrorsPerFile are only counted (keepSkipped).
func (l *loader) collect(f *loadedFile) {
	for ; f.next < len(f.docs) && f.docs[f.next].done.Load(); f.next++ {
		for _, o := range f.docs[f.next].out {
			l.seen += o.seen
			f.seen += o.seen
			keep := max(0, MaxErrorsPerFile-f.errs)
			f.errs += len(o.errs)
			o.errs = o.errs[:min(keep, len(o.errs)):min(keep, len(o.errs))]
			o.skipped = f.keepSkipped(o.skipped)
			if len(o.objs)+len(o.skipped)+len(o.unsupported)+len(o.errs) > 0 {
				f.out = append(f.out, o)
			}
		}
		f.docs[f.next] = nil
	}
}

// decodeUnit decodes unit i. The goroutine that decodes the last unit of a
// cut List decodes it whole if a piece did not parse on its own, and drops
// the text so that file contents can be collected while others decode.
func (ld *loadedDoc) decodeUnit(d *decoder, i int) {
	ld.decodeSafely(d, ld.units[i], &ld.out[i])
	ld.units[i].text = nil
	if ld.pending.Add(-1) > 0 {
		return
	}
	defer ld.done.Store(true)
	for _, o := range ld.out {
		if o.retry {
			ld.out = []decoded{{}}
			ld.decodeSafely(d, unit{text: ld.text, line: ld.line, doc: ld.index, idx: -1}, &ld.out[0])
			break
		}
	}
	ld.text, ld.units = nil, nil
}

// recoverPanics is turned off by the fuzz test, so that panics surface.
var recoverPanics = true

// decodeSafely decodes a unit; a panic in a library (a bug, never expected)
// becomes an *Error for the document rather than a crash.
func (ld *loadedDoc) decodeSafely(d *decoder, u unit, out *decoded) {
	defer func() {
		if !recoverPanics {
			return
		}
		if r := recover(); r != nil {
			*out = decoded{errs: []error{&Error{File: d.file, Line: u.line, Err: fmt.Errorf("%w: internal error decoding document: %v", ErrSyntax, r)}}}
		}
	}()
	d.decode(u, ld.origin, out)
}

// finish gathers the decoded objects in input order and assembles the Set.
func (l *loader) finish() (*Set, error) {
	files := map[string]map[string]int{} // origin files read, indexed (objectLines)
	var errs []error
	var skipped []Skipped
	var unsupported []Unsupported
	n := 0
	for _, f := range l.files {
		for _, o := range f.out {
			n += len(o.objs)
		}
	}
	objs := make([]object, 0, n) // not grown: a dump has hundreds of thousands
	for _, f := range l.files {
		var me *Error
		if errors.As(f.err, &me) {
			errs = append(errs, me)
			continue
		}
		if f.err != nil {
			err := f.err
			var pe *fs.PathError
			if errors.As(err, &pe) && pe.Path == f.name {
				err = pe.Err // the path is already in the *Error
			}
			errs = append(errs, &Error{File: f.name, Err: fmt.Errorf("%w: %w", ErrRead, err)})
			continue
		}
		if l.caseExt[f.name] && f.seen > 0 {
			// kubectl's directory walk (cli-runtime's ignoreFile)
			// compares extensions with ".yaml", ".yml" and ".json"
			// exactly: a default-deny policy in deny.YAML is never
			// applied, and read, it was in force in Ward's model only.
			// Not read either: an error at its first object, as the
			// file may be applied by name elsewhere.
			errs = append(errs, &Error{File: f.name, Line: firstObjectLine(f.out), Err: fmt.Errorf(
				"%w: kubectl reads the files of a directory whose names end in .yaml, .yml or .json, in lower case, and skips this one (%s); "+
					"rename it to end in %s, or give the file itself as a path (kubectl apply -f FILE reads it)",
				ErrNotApplied, filepath.Ext(f.name), strings.ToLower(filepath.Ext(f.name)))})
			f.out = nil
			continue
		}
		dir, rendered := l.renderedDir(f.name)
		remap := l.renderedLines(f.name)
		for _, o := range f.out {
			if remap != nil {
				o.remap(remap)
			}
			// Every input, not only the charts Ward renders: helm
			// template's output checked as a file (helm template ... >
			// all.yaml; ward check all.yaml) holds the same hooks, and
			// helm install, not that file, is what creates them.
			l.helmHooks(&o)
			if rendered {
				for i := range o.objs {
					relocate(&o.objs[i], dir, files)
				}
			}
			objs = append(objs, o.objs...)
			skipped = append(skipped, o.skipped...)
			unsupported = append(unsupported, o.unsupported...)
			errs = append(errs, o.errs...)
		}
		f.out = nil
		if f.errs > MaxErrorsPerFile {
			errs = append(errs, tooManyErrors(f.name, f.errs))
		}
		if f.skips > MaxErrorsPerFile {
			skipped = append(skipped, Skipped{Source: Source{File: f.name}, Reason: fmt.Sprintf("%d more documents skipped in this file, not shown", f.skips-MaxErrorsPerFile)})
		}
	}
	s, aerrs := assemble(l.opts.DefaultNamespace, objs, l.opts.SelectorKeys)
	s.Skipped, s.Unsupported, s.Warnings = append(skipped, s.Skipped...), unsupported, l.warnings
	s.KubernetesObjects = l.seen
	return s, errors.Join(append(errs, capErrors(aerrs)...)...)
}

// firstObjectLine is the line of the first Kubernetes object of a file's
// decoded documents (objects, skipped and unsupported ones, invalid ones),
// 0 when none has a line.
func firstObjectLine(out []decoded) int {
	line := 0
	first := func(l int) {
		if l > 0 && (line == 0 || l < line) {
			line = l
		}
	}
	for _, o := range out {
		for _, obj := range o.objs {
			first(obj.src.Line)
		}
		for _, s := range o.skipped {
			if s.Kind != "" {
				first(s.Source.Line)
			}
		}
		for _, u := range o.unsupported {
			first(u.Source.Line)
		}
		for _, err := range o.errs {
			var e *Error
			if errors.As(err, &e) {
				first(e.Line)
			}
		}
	}
	return line
}

// MaxErrorsPerFile is how many errors (and skipped documents) Load reports
// for one file; the rest are summed up in one more, so that a file of a
// million broken documents gives a readable answer in bounded memory.
const MaxErrorsPerFile = 50

// capErrors keeps the first MaxErrorsPerFile errors of each file and adds,
// for each file with more, one that counts the rest.
func capErrors(errs []error) []error {
	count := map[string]int{}
	var files []string // with errors left out, in order
	var out []error
	for _, err := range errs {
		var e *Error
		if !errors.As(err, &e) {
			out = append(out, err)
			continue
		}
		count[e.File]++
		switch n := count[e.File]; {
		case n <= MaxErrorsPerFile:
			out = append(out, err)
		case n == MaxErrorsPerFile+1:
			files = append(files, e.File)
		}
	}
	for _, f := range files {
		out = append(out, tooManyErrors(f, count[f]))
	}
	return out
}

// tooManyErrors is the error that counts the errors of a file past
// MaxErrorsPerFile, out of n.
func tooManyErrors(file string, n int) *Error {
	return &Error{File: file, Err: fmt.Errorf("%w: %d more in this file not shown", ErrTooManyErrors, n-MaxErrorsPerFile)}
}

// readPath emits the files at path in order: standard input for "-", the
// file itself (a named pipe or a device too: the user named it), or the
// manifests in a directory tree (see Walk), where other files than regular
// ones are left out with a warning.
func (l *loader) readPath(path string, emit emitFunc) {
	if data, ok := l.opts.Data[path]; ok {
		if l.dataUsed == nil {
			l.dataUsed = map[string]bool{}
		}
		if l.dataUsed[path] {
			data = nil
		}
		l.dataUsed[path] = true
		emit(path, data, nil, false)
		return
	}
	if path == "-" {
		r := l.opts.Stdin
		if r == nil {
			r = os.Stdin
		}
		data, err := ReadAll(r, l.opts.MaxFileSize)
		emit("-", data, err, false)
		return
	}
	err := Walk(path, func(p string, info fs.FileInfo, err error) error {
		switch {
		case errors.Is(err, ErrWalkedTwice):
			l.warnings = append(l.warnings, &Error{File: p, Err: err})
			return nil
		case err != nil && p != path && errors.Is(err, fs.ErrNotExist) && !manifestFile(p):
			return nil // a dangling link to what would not be read anyway
		case err != nil:
			emit(p, nil, err, false)
			return nil
		case p == path && !info.IsDir():
			data, err := ReadFile(p, l.opts.MaxFileSize)
			emit(p, data, err, info.Mode().IsRegular())
			return nil
		case info.IsDir():
			return nil
		case l.opts.Skip != nil && l.opts.Skip(p):
			return nil
		}
		if !manifestFile(p) {
			return nil
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" && ext != ".json" {
			if l.caseExt == nil {
				l.caseExt = map[string]bool{}
			}
			l.caseExt[p] = true
		}
		if !info.Mode().IsRegular() {
			l.warnings = append(l.warnings, &Error{File: p, Err: fmt.Errorf("%w (%s)", ErrNotRegular, fileType(info.Mode()))})
			return nil
		}
		data, err := ReadFile(p, l.opts.MaxFileSize)
		emit(p, data, err, true)
		return nil
	})
	if err != nil {
		emit(path, nil, err, false)
	}
}

// manifestFile reports whether a directory walk reads the file at path.
func manifestFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// fileType names the type of a file that is not regular.
func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "irregular file"
}

// renderedDir reports whether name is one of Options.Rendered, and its Dir.
func (l *loader) renderedDir(name string) (string, bool) {
	for _, r := range l.opts.Rendered {
		if r.Name == name {
			return r.Dir, true
		}
	}
	return "", false
}

// helmHooks moves the policies of d that are Helm hooks which may not be
// in the cluster after helm install (helmHook) to unsupported: read as in
// force, a default deny that helm creates only for helm test isolated
// every pod in Ward's model alone. Istio's PeerAuthentication and
// AuthorizationPolicy are policies too (the mesh audit reads them): a
// STRICT PeerAuthentication that is a test hook made a namespace that
// accepts plaintext look strict.
func (l *loader) helmHooks(d *decoded) {
	kept := d.objs[:0]
	for _, o := range d.objs {
		var annotations map[string]string
		audited := false
		np, isNP := o.obj.(*networkingv1.NetworkPolicy)
		switch v := o.obj.(type) {
		case *networkingv1.NetworkPolicy:
			annotations = v.Annotations
		case *peerAuthentication:
			annotations, audited = v.Annotations, true
		case *authorizationPolicy:
			annotations, audited = v.Annotations, true
		default:
			kept = append(kept, o)
			continue
		}
		reason := helmHook(annotations)
		if reason == "" {
			kept = append(kept, o)
			continue
		}
		if audited {
			// Already listed as unsupported for the mesh audit to report
			// on: now left out of the audit, and reported as not evaluated.
			for i := range d.unsupported {
				if u := &d.unsupported[i]; u.Audited && u.Source == o.src {
					u.Audited, u.Reason = false, reason
				}
			}
			continue
		}
		if isNP {
			d.unsupported = append(d.unsupported, Unsupported{Source: o.src, APIVersion: np.APIVersion, Kind: "NetworkPolicy",
				Namespace: cmp.Or(np.Namespace, l.opts.DefaultNamespace), Name: np.Name, Reason: reason, Digest: policyDigest(np)})
		}
	}
	d.objs = kept
}

// helmHookEvents are the values of helm.sh/hook that Helm knows
// (helm.sh/helm/v4/pkg/release/v1/util's events), and whether helm
// install creates a hook of that event.
var helmHookEvents = map[string]bool{
	"pre-install": true, "post-install": true,
	"pre-delete": false, "post-delete": false, "pre-upgrade": false, "post-upgrade": false,
	"pre-rollback": false, "post-rollback": false, "test": false, "test-success": false,
}

// helmHook says why a Helm chart's object with annotations as is may be
// absent from the cluster after helm install or upgrade, or "" when it is
// not a hook or is there from helm install on. Helm creates a hook at its
// events only (helm.sh/hook: test at helm test, pre-delete at helm
// uninstall, pre-upgrade not at install), and deletes it as soon as it is
// ready with helm.sh/hook-delete-policy hook-succeeded, at once for a kind
// other than Job and Pod. A pre-install or post-install hook that is not
// so deleted stays (uninstall does not remove hooks either). Helm reads
// both annotations' values in any case, with spaces around the commas
// ("Pre-Install, Test"; "Hook-Succeeded"), and skips an object with any
// value of helm.sh/hook it does not know ("pre-install,post-instal")
// altogether, creating nothing of it.
func helmHook(annotations map[string]string) string {
	hook, ok := annotations["helm.sh/hook"]
	if !ok {
		return ""
	}
	installed := false
	for e := range strings.SplitSeq(hook, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		created, known := helmHookEvents[e]
		if !known {
			return fmt.Sprintf("its helm.sh/hook %q names %q, a hook Helm does not know: helm skips the object and never creates it", hook, e)
		}
		installed = installed || created
	}
	for p := range strings.SplitSeq(annotations["helm.sh/hook-delete-policy"], ",") {
		if strings.ToLower(strings.TrimSpace(p)) == "hook-succeeded" {
			return fmt.Sprintf("it is a Helm hook (%s) that helm deletes once created (hook-delete-policy: hook-succeeded)", hook)
		}
	}
	if installed {
		return ""
	}
	return fmt.Sprintf("it is a Helm hook (%s) that helm install does not create", hook)
}

// renderedLines returns the Lines of the Options.Rendered named name.
func (l *loader) renderedLines(name string) func(int) int {
	for _, r := range l.opts.Rendered {
		if r.Name == name {
			return r.Lines
		}
	}
	return nil
}

// remap applies a Rendered.Lines to every line of d.
func (d *decoded) remap(lines func(int) int) {
	at := func(l int) int {
		if l <= 0 {
			return l
		}
		return lines(l)
	}
	for i := range d.objs {
		o := &d.objs[i]
		o.src.Line = at(o.src.Line)
		o.lines.remap(at)
	}
	for i := range d.skipped {
		d.skipped[i].Source.Line = at(d.skipped[i].Source.Line)
	}
	for i := range d.unsupported {
		d.unsupported[i].Source.Line = at(d.unsupported[i].Source.Line)
	}
	for _, err := range d.errs {
		var e *Error
		if errors.As(err, &e) {
			e.Line = at(e.Line)
		}
	}
}

// renderedOrigin returns the Origin of the Options.Rendered named name.
func (l *loader) renderedOrigin(name string) string {
	for _, r := range l.opts.Rendered {
		if r.Name == name {
			return r.Origin
		}
	}
	return ""
}

// relocate points an object of a rendered stream at the file its origin
// annotation names (see Rendered). files caches an index of each file
// read (objectLines).
func relocate(o *object, dir string, files map[string]map[string]int) {
	m := meta(o.obj)
	if m == nil {
		return
	}
	var path string
	for _, line := range strings.Split(m.GetAnnotations()[OriginAnnotation], "\n") {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "path:"); ok {
			path = strings.Trim(strings.TrimSpace(p), `"'`)
			break
		}
	}
	if path == "" || filepath.IsAbs(path) || strings.Contains(path, "://") {
		return // generated, or from a remote base: keep the rendered location
	}
	file := filepath.Join(dir, filepath.FromSlash(path))
	index, ok := files[file]
	if !ok {
		data, err := os.ReadFile(file) // #nosec G304 -- a file the user's kustomization names
		if err == nil {
			index = objectLines(strings.Split(string(data), "\n"))
		}
		files[file] = index
	}
	o.src = Source{File: file, Line: index[o.kind+"\x00"+m.GetName()], Origin: o.src.File}
	o.lines = Lines{}
}

// objectLines indexes lines, a file of YAML documents, by kind and
// name ("kind\x00name"): the 1-based line where the first document
// declaring that kind (a kind: line at any indentation) and name (as
// metadata.name, indented two spaces, as manifests indent it) starts,
// leading comments and blank lines skipped. One pass over the file: a
// rendered stream of n objects from one file is located in O(n), not
// O(n²) by searching the file once per object.
func objectLines(lines []string) map[string]int {
	index := map[string]int{}
	var kinds, names []string
	start := 1
	flush := func() {
		for start-1 < len(lines) {
			if s := strings.TrimSpace(lines[start-1]); s != "" && !strings.HasPrefix(s, "#") && !strings.HasPrefix(lines[start-1], "---") {
				break
			}
			start++
		}
		for _, k := range kinds {
			for _, n := range names {
				if _, ok := index[k+"\x00"+n]; !ok {
					index[k+"\x00"+n] = start
				}
			}
		}
		kinds, names = kinds[:0], names[:0]
	}
	for i, l := range lines {
		if strings.HasPrefix(l, "---") {
			flush()
			start = i + 2
			continue
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "kind:"); ok {
			if k := strings.Trim(strings.TrimSpace(v), `"'`); !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
		if v, ok := strings.CutPrefix(l, "  name:"); ok {
			if n := strings.Trim(strings.TrimSpace(v), `"'`); !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	flush()
	return index
}

// policyDigest is Unsupported.Digest for a NetworkPolicy left out of the
// model (a Helm hook).
func policyDigest(np *networkingv1.NetworkPolicy) string {
	b, err := json.Marshal([]any{np.Labels, np.Annotations, np.Spec})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
