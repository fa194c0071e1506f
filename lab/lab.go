package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/portset"
)

// Defaults of Options.
const (
	DefaultTimeout  = time.Second
	DefaultParallel = 64
)

// confirmFactor is how much longer the second attempt of a probe whose
// first attempt disagreed with the engine waits.
const confirmFactor = 3

// Options tune a lab.
type Options struct {
	// Timeout is how long one attempt of a probe waits for an answer: no
	// answer in time means the packet was dropped. 0 means
	// DefaultTimeout. An attempt that disagrees with the engine is
	// repeated with confirmFactor times as long before it counts.
	Timeout time.Duration
	// Parallel bounds the probes in flight; 0 means DefaultParallel.
	Parallel int
	// Progress, when not nil, receives a line per phase.
	Progress io.Writer
	// Attack adds the adversarial suite to Run: the attack frames of
	// Plan.Attacks, then live flows through allow-all, the plan's
	// ruleset and deny-all (Tighten with TighteningStages).
	Attack bool
}

func (o Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

func (o Options) parallel() int {
	if o.Parallel > 0 {
		return o.Parallel
	}
	return DefaultParallel
}

// Lab is a running set of test hosts: a router namespace holding a bridge
// and the ruleset under test, with no route out, and a namespace per host
// whose veth is a port of the bridge, with the host's addresses and
// listeners. Bridged traffic between hosts crosses the router's forward
// hook (br_netfilter). Close removes everything it made.
type Lab struct {
	name  string
	opts  Options
	sctp  error // nil when the kernel supports SCTP
	hosts map[string]*hostNS

	router   netns.NsHandle
	routerNL *netlink.Handle
	nft      *nftables.Conn

	mu        sync.Mutex
	closed    bool
	made      []string // namespace names, in creation order
	handles   []netns.NsHandle
	workers   []*worker
	listeners []listener
}

type hostNS struct {
	host   *Host
	worker *worker
}

// Run builds a lab for plan's hosts, loads plan's ruleset, runs its
// probes and removes the lab, whatever happens. An error means the lab
// could not run (or was cancelled through ctx); mismatches are in the
// Result.
func Run(ctx context.Context, plan *Plan, opts Options) (*Result, error) {
	if plan == nil {
		return nil, fmt.Errorf("lab: no plan")
	}
	l, err := Start(ctx, plan.Hosts, opts)
	if err != nil {
		return nil, err
	}
	res, err := l.run(ctx, plan)
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	return res, err
}

func (l *Lab) run(ctx context.Context, plan *Plan) (*Result, error) {
	if err := l.Load(plan.Ruleset); err != nil {
		return nil, err
	}
	outs, err := l.Probe(ctx, plan.Probes)
	if err != nil {
		return nil, err
	}
	res := &Result{Plan: plan, Run: l.name, Outcomes: outs}
	if !l.opts.Attack {
		return res, nil
	}
	if res.Attacks, err = l.Attack(ctx, plan.Attacks()); err != nil {
		return nil, err
	}
	stages, err := TighteningStages(plan)
	if err != nil {
		return nil, err
	}
	if res.Tightening, err = l.Tighten(ctx, plan, stages); err != nil {
		return nil, err
	}
	return res, nil
}

// Start builds the namespaces, links, addresses and listeners of hosts.
// On error, or when ctx ends first, it removes what it made. The caller
// must Close the lab.
func Start(ctx context.Context, hosts []*Host, opts Options) (*Lab, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lab: %w", context.Cause(ctx))
	}
	name, err := newRunName()
	if err != nil {
		return nil, err
	}
	l := &Lab{name: name, opts: opts, sctp: sctpSupport(), hosts: map[string]*hostNS{}}
	l.progress("lab: %s: building %d hosts in network namespaces %s-*", name, len(hosts), name)
	if err := l.build(ctx, hosts); err != nil {
		if cerr := l.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	return l, nil
}

// Name returns the lab's run name: every namespace it made starts with
// it.
func (l *Lab) Name() string { return l.name }

func (l *Lab) progress(format string, args ...any) {
	if l.opts.Progress != nil {
		fmt.Fprintf(l.opts.Progress, format+"\n", args...)
	}
}

// namespace creates a namespace named l.name-suffix, recorded for Close
// before anything else can fail, and a worker in it.
func (l *Lab) namespace(suffix string) (netns.NsHandle, *worker, error) {
	name := l.name + "-" + suffix
	h, err := createNamespace(name)
	if err != nil {
		return netns.None(), nil, err
	}
	l.mu.Lock()
	l.made = append(l.made, name)
	l.handles = append(l.handles, h)
	l.mu.Unlock()
	w, err := newWorker(h)
	if err != nil {
		return netns.None(), nil, err
	}
	l.mu.Lock()
	l.workers = append(l.workers, w)
	l.mu.Unlock()
	return h, w, nil
}

func (l *Lab) build(ctx context.Context, hosts []*Host) error {
	seen := map[string]bool{}
	for _, h := range hosts {
		if seen[h.ID] {
			return fmt.Errorf("lab: host %s listed twice", h.ID)
		}
		seen[h.ID] = true
		if len(h.Addrs) == 0 {
			return fmt.Errorf("lab: host %s has no address", h.ID)
		}
	}
	router, rw, err := l.namespace("r")
	if err != nil {
		return err
	}
	l.router = router
	if err := rw.do(enableBridgeNetfilter); err != nil {
		return err
	}
	if l.routerNL, err = netlink.NewHandleAt(router); err != nil {
		return fmt.Errorf("lab: netlink in the router namespace: %w", err)
	}
	off := false
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: BridgeName}, MulticastSnooping: &off}
	if err := l.routerNL.LinkAdd(br); err != nil {
		return fmt.Errorf("lab: add bridge: %w", err)
	}
	if err := l.routerNL.LinkSetUp(br); err != nil {
		return fmt.Errorf("lab: bridge up: %w", err)
	}
	if l.nft, err = firewall.NewConn(nftables.WithNetNSFd(int(router))); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	for i, h := range hosts {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("lab: building hosts: %w", context.Cause(ctx))
		}
		if err := l.addHost(i, h, br); err != nil {
			return fmt.Errorf("lab: host %s: %w", h.ID, err)
		}
	}
	return nil
}

// enableBridgeNetfilter makes bridged IPv4 and IPv6 traffic of the
// calling thread's namespace (the router's) cross the inet hooks, where
// the ruleset is: without it every probe would pass and prove nothing.
func enableBridgeNetfilter() error {
	for _, name := range []string{"bridge-nf-call-iptables", "bridge-nf-call-ip6tables"} {
		path := "/proc/sys/net/bridge/" + name
		if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil { // #nosec G306 -- a sysctl of the lab's own namespace; the mode is unused
			return fmt.Errorf("lab: cannot enable %s in the router namespace (is br_netfilter loaded? modprobe br_netfilter): bridged traffic would bypass the ruleset: %w", name, err)
		}
		data, err := os.ReadFile(path) // #nosec G304 -- a fixed sysctl path
		if err != nil || strings.TrimSpace(string(data)) != "1" {
			return fmt.Errorf("lab: %s did not stay 1 in the router namespace (read %q, %v): bridged traffic would bypass the ruleset", name, data, err)
		}
	}
	return nil
}

// addHost makes host i's namespace, its veth (eth0, peer h<i> on the
// router's bridge: the port NewPlan binds host i's addresses to; eth0
// with the container's first MAC address, when it has one),
// addresses, routes and listeners.
func (l *Lab) addHost(i int, h *Host, br *netlink.Bridge) error {
	port := portName(i)
	hns, hw, err := l.namespace(port)
	if err != nil {
		return err
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: port, MasterIndex: br.Index},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(hns),
	}
	if h.Container != nil && len(h.Container.MACs) > 0 {
		veth.PeerHardwareAddr = h.Container.MACs[0] // the address NewPlan binds the port to
	}
	if err := l.routerNL.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s: %w", port, err)
	}
	if err := l.routerNL.LinkSetUp(veth); err != nil {
		return fmt.Errorf("veth %s up: %w", port, err)
	}
	nl, err := netlink.NewHandleAt(hns)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer nl.Close()
	if err := configureHost(nl, h); err != nil {
		return err
	}
	reply := replyFor(h.ID)
	err = hw.do(func() error {
		for _, a := range h.Addrs {
			for _, p := range h.Ports {
				for _, proto := range Protocols {
					var ln listener
					var err error
					switch {
					case proto == portset.UDP:
						ln, err = listenUDP(a, p, reply)
					case proto == portset.SCTP && l.sctp != nil:
						continue
					default:
						ln, err = listenStream(proto, a, p, reply)
					}
					if err != nil {
						return fmt.Errorf("listen %s %s: %w", proto, netip.AddrPortFrom(a, p), err)
					}
					l.mu.Lock()
					l.listeners = append(l.listeners, ln)
					l.mu.Unlock()
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	l.hosts[h.ID] = &hostNS{host: h, worker: hw}
	return nil
}

// configureHost brings up lo and eth0 with the host's addresses (/32 and
// /128, without duplicate address detection) and on-link default routes
// through eth0: every host is one bridge away from every other, whatever
// their subnets.
func configureHost(nl *netlink.Handle, h *Host) error {
	lo, err := nl.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	if err := nl.LinkSetUp(lo); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	eth, err := nl.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("eth0: %w", err)
	}
	var v4, v6 bool
	for _, a := range h.Addrs {
		bits := 32
		if a.Is6() {
			bits, v6 = 128, true
		} else {
			v4 = true
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, bits)}, Flags: unix.IFA_F_NODAD}
		if err := nl.AddrAdd(eth, addr); err != nil {
			return fmt.Errorf("address %s: %w", a, err)
		}
	}
	if err := nl.LinkSetUp(eth); err != nil {
		return fmt.Errorf("eth0 up: %w", err)
	}
	for _, a := range h.Addrs {
		if err := UntilLocal(nl, a); err != nil {
			return err
		}
	}
	if v4 {
		r := &netlink.Route{LinkIndex: eth.Attrs().Index, Dst: &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}, Scope: netlink.SCOPE_LINK}
		if err := nl.RouteAdd(r); err != nil {
			return fmt.Errorf("IPv4 default route: %w", err)
		}
	}
	if v6 {
		r := &netlink.Route{LinkIndex: eth.Attrs().Index, Dst: &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}}
		if err := nl.RouteAdd(r); err != nil {
			return fmt.Errorf("IPv6 default route: %w", err)
		}
	}
	return nil
}

// UntilLocal waits until the namespace of nl (the zero Handle: the
// calling thread's) routes a as one of its own addresses. The kernel
// adds an IPv6 address to its local table from the address
// configuration's work queue, after the netlink call that added it has
// returned (even without duplicate address detection); a probe sent to
// the host before then would be dropped on arrival and read as a verdict
// of the ruleset.
func UntilLocal(nl *netlink.Handle, a netip.Addr) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		routes, err := nl.RouteGet(a.AsSlice())
		if err == nil && len(routes) > 0 && routes[0].Type == unix.RTN_LOCAL {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("address %s is not routed as the host's own after 5s (err %v)", a, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Load replaces the router's ruleset with rs (firewall.Apply, one atomic
// batch), sets the bridge's no_linklocal_learn as `ward fw` does when rs
// names it (Ruleset.NoLinkLocalLearn) and clears it otherwise, as on a
// host where Ward never set it, and forgets every tracked connection, so
// that no verdict of an earlier ruleset carries over.
func (l *Lab) Load(rs *firewall.Ruleset) error {
	if rs == nil {
		return fmt.Errorf("lab: no ruleset to load")
	}
	if err := firewall.Apply(l.nft, rs); err != nil {
		return fmt.Errorf("lab: load the ruleset in the router namespace: %w", err)
	}
	if err := firewall.SetLinkLocalLearning(int(l.router), []string{BridgeName}, !slices.Contains(rs.NoLinkLocalLearn, BridgeName)); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := l.routerNL.ConntrackTableFlush(netlink.ConntrackTable); err != nil {
		return fmt.Errorf("lab: flush conntrack in the router namespace: %w", err)
	}
	st := rs.Stats()
	l.progress("lab: %s: loaded the ruleset (%d chains, %d rules, %d sets, %d maps, %d elements; %d bridge ports bound to %d addresses)", l.name, st.Chains, st.Rules, st.Sets, st.Maps, st.Elements, len(rs.Bindings), st.Bindings)
	return nil
}

// cannotRun reports whether p cannot run here: SCTP on a kernel without
// it (l.sctp says why).
func (l *Lab) cannotRun(p *Probe) bool { return p.Protocol == portset.SCTP && l.sctp != nil }

// Probe runs probes between the lab's hosts, at most Options.Parallel at
// a time, and returns their outcomes in order. A probe whose first
// attempt disagrees with its expected verdict is tried again, waiting
// longer, and the second attempt decides. SCTP probes on a kernel without
// SCTP do not run and say why. Probe stops early when ctx ends.
func (l *Lab) Probe(ctx context.Context, probes []Probe) ([]Outcome, error) {
	for i := range probes {
		p := &probes[i]
		if p.Src == nil || p.Dst == nil {
			return nil, fmt.Errorf("lab: probe %d has no source or destination", i)
		}
		if l.hosts[p.Src.ID] == nil || l.hosts[p.Dst.ID] == nil {
			return nil, fmt.Errorf("lab: probe %s: a host is not in the lab", p)
		}
		if !slices.Contains(l.hosts[p.Src.ID].host.Addrs, p.SrcAddr) || !slices.Contains(l.hosts[p.Dst.ID].host.Addrs, p.DstAddr) {
			return nil, fmt.Errorf("lab: probe %s: an address is not its host's in the lab", p)
		}
		if p.SrcAddr.Is4() != p.DstAddr.Is4() {
			return nil, fmt.Errorf("lab: probe %s: addresses of different families", p)
		}
		if !slices.Contains(l.hosts[p.Dst.ID].host.Ports, p.Port) {
			return nil, fmt.Errorf("lab: probe %s: the destination does not serve port %d in the lab", p, p.Port)
		}
	}
	runnable := 0
	for i := range probes {
		if !l.cannotRun(&probes[i]) {
			runnable++
		}
	}
	l.progress("lab: %s: probing %d flows (%d cannot run), %d at a time, timeout %s", l.name, len(probes), len(probes)-runnable, l.opts.parallel(), l.opts.timeout())
	outs := make([]Outcome, len(probes))
	for i := range probes {
		outs[i].Probe = probes[i]
		if l.cannotRun(&probes[i]) {
			outs[i].Observed, outs[i].Reason = NotRun, l.sctp.Error()
		}
	}
	if err := l.forEach(ctx, len(outs), func(i int) bool { return l.cannotRun(&probes[i]) }, func(i int) { l.probe(ctx, &outs[i]) }); err != nil {
		return nil, fmt.Errorf("lab: probing: %w", err)
	}
	return outs, nil
}

// forEach calls fn(i) for every i in [0, n) that skip does not report,
// in goroutines, at most Options.Parallel at a time, and waits for them.
// It starts no more once ctx ends, and then returns its cause.
func (l *Lab) forEach(ctx context.Context, n int, skip func(int) bool, fn func(int)) error {
	sem := make(chan struct{}, l.opts.parallel())
	var wg sync.WaitGroup
	for i := range n {
		if skip != nil && skip(i) {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// probe runs o's probe, twice when the first attempt disagrees.
func (l *Lab) probe(ctx context.Context, o *Outcome) {
	o.Observed, o.Reply, o.Reason = l.attempt(ctx, &o.Probe, l.opts.timeout())
	if o.Status() == Mismatch && ctx.Err() == nil {
		o.Retried = true
		o.Observed, o.Reply, o.Reason = l.attempt(ctx, &o.Probe, confirmFactor*l.opts.timeout())
	}
}

// attempt tries p once.
func (l *Lab) attempt(ctx context.Context, p *Probe, timeout time.Duration) (Observation, string, string) {
	src := l.hosts[p.Src.ID].worker
	deadline := time.Now().Add(timeout)
	var id string
	var err error
	if p.Protocol == portset.UDP {
		id, err = dialUDP(ctx, src, p.SrcAddr, p.DstAddr, p.Port, deadline)
	} else {
		id, err = dialStream(ctx, src, p.Protocol, p.SrcAddr, p.DstAddr, p.Port, deadline)
	}
	switch {
	case errors.Is(err, errTimeout):
		return Blocked, "", fmt.Sprintf("%v within %s", err, timeout)
	case err != nil:
		return Failed, "", err.Error()
	case id != p.Dst.ID:
		return Failed, id, fmt.Sprintf("answered by %s, not %s", id, p.Dst.ID)
	}
	return Allowed, id, ""
}

// Close removes the lab: its listeners, the threads in its namespaces
// and the namespaces themselves, which takes their links (veths, bridge)
// and ruleset with them. It is safe to call more than once, and while
// Probe runs (whose probes then fail).
func (l *Lab) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	for _, ln := range l.listeners {
		_ = ln.Close()
	}
	for _, w := range l.workers {
		w.stop()
	}
	if l.routerNL != nil {
		l.routerNL.Close()
	}
	for _, h := range l.handles {
		_ = h.Close()
	}
	for _, name := range l.made {
		if err := deleteNamespace(name); err != nil {
			errs = append(errs, err)
		}
	}
	if len(l.made) > 0 {
		l.progress("lab: %s: removed %d network namespaces", l.name, len(l.made)-len(errs))
	}
	return errors.Join(errs...)
}

// RouterNS is the router namespace's file descriptor, where the ruleset
// is and where connection tracking sees every flow between hosts (for
// ward watch's kernel sources).
func (l *Lab) RouterNS() int { return int(l.router) }

// InHost runs f on a thread in host id's namespace ("namespace/name"):
// sockets f opens stay there after it returns.
func (l *Lab) InHost(id string, f func() error) error {
	h, ok := l.hosts[id]
	if !ok {
		return fmt.Errorf("lab: no host %s", id)
	}
	return h.worker.do(f)
}
