package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wardsec/ward/assertion"
	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/lint"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/report"
)

func checkCmd(e *env) *cobra.Command {
	var out, failOn, config string
	c := &cobra.Command{
		Use:   "check PATH...",
		Short: "Lint policies and check assertions: the CI gate",
		Long: `Lint the NetworkPolicies in PATH, check the assertions of ward.yaml (in
PATH, or --config), and report every finding.

Input errors do not stop the check: unreadable or malformed inputs become
findings, everything else is still checked, and the run exits 2.

Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or input
error.`,
		Example: `  ward check examples/shop
  ward check deploy/ -o json --fail-on medium`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outputFlag(out, "text", "json"); err != nil {
				return err
			}
			min, err := finding.ParseSeverity(failOn)
			if err != nil {
				return fail(ExitError, fmt.Errorf("--fail-on: %w", err))
			}
			path, err := configPath(config, args)
			if err != nil {
				return fail(ExitError, err)
			}
			var cfg *assertion.Config
			if path != "" {
				if cfg, err = assertion.ReadFile(path); err != nil {
					return fail(ExitError, err)
				}
			}
			set, loadErr := e.loadAll(args)
			if set == nil {
				set = &manifest.Set{}
			}
			fs := inputFindings(loadErr)
			inputErrors := len(fs)
			eng, err := e.compile(set)
			if err != nil {
				return err
			}
			fs = append(fs, lint.Run(set, eng)...)
			if cfg != nil {
				fs = append(fs, assertion.Findings(cfg.File, assertion.Check(eng, cfg))...)
			}
			fs = finding.Sort(fs)
			res := &report.CheckResult{Findings: fs, Summary: report.CheckSummary{
				Summary: finding.Summarize(fs), FailOn: min.String(),
				Failed: finding.AtLeast(fs, min), Objects: len(set.Objects),
				Skipped: len(set.Skipped), InputErrors: inputErrors,
			}}
			if res.Findings == nil {
				res.Findings = []finding.Finding{}
			}
			if out == "json" {
				err = report.JSON(e.stdout, res)
			} else {
				err = report.FindingsText(e.stdout, res)
			}
			if err != nil {
				return err
			}
			switch {
			case inputErrors > 0:
				return fail(ExitError, nil)
			case res.Summary.Failed:
				return fail(ExitFindings, nil)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "text", "output format: text or json")
	c.Flags().StringVar(&failOn, "fail-on", "high", "exit 1 on findings at or above this severity: info, low, medium, high, critical")
	c.Flags().StringVar(&config, "config", "", "assertions file (default: ward.yaml in PATH when present)")
	return c
}

// inputFindings turns load errors into findings: input/unreadable for a
// file that cannot be read or parsed, input/invalid for a malformed object.
func inputFindings(err error) []finding.Finding {
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var out []finding.Finding
	for _, e := range errs {
		f := finding.Finding{Rule: "input/unreadable", Severity: finding.High, Message: e.Error(),
			Fix: "fix the file so it parses, or exclude it from the paths given to ward"}
		var me *manifest.Error
		if errors.As(e, &me) {
			f.File, f.Line, f.Object = me.File, me.Line, me.Object
			f.Message = me.Err.Error()
			if me.Object != "" {
				f.Rule = "input/invalid"
				f.Fix = "fix the object so the Kubernetes API would accept it"
			}
		}
		out = append(out, f)
	}
	return out
}
