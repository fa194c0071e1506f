package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardsec/ward/firewall"
)

func fwCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "fw",
		Short: "Enforce NetworkPolicies on a Docker host with nftables",
		Long: `Compile the NetworkPolicies of POLICY_PATH for the containers of a host
into an nftables ruleset (table inet ward). See docs/firewall.md.

Only "ward fw plan" exists so far: it prints the ruleset without touching
the kernel.`,
	}
	var inventory string
	var allowUnclassified bool
	plan := &cobra.Command{
		Use:   "plan POLICY_PATH... --inventory FILE",
		Short: "Print the nftables ruleset the policies give for an inventory",
		Example: `  ward fw plan examples/shop --inventory firewall/testdata/shop-inventory.yaml
  ward fw plan policies/ --inventory host.yaml | nft -c -f -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if inventory == "" {
				return fail(ExitError, fmt.Errorf("--inventory is required (--docker is not implemented yet)"))
			}
			inv, err := firewall.LoadInventory(inventory)
			if err != nil {
				return fail(ExitError, err)
			}
			policies, err := e.load(args)
			if err != nil {
				return err
			}
			set, err := inv.Set(policies)
			if err != nil {
				return fail(ExitError, err)
			}
			eng, err := e.compile(set)
			if err != nil {
				return err
			}
			start := time.Now()
			rs, err := firewall.Compile(eng, inv, firewall.Options{AllowUnclassified: allowUnclassified})
			if err != nil {
				return fail(ExitError, err)
			}
			e.log.Debug("ruleset", "stats", fmt.Sprintf("%+v", rs.Stats()), "elapsed", time.Since(start))
			_, err = fmt.Fprint(e.stdout, rs.String())
			return err
		},
	}
	plan.Flags().StringVar(&inventory, "inventory", "", "YAML file of the host's containers and networks (docs/firewall.md)")
	plan.Flags().BoolVar(&allowUnclassified, "allow-unclassified", false, "treat addresses of managed networks that no container owns as external instead of dropping their traffic")
	c.AddCommand(plan)
	return c
}
