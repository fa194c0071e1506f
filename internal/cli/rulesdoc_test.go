package cli

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/peers"
)

const rulesDoc = "../../docs/rules.md"

// families names and introduces each rule family, in documentation order.
var families = []struct{ prefix, title, intro string }{
	{"netpol/", "NetworkPolicy lint", "Checks of the NetworkPolicies against the workloads they protect. [netpol-rules.md](netpol-rules.md) shows an example input and Ward's output for each."},
	{"assert/", "Assertions", "The reachability assertions of `ward.yaml` ([ward-yaml.md](ward-yaml.md))."},
	{"pss/", "Pod Security Standards", "Every check of the official Pod Security Standards library (`k8s.io/pod-security-admission`), run one by one on each pod template at `--pss-level` (default restricted) and `--pss-version` (default latest), the pod specs that custom resources carry included (see the pod/ family). The id is the library's own check id."},
	{"pod/", "Pod hardening beyond PSS", "Ward's own checks of pod templates and Services, for what the Pod Security Standards leave out. Pod templates are those of Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs, CronJobs, OpenShift DeploymentConfigs, Knative Services and Configurations and Argo Rollouts, and the pod specs that core PodTemplates and other custom resources carry for the pods their controllers and operators create (a KEDA ScaledJob, an Argo Workflow's templates, a Tekton Task's steps, ...; [usage.md](usage.md)); the pss/ checks read the same ones. PersistentVolumes are read for their hostPath only (pod/hostpath-persistent-volume). Those pod specs get every pod/ rule but pod/exposed-unisolated (their pods are not in the network model, so no Service is known to select them) and pod/deviates-from-template (no Pod is compared with them); their findings name the custom resource, and the path of the pod spec in the message."},
	{"exposure/", "Services and Ingresses", "How Services and Ingresses expose workloads outside the cluster: external IPs, load balancers, TLS and ingress-nginx annotations (networking.k8s.io/v1 Ingresses; the older apiVersions, removed in Kubernetes 1.22, are not read)."},
	{"rbac/", "RBAC", "Roles, ClusterRoles, RoleBindings and ClusterRoleBindings (rbac.authorization.k8s.io/v1). A finding about a right points at the rule of the role that grants it (one finding per rule and right) and names who holds it through the input's bindings: users, groups, and the workloads that run as a bound ServiceAccount (`spec.serviceAccountName`, else `default`); a workload that mounts no token of it is named but cannot use the rights, so it raises no severity. A RoleBinding to a ClusterRole grants its rules in the binding's namespace only. An aggregated ClusterRole (`aggregationRule`) collects the rules of the ClusterRoles its selectors match, through other aggregated ClusterRoles too (admin collects edit); its own `rules`, which the controller fills, are not read, and its holders are named at the rules of its parts. The severity is the rule's, raised by the holders: `system:unauthenticated` makes any right below critical, `system:authenticated` at least high and one level up, `system:serviceaccounts` and `system:serviceaccounts:<namespace>` one level up, and so does a workload of the input holding it in the whole cluster (through a ClusterRoleBinding). Kubernetes' own roles and bindings (named `system:*` or labelled `kubernetes.io/bootstrapping: rbac-defaults`, as in a dump of a cluster) are quiet unless one of those groups, or a binding that is not Kubernetes' own, grants them. Roles that the input binds but does not declare are not known and not judged, except Kubernetes' defaults cluster-admin, admin and edit (admin and edit: reading and writing Secrets, writing ConfigMaps, exec and attach, impersonating ServiceAccounts, creating workloads, editing NetworkPolicies), whose findings point at the binding's roleRef; rules on `nonResourceURLs` are not judged."},
	{"configmap/", "ConfigMaps", "ConfigMaps (v1) checked for secrets that belong in a Secret. The message names the key, and the line inside a configuration file, never the value."},
	{"mesh/", "Istio mesh", "Run when the input has Istio security objects or namespaces labelled for sidecar injection."},
	{"dockerfile/", "Dockerfiles", "Files named `Dockerfile`, `Containerfile`, `*.Dockerfile`, `Dockerfile.*`, `Dockerfile-*` or `Dockerfile_*` (not `Dockerfile.md` and other documentation, data, script or backup files). The final stage (or `--target`) is judged for what runs; builder stages only for what leaks (secrets). A `# syntax=` directive naming a frontend other than Docker's `docker/dockerfile` is warned of on stderr: that image builds the file, and may build something else than its instructions say."},
	{"compose/", "Compose files", "`compose.yaml`, `docker-compose.yml` and their variants, or any YAML file whose content is a Compose file. Variables are interpolated as docker compose does from the `.env` file beside the Compose file (a `.env` that does not parse is input/unreadable), never from the environment Ward runs in: a variable set nowhere in the project is empty, and its default applies; `privileged` excepted, as docker compose fails on an empty one: taken from a variable set nowhere (`privileged: ${PRIV}`, `${PRIV:?msg}`), its value comes from an environment Ward does not see, and it is judged true. Any security-relevant field taken from a variable set nowhere in the project and without a default (`network_mode: ${NET}`, `privileged: ${PRIV}`, a `cap_add` item `${CAP}`) is also reported, compose/unset-variable: the environment docker compose runs in decides its value. Lifecycle hooks are judged under the same rules: the `privileged` and `user` of a post_start or pre_stop hook or of a develop.watch exec (a command run in the container), and what a pre_start hook, an init container, sets (privileged, host namespaces, dangerous cap_add, user, unconfined security_opt, sensitive mounts)."},
	{"input/", "Input", "Findings about the input itself."},
}

const rulesIntro = `# Rules of ` + "`ward check`" + `

<!-- Generated by ` + "`go test ./internal/cli -run TestRulesDoc -update`" + ` from the rule
registries of each package. Edit those, not this file. -->

Every finding names a rule id (` + "`family/name`" + `), a severity (info, low, medium,
high, critical), the file and line to look at, the object concerned, a message
and a fix. Rule ids are stable: suppressions, CI gates and SARIF consumers rely
on them. A finding may be more or less severe than its rule when the rule says
so. "Equivalents" are the ids of the same check in kube-linter, Polaris,
Trivy (KSV, KCV, DS), hadolint (DL), KICS or Docker's build checks, when one
exists; [Migrating from other auditors](#migrating-from-other-auditors) lists
every security check of those tools with what Ward does about it.

## Suppressing findings

Every suppression needs a reason. Suppressed findings never fail a run; they
are counted in the summary, listed with ` + "`--show-suppressed`" + `, and written to
SARIF as suppressions (code scanning shows them as dismissed, with the reason).

- **Kubernetes objects**: an annotation ` + "`ignore.ward.dev/<rule-id>: \"<reason>\"`" + ` on the
  workload, its pod template, a custom resource that carries pod specs (or the pod template around one), a Service, an Ingress, a NetworkPolicy, a ConfigMap or a Namespace. The
  API server does not accept ` + "`/`" + ` in an annotation name, so write the rule id's
  ` + "`/`" + ` as ` + "`.`" + `: ` + "`ignore.ward.dev/pod.writable-root-fs: \"tmpfs at /tmp only\"`" + `.
  An annotation without a reason is itself a finding (` + "`input/bad-suppression`" + `).
  An annotation silences the findings of its own object only: an object of
  another API group than the kind Ward models under that name (a Calico
  ` + "`projectcalico.org`" + ` NetworkPolicy, a custom resource called Deployment)
  is named ` + "`kind.group`" + ` in findings (` + "`shop/NetworkPolicy.projectcalico.org/p`" + `),
  so the annotations of a Kubernetes object of the same namespace, kind
  name and name do not reach it, nor its annotations the Kubernetes object.
- **Dockerfiles and Compose files**: a comment ` + "`# ward:ignore <rule-id> <reason>`" + ` on the
  line above the instruction, service or key concerned; before the first
  instruction (Dockerfile) or before ` + "`services:`" + ` (Compose; before the first key
  when the services come through a merge key) it applies to the whole file, but
  for a Compose comment directly above a nested key (under an ` + "`x-common: &common`" + `
  anchor), which silences what points at that key. A comment without reason or with an unknown rule is a
  ` + "`dockerfile/bad-suppression`" + ` or ` + "`compose/bad-suppression`" + ` finding, and
  so is, in a Compose file, a ` + "`# ward:ignore`" + ` line that YAML reads as
  text, not as a comment (inside a block scalar's script or a quoted
  string): it suppresses nothing. When some marker of a file lies in
  such text, at most 64 markers of that file are checked one by one; the
  rest count as bad suppressions, so that a file of thousands of markers
  costs a bounded time.
- **ward.yaml**: an ` + "`ignore`" + ` entry with ` + "`rule`" + ` (an id, or a pattern such as ` + "`pss/*`" + `),
  optional ` + "`path`" + ` (a file glob, from ward.yaml's directory; ` + "`**/`" + ` in front for any depth) and ` + "`object`" + ` (a pattern), and a required ` + "`reason`" + `.
  This is how a "missing X" finding that no line can carry is silenced. An
  entry that matches nothing is reported as ` + "`input/stale-ignore`" + ` (info). See
  [ward-yaml.md](ward-yaml.md). ` + "`rule`" + ` may also be a check id of kube-linter, Polaris,
  Trivy, hadolint, KICS or Docker's build checks, so an ignore list carries over: see
  [Migrating from other auditors](#migrating-from-other-auditors).

`

func anchor(id string) string {
	return strings.NewReplacer("/", "", ".", "", "_", "").Replace(strings.ToLower(id))
}

func renderRulesDoc() string {
	var b strings.Builder
	b.WriteString(rulesIntro)
	rules := allRules()
	for _, fam := range families {
		fmt.Fprintf(&b, "## %s\n\n%s\n\n| Rule | Severity | Summary |\n|------|----------|---------|\n", fam.title, fam.intro)
		var in []finding.Rule
		for _, r := range rules {
			if strings.HasPrefix(r.ID, fam.prefix) {
				in = append(in, r)
				fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s |\n", r.ID, anchor(r.ID), r.Severity, strings.ReplaceAll(r.Summary, "|", "\\|"))
			}
		}
		for _, r := range in {
			fmt.Fprintf(&b, "\n### `%s`\n\nSeverity: **%s**. %s\n\n**Why it matters.** %s\n\n**How to fix.** %s\n", r.ID, r.Severity, r.Summary, r.Rationale, r.Fix)
			if len(r.Equivalents) > 0 {
				fmt.Fprintf(&b, "\n**Equivalents.** %s\n", strings.Join(r.Equivalents, ", "))
			}
		}
		b.WriteString("\n")
	}
	renderPeers(&b)
	return strings.TrimRight(b.String(), "\n") + "\n"
}

const peersIntro = `## Migrating from other auditors

Every security check of kube-linter, Polaris, Trivy (KSV, KCV and DS checks),
hadolint, KICS (Kubernetes, Dockerfile and Compose queries) and Docker's build
checks, with the Ward rules that cover it (the table is package ` + "`peers`" + `).
A check is **covered** when Ward has rules that flag what it flags; **covered
differently** when Ward flags more, less, or judges by other semantics (the
table says how, and why Ward judges as it does); **left** to the peer when Ward
has no rule for it (style, not about security, correctness, obsolete, or an
object Ward does not read).

In ward.yaml, an ` + "`ignore`" + ` entry's ` + "`rule`" + ` may be one of these ids, written as
the tool writes it: Trivy's ` + "`KSV-0014`" + `, ` + "`KSV014`" + ` or ` + "`AVD-KSV-0014`" + ` (also DS and
KCV, with or without ` + "`trivy:`" + `), hadolint's ` + "`DL3002`" + `, a KICS query's UUID or
` + "`kics:<platform>/<query>`" + `; names that any tool could use take the tool as prefix:
` + "`kube-linter:run-as-non-root`" + `, ` + "`polaris:hostIPCSet`" + `, ` + "`docker:SecretsUsedInArgOrEnv`" + `.
A covered id silences exactly the Ward rules listed for it; an id covered
differently silences its rules too, with a warning saying what it maps to; an
id left to the peer silences nothing, with a warning. Any other id that is not
a Ward rule, nor a pattern matching one, stops the run (exit 2) with the
entry's file and line.
`

// sentence capitalises s's first letter.
func sentence(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// renderPeers writes the migration tables, one section per peer.
func renderPeers(b *strings.Builder) {
	b.WriteString("\n" + peersIntro)
	checks := peers.Checks()
	rulesOf := func(c peers.Check) string {
		var rs []string
		for _, r := range c.Rules {
			rs = append(rs, fmt.Sprintf("[`%s`](#%s)", r, anchor(r)))
		}
		return strings.Join(rs, ", ")
	}
	cell := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	id := func(c peers.Check) string {
		if c.UUID != "" {
			return fmt.Sprintf("`%s` (`%s`)", c.ID, c.UUID)
		}
		return "`" + c.ID + "`"
	}
	for _, p := range peers.All {
		var cov, diff, left []peers.Check
		for _, c := range checks {
			switch {
			case c.Peer != p:
			case c.Relation == peers.Equivalent:
				cov = append(cov, c)
			case c.Relation == peers.Left:
				left = append(left, c)
			default:
				diff = append(diff, c)
			}
		}
		fmt.Fprintf(b, "\n### %s\n\n%d security checks: %d covered, %d covered differently, %d left to %s.\n", p.Title(), len(cov)+len(diff)+len(left), len(cov), len(diff), len(left), p.Title())
		if len(cov) > 0 {
			b.WriteString("\n**Covered.**\n\n| Check | What it flags | Ward |\n|---|---|---|\n")
			for _, c := range cov {
				fmt.Fprintf(b, "| %s | %s | %s |\n", id(c), cell(c.Title), rulesOf(c))
			}
		}
		if len(diff) > 0 {
			b.WriteString("\n**Covered differently.**\n\n| Check | What it flags | Ward | How and why |\n|---|---|---|---|\n")
			for _, c := range diff {
				fmt.Fprintf(b, "| %s | %s | %s | %s. %s |\n", id(c), cell(c.Title), rulesOf(c), sentence(string(c.Relation)), cell(c.Why))
			}
		}
		if len(left) > 0 {
			fmt.Fprintf(b, "\n**Left to %s.**\n\n| Check | What it flags | Why |\n|---|---|---|\n", p.Title())
			for _, c := range left {
				fmt.Fprintf(b, "| %s | %s | %s. %s |\n", id(c), cell(c.Title), sentence(string(c.Left)), cell(c.Why))
			}
		}
	}
}

// TestRulesDoc keeps docs/rules.md in step with the registries: every rule
// of every family, nothing stale (go test ./internal/cli -run TestRulesDoc
// -update rewrites it).
func TestRulesDoc(t *testing.T) {
	got := renderRulesDoc()
	if *update {
		if err := os.WriteFile(rulesDoc, []byte(got), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(rulesDoc)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -run TestRulesDoc -update)", err)
	}
	if diff := cmp.Diff(got, string(data)); diff != "" {
		t.Errorf("docs/rules.md is stale (-generated +file); run go test ./internal/cli -run TestRulesDoc -update:\n%s", diff)
	}
	seen := map[string]bool{}
	for _, r := range allRules() {
		if seen[r.ID] {
			t.Errorf("rule %s is registered twice", r.ID)
		}
		seen[r.ID] = true
		if r.Summary == "" || r.Rationale == "" || r.Fix == "" {
			t.Errorf("rule %s lacks a summary, rationale or fix", r.ID)
		}
		found := false
		for _, fam := range families {
			found = found || strings.HasPrefix(r.ID, fam.prefix)
		}
		if !found {
			t.Errorf("rule %s belongs to no documented family", r.ID)
		}
	}
}
