package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
	"github.com/wardsec/ward/report"
)

func reachCmd(e *env) *cobra.Command {
	var out, from, to, port string
	var summary bool
	c := &cobra.Command{
		Use:   "reach PATH...",
		Short: "Show who can reach whom under the NetworkPolicies",
		Long: `Show every allowed connection between workloads (and external address
ranges) under the NetworkPolicies in PATH (files, directories, or - for stdin).

--summary groups workloads that the same policies treat alike into classes:
the readable view of a large cluster.`,
		Example: `  ward reach examples/shop
  ward reach examples/shop --from web/frontend -o json
  ward reach examples/shop --summary
  kubectl get pods,deploy,netpol -A -o yaml | ward reach -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outputFlag(out, "table", "json", "dot", "matrix"); err != nil {
				return err
			}
			if summary && (out == "dot" || out == "matrix") {
				return fail(ExitError, fmt.Errorf("--summary supports -o table or json"))
			}
			ports, err := portFlag(port)
			if err != nil {
				return err
			}
			eng, err := e.engine(args)
			if err != nil {
				return err
			}
			f := netpol.Filter{Ports: ports}
			if f.From, err = endpointFilter(eng, "--from", from); err != nil {
				return err
			}
			if f.To, err = endpointFilter(eng, "--to", to); err != nil {
				return err
			}
			if summary {
				start := time.Now()
				s := eng.Summarize(f)
				e.log.Debug("summarized", "classes", len(s.Classes), "groups", len(s.Groups), "elapsed", time.Since(start))
				if out == "json" {
					return report.SummaryJSON(e.stdout, s)
				}
				return report.SummaryText(e.stdout, s)
			}
			start := time.Now()
			r := eng.Reach(f)
			e.log.Debug("reach", "workloads", len(r.Workloads), "connections", len(r.Connections), "elapsed", time.Since(start))
			switch out {
			case "json":
				return report.ReachJSON(e.stdout, r)
			case "dot":
				return report.ReachDOT(e.stdout, r)
			case "matrix":
				return report.ReachMatrix(e.stdout, r)
			}
			return report.ReachTable(e.stdout, r)
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "table", "output format: table, json, dot or matrix")
	c.Flags().BoolVar(&summary, "summary", false, "group workloads into classes that policies treat alike")
	c.Flags().StringVar(&from, "from", "", "only connections from this source (namespace, namespace/name, IP or svc:namespace/name)")
	c.Flags().StringVar(&to, "to", "", "only connections to this destination (same forms as --from)")
	c.Flags().StringVar(&port, "port", "", "only these ports, e.g. 5432/TCP or 80-90/TCP")
	e.addWorkloadsFlag(c)
	return c
}

// endpointFilter turns a --from/--to value into a predicate. A bare name
// without "/" or ":" is a namespace.
func endpointFilter(eng *netpol.Engine, flag, val string) (func(*netpol.Endpoint) bool, error) {
	if val == "" {
		return nil, nil
	}
	if !strings.ContainsAny(val, "/:") && !strings.Contains(val, ".") {
		found := false
		for _, ep := range eng.Endpoints() {
			if ep.Workload != nil && ep.Workload.Namespace == val {
				found = true
				break
			}
		}
		if !found {
			return nil, fail(ExitError, fmt.Errorf("%s %q: no workload in that namespace", flag, val))
		}
		return func(ep *netpol.Endpoint) bool { return ep.Workload != nil && ep.Workload.Namespace == val }, nil
	}
	ts, err := eng.Resolve(val, portset.Set{})
	if err != nil {
		return nil, fail(ExitError, fmt.Errorf("%s: %w", flag, err))
	}
	in := map[*netpol.Endpoint]bool{}
	for _, t := range ts {
		in[t.Endpoint] = true
	}
	return func(ep *netpol.Endpoint) bool { return in[ep] }, nil
}
