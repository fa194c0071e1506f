package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/helmchart"
	"github.com/wardsec/ward/kustomize"
	"github.com/wardsec/ward/manifest"
)

// addChartFlags gives every command the flags of `helm template` that
// shape a chart's rendering (see docs/inputs.md). The namespace is ward's
// own --namespace, which is what helm's is for a chart: the namespace of
// the objects that name none.
func (e *env) addChartFlags(c *cobra.Command) {
	f := c.PersistentFlags()
	f.StringSliceVarP(&e.chart.ValueFiles, "values", "f", nil, "Helm charts: values file merged over the chart's values, as helm's --values (repeatable; local files only)")
	f.StringArrayVar(&e.chart.Set, "set", nil, "Helm charts: set a value, as helm's --set: key1=val1,key2=val2 (repeatable)")
	f.StringArrayVar(&e.chart.SetString, "set-string", nil, "Helm charts: set a string value, as helm's --set-string (repeatable)")
	f.StringVar(&e.chart.ReleaseName, "release-name", helmchart.DefaultReleaseName, "Helm charts: the release name (.Release.Name)")
	f.StringSliceVar(&e.chart.APIVersions, "api-versions", nil, "Helm charts: API versions the cluster serves, for .Capabilities.APIVersions, as helm's --api-versions (repeatable, or comma-separated)")
	f.IntVar(&e.chart.MaxVariants, "max-chart-renders", helmchart.DefaultMaxVariants, "Helm charts: at most this many other renders of a chart, for the Kubernetes versions, API versions, namespaces and values files it was not given (0: none, -1: no limit); those not rendered are named on stderr")
	f.StringVar(&e.chart.KubeVersion, "kube-version", helmchart.DefaultKubeVersion(), "Helm charts: the Kubernetes version for .Capabilities; check's --pss-version when it names one, else this")
}

// chartKubeVersion renders charts for the Kubernetes version that `ward
// check --pss-version` names, unless --kube-version says otherwise: the
// chart is then judged for the cluster it is rendered for.
func (e *env) chartKubeVersion(c *cobra.Command, pssVersion string) {
	if !c.Flags().Changed("kube-version") && pssVersion != "" && pssVersion != "latest" {
		e.chart.KubeVersion = pssVersion
	}
}

// chartOptions completes the chart flags with what ward's other flags say,
// and checks them once, before any input is read: a bad --set or
// --kube-version, or a values file that cannot be read, is a usage error.
func (e *env) chartOptions() error {
	e.chart.Namespace = e.namespace
	e.chart.MaxFileSize = e.maxInput
	// --max-chart-renders 0 is no other render (helmchart's 0 is its
	// default); below -1 (no limit) it is a mistake.
	switch n := e.chart.MaxVariants; {
	case n == 0:
		e.chart.MaxVariants = helmchart.NoVariants
	case n < helmchart.UnlimitedVariants:
		return fmt.Errorf("--max-chart-renders %d: want a count of renders, 0 for none, or -1 for no limit", n)
	}
	return e.chart.Validate()
}

// renderChart renders the Helm chart in dir: its templates are rendered
// streams named by their template file, never read as manifests.
func (in *inputs) renderChart(dir string, opts *helmchart.Options) {
	dir = filepath.Clean(dir)
	in.charts = append(in.charts, dir)
	var o helmchart.Options
	if opts != nil {
		o = *opts
	}
	c, err := helmchart.Render(dir, o)
	if err != nil {
		f := finding.Finding{Rule: ruleUnreadable, Severity: finding.High, File: dir,
			Message: "helm template: " + err.Error(), Fix: inputRules[0].Fix}
		var he *helmchart.Error
		if errors.As(err, &he) && he.File != "" {
			f.File, f.Line, f.Message = he.File, he.Line, "helm template: "+he.Err.Error()
		}
		in.unreadable = append(in.unreadable, f)
		return
	}
	for _, n := range c.Unknown {
		in.warnings = append(in.warnings, fmt.Sprintf("%s: the template %s rendered nothing, but it asks the cluster (lookup, or .Capabilities.APIVersions): installed, it may render objects that are not checked here; give the cluster's API versions with --api-versions, or check `helm template` output made against the cluster", dir, n))
	}
	for _, n := range c.Cluster {
		in.warnings = append(in.warnings, fmt.Sprintf("%s: the template %s renders otherwise on a cluster that serves %s (.Capabilities.APIVersions.Has) than checked here, where it is rendered without them: what it installs there is not checked; give the cluster's API versions with --api-versions to check that", dir, n, strings.Join(c.ClusterVersions, ", ")))
	}
	if c.ClusterErr != nil {
		in.warnings = append(in.warnings, fmt.Sprintf("%s: the chart asks whether the cluster serves %s (.Capabilities.APIVersions.Has) but does not render when it does (%v): what it installs on such a cluster is not checked here", dir, strings.Join(c.ClusterVersions, ", "), c.ClusterErr))
	}
	for _, n := range c.Computed {
		in.warnings = append(in.warnings, fmt.Sprintf("%s: the template %s renders otherwise on a cluster that serves the API versions it asks .Capabilities.APIVersions for (computed or taken from values, so Ward cannot list them) than checked here: what it installs there is not checked; check `helm template` output made against the cluster", dir, n))
	}
	if c.ComputedErr != nil {
		in.warnings = append(in.warnings, fmt.Sprintf("%s: the chart asks .Capabilities.APIVersions for versions Ward cannot list, but does not render on a cluster that serves them (%v): what it installs there is not checked here", dir, c.ComputedErr))
	}
	for _, n := range c.Lookup {
		in.warnings = append(in.warnings, fmt.Sprintf("%s: the template %s renders otherwise when lookup finds the objects it asks the cluster for than checked here, where lookup finds nothing: what it installs on a cluster that holds them is not checked; check `helm template` output made against the cluster", dir, n))
	}
	if c.LookupErr != nil {
		in.warnings = append(in.warnings, fmt.Sprintf("%s: the chart calls lookup, which finds nothing offline, but does not render when lookup finds the objects it asks for (%v): what it installs on a cluster that holds them is not checked here", dir, c.LookupErr))
	}
	kv := o.KubeVersion
	if kv == "" {
		kv = helmchart.DefaultKubeVersion()
	}
	for _, v := range c.KubeVersions {
		if v.Err != nil {
			in.warnings = append(in.warnings, fmt.Sprintf("%s: the chart compares .Capabilities.KubeVersion with versions but does not render for Kubernetes %s (%v): what it installs on such a cluster is not checked here, where it is rendered for %s", dir, v.Name, v.Err, kv))
			continue
		}
		in.warnings = append(in.warnings, fmt.Sprintf("%s: %s otherwise for Kubernetes %s (.Capabilities.KubeVersion) than checked here, where the chart is rendered for %s: what it installs on such a cluster is not checked; give the cluster's version with --kube-version to check that render", dir, templatesRender(v.Templates), v.Name, kv))
	}
	for _, v := range c.APIVersions {
		side := "does not serve " + v.Name + " (an alpha or beta version helm's default set holds, that Ward renders with)"
		fix := "give --api-versions " + v.Name + " if the cluster serves it"
		if v.Served {
			side = "serves " + v.Name + " but not the other versions the chart asks for"
			fix = "give the cluster's API versions with --api-versions to check that render"
		}
		if v.Err != nil {
			in.warnings = append(in.warnings, fmt.Sprintf("%s: the chart does not render on a cluster that %s (.Capabilities.APIVersions.Has): %v: what it installs there is not checked here", dir, side, v.Err))
			continue
		}
		in.warnings = append(in.warnings, fmt.Sprintf("%s: %s otherwise on a cluster that %s (.Capabilities.APIVersions.Has) than checked here: what it installs there is not checked; %s", dir, templatesRender(v.Templates), side, fix))
	}
	for _, v := range c.Namespaces {
		if v.Err != nil {
			in.warnings = append(in.warnings, fmt.Sprintf("%s: the chart compares .Release.Namespace with namespaces but does not render in %s (%v): what it installs there is not checked here", dir, v.Name, v.Err))
			continue
		}
		in.warnings = append(in.warnings, fmt.Sprintf("%s: %s otherwise when installed in namespace %s (.Release.Namespace) than checked here: what it installs there is not checked; give the release's namespace with --namespace to check that render", dir, templatesRender(v.Templates), v.Name))
	}
	for _, v := range c.ValuesFiles {
		given := "-f " + v.Name
		if v.Subchart != "" {
			given = "the subchart's values file " + v.Name + " under " + v.Subchart + ":"
		}
		if v.Err != nil {
			in.warnings = append(in.warnings, fmt.Sprintf("%s: the chart's values file %s is not given (--values) and the chart does not render with it (%v): what a deploy with %s installs is not checked here", dir, v.Name, v.Err, given))
			continue
		}
		in.warnings = append(in.warnings, fmt.Sprintf("%s: the chart's values file %s is not given (--values), and with it %s otherwise than checked here: what a deploy with %s installs is not checked; give it with -f to check that render", dir, v.Name, templatesRender(v.Templates), given))
	}
	if len(c.NotRendered) > 0 {
		names := strings.Join(c.NotRendered, "; ")
		if len(c.NotRendered) > maxNamed {
			names = fmt.Sprintf("%s; and %d more", strings.Join(c.NotRendered[:maxNamed], "; "), len(c.NotRendered)-maxNamed)
		}
		in.warnings = append(in.warnings, fmt.Sprintf("%s: the chart has %d more variants than the %d other renders Ward makes (--max-chart-renders); not rendered, so what the chart installs with them is not checked nor compared: %s", dir, len(c.NotRendered), maxRenders(o.MaxVariants), names))
	}
	for _, n := range c.Upgrade {
		in.warnings = append(in.warnings, fmt.Sprintf("%s: the template %s renders otherwise on helm upgrade (.Release.IsUpgrade, IsInstall or Revision) than on install: what it installs on an upgrade is not checked here; check `helm template --is-upgrade` output too", dir, n))
	}
	if c.UpgradeErr != nil {
		in.warnings = append(in.warnings, fmt.Sprintf("%s: the chart reads the release's state (.Release.IsUpgrade, IsInstall or Revision) but does not render as helm upgrade renders it (%v): what it installs on an upgrade is not checked here", dir, c.UpgradeErr))
	}
	in.from[dir] = []string{}
	for _, t := range c.Templates {
		in.rendered = append(in.rendered, manifest.Rendered{Name: t.File, Dir: dir, Data: t.Data, Origin: t.Name, Lines: t.Line})
		in.from[dir] = append(in.from[dir], t.File)
	}
}

// inChart reports whether path is or lies in the templates or charts
// directory of a Helm chart above it, and that chart as the user would
// name it: such files are not manifests.
func inChart(path string) (string, bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", false
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		if helmchart.IsChart(d) {
			for _, sub := range []string{"templates", "charts"} {
				s := filepath.Join(d, sub)
				if abs != s && !strings.HasPrefix(abs, s+string(filepath.Separator)) {
					continue
				}
				rel, err := filepath.Rel(d, abs)
				if err != nil {
					return d, true
				}
				up := strings.Repeat(".."+string(filepath.Separator), len(strings.Split(rel, string(filepath.Separator))))
				return filepath.Join(path, up), true
			}
		}
		if parent := filepath.Dir(d); parent == d {
			return "", false
		}
	}
}

// chartPart is the finding for a path inside a chart.
func chartPart(path, chart string) finding.Finding {
	return finding.Finding{Rule: ruleUnreadable, Severity: finding.High, File: path,
		Message: "part of the Helm chart " + chart + ": its templates are not manifests until rendered",
		Fix:     "give the chart directory, " + chart + ", to render it (with --values and --set as helm template takes them)"}
}

// chartKustomization adds the Helm chart dir to the kustomizations when
// it is a kustomization too: helm (and Argo CD) install the chart, but
// kubectl apply -k and Flux build the kustomization, so both are checked.
// given is the path given on the command line that holds dir.
func (in *inputs) chartKustomization(ks []found, dir, given string) []found {
	if !kustomize.IsKustomization(dir) {
		return ks
	}
	in.warnings = append(in.warnings, fmt.Sprintf("%s: both a Helm chart and a kustomization: helm and Argo CD install the chart, kubectl apply -k and Flux build the kustomization; both are checked", dir))
	return append(ks, found{dir, kustomize.Root(given)})
}

// maxNamed is how many variants not rendered a warning names.
const maxNamed = 20

// maxRenders is the cap on a chart's other renders that n, its
// Options.MaxVariants, sets.
func maxRenders(n int) int {
	switch {
	case n == 0:
		return helmchart.DefaultMaxVariants
	case n < 0:
		return 0 // NoVariants: UnlimitedVariants leaves none unrendered
	}
	return n
}

// templatesRender says that the templates ts render: "the template x
// renders", "the templates x, y render".
func templatesRender(ts []string) string {
	if len(ts) == 1 {
		return "the template " + ts[0] + " renders"
	}
	return "the templates " + strings.Join(ts, ", ") + " render"
}
