package cli

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
	"github.com/wardsec/ward/report"
)

func explainCmd(e *env) *cobra.Command {
	var out, from, to, port string
	var exitCode bool
	c := &cobra.Command{
		Use:   "explain PATH... --from SRC --to DST [--port N/PROTO]",
		Short: "Explain whether a flow is allowed, and why",
		Long: `Give the verdict on connections from SRC to DST and the reasons: which
policies select the source for egress and the destination for ingress, which
rule allows, and why the others do not apply.

SRC and DST are namespace/name (namespace/Kind/name when ambiguous; a bare
name is in the namespace of -n, default "default"), an IP address, or
svc:namespace/name (a Service: its selected workloads, on its target ports;
--port then names a Service port).

Exits 0 whatever the verdict, unless --exit-code: then 1 when denied.`,
		Example: `  ward explain examples/shop --from web/frontend --to api/catalog --port 8080/TCP
  ward explain examples/shop --from web/frontend --to svc:data/postgres -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outputFlag(out, "text", "json"); err != nil {
				return err
			}
			if from == "" || to == "" {
				return fail(ExitError, fmt.Errorf("explain needs --from and --to"))
			}
			q, err := portFlag(port)
			if err != nil {
				return err
			}
			eng, err := e.engine(args)
			if err != nil {
				return err
			}
			from, to := e.qualify(from), e.qualify(to)
			srcs, err := eng.Resolve(from, portset.Set{})
			if err != nil {
				return fail(ExitError, fmt.Errorf("--from: %w", err))
			}
			dsts, err := eng.Resolve(to, q)
			if err != nil {
				return fail(ExitError, fmt.Errorf("--to: %w", err))
			}
			var xs []*netpol.Explanation
			allowed := true
			for _, s := range srcs {
				for _, d := range dsts {
					x := eng.Explain(s.Endpoint, d.Endpoint, d.Ports)
					nameAddress(x, from, to)
					allowed = allowed && x.Allowed
					xs = append(xs, x)
				}
			}
			if out == "json" {
				var v any = xs
				if len(xs) == 1 {
					v = xs[0]
				}
				if err := report.JSON(e.stdout, v); err != nil {
					return err
				}
			} else if err := report.ExplainText(e.stdout, xs); err != nil {
				return err
			}
			if exitCode && !allowed {
				return fail(ExitFindings, nil)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "text", "output format: text or json")
	c.Flags().StringVar(&from, "from", "", "source: namespace/name, namespace/Kind/name, IP or svc:namespace/name")
	c.Flags().StringVar(&to, "to", "", "destination: same forms as --from")
	c.Flags().StringVar(&port, "port", "", "port to ask about, e.g. 5432/TCP (default: any port)")
	c.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when the flow is denied")
	return c
}

// qualify puts a bare workload or Service name, as kubectl users write it,
// in the namespace of -n.
func (e *env) qualify(arg string) string {
	if _, err := netip.ParseAddr(arg); err == nil || strings.Contains(arg, "/") {
		return arg
	}
	if name, ok := strings.CutPrefix(arg, "svc:"); ok {
		return "svc:" + e.namespace + "/" + name
	}
	return e.namespace + "/" + arg
}

// nameAddress names an address asked about as given, not as the range of
// external addresses that holds it.
func nameAddress(x *netpol.Explanation, from, to string) {
	rename := func(arg string, name *string, side *netpol.Side) {
		a, err := netip.ParseAddr(arg)
		if err != nil {
			return
		}
		if _, err := netip.ParsePrefix(strings.Split(*name, ";")[0]); err != nil {
			return // a workload's pod IP: its name says more
		}
		if side.Endpoint == *name {
			side.Endpoint = a.String()
		}
		*name = a.String()
	}
	rename(from, &x.From, &x.Egress)
	rename(to, &x.To, &x.Ingress)
}
