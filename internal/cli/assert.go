package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wardsec/ward/assertion"
	"github.com/wardsec/ward/report"
)

// configPath finds ward.yaml: the flag if given, else ward.yaml in the
// first PATH argument when it is a directory. It returns "" when there is
// none.
func configPath(flag string, paths []string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	for _, p := range paths {
		if p == "-" {
			continue
		}
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			continue
		}
		c := filepath.Join(p, "ward.yaml")
		if _, err := os.Stat(c); err == nil {
			return c, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return "", nil
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
without assertions included: it would pass while checking nothing).`,
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
			eng, err := e.engine(args)
			if err != nil {
				return err
			}
			rs := assertion.Check(eng, cfg)
			failed := 0
			for _, r := range rs {
				if !r.Passed {
					failed++
				}
			}
			if out == "json" {
				err = report.JSON(e.stdout, map[string]any{"file": path, "results": rs, "failed": failed})
			} else {
				err = assertText(e, path, rs, failed)
			}
			if err != nil {
				return err
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

func assertText(e *env, path string, rs []assertion.Result, failed int) error {
	w := e.stdout
	for _, r := range rs {
		mark := "PASS"
		if !r.Passed {
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
			fmt.Fprintf(w, "      %s -> %s: %s\n", v.From, v.To, v.Ports)
			for _, line := range assertion.Trace(v.Explanation) {
				fmt.Fprintf(w, "        %s\n", line)
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
	_, err := fmt.Fprintf(w, "\n%d %s, %d failed\n", len(rs), noun, failed)
	return err
}
