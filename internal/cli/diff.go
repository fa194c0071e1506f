package cli

import (
	"github.com/spf13/cobra"

	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/report"
)

func diffCmd(e *env) *cobra.Command {
	var out string
	var exitCode bool
	c := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "Show how reachability changes between two versions",
		Long: `Compare the reachability of two versions of the manifests (files or
directories) and list every pair whose allowed ports differ: added,
removed, or changed. It compares what may flow, not the YAML text.

With --exit-code, exit 1 when anything changed (for CI).`,
		Example: `  ward diff old/ new/
  git show main:deploy.yaml > /tmp/old.yaml && ward diff /tmp/old.yaml deploy.yaml --exit-code`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outputFlag(out, "text", "json"); err != nil {
				return err
			}
			var engs [2]*netpol.Engine
			for i, p := range args {
				eng, err := e.engine([]string{p})
				if err != nil {
					return err
				}
				engs[i] = eng
			}
			cs := netpol.Diff(engs[0], engs[1])
			var err error
			if out == "json" {
				if cs == nil {
					cs = []netpol.Change{}
				}
				err = report.JSON(e.stdout, map[string]any{"changes": cs})
			} else {
				err = report.DiffText(e.stdout, cs)
			}
			if err != nil {
				return err
			}
			if exitCode && len(cs) > 0 {
				return fail(ExitFindings, nil)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "text", "output format: text or json")
	c.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when reachability changed")
	e.addWorkloadsFlag(c)
	return c
}
