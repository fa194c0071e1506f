package cli

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/lab"
)

func labCmd(e *env) *cobra.Command {
	var inventory, output string
	var cleanup, attack bool
	var timeout time.Duration
	var parallel int
	c := &cobra.Command{
		Use:   "lab PATH... [--inventory FILE]",
		Short: "Prove with real packets that the compiled nftables rules agree with the engine",
		Long: `Build test hosts in network namespaces of their own from the workloads of
PATH (or the containers of --inventory FILE), load the nftables ruleset
compiled from PATH's NetworkPolicies into a router namespace that bridges
them, and probe every (source, destination, port, protocol) of the engine's
truth table with real TCP, UDP and SCTP connections. Prints the observed
table against the expected one with mismatches marked.

Then it attacks (--attack, on by default): every host sends raw frames to
every other, broadcast, multicast, VLAN-tagged (VLAN 0 and 100), between
link-local addresses and with another host's source address, each of
which must arrive exactly where the engine says; and live TCP, UDP, ICMP
and raw IP flows between every pair, both ends sending, go through
allow-all, the policies and deny-all applied as "ward fw apply" does: no
packet of a flow a stage denies may arrive a second after its apply.

Workloads keep the pod IPs their manifests give (status.podIP(s)), so that
ipBlock rules are exercised; the others get addresses from 10.250.0.0/16
and fd77:6172:6400::/64. hostNetwork workloads are not test hosts.

Needs root. Everything happens in namespaces named wardlab-<pid>-*, removed
on exit, SIGINT and SIGTERM; "ward lab --cleanup" removes those of a killed
run. See docs/firewall.md.

Exit codes: 0 every probe that ran matched (and every attack), 1 a
mismatch, 2 bad input or the lab could not run.`,
		Example: `  sudo ward lab examples/shop
  sudo ward lab policies/ --inventory host.yaml -o json
  sudo ward lab --cleanup`,
		Args: func(cmd *cobra.Command, args []string) error {
			if cleanup {
				if len(args) > 0 {
					return fail(ExitError, fmt.Errorf("--cleanup takes no PATH"))
				}
				return nil
			}
			if len(args) == 0 {
				return fail(ExitError, fmt.Errorf("requires at least one PATH (or --cleanup)"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outputFlag(output, "text", "json"); err != nil {
				return err
			}
			if timeout <= 0 || parallel <= 0 {
				return fail(ExitError, fmt.Errorf("--timeout and --parallel must be positive"))
			}
			if cleanup {
				if err := requireRoot(); err != nil {
					return err
				}
				removed, err := lab.Cleanup(e.stderr)
				if len(removed) > 0 {
					fmt.Fprintf(e.stdout, "removed %d network namespaces of killed labs: %s\n", len(removed), strings.Join(removed, " "))
				} else {
					fmt.Fprintln(e.stdout, "no leftovers of killed labs")
				}
				if err != nil {
					return fail(ExitError, err)
				}
				return nil
			}
			// Catch the signals first, so that one arriving while the
			// lab is built still lets it clean up.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			policies, err := e.load(args)
			if err != nil {
				return err
			}
			var inv *firewall.Inventory
			if inventory != "" {
				inv, err = e.readInventory(inventory)
			} else {
				inv, err = firewall.FromManifests(policies, firewall.DefaultPool)
			}
			if err != nil {
				return fail(ExitError, err)
			}
			start := time.Now()
			plan, err := lab.NewPlan(policies, inv)
			if err != nil {
				return fail(ExitError, err)
			}
			e.log.Debug("plan", "hosts", len(plan.Hosts), "probes", len(plan.Probes), "ruleset", fmt.Sprintf("%+v", plan.Ruleset.Stats()), "elapsed", time.Since(start))
			for _, s := range plan.Skipped {
				fmt.Fprintf(e.stderr, "ward: lab: %s is not a test host: %s\n", s.ID, s.Reason)
			}
			// Input errors come first, root or not.
			if err := requireRoot(); err != nil {
				return err
			}
			res, err := lab.Run(ctx, plan, lab.Options{Timeout: timeout, Parallel: parallel, Progress: e.stderr, Attack: attack})
			if ctx.Err() != nil {
				return fail(ExitError, fmt.Errorf("lab: interrupted; its namespaces are removed (%v)", err))
			}
			if err != nil {
				return fail(ExitError, err)
			}
			if output == "json" {
				err = res.WriteJSON(e.stdout)
			} else {
				err = res.WriteText(e.stdout)
			}
			if err != nil {
				return err
			}
			if res.Failed() {
				return fail(ExitFindings, nil)
			}
			return nil
		},
	}
	c.Flags().StringVar(&inventory, "inventory", "", "YAML file of containers and networks (docs/firewall.md) instead of PATH's workloads")
	c.Flags().BoolVar(&cleanup, "cleanup", false, "remove the namespaces left by killed lab runs, then exit")
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	c.Flags().DurationVar(&timeout, "timeout", lab.DefaultTimeout, "how long a probe waits for an answer; no answer means the packet was dropped")
	c.Flags().IntVar(&parallel, "parallel", lab.DefaultParallel, "probes in flight at once")
	c.Flags().BoolVar(&attack, "attack", true, "also attack the ruleset: broadcast, multicast, VLAN-tagged, link-local and spoofed frames between every pair of hosts, and live TCP, UDP, ICMP and raw IP flows through allow-all, the policies and deny-all (--attack=false: the truth table only)")
	return c
}

func requireRoot() error {
	if uid := os.Geteuid(); uid != 0 {
		return fail(ExitError, fmt.Errorf("lab: needs root to create network namespaces (running as uid %d)", uid))
	}
	return nil
}
