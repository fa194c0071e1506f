// Package helmchart renders Helm charts in process, as `helm template`
// does, so that Ward checks what a chart would install.
//
// Render takes a chart directory (one with a Chart.yaml) and Options that
// mirror helm template's flags: values files (--values), --set and
// --set-string (parsed by helm's own strvals, applied in helm's order), the
// release name and namespace, and the Kubernetes version of
// .Capabilities, which defaults to the version Ward's Pod Security
// Standards audit evaluates (DefaultKubeVersion). The SDK is Helm v4
// (helm.sh/helm/v4): its chart loader, dependency processing (conditions,
// tags, aliases, import-values), value coalescing and template engine.
//
// Rendering is offline, always:
//
//   - dependencies come from the chart's charts/ directory only, as
//     directories or archives; one that Chart.yaml lists and charts/ lacks
//     is an error naming Chart.yaml (ErrRemote), whatever its repository
//     says: Ward never downloads a chart, runs no `helm dependency update`
//     and reads no repository index;
//   - values files are local files; a URL is refused;
//   - values.schema.json is enforced like helm does, but with a compiler
//     that loads no other document: a $ref to a URL (or a file) is an
//     error, never a request;
//   - `lookup` returns an empty map and getHostByName an empty string, as
//     in `helm template`: there is no cluster and no DNS; a chart that
//     calls lookup is rendered a second time with a lookup that finds what
//     it asks for, and the templates that render otherwise are named
//     (Chart.Lookup);
//   - a chart whose templates ask .Capabilities.APIVersions.Has for API
//     versions by name is rendered a second time with them served, and
//     the templates that render otherwise are named (Chart.Cluster);
//   - a chart whose templates compare .Capabilities.KubeVersion with
//     versions written out (semverCompare ">=1.29-0" ...GitVersion, in a
//     template or a helper, or a comparison of its Minor; found with
//     text/template/parse) is rendered again for the versions on each
//     side of each gate, and the templates that render otherwise are
//     named by version (Chart.KubeVersions), unless
//     Options.ExactKubeVersion says the version given is the cluster's;
//   - each values file of the chart directory besides values.yaml
//     (*values*.yaml, values/, ci/; not a schema nor Kubernetes
//     objects) that Options.ValueFiles does not give
//     is rendered with, and the templates that render otherwise are
//     named by file (Chart.ValuesFiles): a deploy may give it with -f;
//     so are those of the enabled subcharts, under the subchart's name;
//   - each API version asked for (by name, or noted while rendering:
//     Has and has on the versions are watched) is rendered served alone (when
//     several are asked for) and, for an alpha or beta version of helm's
//     default set (policy/v1beta1), not served (Chart.APIVersions);
//   - a Kubernetes version gate whose constraint is taken from values,
//     or made while rendering (semverCompare is watched), is tried too;
//   - a chart whose templates compare .Release.Namespace with namespaces
//     written out, or tests it while rendering (has, hasPrefix,
//     hasSuffix, contains are watched), is rendered in them
//     (Chart.Namespaces), unless Options.ExactNamespace;
//   - these other renders are at most Options.MaxVariants
//     (DefaultMaxVariants; UnlimitedVariants, NoVariants); those past
//     it are named in Chart.NotRendered.
//
// Each non-empty output is a Template: helm's name for it (what `helm
// template` prints as `# Source:`), the template file on disk, the
// rendered text, and a map from rendered lines to the template's own
// lines (Template.Line). That map aligns the rendered text with the
// template source line by line: a rendered line that the template holds
// literally is reported at that line; a generated one (from an action,
// an include or a range) at the nearest literal line above it, such as the
// `labels:` key whose labels a helper wrote; when nothing above is literal,
// at line 1. So a finding about `privileged: true` points at the line of
// the template that writes it, in the branch that was taken.
//
// Errors are *Error and name the file at fault when it is known: the
// template and its line for template errors (`required` and `fail`
// included, with helm's message), Chart.yaml for missing dependencies,
// an incompatible kubeVersion or a library chart, the values file or
// values.schema.json. Render never panics and has no effect on disk.
//
// Options.MaxFileSize (ward's --max-input-size) bounds a chart's memory:
// a file of the chart larger than it is an error naming the file, and
// rendering is metered as it runs (budget.go), stopping at the template
// and line of a loop or action that takes it past a few times the limit;
// the rendered text is held to the limit exactly when the render ends. Such errors match
// manifest.ErrTooLarge.
package helmchart
