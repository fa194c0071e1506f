package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"

	"github.com/wardsec/ward/assertion"
	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/helmchart"
	"github.com/wardsec/ward/internal/gcbudget"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
	"github.com/wardsec/ward/report"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitFindings = 1
	ExitError    = 2
)

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// fail returns an error that exits with code after printing err (if any).
func fail(code int, err error) error { return &exitError{code: code, err: err} }

// env is what every command shares.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	namespace      string
	verbose        bool
	log            *slog.Logger
	// maxInput is --max-input-size: no input file is read past it.
	maxInput int64
	// selectorKeys are the label keys ward.yaml's assertions select on
	// (readConfig), for manifest.Options.SelectorKeys.
	selectorKeys []string
	// workloads is --workloads: inputs whose workloads the policies are
	// evaluated against (reach, diff, assert, check).
	workloads []string
	// evaluates is set by the commands that evaluate policies against
	// workloads, which warn when the input holds none.
	evaluates bool
	// chart is how Helm charts in the input are rendered (charts.go).
	chart helmchart.Options
	// warned are the warnings written: a check of several environments
	// loads what they share once per environment, and says it once.
	warned map[string]bool
}

// warn writes a warning on standard error, once per run. Its arguments
// are made printable one by one, line breaks included: they hold file
// names and values from the input, and a file named "a\nward: warning:
// ..." printed a warning line of its own choosing (the format, Ward's own,
// keeps its line breaks).
func (e *env) warn(format string, args ...any) {
	for i, a := range args {
		switch v := a.(type) {
		case string:
			args[i] = report.Printable(v)
		case error:
			args[i] = report.Printable(v.Error())
		case fmt.Stringer:
			args[i] = report.Printable(v.String())
		}
	}
	msg := fmt.Sprintf(format, args...)
	if e.warned[msg] {
		return
	}
	if e.warned == nil {
		e.warned = map[string]bool{}
	}
	e.warned[msg] = true
	fmt.Fprintf(e.stderr, "ward: warning: %s\n", report.PrintableLines(msg))
}

// addWorkloadsFlag gives c the --workloads flag; c warns when its input
// holds no workloads.
func (e *env) addWorkloadsFlag(c *cobra.Command) {
	c.Flags().StringArrayVar(&e.workloads, "workloads", nil, "evaluate the policies against the workloads (and their namespaces and Services) of this PATH too, for policy-only input (repeatable)")
	c.PreRun = func(*cobra.Command, []string) { e.evaluates = true }
}

// Run runs ward with args (without the program name) and returns the exit
// code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	var cpuProfile, memProfile string
	maxInput := manifest.FormatSize(manifest.DefaultMaxFileSize)
	root := &cobra.Command{
		Use:   "ward",
		Short: "Ward: container network security, with proof",
		Long: `Ward reads Kubernetes manifests and computes exactly who can reach whom
under their NetworkPolicies; it explains any flow, diffs two versions,
checks reachability assertions and lints policies.

Exit codes: 0 clean, 1 findings or failed assertions, 2 usage or input error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// --kube-version given is the cluster's: charts gated on
			// .Capabilities.KubeVersion are not rendered for others.
			e.chart.ExactKubeVersion = cmd.Flags().Changed("kube-version")
			// So is --namespace the release's: charts that compare
			// .Release.Namespace are not rendered in others.
			e.chart.ExactNamespace = cmd.Flags().Changed("namespace")
			n, err := parseSize(maxInput)
			if err != nil {
				return fail(ExitError, fmt.Errorf("--max-input-size: %w", err))
			}
			e.maxInput = n
			// As kubectl's -n and helm's: a namespace the API server refuses
			// holds nothing, so no object read into it is in force.
			if e.namespace != "" {
				if msgs := apivalidation.ValidateNamespaceName(e.namespace, false); len(msgs) > 0 {
					return fail(ExitError, fmt.Errorf("--namespace: invalid namespace %q: %s", e.namespace, msgs[0]))
				}
			}
			if err := e.chartOptions(); err != nil {
				return fail(ExitError, err)
			}
			level := slog.LevelWarn
			if e.verbose {
				level = slog.LevelDebug
			}
			e.log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile) // #nosec G304 -- a path the user chose for the profile
				if err == nil {
					err = pprof.StartCPUProfile(f)
				}
				if err != nil {
					e.log.Error("cpuprofile", "err", err)
					cpuProfile = ""
				}
			}
			return nil
		},
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVarP(&e.namespace, "namespace", "n", "default", "namespace given to objects that name none (not a filter, unlike kubectl's -n)")
	e.addChartFlags(root)
	root.PersistentFlags().StringVar(&maxInput, "max-input-size", maxInput, "largest input file (manifest, stdin, ward.yaml, inventory, a file of a chart or kustomization) Ward reads, and largest output of a chart or kustomization it renders, such as 512MiB")
	root.PersistentFlags().BoolVarP(&e.verbose, "verbose", "v", false, "log progress and timings to stderr")
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file (for performance work)")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentFlags().StringVar(&memProfile, "memprofile", "", "write a heap profile to this file when the command ends (for performance work)")
	_ = root.PersistentFlags().MarkHidden("memprofile")
	defer func() {
		if cpuProfile != "" {
			pprof.StopCPUProfile()
		}
		if memProfile != "" {
			runtime.GC()                    // up-to-date in-use figures
			f, err := os.Create(memProfile) // #nosec G304 -- a path the user chose for the profile
			if err == nil {
				err = pprof.Lookup("heap").WriteTo(f, 0)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				fmt.Fprintf(stderr, "ward: memprofile: %v\n", err)
			}
		}
	}()
	root.AddCommand(
		reachCmd(e),
		explainCmd(e),
		diffCmd(e),
		assertCmd(e),
		checkCmd(e),
		proxyCmd(e),
		certCmd(e),
		fwCmd(e),
		labCmd(e),
		watchCmd(e),
		&cobra.Command{
			Use:   "version",
			Short: "Print Ward's version (as ward --version)",
			Args:  cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				_, err := fmt.Fprintf(e.stdout, "ward version %s\n", Version)
				return err
			},
		},
	)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fail(ExitError, fmt.Errorf("%w (see '%s --help')", err, c.CommandPath()))
	})
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "ward: %s\n", report.PrintableLines(ee.err.Error()))
		}
		return ee.code
	}
	// Anything else from cobra is a usage error: unknown command, wrong
	// number of arguments: say where the usage is, as for a bad flag.
	msg := strings.TrimRight(err.Error(), "\n")
	if cmd != nil && !strings.Contains(msg, "--help") {
		if strings.Contains(msg, "\n") { // cobra's "Did you mean this?" list
			msg += "\n\n"
		} else {
			msg += " "
		}
		msg += fmt.Sprintf("(see '%s --help')", cmd.CommandPath())
	}
	fmt.Fprintf(stderr, "ward: %s\n", msg)
	return ExitError
}

// Main is the entry point of cmd/ward.
func Main() {
	// GOGC=200 while the heap is small, a budget that follows the live
	// heap on large inputs (see gcbudget); GOGC or GOMEMLIMIT in the
	// environment still win.
	gcbudget.Start()
	os.Exit(Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// load reads paths and aborts on any input error. Policies of kinds Ward
// does not evaluate are announced on stderr: results that silently ignore
// them would give false assurance (`ward check` reports them as findings).
func (e *env) load(paths []string) (*manifest.Set, error) {
	in := scanInputs(paths, e.maxInput, &e.chart)
	if len(in.unreadable) > 0 {
		return nil, fail(ExitError, errors.New(in.unreadable[0].Location()+": "+in.unreadable[0].Message))
	}
	if envs := e.environments(in); len(envs) > 1 {
		return nil, fail(ExitError, fmt.Errorf("%s emit the same objects: each is a cluster of its own (an environment); give one of them (ward check checks each)", environmentNames(envs)))
	}
	set, err := e.loadWith(in, false)
	if err != nil {
		return nil, fail(ExitError, err)
	}
	if set.KubernetesObjects == 0 {
		return nil, fail(ExitError, noManifests(paths, "no Kubernetes object"))
	}
	if set, _, err = e.joinWorkloads(set, paths); err != nil {
		return nil, err
	}
	for _, u := range set.Unsupported {
		name := u.Name
		if u.Namespace != "" {
			name = u.Namespace + "/" + u.Name
		}
		why := ""
		if u.Reason != "" {
			why = " (" + u.Reason + ")"
		}
		fmt.Fprintf(e.stderr, "ward: warning: %s\n", report.Printable(fmt.Sprintf("%s: %s %s (%s) is not evaluated%s: the results below ignore it", u.Source, u.Kind, name, u.APIVersion, why)))
	}
	for _, s := range set.Skipped {
		// An object whose apiVersion was forgotten: kubectl refuses it, so
		// it is not in force, but the user meant one (a default deny).
		if s.Kind != "" && s.Kind != "Kustomization" && strings.Contains(s.Reason, "no apiVersion") {
			fmt.Fprintf(e.stderr, "ward: warning: %s\n", report.Printable(fmt.Sprintf("%s: %s without apiVersion is not a Kubernetes object (kubectl refuses it): the results below ignore it", s.Source, s.Kind)))
		}
	}
	e.warnPodSpecs(set, false)
	return set, nil
}

// warnPodSpecs announces, once each, the custom resources of set that
// carry pod specs. `ward check` (audited) audits them, but the pods their
// operators create are not in the network model; other commands do not
// audit them. A pod spec that does not decode is not audited: it is
// named with the reason.
func (e *env) warnPodSpecs(set *manifest.Set, audited bool) {
	for _, s := range set.Skipped {
		if len(s.PodSpecs)+len(s.PodSpecErrors) == 0 {
			continue
		}
		name := s.Name
		if s.Namespace != "" {
			name = s.Namespace + "/" + s.Name
		}
		if !audited && len(s.PodSpecs) > 0 {
			e.warn("%s: %s %s (%s) carries pod specs that this command does not audit (%s): the pods its operator creates are not in the network model; `ward check` audits their specs",
				s.Source, s.Kind, name, s.APIVersion, strings.Join(s.PodSpecs, ", "))
			continue
		}
		if len(s.Pods) > 0 {
			paths := make([]string, len(s.Pods))
			for i, w := range s.Pods {
				paths[i] = w.Embedded
			}
			e.warn("%s: %s %s (%s) carries pod specs (%s): Ward audits them, but the pods its operator creates are not in the network model (their labels are unknown), so reachability results leave them out",
				s.Source, s.Kind, name, s.APIVersion, strings.Join(paths, ", "))
		}
		for _, pe := range s.PodSpecErrors {
			if pe.Path == "" {
				e.warn("%s:%d: %s %s (%s) may carry pod specs that Ward does not audit: %s; review it by hand, or check the pods its operator creates (kubectl get pods -o yaml)",
					s.Source.File, pe.Line, s.Kind, name, s.APIVersion, pe.Err)
				continue
			}
			if !audited {
				continue
			}
			e.warn("%s:%d: %s %s (%s) carries a pod spec that Ward does not audit (%s): it does not decode as a Kubernetes pod spec (%s); the pods its operator creates are not checked; review them by hand, or check those pods (kubectl get pods -o yaml)",
				s.Source.File, pe.Line, s.Kind, name, s.APIVersion, pe.Path, pe.Err)
		}
	}
}

// joinWorkloads adds the workloads of --workloads to set, and warns when
// a command that evaluates policies has none: policies that select nothing
// allow and deny nothing, so the answers would say little. It also returns
// the files that only --workloads brought in.
func (e *env) joinWorkloads(set *manifest.Set, paths []string) (*manifest.Set, map[string]bool, error) {
	if !e.evaluates {
		return set, nil, nil
	}
	joined := map[string]bool{}
	if len(e.workloads) > 0 {
		in := scanInputs(e.workloads, e.maxInput, &e.chart)
		if len(in.unreadable) > 0 {
			return nil, nil, fail(ExitError, errors.New("--workloads: "+in.unreadable[0].Location()+": "+in.unreadable[0].Message))
		}
		w, err := e.loadWith(in, false)
		if err != nil {
			return nil, nil, fail(ExitError, fmt.Errorf("--workloads: %w", err))
		}
		if w.KubernetesObjects == 0 {
			return nil, nil, fail(ExitError, fmt.Errorf("--workloads: %w", noManifests(e.workloads, "no Kubernetes object")))
		}
		for _, o := range w.Objects {
			joined[o.Source.File] = true
		}
		for _, o := range set.Objects {
			delete(joined, o.Source.File)
		}
		set = set.WithWorkloads(w)
	}
	if len(set.Workloads) == 0 && set.KubernetesObjects > 0 { // not for check's Dockerfiles alone
		where := strings.Join(paths, ", ")
		if len(e.workloads) > 0 {
			where += " and --workloads " + strings.Join(e.workloads, ", ")
		}
		e.warn("%s holds no workloads: policies select nothing, so the results below say little; give the workloads' manifests too, or --workloads PATH", where)
	}
	return set, joined, nil
}

// noManifests is the error for input that holds nothing Ward reads: never
// a clean result about nothing.
func noManifests(paths []string, what string) error {
	return fmt.Errorf("no manifests found in %s: %s", strings.Join(paths, ", "), what)
}

// loadWith reads the manifests of in (files, directories, standard input
// and rendered kustomizations) and returns what loaded plus every input
// error. With lines it records field lines for findings inside pod
// templates.
func (e *env) loadWith(in *inputs, lines bool) (*manifest.Set, error) {
	start := time.Now()
	for _, w := range in.warnings {
		e.warn("%s", w)
	}
	var progress func(int, int64)
	p := newLoadProgress(e.stderr)
	if p != nil {
		progress = p.update
	}
	set, err := manifest.Load(manifest.Options{
		Progress:         progress,
		DefaultNamespace: e.namespace,
		Stdin:            e.stdin,
		// ward.yaml holds assertions; Compose files, Dockerfiles and
		// kustomization directories are read by other means.
		Skip:         in.skip,
		Rendered:     in.rendered,
		FieldLines:   lines,
		SelectorKeys: e.selectorKeys,
		MaxFileSize:  e.maxInput,
		Data:         in.loaderData(),
	}, in.manifests...)
	if p != nil {
		p.done() // before anything else is written
	}
	if set != nil {
		for _, w := range set.Warnings {
			e.warn("%v", w)
		}
		e.log.Debug("loaded", "workloads", len(set.Workloads), "policies", len(set.Policies),
			"namespaces", len(set.Namespaces), "skipped", len(set.Skipped), "kustomizations", len(in.rendered), "elapsed", time.Since(start))
	}
	return set, err
}

func (e *env) compile(set *manifest.Set) (*netpol.Engine, error) {
	start := time.Now()
	eng, err := netpol.Compile(set)
	if err != nil {
		return nil, fail(ExitError, err)
	}
	e.log.Debug("compiled", "endpoints", len(eng.Endpoints()), "classes", len(eng.Classes()), "elapsed", time.Since(start))
	return eng, nil
}

// engine loads paths, aborting on any input error, and compiles them.
// Verdicts that may rest on labels of namespaces the input does not
// declare are warned of (warnUnknownLabels).
func (e *env) engine(paths []string) (*netpol.Engine, error) {
	set, err := e.load(paths)
	if err != nil {
		return nil, err
	}
	e.warnUnknownLabels(set)
	return e.compile(set)
}

// warnUnknownLabels warns of the NetworkPolicies whose namespaceSelector
// reads labels of a namespace the input has no Namespace object for:
// Ward takes such a namespace to carry kubernetes.io/metadata.name alone,
// so ward explain said DENIED, with no caveat, of a flow that a policy
// admitting {team: storefront} allows on a cluster whose web namespace
// carries that label (ward assert is undecided there, ward diff exits 2).
func (e *env) warnUnknownLabels(set *manifest.Set) {
	ps := assertion.UnknownLabelPolicies(set)
	if len(ps) == 0 {
		return
	}
	var names []string
	for i, p := range ps {
		if i == 5 {
			names = append(names, fmt.Sprintf("and %d more", len(ps)-5))
			break
		}
		names = append(names, fmt.Sprintf("%s/%s (%s)", p.Namespace, p.Name, p.Source))
	}
	e.warn("verdicts may differ on the cluster: NetworkPolicies %s select namespaces by labels that namespaces without a Namespace object in the input may carry there (Ward gives them kubernetes.io/metadata.name alone); give the Namespace objects (kubectl get namespaces -o yaml)",
		strings.Join(names, ", "))
}

// parseSize parses a size in bytes with an optional binary unit: "1048576",
// "512KiB", "64MiB", "2GiB" (K, M, G, T and KB... are read as binary too).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	num := strings.TrimRightFunc(t, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.ToUpper(strings.TrimSpace(t[len(num):]))
	shift := map[string]uint{"": 0, "B": 0, "K": 10, "KB": 10, "KIB": 10, "M": 20, "MB": 20, "MIB": 20,
		"G": 30, "GB": 30, "GIB": 30, "T": 40, "TB": 40, "TIB": 40}
	sh, ok := shift[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || n <= 0 || n > math.MaxInt64>>sh {
		return 0, fmt.Errorf("invalid size %q: want a positive number of bytes, such as 2GiB or 500MiB", s)
	}
	return n << sh, nil
}

// readConfig reads ward.yaml (or an --expect file) under --max-input-size.
func (e *env) readConfig(path string) (*assertion.Config, error) {
	cfg, err := assertion.ReadFile(path, e.maxInput)
	if err != nil {
		return nil, fail(ExitError, err)
	}
	// The model must tell Pods apart by what the assertions select on,
	// as by what the input's selectors do.
	e.selectorKeys = cfg.LabelKeys()
	return cfg, nil
}

// readInventory reads a firewall inventory under --max-input-size.
func (e *env) readInventory(path string) (*firewall.Inventory, error) {
	data, err := manifest.ReadFile(path, e.maxInput)
	if err != nil {
		return nil, &manifest.Error{File: path, Err: fmt.Errorf("%w: %w", manifest.ErrRead, err)}
	}
	return firewall.ParseInventory(path, data)
}

// portFlag parses a --port value; "" means any port (the empty set).
func portFlag(val string) (portset.Set, error) {
	if val == "" {
		return portset.Set{}, nil
	}
	p, err := portset.Parse(val)
	if err != nil {
		return portset.Set{}, fail(ExitError, fmt.Errorf("--port: %w", err))
	}
	return p, nil
}

// outputFlag validates -o against the formats a command supports.
func outputFlag(val string, allowed ...string) error {
	for _, a := range allowed {
		if val == a {
			return nil
		}
	}
	return fail(ExitError, fmt.Errorf("unknown output format %q (want %s)", val, orList(allowed)))
}

// orList writes "a, b or c".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
