package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardsec/ward/assertion"
	"github.com/wardsec/ward/lint"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/report"
	"github.com/wardsec/ward/srcpos"
	"github.com/wardsec/ward/suppress"
)

// configPath finds ward.yaml: the flag if given, else ward.yaml in the
// PATH argument that is a directory holding one. It returns "" when there
// is none. Two PATH directories holding a ward.yaml are an error: the
// first was taken, so a ward.yaml that a pull request added to the first
// directory replaced the assertions and ignores of the second.
func configPath(flag string, paths []string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	found := ""
	for _, p := range paths {
		if p == "-" {
			continue
		}
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			continue
		}
		if err := misnamedConfig(p); err != nil {
			return "", err
		}
		c := filepath.Join(p, "ward.yaml")
		st, err = os.Stat(c)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return "", err
		case found == "":
			found = c
		case !sameFile(found, c) && !(st.Mode().IsRegular() && looksLikeObjects(c, st.Size(), 0)):
			return "", fmt.Errorf("%s and %s: two PATH directories hold a ward.yaml; Ward reads one per run: give it with --config", report.Printable(found), report.Printable(c))
		}
	}
	return found, nil
}

func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// misnamedConfig refuses a file of dir named as ward.yaml but for the
// case or the extension (ward.yml, Ward.yaml) that does not hold
// Kubernetes objects: it is not read, so renaming ward.yaml so dropped
// its assertions and ignores while ward check passed, the file skipped
// as a document that is not a Kubernetes object.
func misnamedConfig(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, d := range entries {
		name := d.Name()
		if name == "ward.yaml" || !strings.EqualFold(name, "ward.yaml") && !strings.EqualFold(name, "ward.yml") {
			continue
		}
		path := filepath.Join(dir, name)
		st, err := os.Stat(path)
		if err != nil || !st.Mode().IsRegular() || looksLikeObjects(path, st.Size(), 0) {
			continue
		}
		return fmt.Errorf("%s: not read: Ward reads its assertions, ignores and settings from a file named ward.yaml; rename it, or give it with --config", report.Printable(path))
	}
	return nil
}

func assertCmd(e *env) *cobra.Command {
	var out, expect, config string
	c := &cobra.Command{
		Use:   "assert PATH... [--expect FILE]",
		Short: "Check reachability assertions (ward.yaml) against the policies",
		Long: `Check the assertions of ward.yaml (or --expect FILE) against the
NetworkPolicies in PATH. Each failure shows the explain trace of a failing
flow. See docs/ward-yaml.md for the format.

Exit codes: 0 all hold, 1 some fail, 2 usage or input error (a file
without assertions included: it would pass while checking nothing; and
policies Ward does not evaluate, such as Calico's or Cilium's, that
ward.yaml has not acknowledged: they may allow or deny what is asserted).`,
		Example: `  ward assert examples/shop
  ward assert deploy/ --expect policy-tests.yaml -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outputFlag(out, "text", "json"); err != nil {
				return err
			}
			if expect == "" {
				expect = config
			}
			path, err := configPath(expect, args)
			if err != nil {
				return fail(ExitError, err)
			}
			if path == "" {
				return fail(ExitError, fmt.Errorf("no assertions: pass --expect FILE or put a ward.yaml in PATH"))
			}
			cfg, err := e.readConfig(path)
			if err != nil {
				return err
			}
			if len(cfg.Assertions) == 0 {
				// Passing would be a gate that checks nothing (an empty or
				// truncated file, assertions under a misspelt key).
				return fail(ExitError, fmt.Errorf("%s holds no assertions: nothing to check (see docs/ward-yaml.md)", path))
			}
			set, err := e.load(args)
			if err != nil {
				return err
			}
			if err := undecided(set, cfg); err != nil {
				return fail(ExitError, err)
			}
			eng, err := e.compile(set)
			if err != nil {
				return err
			}
			rs := assertion.Check(eng, cfg)
			failed, open := 0, 0
			for _, r := range rs {
				switch {
				case r.Undecided:
					open++
				case !r.Passed:
					failed++
				}
			}
			if out == "json" {
				err = report.JSON(e.stdout, map[string]any{"file": path, "results": rs, "failed": failed, "undecided": open})
			} else {
				err = assertText(e, path, rs, failed, open)
			}
			if err != nil {
				return err
			}
			if open > 0 {
				// A verdict on labels the input does not give is no
				// verdict: exit as for other input that cannot be judged.
				return fail(ExitError, fmt.Errorf("%d of %d assertions cannot be decided: they depend on what the input does not give (namespace labels, pods of custom resources), as each says", open, len(rs)))
			}
			if failed > 0 {
				return fail(ExitFindings, nil)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "text", "output format: text or json")
	c.Flags().StringVar(&expect, "expect", "", "assertions file (default: ward.yaml in PATH)")
	c.Flags().StringVar(&config, "config", "", "same as --expect")
	e.addWorkloadsFlag(c)
	return c
}

// undecided refuses to judge assertions while the input holds policies
// Ward does not evaluate (a Calico or Cilium policy, a Helm test hook)
// that ward.yaml has not acknowledged: such a policy may allow a flow an
// assertion forbids, or deny one it requires, so a PASS would be a clean
// result from input Ward did not read (see unacknowledged).
func undecided(set *manifest.Set, cfg *assertion.Config) error {
	ignores, _, err := resolveIgnores(cfg)
	if err != nil {
		return err
	}
	if open := unacknowledged(set, ignores); len(open) > 0 {
		return errors.New(undecidedMessage(open))
	}
	return nil
}

// unacknowledged returns, printable, the policies of set that Ward does
// not evaluate and that no ignore entry of ward.yaml (resolved, as
// resolveIgnores returns them) acknowledges. Only an entry whose rule is
// input/unsupported-policy itself acknowledges one: an entry of a
// wildcard ("*", "input/*", often narrowed to a vendored directory to
// silence its hardening findings) or of a peer auditor's check silences
// the finding in ward check, but says nothing about judging the
// assertions without the policy. Annotations on the policy do not
// either: they are its own author's word.
func unacknowledged(set *manifest.Set, ignores []suppress.Ignore) []string {
	fs := lint.Unevaluated(set)
	if len(fs) == 0 {
		return nil
	}
	var explicit []suppress.Ignore
	for _, ig := range ignores {
		if ig.Rule == lint.RuleUnsupportedPolicy && ig.Rules == nil {
			explicit = append(explicit, ig)
		}
	}
	fs, _ = suppress.Apply(fs, nil, explicit)
	var open []string
	for _, f := range fs {
		if f.Suppressed == nil {
			open = append(open, report.Printable(srcpos.At(f.File, f.Line, "%s", f.Object).Error()))
		}
	}
	return open
}

// undecidedMessage says why the assertions cannot be decided, naming the
// first few of the open policies.
func undecidedMessage(open []string) string {
	n := len(open)
	const most = 5
	more := ""
	if n > most {
		more = fmt.Sprintf(" and %d more", n-most)
		open = open[:most]
	}
	noun := "policies"
	if n == 1 {
		noun = "policy"
	}
	return fmt.Sprintf("the assertions cannot be decided: %d %s that Ward does not evaluate may allow or deny the flows they assert (%s%s); review each and acknowledge it in ward.yaml's ignore (rule: input/unsupported-policy itself, not a wildcard, with a reason) to check the assertions without it (docs/ward-yaml.md)",
		n, noun, strings.Join(open, "; "), more)
}

func assertText(e *env, path string, rs []assertion.Result, failed, open int) error {
	w := e.stdout
	for _, r := range rs {
		mark := "PASS"
		switch {
		case r.Undecided:
			mark = "UNDECIDED"
		case !r.Passed:
			mark = "FAIL"
		}
		// The name is ward.yaml's: raw, "\r\x1b[2KPASS" in it showed a
		// failed assertion as passed on the screen.
		if _, err := fmt.Fprintf(w, "%s  %s:%d  %s\n", mark, report.Printable(path), r.Line, report.Printable(r.Name)); err != nil {
			return err
		}
		if r.Passed {
			continue
		}
		fmt.Fprintf(w, "      %s\n", report.Printable(r.Reason))
		for _, v := range r.Violations {
			fmt.Fprintf(w, "      %s -> %s: %s\n", report.Printable(v.From), report.Printable(v.To), v.Ports)
			// The trace names the policies' files: raw, a file named
			// "np\x1b[1A\x1b[2K..." erased the FAIL line above it.
			for _, line := range assertion.Trace(v.Explanation) {
				fmt.Fprintf(w, "        %s\n", report.Printable(line))
			}
		}
		if r.Failed > len(r.Violations) {
			fmt.Fprintf(w, "      ... and %d more pairs\n", r.Failed-len(r.Violations))
		}
	}
	noun := "assertions"
	if len(rs) == 1 {
		noun = "assertion"
	}
	undecided := ""
	if open > 0 {
		undecided = fmt.Sprintf(", %d undecided", open)
	}
	_, err := fmt.Fprintf(w, "\n%d %s, %d failed%s\n", len(rs), noun, failed, undecided)
	return err
}
