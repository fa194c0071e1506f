package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"github.com/spf13/cobra"
	"github.com/ti-mo/conntrack"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/report"
)

// fwFlags are the flags the fw commands share.
type fwFlags struct {
	inventory         string
	docker            bool
	dockerHost        string
	allowUnclassified bool
	netns             string
	lock              string
	lockTimeout       time.Duration
	enableBrNetfilter bool
	noFlush           bool
	noBind            bool
	logRate           int
	logGroup          int
	// otherBridges: firewall.Options.OtherBridges, given or (nil)
	// Docker's with --docker.
	otherBridges []string
	// quarantine: a container of the Docker Engine that Ward cannot
	// classify is quarantined instead of failing the inventory ("fw
	// run" only: the other commands refuse such input).
	quarantine bool
}

func fwCmd(e *env) *cobra.Command {
	f := &fwFlags{}
	c := &cobra.Command{
		Use:   "fw",
		Short: "Enforce NetworkPolicies on a Docker host with nftables",
		Long: `Compile the NetworkPolicies of POLICY_PATH for the containers of a host
(read from the Docker Engine with --docker, or from an inventory file) into
an nftables ruleset in a table of Ward's own (table inet ward), and load it
in one atomic netlink batch. See docs/firewall.md.

Exit codes: 0 done, 1 "fw status": no table loaded, 2 usage or input error,
a refused apply (br_netfilter) or a kernel error; the live ruleset is then
left as it was.`,
	}
	pf := c.PersistentFlags()
	pf.StringVar(&f.inventory, "inventory", "", "YAML file of the host's containers and networks (docs/firewall.md)")
	pf.BoolVar(&f.docker, "docker", false, "read containers and networks from the Docker Engine")
	pf.StringVar(&f.dockerHost, "docker-host", "", "Docker Engine address (default: $DOCKER_HOST or unix:///var/run/docker.sock)")
	pf.BoolVar(&f.allowUnclassified, "allow-unclassified", false, "treat addresses of managed networks that no container owns as external instead of dropping their traffic")
	pf.BoolVar(&f.noBind, "no-bind", false, "do not bind containers' addresses to their bridge ports (no anti-spoofing check of every frame's source, which costs some throughput); VLAN-tagged frames to the ports are still dropped and broadcasts still judged")
	pf.IntVar(&f.logRate, "log-rate", firewall.DefaultLogRate, "drops each dropping chain logs a second at most (a negative value: none; drops are counted either way)")
	pf.IntVar(&f.logGroup, "log-group", 0, "log drops to this nflog group (1-65535), where 'ward watch --nflog N' reads them, instead of the kernel log")
	pf.StringSliceVar(&f.otherBridges, "other-bridges", nil, "bridges closed whole while they are no managed network's, such as a network's created since the last sync (a name ending in * matches every name it begins; default with --docker: docker0,br-*; --other-bridges= for none)")
	pf.StringVar(&f.netns, "netns", "", "work in this network namespace (a name under /run/netns or a path) instead of the current one")
	pf.StringVar(&f.lock, "lock", "/run/ward/fw.lock", "lock file serialising the commands that change the ruleset")
	pf.DurationVar(&f.lockTimeout, "lock-timeout", 30*time.Second, "how long to wait for another ward fw holding the lock")
	c.AddCommand(fwPlanCmd(e, f), fwApplyCmd(e, f), fwStatusCmd(e, f), fwRemoveCmd(e, f), fwRunCmd(e, f), fwCloseCmd(e, f))
	return c
}

func fwPlanCmd(e *env, f *fwFlags) *cobra.Command {
	var diff bool
	c := &cobra.Command{
		Use:   "plan POLICY_PATH... (--docker | --inventory FILE)",
		Short: "Print the nftables ruleset and its difference to the live one",
		Long: `Print the ruleset the policies give for the host's containers, in nft
syntax, without changing anything. Comments follow (without --diff=false):
the bridges whose no_linklocal_learn option applying would set, then, when
the live table can be read (root), the differences to the plan: "+" what
applying would add, "-" what it would remove, "~" what it would change.`,
		Example: `  ward fw plan examples/shop --inventory firewall/testdata/shop-inventory.yaml
  ward fw plan policies/ --docker | nft -c -f -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := e.fwPlan(cmd.Context(), f, args)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprint(e.stdout, p.rs.String()); err != nil {
				return err
			}
			if !diff {
				return nil
			}
			if err := printLinkLocal(e.stdout, p.rs.NoLinkLocalLearn); err != nil {
				return err
			}
			h, err := openHost(f.netns)
			if err != nil {
				return fail(ExitError, err)
			}
			defer h.Close()
			d, err := firewall.Diff(h.nft, p.rs)
			if err != nil {
				e.log.Warn("live ruleset not read; no difference printed", "err", err)
				return nil
			}
			return printDiff(e.stdout, d)
		},
	}
	c.Flags().BoolVar(&diff, "diff", true, "append the difference to the live ruleset as comments")
	return c
}

// printLinkLocal says, as comments, which bridges applying sets
// no_linklocal_learn on (firewall.Ruleset.NoLinkLocalLearn).
func printLinkLocal(w io.Writer, bridges []string) error {
	for _, br := range bridges {
		if _, err := fmt.Fprintf(w, "# bridge %s: applying sets no_linklocal_learn 1 (no MAC address learning from link-local frames such as LLDP)\n", br); err != nil {
			return err
		}
	}
	return nil
}

func printDiff(w io.Writer, d []string) error {
	if len(d) == 0 {
		_, err := fmt.Fprintln(w, "# the live ruleset is identical")
		return err
	}
	if _, err := fmt.Fprintf(w, "# %d differences to the live ruleset:\n", len(d)); err != nil {
		return err
	}
	for _, l := range d {
		if _, err := fmt.Fprintf(w, "# %s\n", l); err != nil {
			return err
		}
	}
	return nil
}

func fwApplyCmd(e *env, f *fwFlags) *cobra.Command {
	c := &cobra.Command{
		Use:   "apply POLICY_PATH... (--docker | --inventory FILE)",
		Short: "Load the ruleset in one atomic batch, confirm it and end connections it denies",
		Long: `Compile the ruleset and load it in one atomic netlink batch: the previous
table is replaced whole or, if anything fails (bad input, a batch the
kernel rejects), left exactly as it was. Then read it back to confirm it,
and delete the tracked connections the new policies deny (a tightened
policy also ends connections opened before it).

Apply refuses (exit 2) when traffic between containers on one bridge would
bypass netfilter (br_netfilter not loaded or bridge-nf-call-iptables off),
unless --enable-br-netfilter is given, which fixes both. Concurrent runs
are serialised by a lock. Applying the same ruleset twice changes nothing.`,
		Example: `  ward fw apply examples/shop --inventory firewall/testdata/shop-inventory.yaml
  ward fw apply policies/ --docker --enable-br-netfilter`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			unlock, err := f.takeLock(cmd.Context(), e)
			if err != nil {
				return err
			}
			defer unlock()
			p, err := e.fwPlan(cmd.Context(), f, args)
			if err != nil {
				return err
			}
			h, err := openHost(f.netns)
			if err != nil {
				return fail(ExitError, err)
			}
			defer h.Close()
			// Whether anything changes, for the message (the daemon
			// knows it from its plans instead).
			d, derr := firewall.Diff(h.nft, p.rs)
			res, err := h.apply(p, applyOptions{enableBr: f.enableBrNetfilter, flush: !f.noFlush})
			if err != nil {
				return fail(ExitError, err)
			}
			res.unchanged = derr == nil && len(d) == 0
			res.warn(e.log)
			return res.print(e.stdout)
		},
	}
	f.addApplyFlags(c)
	return c
}

// addApplyFlags registers the flags of the commands that apply.
func (f *fwFlags) addApplyFlags(c *cobra.Command) {
	c.Flags().BoolVar(&f.enableBrNetfilter, "enable-br-netfilter", false, "load br_netfilter and turn on bridge-nf-call-iptables/ip6tables if needed")
	c.Flags().BoolVar(&f.noFlush, "no-flush", false, "keep tracked connections that the new policies deny")
}

func fwStatusCmd(e *env, f *fwFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "status [POLICY_PATH... (--docker | --inventory FILE)]",
		Short: "Show Ward's live table; with policies, whether it is what they give",
		Long: `Show whether Ward's table is loaded, what it holds and how much it has
dropped. With POLICY_PATH, also compare the live table with the ruleset the
policies give now and list the differences (exit 1 when any).

Exit codes: 0 loaded (and up to date), 1 not loaded or out of date.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := openHost(f.netns)
			if err != nil {
				return fail(ExitError, err)
			}
			defer h.Close()
			present, st, err := firewall.Status(h.nft)
			if err != nil {
				return fail(ExitError, err)
			}
			if !present {
				fmt.Fprintf(e.stdout, "table %s %s: not loaded\n", firewall.TableFamily, firewall.TableName)
				return fail(ExitFindings, nil)
			}
			fmt.Fprintf(e.stdout, "table %s %s: loaded\n  %d sets, %d maps, %d elements, %d chains, %d rules\n  dropped %d packets (%d bytes)\n",
				firewall.TableFamily, firewall.TableName, st.Sets, st.Maps, st.Elements, st.Chains, st.Rules, st.Packets, st.Bytes)
			if st.Bindings > 0 {
				fmt.Fprintf(e.stdout, "table %s %s: %d addresses bound to their bridge ports\n", firewall.BridgeFamily, firewall.TableName, st.Bindings)
			}
			if len(args) == 0 {
				return nil
			}
			p, err := e.fwPlan(cmd.Context(), f, args)
			if err != nil {
				return err
			}
			d, err := firewall.Diff(h.nft, p.rs)
			if err != nil {
				return fail(ExitError, err)
			}
			if err := printDiff(e.stdout, d); err != nil {
				return err
			}
			if len(d) > 0 {
				return fail(ExitFindings, nil)
			}
			return nil
		},
	}
}

func fwCloseCmd(e *env, f *fwFlags) *cobra.Command {
	bridges := slices.Clone(firewall.DockerBridges)
	c := &cobra.Command{
		Use:   "close",
		Short: "Drop all traffic through Docker's bridges until `ward fw run` applies the policies (at boot)",
		Long: `Replace Ward's tables with one that drops every packet entering the host
through a Docker bridge, and every packet the host forwards or sends out
through one: containers get no traffic at all. No table survives a
reboot, and Docker restarts containers before ` + "`ward fw run --docker`" + ` can
read them: run this before Docker starts (deploy/systemd/ward-fw-close.service),
and the containers stay closed until the daemon's first sync replaces the
table. The bridges need not exist yet: their names are compared (docker0
and br-*, Docker's; a name ending in * matches every name it begins).

Refuses (exit 2) when bridged traffic would bypass netfilter, as apply
does, unless --enable-br-netfilter is given.`,
		Example: `  ward fw close
  ward fw close --bridge docker0 --bridge 'br-*' --bridge mybridge`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			unlock, err := f.takeLock(cmd.Context(), e)
			if err != nil {
				return err
			}
			defer unlock()
			h, err := openHost(f.netns)
			if err != nil {
				return fail(ExitError, err)
			}
			defer h.Close()
			if err := h.do(func() error {
				err := firewall.CheckBridgeNetfilter("")
				if err != nil && f.enableBrNetfilter {
					return firewall.EnableBridgeNetfilter("")
				}
				return err
			}); err != nil {
				return fail(ExitError, fmt.Errorf("close refused, nothing changed: %w", err))
			}
			if err := firewall.Close(h.nft, bridges); err != nil {
				return fail(ExitError, err)
			}
			_, err = fmt.Fprintf(e.stdout, "closed: table %s %s drops all traffic through %s until policies are applied\n", firewall.TableFamily, firewall.TableName, strings.Join(bridges, ", "))
			return err
		},
	}
	c.Flags().StringArrayVar(&bridges, "bridge", bridges, "a bridge to close (a name ending in * matches every name it begins)")
	c.Flags().BoolVar(&f.enableBrNetfilter, "enable-br-netfilter", false, "load br_netfilter and turn on bridge-nf-call-iptables/ip6tables if needed")
	return c
}

func fwRemoveCmd(e *env, f *fwFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "remove",
		Short: "Delete Ward's table: no rule of Ward remains",
		Long: `Delete table inet ward with its chains, sets and maps in one batch. Ward
adds nothing to other tables (no jump into Docker's chains), so Docker's
own behaviour is restored exactly. Removing an absent table succeeds. The
bridges' no_linklocal_learn option, which apply sets, stays set: undo it
with ip link set BRIDGE type bridge no_linklocal_learn 0 (docs/firewall.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			unlock, err := f.takeLock(cmd.Context(), e)
			if err != nil {
				return err
			}
			defer unlock()
			h, err := openHost(f.netns)
			if err != nil {
				return fail(ExitError, err)
			}
			defer h.Close()
			if err := firewall.Remove(h.nft); err != nil {
				return fail(ExitError, err)
			}
			if present, _, err := firewall.Status(h.nft); err != nil || present {
				return fail(ExitError, fmt.Errorf("table %s %s still present after removal (%v)", firewall.TableFamily, firewall.TableName, err))
			}
			_, err = fmt.Fprintf(e.stdout, "removed table %s %s\n", firewall.TableFamily, firewall.TableName)
			return err
		},
	}
}

// plan is a compiled ruleset with what produced it.
type plan struct {
	inv  *firewall.Inventory
	eng  *netpol.Engine
	rs   *firewall.Ruleset
	opts firewall.Options
	took time.Duration
}

// fwPlan reads the inventory and the policies and compiles the ruleset;
// every input error is an exit-2 error naming the file and line.
func (e *env) fwPlan(ctx context.Context, f *fwFlags, paths []string) (*plan, error) {
	inv, err := f.loadInventory(ctx, e)
	if err != nil {
		return nil, err
	}
	// An inventory file's bridge: that closes nothing (--docker names
	// bridges without ports only when it cannot list them, which the
	// docs cover, and a daemon would repeat it at every sync).
	if !f.noBind && f.inventory != "" {
		for _, n := range inv.UnclosedBridges() {
			where := inv.File
			if n.Line > 0 {
				where = fmt.Sprintf("%s:%d", where, n.Line)
			}
			fmt.Fprintf(e.stderr, "ward: warning: %s: network %s names its bridge %s, but no container lists its interfaces: the ruleset binds no port, so it closes no port of %s (any container may send from any address, a port attached later is open); it judges there only containers' router advertisements and, where a container's ingress is isolated, the host's group and link-local packets. List the containers' interfaces (ward fw --docker finds them)\n",
				report.Printable(where), report.Printable(n.Name), report.Printable(n.Bridge), report.Printable(n.Bridge))
		}
		for _, p := range inv.PortlessOnClosedBridges() {
			where := inv.File
			if p.Container.Line > 0 {
				where = fmt.Sprintf("%s:%d", where, p.Container.Line)
			}
			fmt.Fprintf(e.stderr, "ward: warning: %s: container %s lists no interfaces, but other containers list theirs, so the ruleset closes every port of bridge %s (network %s) that it does not bind, this container's too: all its traffic through %s is dropped. List its interfaces (ward fw --docker finds them)\n",
				report.Printable(where), report.Printable(p.Container.ID()), report.Printable(p.Network.Bridge), report.Printable(p.Network.Name), report.Printable(p.Network.Bridge))
		}
	}
	policies, err := e.load(paths)
	if err != nil {
		return nil, err
	}
	other := f.otherBridges
	if other == nil && f.docker {
		other = firewall.DockerBridges
	}
	return e.compilePlan(inv, policies, firewall.Options{AllowUnclassified: f.allowUnclassified, NoBind: f.noBind, LogRate: f.logRate, LogGroup: f.logGroup, OtherBridges: other})
}

func (e *env) compilePlan(inv *firewall.Inventory, policies *manifest.Set, opts firewall.Options) (*plan, error) {
	start := time.Now()
	set, err := inv.Set(policies)
	if err != nil {
		return nil, fail(ExitError, err)
	}
	eng, err := e.compile(set)
	if err != nil {
		return nil, err
	}
	rs, err := firewall.Compile(eng, inv, opts)
	if err != nil {
		return nil, fail(ExitError, err)
	}
	p := &plan{inv: inv, eng: eng, rs: rs, opts: opts, took: time.Since(start)}
	e.log.Debug("ruleset compiled", "stats", rs.Stats(), "containers", len(inv.Containers), "elapsed", p.took)
	return p, nil
}

func (f *fwFlags) loadInventory(ctx context.Context, e *env) (*firewall.Inventory, error) {
	switch {
	case f.docker && f.inventory != "":
		return nil, fail(ExitError, errors.New("--docker and --inventory exclude each other"))
	case f.docker:
		inv, err := dockerInventory(ctx, e, f.dockerHost, f.quarantine)
		if err != nil {
			return nil, fail(ExitError, err)
		}
		return inv, nil
	case f.inventory != "":
		inv, err := e.readInventory(f.inventory)
		if err != nil {
			return nil, fail(ExitError, err)
		}
		return inv, nil
	}
	return nil, fail(ExitError, errors.New("the containers come from --docker or --inventory FILE: give one"))
}

// takeLock serialises the commands that change the ruleset.
func (f *fwFlags) takeLock(ctx context.Context, e *env) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(f.lock), 0o700); err != nil {
		return nil, fail(ExitError, fmt.Errorf("lock: %w", err))
	}
	l := flock.New(f.lock, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
	ok, err := l.TryLock()
	if err == nil && !ok {
		e.log.Warn("waiting for another ward fw", "lock", f.lock, "timeout", f.lockTimeout)
		tctx, cancel := context.WithTimeout(ctx, f.lockTimeout)
		defer cancel()
		ok, err = l.TryLockContext(tctx, 50*time.Millisecond)
	}
	if err != nil || !ok {
		return nil, fail(ExitError, fmt.Errorf("lock %s: another ward fw holds it (%v)", f.lock, err))
	}
	return func() { _ = l.Unlock() }, nil
}

// host is the network namespace Ward works in, with its connections.
type host struct {
	ns  *os.File // nil: the process's own namespace
	nft *nftables.Conn
}

// openHost opens the namespace named by netns ("" for the current one)
// and an nftables connection into it.
func openHost(netns string) (*host, error) {
	h := &host{}
	// One socket for the host's whole life: reading a table back is a
	// request per chain, and a connection that is not lasting dials a
	// socket for each.
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if netns != "" {
		path := netns
		if !strings.ContainsRune(netns, '/') {
			path = filepath.Join("/run/netns", netns)
		}
		f, err := os.Open(path) // #nosec G304 -- a namespace the operator names
		if err != nil {
			return nil, fmt.Errorf("network namespace: %w", err)
		}
		h.ns = f
		opts = append(opts, nftables.WithNetNSFd(int(f.Fd()))) // #nosec G115 -- a file descriptor fits an int
	}
	conn, err := firewall.NewConn(opts...)
	if err != nil {
		h.Close()
		return nil, err
	}
	h.nft = conn
	return h, nil
}

// netnsFd is the host's namespace as a file descriptor, 0 for the
// process's own.
func (h *host) netnsFd() int {
	if h.ns == nil {
		return 0
	}
	return int(h.ns.Fd()) // #nosec G115 -- a file descriptor fits an int
}

func (h *host) Close() {
	if h.nft != nil {
		_ = h.nft.CloseLasting()
	}
	if h.ns != nil {
		_ = h.ns.Close()
	}
}

// do runs fn inside the host's namespace, on a locked thread moved there
// and never unlocked (it ends with its goroutine), so that /proc/sys/net
// and interface lists are the namespace's.
func (h *host) do(fn func() error) error {
	if h.ns == nil {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(int(h.ns.Fd()), unix.CLONE_NEWNET); err != nil { // #nosec G115 -- a file descriptor fits an int
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// localAddrs returns a test for the host's own addresses.
func (h *host) localAddrs() (func(netip.Addr) bool, error) {
	own := map[netip.Addr]bool{}
	err := h.do(func() error {
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				own[p.Addr().Unmap()] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("host addresses: %w", err)
	}
	return func(a netip.Addr) bool { return own[a.Unmap()] }, nil
}

// flusher ends the tracked connections a plan's policies deny
// (firewall.FlushDenied), counting them.
type flusher struct {
	ct    *conntrack.Conn
	o     *firewall.Oracle
	local func(netip.Addr) bool
	n     int
}

// newFlusher returns p's flusher; close it.
func (h *host) newFlusher(p *plan) (*flusher, error) {
	local, err := h.localAddrs()
	if err != nil {
		return nil, err
	}
	cfg := &netlink.Config{}
	if h.ns != nil {
		cfg.NetNS = int(h.ns.Fd()) // #nosec G115 -- a file descriptor fits an int
	}
	ct, err := conntrack.Dial(cfg)
	if err != nil {
		return nil, fmt.Errorf("conntrack is unreachable: %w", err)
	}
	return &flusher{ct: ct, o: firewall.NewOracle(p.eng, p.inv, p.opts), local: local}, nil
}

func (f *flusher) flush() error {
	n, err := firewall.FlushDenied(f.ct, f.o, f.local)
	f.n += n
	return err
}

func (f *flusher) close() { _ = f.ct.Close() }

type applyOptions struct {
	enableBr bool
	flush    bool
}

// applyResult is what one apply did.
type applyResult struct {
	stats         firewall.Stats
	compile, load time.Duration
	flushed       int
	bindings      int      // bound bridge ports
	unknown       int      // of which unknown ports, bound to no address
	unbound       bool     // ports known, not bound to addresses (--no-bind)
	bridges       []string // whose other ports are closed (firewall.Ruleset.Bridges)
	unchanged     bool
	// noLearn are the bridges whose no_linklocal_learn was set
	// (firewall.Ruleset.NoLinkLocalLearn); noLearnErr why some were not.
	noLearn    []string
	noLearnErr error
}

// warn logs, loudly, what the apply left undone beside the ruleset.
func (r *applyResult) warn(log *slog.Logger) {
	if r.noLearnErr != nil {
		log.Warn("bridge option no_linklocal_learn not set (the ruleset is applied): a container with NET_RAW can take another's MAC address over with an LLDP frame; see docs/firewall.md", "err", r.noLearnErr)
	}
}

func (r *applyResult) print(w io.Writer) error {
	verb := "applied"
	if r.unchanged {
		verb = "re-applied (unchanged)"
	}
	if _, err := fmt.Fprintf(w, "%s table %s %s: %d sets, %d maps, %d elements, %d chains, %d rules (compiled in %s, loaded and verified in %s); %d connections the policies deny were ended\n",
		verb, firewall.TableFamily, firewall.TableName, r.stats.Sets, r.stats.Maps, r.stats.Elements, r.stats.Chains, r.stats.Rules,
		r.compile.Round(time.Millisecond), r.load.Round(time.Millisecond), r.flushed); err != nil {
		return err
	}
	switch {
	case r.bindings > 0 && r.unbound:
		if _, err := fmt.Fprintf(w, "table %s %s: %d bridge ports (VLAN-tagged frames dropped, broadcasts judged by their ingress; not bound to addresses: --no-bind)\n", firewall.BridgeFamily, firewall.TableName, r.bindings); err != nil {
			return err
		}
	case r.bindings > 0:
		closed := ""
		if r.unknown > 0 {
			closed = fmt.Sprintf("; %d ports of no classified container closed", r.unknown)
		}
		if n := len(r.bridges); n > 0 {
			closed += fmt.Sprintf("; any other port of %s closed", strings.Join(head(r.bridges, 5), ", "))
		}
		if _, err := fmt.Fprintf(w, "table %s %s: %d addresses bound to %d bridge ports (anti-spoofing%s)\n", firewall.BridgeFamily, firewall.TableName, r.stats.Bindings, r.bindings-r.unknown, closed); err != nil {
			return err
		}
	}
	if len(r.noLearn) > 0 && r.noLearnErr == nil {
		if _, err := fmt.Fprintf(w, "bridges %s: no_linklocal_learn 1 (no MAC address learning from link-local frames such as LLDP)\n", strings.Join(head(r.noLearn, 5), ", ")); err != nil {
			return err
		}
	}
	return nil
}

// apply checks that bridged traffic meets netfilter, loads p's ruleset in
// one batch, reads it back, and ends the tracked connections it denies.
func (h *host) apply(p *plan, o applyOptions) (*applyResult, error) {
	res := &applyResult{stats: p.rs.Stats(), compile: p.took, bindings: len(p.rs.Bindings), unbound: p.rs.Unbound, bridges: p.rs.Bridges}
	if p.inv != nil {
		res.unknown = len(p.inv.UnknownPorts)
	}
	err := h.do(func() error {
		err := firewall.CheckBridgeNetfilter("")
		if err != nil && o.enableBr {
			return firewall.EnableBridgeNetfilter("")
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("apply refused, nothing changed: %w", err)
	}
	// The tracked connections the policies deny are ended before the
	// ruleset replaces Ward's table (firewall.ApplyFlushing), and those
	// that started meanwhile once it is loaded and read back.
	var f *flusher
	var setupErr, midErr error
	if o.flush {
		if f, setupErr = h.newFlusher(p); f != nil {
			defer f.close()
		}
	}
	start := time.Now()
	if err := firewall.ApplyFlushing(h.nft, p.rs, func() {
		if f != nil {
			midErr = f.flush()
		}
	}); err != nil {
		return nil, fmt.Errorf("%w (the previous ruleset, if any, is unchanged)", err)
	}
	if err := firewall.Verify(h.nft, p.rs); err != nil {
		return nil, fmt.Errorf("%w (the new ruleset is loaded: `ward fw remove` removes it)", err)
	}
	res.load = time.Since(start)
	// Docker recreates a network's bridge with the option off: set at
	// every apply. A failure leaves the ruleset applied; the callers warn.
	res.noLearn = p.rs.NoLinkLocalLearn
	res.noLearnErr = firewall.SetLinkLocalLearning(h.netnsFd(), p.rs.NoLinkLocalLearn, false)
	if !o.flush {
		return res, nil
	}
	if setupErr != nil {
		return nil, fmt.Errorf("ruleset applied, but denied connections were not ended: %w", setupErr)
	}
	err = f.flush()
	res.flushed = f.n
	if err = errors.Join(midErr, err); err != nil {
		return nil, fmt.Errorf("ruleset applied, but ending denied connections failed: %w", err)
	}
	return res, nil
}
