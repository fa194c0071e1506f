package helmchart

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	"helm.sh/helm/v4/pkg/strvals"
	"sigs.k8s.io/yaml"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/podsec"
	"github.com/wardsec/ward/srcpos"
)

// ChartFile is the file that makes a directory a chart.
const ChartFile = "Chart.yaml"

// DefaultReleaseName is the release name `helm template` uses when none is
// given.
const DefaultReleaseName = "release-name"

// Options are what `helm template` takes besides the chart.
type Options struct {
	// ReleaseName is .Release.Name; "" means DefaultReleaseName.
	ReleaseName string
	// Namespace is .Release.Namespace; "" means "default".
	Namespace string
	// KubeVersion is .Capabilities.KubeVersion, such as "v1.37" or
	// "1.37.2"; "" means DefaultKubeVersion.
	KubeVersion string
	// ValueFiles are read in order and merged over the chart's values, as
	// helm's --values (-f) does. They must be local files: URLs are
	// refused.
	ValueFiles []string
	// Set and SetString are helm's --set and --set-string, parsed by
	// helm's strvals and applied after the files, --set first.
	Set, SetString []string
	// ExactKubeVersion says that KubeVersion is the cluster's, given by
	// the user: a chart whose templates compare .Capabilities.KubeVersion
	// with versions is not rendered for others (Chart.KubeVersions).
	ExactKubeVersion bool
	// ExactNamespace says that Namespace is the release's, given by the
	// user: a chart whose templates compare .Release.Namespace with
	// namespaces is not rendered in them (Chart.Namespaces).
	ExactNamespace bool
	// APIVersions are added to .Capabilities.APIVersions, as helm's
	// --api-versions: "group/version" or "group/version/Kind" that the
	// cluster serves, besides the built-in ones and those of the chart's
	// own CRDs.
	APIVersions []string
	// MaxFileSize limits the size of each values file and of each file
	// of the chart, and the size of the chart's rendered output; 0 means
	// manifest.DefaultMaxFileSize. Past it, Render fails with an error
	// matching manifest.ErrTooLarge that names the file or template.
	MaxFileSize int64
	// MaxVariants bounds the other renders of the chart Render makes for
	// the Kubernetes versions, API versions and values files it was not
	// given (Chart.KubeVersions, APIVersions, ValuesFiles); 0 means
	// DefaultMaxVariants, UnlimitedVariants no bound, NoVariants (or any
	// other negative number) no other render. Those past it are not
	// rendered and are named in Chart.NotRendered.
	MaxVariants int

	// without are API versions of helm's default set left out of
	// .Capabilities.APIVersions, and extra values merged after
	// ValueFiles (a subchart's values file, under its name): the
	// variants' (gates.go).
	without []string
	extra   []map[string]any
	// checkedNS is, for a namespace variant, the checked render's
	// namespace: Namespace written in the output is read as it.
	checkedNS string
}

// DefaultKubeVersion is the Kubernetes version charts are rendered for
// when Options.KubeVersion is empty, such as "v1.37.0": the version Ward's
// Pod Security Standards audit evaluates as "latest"
// (podsec.LatestVersion), so that the chart is rendered for the cluster it
// is judged for.
func DefaultKubeVersion() string { return podsec.LatestVersion() + ".0" }

// Template is the output of one template file of a chart or of one of its
// subcharts.
type Template struct {
	// Name is helm's name for the template, the path it prints in
	// `# Source:` comments: "shop/templates/deployment.yaml",
	// "shop/charts/redis/templates/service.yaml".
	Name string
	// File is where the template is on disk: the chart directory joined
	// with Name less its first element, subcharts found under the
	// directory of their parent's charts/ that holds them (by the name in
	// their Chart.yaml, not the directory's). A template of a subchart
	// packed as an archive is named by the archive's path followed by the
	// path inside it: "shop/charts/redis-1.0.0.tgz/templates/service.yaml".
	File string
	// Data is the rendered text: the YAML documents, without helm's
	// `# Source:` comment, cut into documents where helm cuts them: a
	// line that starts with "---" and holds more ("---apiVersion: v1")
	// is written as a marker line and the rest (helmDocuments). Line n of
	// Data is otherwise what line n of `helm template --show-only` prints
	// after that comment.
	Data []byte
	// CRD is set for a file of a crds/ directory: not a template, its
	// Data is the file as written, which helm install creates (whatever
	// its kind) before rendering the templates.
	CRD bool
	// lines maps the lines of Data to lines of the template file (see
	// Line).
	lines []int
}

// Chart is a rendered chart.
type Chart struct {
	// Name is the chart's name, from its Chart.yaml.
	Name string
	// Dir is the chart directory.
	Dir string
	// Unknown names the templates that rendered nothing although they ask
	// the cluster (lookup, always empty offline) or its API versions
	// (.Capabilities.APIVersions, which hold only the built-in ones, those
	// of the chart's CRDs and Options.APIVersions): installed on a real
	// cluster, they may well render objects that were never checked.
	Unknown []string
	// Upgrade names the templates that render otherwise on helm upgrade
	// (.Release.IsUpgrade, IsInstall, Revision) than on install, which is
	// what Templates hold, as helm template renders them: what they
	// install on an upgrade is not checked.
	Upgrade []string
	// UpgradeErr is why the chart did not render as helm upgrade renders
	// it, when it reads the release's state: nothing of an upgrade is
	// checked then.
	UpgradeErr error
	// Cluster names the templates that render otherwise on a cluster that
	// serves the API versions they ask for by name
	// (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") than
	// offline, which is what Templates hold: what they install there is
	// not checked. ClusterVersions are those versions, and ClusterErr why
	// the chart did not render with them.
	Cluster         []string
	ClusterVersions []string
	ClusterErr      error
	// Lookup names the templates that render otherwise when lookup finds
	// the objects the chart asks for than offline, where it finds
	// nothing, such as a pod privileged only where a namespace exists:
	// what they install on a cluster is not checked. The chart is
	// rendered so when it calls lookup, in a template or in a helper a
	// template includes; LookupErr is why it did not render then. A
	// template that stays random on every render (shuffle) is named too.
	Lookup    []string
	LookupErr error
	// Computed names the templates that render otherwise on a cluster
	// that serves every API version asked of .Capabilities.APIVersions
	// than offline, when the chart asks for versions Ward cannot list (a
	// version computed or taken from values, .Has .Values.api, or the
	// whole set, has "x" .Capabilities.APIVersions): what they install on
	// a cluster that serves them is not checked. ComputedErr is why the
	// chart did not render so.
	Computed    []string
	ComputedErr error
	// KubeVersions are the Kubernetes versions, other than
	// Options.KubeVersion, for which templates render otherwise, each
	// with those templates, or with why the chart did not render for it.
	// They are tried when templates compare .Capabilities.KubeVersion
	// with versions written out (semverCompare ">=1.29-0"
	// .Capabilities.KubeVersion.GitVersion, or ge with its Minor, in a
	// template or in a helper): each such version, the patch release
	// after it and the release before it, from MinKubeVersion on and
	// within the chart's kubeVersion constraint.
	KubeVersions []Variant
	// ValuesFiles are the values files of the chart directory besides
	// values.yaml (values-prod.yaml, values/*.yaml, ci/*.yaml) that
	// Options.ValueFiles does not give and with which, merged after
	// them, templates render otherwise, each with those templates, or
	// with why the chart did not render with it: a deploy that gives one
	// with -f installs what is not checked.
	ValuesFiles []Variant
	// APIVersions are the API versions the templates ask
	// .Capabilities.APIVersions for (Has or sprig's has, by name or
	// noted while rendering) with which, served alone
	// besides those of the checked render, or without which (an alpha or
	// beta version of helm's default set, such as policy/v1beta1, that
	// clusters of today do not serve), templates render otherwise: each
	// with those templates (Variant.Served says which side), or with why
	// the chart did not render so.
	APIVersions []Variant
	// Namespaces are the namespaces the templates compare
	// .Release.Namespace with (eq .Release.Namespace "kube-system"), or
	// test it against while rendering (has, hasPrefix, hasSuffix,
	// contains), other than Options.Namespace, in which templates render
	// otherwise, the namespace's name in their output aside, each with those templates or with why the chart did not
	// render there; unless Options.ExactNamespace.
	Namespaces []Variant
	// NotRendered names the variants (a Kubernetes version, a values
	// file, an API version served or not) that were not rendered because
	// Options.MaxVariants other renders were made: what the chart
	// installs with them is not checked, nor compared.
	NotRendered []string
	// Templates are the non-empty outputs, sorted by Name. Partials
	// (_*.tpl and other files whose name starts with _) and NOTES.txt are
	// not among them. The files of crds/ (of the chart and of its enabled
	// subcharts) are, as written (CRD set): `helm template` leaves them
	// out by default, but `helm install` creates what they hold, whatever
	// its kind, so a Deployment hidden there is installed too.
	Templates []Template
}

// Error is an error of a chart or its values, located in the file that
// causes it when Ward can tell: a template (with the template's own line,
// as helm reports it), Chart.yaml, a values file, values.schema.json.
type Error = srcpos.Error

// ErrRemote is wrapped by the errors about things Ward would have to fetch
// from the network: a values file or a schema given by URL, a dependency
// that is not in charts/.
var ErrRemote = errors.New("ward renders charts offline")

// IsChart reports whether dir is a chart directory: it holds a regular
// Chart.yaml.
func IsChart(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, ChartFile))
	return err == nil && st.Mode().IsRegular()
}

// Values merges the values files, --set and --set-string of o as `helm
// template` does: files in order (later ones win, maps merged key by key),
// then every --set, then every --set-string, each parsed by helm's
// strvals. It reads only local files.
func (o Options) Values() (map[string]any, error) {
	base := map[string]any{}
	for _, f := range o.ValueFiles {
		if f == "-" {
			return nil, fmt.Errorf("--values %s: standard input is not supported for values; give a file", f)
		}
		if u, err := url.Parse(f); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
			return nil, &Error{File: f, Err: fmt.Errorf("%w: values files are read from disk only, give a local copy", ErrRemote)}
		}
		limit := o.MaxFileSize
		if limit <= 0 {
			limit = manifest.DefaultMaxFileSize
		}
		raw, err := manifest.ReadFile(f, limit)
		if err != nil {
			return nil, &Error{File: f, Err: unwrapPath(err, f)}
		}
		m, err := loader.LoadValues(bytes.NewReader(raw))
		if err != nil {
			return nil, &Error{File: f, Err: err}
		}
		base = loader.MergeMaps(base, m)
	}
	for _, m := range o.extra {
		base = loader.MergeMaps(base, m)
	}
	for _, v := range o.Set {
		if err := strvals.ParseInto(v, base); err != nil {
			return nil, fmt.Errorf("--set %s: %w", v, err)
		}
	}
	for _, v := range o.SetString {
		if err := strvals.ParseIntoString(v, base); err != nil {
			return nil, fmt.Errorf("--set-string %s: %w", v, err)
		}
	}
	return base, nil
}

// Validate checks o without a chart: the release name is one helm
// accepts, the Kubernetes version parses, the values files can be read and
// parse, and --set and --set-string parse.
func (o Options) Validate() error {
	if o.ReleaseName != "" {
		if err := chartutil.ValidateReleaseName(o.ReleaseName); err != nil {
			return fmt.Errorf("--release-name %s: %w", o.ReleaseName, err)
		}
	}
	if o.KubeVersion != "" {
		if _, err := common.ParseKubeVersion(o.KubeVersion); err != nil {
			return fmt.Errorf("--kube-version %s: %w", o.KubeVersion, err)
		}
	}
	_, err := o.Values()
	return err
}

// unwrapPath drops the *fs.PathError around err when it names path.
func unwrapPath(err error, path string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return pe.Err
	}
	return err
}

// Render renders the chart in dir as `helm template` does, in process and
// offline: dependencies come from the chart's charts/ directory only (one
// that is missing there is an error naming Chart.yaml, wherever its
// repository says it lives), values files are local, the values schema may
// not reference other documents, `lookup` returns an empty map and
// getHostByName an empty string. Hooks are rendered like other templates
// (`helm template` prints them); the files of crds/ are returned as
// written, since `helm install` creates them, and the API versions their
// CustomResourceDefinitions serve are in .Capabilities.APIVersions, as
// helm install asks the cluster again once it has created them.
//
// Errors are *Error when the faulty file is known. Render never panics.
func Render(dir string, opts Options) (c *Chart, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, &Error{File: dir, Err: fmt.Errorf("internal error rendering the chart: %v", r)}
		}
	}()
	vals, err := opts.Values()
	if err != nil {
		return nil, err
	}
	limit := opts.MaxFileSize
	if limit <= 0 {
		limit = manifest.DefaultMaxFileSize
	}
	if err := checkFiles(dir, limit); err != nil {
		return nil, err
	}
	l, err := load(dir, opts, vals)
	if err != nil {
		return nil, err
	}
	ch, top, caps, coalesced, name, ns := l.ch, l.top, l.caps, l.coalesced, l.name, l.ns
	// The sources as written, for the line maps: the render sees them
	// metered (budget.go).
	srcs := map[string][]byte{}
	sources(ch, srcs)
	// The metered render only bounds the work: what is audited is
	// helm's own render of the templates as written, made once the
	// metered one has shown that it stays within the limit. The two are
	// the same text (TestMeterDiffGenerated, FuzzMeterKeepsOutput); were
	// they ever not, a difference in the metering would cost memory, not
	// change what Ward checks.
	res := newResolver(dir, ch.Name())
	var looked bool
	// semverCompare notes the constraints the Kubernetes version is
	// compared with, written out or not (a value, a helper's result).
	rec := &kubeRecorder{cur: parseKubeVersion(caps.KubeVersion.Version)}
	// has, hasPrefix, hasSuffix and contains note the namespaces the
	// release's is tested against.
	nsRec := &nsRecorder{cur: ns}
	// .Capabilities.APIVersions.Has and has on the versions note the
	// versions asked for, however written (a raw string, print, a
	// value): each side of each is rendered (variants).
	apiRec := &apiRecorder{}
	recTop := maps.Clone(top)
	recTop["Capabilities"] = apiRec.caps(caps)
	defer apiRec.done()
	files, err := render(ch, recTop, dir, res, limit, offlineLookup(&looked), rec.funcs(), nsRec.funcs())
	if err != nil {
		return nil, err
	}
	out := &Chart{Name: ch.Name(), Dir: dir}
	// The offline render with random functions made deterministic, made
	// once if needed: what the renders on a cluster are compared with.
	var offDet map[string]string
	offline := func() (map[string]string, error) {
		var err error
		if offDet == nil {
			offDet, err = render(ch, top, dir, res, limit, offlineLookup(nil), deterministic())
		}
		return offDet, err
	}
	if looked {
		out.Lookup, out.LookupErr = lookupDiff(ch, top, dir, res, limit, offline, files, srcs)
	}
	// helm upgrade renders with .Release.IsUpgrade set, IsInstall unset
	// and a later Revision: a template that reads them installs, on every
	// upgrade, what the install render (helm template's) never showed.
	// Values count too, for tpl.
	if readsReleaseState(slices.Concat(slices.Collect(maps.Values(srcs))...)) || readsReleaseState([]byte(fmt.Sprint(coalesced))) {
		upTop, err := util.ToRenderValuesWithSchemaValidation(ch, vals, common.ReleaseOptions{
			Name: name, Namespace: ns, Revision: 2, IsUpgrade: true,
		}, caps, true)
		// Random functions made deterministic, compared with the offline
		// render made so: a template differs by the release's state only,
		// not by a randAlphaNum password or a timestamp.
		var upFiles, off map[string]string
		if err == nil {
			upFiles, err = render(ch, upTop, dir, res, limit, offlineLookup(nil), deterministic())
		}
		if err == nil {
			off, err = offline()
		}
		switch {
		case err != nil:
			// Such as a chart that asks for the current passwords on
			// upgrade (lookup finds no Secret offline).
			out.UpgradeErr = err
		default:
			for _, n := range slices.Sorted(maps.Keys(upFiles)) {
				if upFiles[n] != off[n] && !strings.HasSuffix(n, "NOTES.txt") {
					out.Upgrade = append(out.Upgrade, n)
				}
			}
		}
	}
	// A template may render a workload only, or another one, where the
	// cluster serves an API version it asks for by name: rendered again
	// with them, each template whose output differs is named.
	// The values count too: a string of them given to tpl may ask.
	asking := maps.Clone(srcs)
	asking["\x00values"] = []byte(fmt.Sprint(coalesced))
	if asked := askedVersions(asking, caps.APIVersions); len(asked) > 0 {
		clCaps := caps.Copy()
		clCaps.APIVersions = slices.Concat(caps.APIVersions, asked)
		clTop, err := util.ToRenderValuesWithSchemaValidation(ch, vals, common.ReleaseOptions{
			Name: name, Namespace: ns, Revision: 1, IsInstall: true,
		}, clCaps, true)
		var clFiles, off map[string]string
		if err == nil {
			// Random functions deterministic, as in the offline render
			// compared with: a template differs by the versions only.
			clFiles, err = render(ch, clTop, dir, res, limit, offlineLookup(nil), deterministic())
		}
		if err == nil {
			off, err = offline()
		}
		out.ClusterVersions = asked
		switch {
		case err != nil:
			out.ClusterErr = err
		default:
			out.Cluster = differing(clFiles, off, files, srcs)
		}
	}
	// A template may ask for API versions Ward cannot list: a version
	// computed or read from values (.Has .Values.api), or the whole set
	// (has, range). Rendered again on a cluster that serves every version
	// asked for, each template whose output differs is named.
	if computedVersions(srcs, fmt.Sprint(coalesced)) {
		anyTop, err := util.ToRenderValuesWithSchemaValidation(ch, vals, common.ReleaseOptions{
			Name: name, Namespace: ns, Revision: 1, IsInstall: true,
		}, caps, true)
		var anyFiles, off map[string]string
		if err == nil {
			anyTop["Capabilities"] = &servedAll{Capabilities: caps, APIVersions: allVersions(caps.APIVersions)}
			anyFiles, err = render(ch, anyTop, dir, res, limit, offlineLookup(nil), deterministic(), template.FuncMap{"has": hasAll, "concat": concatAll})
		}
		if err == nil {
			off, err = offline()
		}
		switch {
		case err != nil:
			out.ComputedErr = err
		default:
			for _, n := range differing(anyFiles, off, files, srcs) {
				if !slices.Contains(out.Cluster, n) {
					out.Computed = append(out.Computed, n)
				}
			}
		}
	}
	// A template may render otherwise for another Kubernetes version
	// than the one rendered for (a gate on .Capabilities.KubeVersion), or
	// with a values file of the chart that a deploy gives with -f:
	// rendered again so, the templates that differ are named.
	variants(out, dir, opts, l, asking, rec.constraints, nsRec.list, apiRec.list, res, limit, offline)
	for n, text := range files {
		if strings.HasSuffix(n, "NOTES.txt") { // helm install drops every file so named (action.renderResources)
			continue
		}
		if len(bytes.TrimSpace([]byte(text))) == 0 {
			if src := srcs[n]; !strings.HasPrefix(path.Base(n), "_") && askCluster.Match(src) {
				out.Unknown = append(out.Unknown, n)
			}
			continue
		}
		t := Template{Name: n, File: res.file(n), Data: []byte(helmDocuments(text))}
		if src, ok := srcs[n]; ok {
			t.lines = lineMap(src, t.Data)
		}
		out.Templates = append(out.Templates, t)
	}
	// helm install creates whatever the crds/ files of the chart and of its
	// enabled subcharts hold, whatever its kind, before the templates
	// (unless --skip-crds): they are checked as written, never templated.
	for _, crd := range ch.CRDObjects() {
		if crd.File == nil || len(bytes.TrimSpace(crd.File.Data)) == 0 {
			continue
		}
		t := Template{Name: crd.Filename, File: res.file(crd.Filename), Data: crd.File.Data, CRD: true}
		t.lines = lineMap(crd.File.Data, t.Data)
		out.Templates = append(out.Templates, t)
	}
	slices.SortFunc(out.Templates, func(a, b Template) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(out.Unknown)
	return out, nil
}

// loaded is a chart loaded and made ready to render for Options.
type loaded struct {
	ch        *chart.Chart
	top       common.Values
	caps      *common.Capabilities
	coalesced map[string]any
	name, ns  string
}

// load loads the chart in dir and prepares its render for opts and its
// values vals (opts.Values()): dependencies processed (conditions, tags),
// capabilities, release, values coalesced and checked against the
// schemas. Each call loads the chart anew: processing the dependencies
// drops the disabled ones from the chart it loaded.
func load(dir string, opts Options, vals map[string]any) (*loaded, error) {
	chartFile := filepath.Join(dir, ChartFile)
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return nil, loadError(err, dir)
	}
	if ch.Metadata.Type == "library" {
		return nil, &Error{File: chartFile, Err: errors.New("a library chart is not installable: render a chart that depends on it")}
	}
	if err := checkDependencies(ch, dir); err != nil {
		return nil, err
	}
	caps := common.DefaultCapabilities.Copy()
	kv := opts.KubeVersion
	if kv == "" {
		kv = DefaultKubeVersion()
	}
	v, err := common.ParseKubeVersion(kv)
	if err != nil {
		return nil, fmt.Errorf("--kube-version %s: %w", kv, err)
	}
	caps.KubeVersion = *v
	if ch.Metadata.KubeVersion != "" && !chartutil.IsCompatibleRange(ch.Metadata.KubeVersion, caps.KubeVersion.String()) {
		return nil, &Error{File: chartFile, Err: fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s (see --kube-version)", ch.Metadata.KubeVersion, caps.KubeVersion.Version)}
	}
	if err := chartutil.ProcessDependencies(ch, vals); err != nil {
		return nil, &Error{File: chartFile, Err: fmt.Errorf("chart dependencies: %w", err)}
	}
	// helm install creates the CRDs of crds/ first and asks the cluster
	// for its API versions again: templates see them in
	// .Capabilities.APIVersions, and one gated on them is installed.
	caps.APIVersions = slices.Concat(caps.APIVersions, crdVersions(ch), opts.APIVersions) // a copy: caps shares the defaults' slice
	if len(opts.without) > 0 {
		caps.APIVersions = slices.DeleteFunc(caps.APIVersions, func(v string) bool { return slices.Contains(opts.without, v) })
	}
	name := opts.ReleaseName
	if name == "" {
		name = DefaultReleaseName
	}
	if err := chartutil.ValidateReleaseName(name); err != nil {
		return nil, fmt.Errorf("--release-name %s: %w", name, err)
	}
	ns := opts.Namespace
	if ns == "" {
		ns = "default"
	}
	top, err := util.ToRenderValuesWithSchemaValidation(ch, vals, common.ReleaseOptions{
		Name: name, Namespace: ns, Revision: 1, IsInstall: true,
	}, caps, true) // the schema is validated below, offline
	if err != nil {
		return nil, &Error{File: chartFile, Err: err}
	}
	var coalesced map[string]any
	switch v := top["Values"].(type) {
	case common.Values:
		coalesced = v
	case map[string]any:
		coalesced = v
	}
	if err := validateSchemas(ch, coalesced, dir); err != nil {
		return nil, err
	}
	return &loaded{ch: ch, top: top, caps: caps, coalesced: coalesced, name: name, ns: ns}, nil
}

// releaseState finds, in a template, what tells an install from an
// upgrade.
var releaseState = regexp.MustCompile(`\b(IsUpgrade|IsInstall|Revision)\b`)

// release finds .Release, and releaseFixed .Release with a field that is
// the same on install and upgrade.
var (
	release      = regexp.MustCompile(`\.Release\b`)
	releaseFixed = regexp.MustCompile(`\.Release\.(Name|Namespace|Service)\b`)
)

// readsReleaseState reports whether src may tell an install from an
// upgrade: it names IsUpgrade, IsInstall or Revision, or takes .Release
// otherwise than by a field that is the same on both (printf "%v"
// .Release, toJson .Release, with .Release).
func readsReleaseState(src []byte) bool {
	return releaseState.Match(src) || len(release.FindAllIndex(src, -1)) > len(releaseFixed.FindAllIndex(src, -1))
}

// lookupFunc is the signature of helm's lookup: apiVersion, kind,
// namespace, name.
type lookupFunc = func(apiVersion, kind, namespace, name string) (map[string]any, error)

// offlineLookup is helm template's lookup: it finds nothing. It sets
// *called, when called is not nil, once a template calls it.
func offlineLookup(called *bool) lookupFunc {
	return func(string, string, string, string) (map[string]any, error) {
		if called != nil {
			*called = true
		}
		return map[string]any{}, nil
	}
}

// foundLookup is a lookup that finds what it is asked for: an object of
// that kind and name, or a list of one such object when no name is given.
func foundLookup(apiVersion, kind, namespace, name string) (map[string]any, error) {
	meta := map[string]any{"name": name}
	if name == "" {
		meta["name"] = "found"
	}
	if namespace != "" {
		meta["namespace"] = namespace
	}
	obj := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}
	if kind == "Secret" || kind == "ConfigMap" {
		// As the API server returns them, with data: a template that
		// reads (lookup ...).data.password, the usual way of keeping a
		// generated password on upgrade, renders instead of failing on
		// a nil map.
		obj["data"] = map[string]any{}
	}
	if name != "" {
		return obj, nil
	}
	return map[string]any{"apiVersion": apiVersion, "kind": kind + "List", "metadata": map[string]any{}, "items": []any{obj}}, nil
}

// lookupDiff renders ch with a lookup that finds every object asked for
// and returns the templates whose output differs from the offline
// render's (offline), NOTES.txt and Unknown's aside. Both renders make
// randAlphaNum, uuidv4, now and the like deterministic, so that a
// template differs by what lookup found only. The error is the first
// render's that failed.
func lookupDiff(ch *chart.Chart, top common.Values, dir string, res resolver, limit int64, offline func() (map[string]string, error), files map[string]string, srcs map[string][]byte) ([]string, error) {
	off, err := offline()
	if err != nil {
		return nil, err
	}
	found, err := render(ch, top, dir, res, limit, foundLookup, deterministic())
	if err != nil {
		return nil, err
	}
	return differing(found, off, files, srcs), nil
}

// differing returns, sorted, the templates whose output in got differs
// from the offline render's (off), but NOTES.txt (helm install drops it)
// and those in Unknown (rendering nothing offline, files, while asking
// the cluster).
func differing(got, off, files map[string]string, srcs map[string][]byte) []string {
	var out []string
	for _, n := range slices.Sorted(maps.Keys(got)) {
		if got[n] == off[n] || strings.HasSuffix(n, "NOTES.txt") {
			continue
		}
		if len(bytes.TrimSpace([]byte(files[n]))) == 0 && askCluster.Match(srcs[n]) {
			continue // in Unknown
		}
		out = append(out, n)
	}
	return out
}

// deterministic replaces sprig's random and clock functions with ones
// that give the same output on every render. A template that stays
// random (shuffle) differs between any two renders; certificates and
// hashes are the same for the same call (madeOnce).
func deterministic() template.FuncMap {
	str := func(n int) (string, error) {
		if n < 0 || n > 1<<20 {
			return "", fmt.Errorf("a random string of %d characters", n)
		}
		return strings.Repeat("a", n), nil
	}
	fixed := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	return template.FuncMap{
		"randAlphaNum": str, "randAlpha": str, "randNumeric": str, "randAscii": str,
		"randBytes": func(n int) (string, error) {
			if n < 0 || n > 1<<20 {
				return "", fmt.Errorf("%d random bytes", n)
			}
			return base64.StdEncoding.EncodeToString(make([]byte, n)), nil
		},
		"randInt": func(lo, _ int) int { return lo },
		"uuidv4":  func() string { return "00000000-0000-4000-8000-000000000000" },
		"now":     func() time.Time { return fixed },
	}
}

// render renders ch with top as helm does, bounded: the metered render
// (budget.go) stops a chart that would pass the limit, then helm's own
// render of the templates as written is what is returned. lookup is
// the templates' lookup; over, if any, overrides other functions.
func render(ch *chart.Chart, top common.Values, dir string, res resolver, limit int64, lookup lookupFunc, over ...template.FuncMap) (map[string]string, error) {
	written := map[*common.File][]byte{}
	walkTemplateFiles(ch, func(f *common.File) { written[f] = f.Data })
	meter(ch)
	b := newBudget(limit)
	b.pool = res.work
	funcs := b.funcs()
	var calls cryptoCalls
	for name, fn := range cheapCrypto(&calls) {
		funcs[name] = b.guard(name, fn)
	}
	for _, o := range over {
		for name, fn := range o {
			funcs[name] = b.guard(name, fn)
		}
	}
	funcs["lookup"] = lookup
	e := engine.Engine{CustomTemplateFuncs: funcs} // no cluster, no DNS
	files, err := e.RenderWithContext(context.Background(), ch, top)
	walkTemplateFiles(ch, func(f *common.File) { f.Data = written[f] })
	if err != nil {
		err = renderError(err, ch.Name(), dir)
		var re *Error
		if b.exceeded && errors.As(err, &re) {
			re.Err = b.tooLarge() // at the template and line helm names
		}
		return nil, err
	}
	if err := checkOutput(files, res, limit); err != nil {
		return nil, err
	}
	var callsPlain cryptoCalls
	plain := engine.Engine{CustomTemplateFuncs: cheapCrypto(&callsPlain)}
	plain.CustomTemplateFuncs["lookup"] = lookup
	for _, o := range over {
		maps.Copy(plain.CustomTemplateFuncs, o)
	}
	if files, err = plain.RenderWithContext(context.Background(), ch, top); err != nil {
		return nil, renderError(err, ch.Name(), dir)
	}
	if err := checkOutput(files, res, limit); err != nil {
		return nil, err
	}
	return files, nil
}

// crdVersions returns the API versions the CustomResourceDefinitions of
// the crds/ files of c and of its enabled subcharts serve, as helm's
// capabilities name them after a cluster serves them: "group/version"
// and "group/version/Kind".
func crdVersions(c *chart.Chart) []string {
	var out []string
	for _, crd := range c.CRDObjects() {
		if crd.File == nil {
			continue
		}
		for _, doc := range strings.Split(string(crd.File.Data), "\n---") {
			var d struct {
				Kind string `json:"kind"`
				Spec struct {
					Group   string `json:"group"`
					Version string `json:"version"`
					Names   struct {
						Kind string `json:"kind"`
					} `json:"names"`
					Versions []struct {
						Name string `json:"name"`
					} `json:"versions"`
				} `json:"spec"`
			}
			if yaml.Unmarshal([]byte(doc), &d) != nil || d.Kind != "CustomResourceDefinition" || d.Spec.Group == "" {
				continue
			}
			versions := []string{d.Spec.Version}
			for _, v := range d.Spec.Versions {
				versions = append(versions, v.Name)
			}
			for _, v := range versions {
				if v == "" {
					continue
				}
				gv := d.Spec.Group + "/" + v
				out = append(out, gv)
				if d.Spec.Names.Kind != "" {
					out = append(out, gv+"/"+d.Spec.Names.Kind)
				}
			}
		}
	}
	return out
}

// askCluster finds what, in a template, depends on the cluster it is
// installed in: lookup, or its API versions.
var askCluster = regexp.MustCompile(`\blookup\b|\.Capabilities\.APIVersions\b`)

// hasVersion finds the API versions a template asks for by name.
var hasVersion = regexp.MustCompile(`\.Capabilities\.APIVersions\.Has\s+"([^"]+)"`)

// apiVersions finds every use of the API versions in a template or in
// values (for tpl).
var apiVersions = regexp.MustCompile(`\bAPIVersions\b`)

// computedVersions reports whether the templates of srcs or values ask
// the API versions otherwise than .Capabilities.APIVersions.Has with a
// version written out, which askedVersions lists.
func computedVersions(srcs map[string][]byte, values string) bool {
	if n := len(apiVersions.FindAllStringIndex(values, -1)); n > 0 && n > len(hasVersion.FindAllStringIndex(values, -1)) {
		return true
	}
	for _, src := range srcs {
		if n := len(apiVersions.FindAllIndex(src, -1)); n > 0 && n > len(hasVersion.FindAllIndex(src, -1)) {
			return true
		}
	}
	return false
}

// allVersions is the API versions of a cluster that serves every version
// asked for: it holds those of the capabilities, and Has is always true.
type allVersions common.VersionSet

// Has reports that the cluster serves apiVersion.
func (allVersions) Has(string) bool { return true }

// hasAll is sprig's has, true for every version of allVersions.
func hasAll(needle any, haystack any) bool {
	if _, ok := haystack.(allVersions); ok {
		return true
	}
	return sprigHas(needle, haystack)
}

// concatAll is sprig's concat, whose result holds every version when a
// list is allVersions (a helper that adds the versions of values to the
// cluster's, then asks has, as bitnami's common chart does).
func concatAll(lists ...any) any {
	out := sprigConcat(lists...)
	for _, l := range lists {
		if _, ok := l.(allVersions); ok {
			var vs allVersions
			if items, ok := out.([]any); ok {
				for _, v := range items {
					vs = append(vs, fmt.Sprint(v))
				}
			}
			return vs
		}
	}
	return out
}

// sprigHas and sprigConcat are sprig's has and concat.
var (
	sprigHas    = sprig.TxtFuncMap()["has"].(func(any, any) bool)
	sprigConcat = sprig.TxtFuncMap()["concat"].(func(...any) any)
)

// servedAll is .Capabilities for a cluster that serves every API version
// asked for; the rest are the capabilities'.
type servedAll struct {
	*common.Capabilities
	APIVersions allVersions
}

// askedVersions returns, sorted, the API versions the templates of srcs
// ask .Capabilities.APIVersions for by name that served does not hold.
func askedVersions(srcs map[string][]byte, served []string) []string {
	seen := map[string]bool{}
	for _, v := range served {
		seen[v] = true
	}
	var out []string
	for _, src := range srcs {
		for _, m := range hasVersion.FindAllSubmatch(src, -1) {
			if v := string(m[1]); !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	return out
}

// sources maps helm's names of the templates of c and its dependencies to
// their source text.
func sources(c *chart.Chart, m map[string][]byte) {
	for _, t := range c.Templates {
		if t != nil {
			m[path.Join(c.ChartFullPath(), t.Name)] = t.Data
		}
	}
	for _, d := range c.Dependencies() {
		sources(d, m)
	}
}

// checkDependencies fails for every dependency of Chart.yaml (of the chart
// and of its subcharts, recursively) that is not in charts/, as `helm
// template` does, naming what would have to be fetched.
func checkDependencies(ch *chart.Chart, dir string) error {
	for _, d := range ch.Metadata.Dependencies {
		if d == nil {
			continue
		}
		found := false
		for _, sc := range ch.Dependencies() {
			if sc.Name() == d.Name {
				found = true
				break
			}
		}
		if found {
			continue
		}
		where := ""
		if d.Repository != "" {
			where = " (repository " + d.Repository + ")"
		}
		return &Error{File: filepath.Join(dir, ChartFile), Err: fmt.Errorf("%w: dependency %q%s is not in charts/ and is never downloaded: run `helm dependency build` first, or vendor the chart into charts/", ErrRemote, d.Name, where)}
	}
	for _, sc := range ch.Dependencies() {
		sub, archive := subchart(dir, sc.Name())
		if archive {
			// Named by the archive: the error's Chart.yaml is inside it.
			if err := checkDependencies(sc, sub); err != nil {
				var e *Error
				if errors.As(err, &e) && filepath.Base(e.File) == ChartFile && filepath.Dir(e.File) == sub {
					e.File = sub
				}
				return err
			}
			continue
		}
		if err := checkDependencies(sc, sub); err != nil {
			return err
		}
	}
	return nil
}

// validateSchemas checks the values of ch and of each subchart against
// their values.schema.json, as helm does, with a compiler that loads no
// other document: a schema that references one by URL (or by file) is an
// error, never a download.
func validateSchemas(ch *chart.Chart, vals map[string]any, dir string) error {
	if ch.Schema != nil {
		file := filepath.Join(dir, "values.schema.json")
		schema, err := jsonschema.UnmarshalJSON(bytes.NewReader(ch.Schema))
		if err != nil {
			return &Error{File: file, Err: err}
		}
		c := jsonschema.NewCompiler()
		c.UseLoader(offlineLoader{})
		if err := c.AddResource("file:///values.schema.json", schema); err != nil {
			return &Error{File: file, Err: err}
		}
		sch, err := c.Compile("file:///values.schema.json")
		if err != nil {
			return &Error{File: file, Err: err}
		}
		if err := sch.Validate(map[string]any(vals)); err != nil {
			return &Error{File: file, Err: fmt.Errorf("the values do not meet the chart's schema: %w", err)}
		}
	}
	for _, sc := range ch.Dependencies() {
		raw, ok := vals[sc.Name()]
		if !ok || raw == nil {
			continue
		}
		sub, ok := raw.(map[string]any)
		if !ok {
			return &Error{File: filepath.Join(dir, ChartFile), Err: fmt.Errorf("values of subchart %s: want a map, got %T", sc.Name(), raw)}
		}
		if err := validateSchemas(sc, sub, filepath.Join(dir, "charts", sc.Name())); err != nil {
			return err
		}
	}
	return nil
}

// offlineLoader refuses to load any schema document.
type offlineLoader struct{}

func (offlineLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("%w: the schema references %s, which is not loaded", ErrRemote, u)
}

// loadFile and yamlLine find the file and line of a chart loading error,
// such as "cannot load values.yaml: ... yaml: line 2: ...".
var (
	unpackSub = regexp.MustCompile(`^error unpacking subchart ([^\s/]+) in `)
	loadFile  = regexp.MustCompile(`cannot load ([^\s:]+):`)
	yamlLine  = regexp.MustCompile(`yaml: line (\d+):`)
)

// loadError locates an error of the chart loader in the file it names,
// else in Chart.yaml.
func loadError(err error, dir string) error {
	e := &Error{File: filepath.Join(dir, ChartFile), Err: err}
	msg := err.Error()
	if m := loadFile.FindStringSubmatch(msg); m != nil && filepath.IsLocal(m[1]) {
		e.File = filepath.Join(dir, filepath.FromSlash(m[1]))
	} else if m := unpackSub.FindStringSubmatch(msg); m != nil && filepath.IsLocal(m[1]) {
		// The subchart of charts/ at fault (an archive with an entry
		// leading out of it, or one that does not load).
		e.File = filepath.Join(dir, "charts", m[1])
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
	}
	return e
}

// errLocation finds helm's "(chart/templates/x.yaml:12:3)" in an error.
var errLocation = regexp.MustCompile(`\(?([^\s():]+):(\d+)(?::\d+)?\)?`)

// renderError locates a rendering error in the template it names.
func renderError(err error, name, dir string) error {
	res := newResolver(dir, name)
	if m := errLocation.FindStringSubmatch(err.Error()); m != nil && strings.HasPrefix(m[1], name+"/") {
		line, _ := strconv.Atoi(m[2])
		return &Error{File: res.file(m[1]), Line: line, Err: err}
	}
	return &Error{File: filepath.Join(dir, ChartFile), Err: err}
}

// resolver maps helm's template names to files on disk (see
// Template.File).
type resolver struct {
	dir, name string
	// work is the chart's ticks left, shared by its renders (budget.go).
	work *stepPool
}

func newResolver(dir, name string) resolver {
	return resolver{dir: dir, name: name, work: &stepPool{left: chartStepsFactor * maxSteps}}
}

// file returns the file of the template helm names n.
func (r resolver) file(n string) string {
	parts := strings.Split(n, "/")
	if len(parts) < 2 || parts[0] != r.name {
		return filepath.Join(r.dir, filepath.FromSlash(n))
	}
	cur, i := r.dir, 1
	for i+2 < len(parts) && parts[i] == "charts" {
		loc, archive := subchart(cur, parts[i+1])
		if archive {
			return filepath.Join(append([]string{loc}, parts[i+2:]...)...)
		}
		cur, i = loc, i+2
	}
	return filepath.Join(append([]string{cur}, parts[i:]...)...)
}

// subchart finds the subchart named (or aliased) name in dir/charts: a
// directory or an archive (.tgz) whose Chart.yaml names it, else an
// archive name-VERSION.tgz. It falls back on dir/charts/name.
func subchart(dir, name string) (string, bool) {
	charts := filepath.Join(dir, "charts")
	real := name
	var meta chart.Metadata
	if data, err := os.ReadFile(filepath.Join(dir, ChartFile)); err == nil && yaml.Unmarshal(data, &meta) == nil { // #nosec G304 -- a chart the user named
		for _, d := range meta.Dependencies {
			if d != nil && d.Alias == name {
				real = d.Name
			}
		}
	}
	entries, _ := os.ReadDir(charts)
	for _, e := range entries {
		p := filepath.Join(charts, e.Name())
		if e.IsDir() {
			var m chart.Metadata
			data, err := os.ReadFile(filepath.Join(p, ChartFile)) // #nosec G304 -- a subchart of a chart the user named
			if err == nil && yaml.Unmarshal(data, &m) == nil && m.Name == real {
				return p, false
			}
		}
	}
	// helm loads every .tgz of charts/, whatever its file name: the
	// name is the one in its Chart.yaml.
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".tgz") && archiveName(filepath.Join(charts, n)) == real {
			return filepath.Join(charts, n), true
		}
	}
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".tgz") && strings.HasPrefix(n, real+"-") {
			return filepath.Join(charts, n), true
		}
	}
	return filepath.Join(charts, name), false
}
