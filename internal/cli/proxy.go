package cli

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/wardsec/ward/guard/spiffeauth"
	"github.com/wardsec/ward/proxy"
)

func proxyCmd(e *env) *cobra.Command {
	var config string
	var check bool
	c := &cobra.Command{
		Use:   "proxy --config FILE",
		Short: "Run the zero-trust reverse proxy (sidecar or gateway)",
		Long: `Run a reverse proxy that checks every request before it reaches the
upstream: TLS or SPIFFE mutual TLS, client IP allow and deny lists, JWT
bearer tokens, Istio AuthorizationPolicies, rate limits, with one audit
record per request on standard output. See docs/proxy.md.

SIGHUP, or a change of a file the configuration names, reloads the
configuration without dropping requests; a configuration that does not
load, or that would drop its authorization or jwt section without saying
"none", is refused and the running one stays. SIGTERM shuts down
gracefully.`,
		Example: `  ward proxy --config examples/proxy/proxy.yaml
  ward proxy --config proxy.yaml --check   # validate and exit`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if config == "" {
				return fail(ExitError, errors.New("--config is required"))
			}
			// SIGHUP is caught before the (possibly long: a Workload
			// API's first SVID) start: its default action ends the
			// process, and a reload asked for then is made once serving.
			hup := make(chan os.Signal, 1)
			if !check {
				signal.Notify(hup, syscall.SIGHUP)
				defer signal.Stop(hup)
			}
			srv, err := proxy.NewServer(config, e.log, e.stdout)
			if err != nil {
				return fail(ExitError, err)
			}
			if check {
				fmt.Fprintf(e.stdout, "%s is valid\n", config)
				return srv.Close()
			}
			cfg := srv.Config()
			ln, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return fail(ExitError, err)
			}
			var adminLn net.Listener
			if cfg.Admin != "off" {
				if adminLn, err = net.Listen("tcp", cfg.Admin); err != nil {
					_ = ln.Close()
					return fail(ExitError, err)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				for {
					select {
					case <-ctx.Done():
						return
					case <-hup:
						_ = srv.Reload()
					}
				}
			}()
			go srv.Watch(ctx, 2*time.Second)
			e.log.Info("ward proxy listening", "addr", ln.Addr().String(), "upstream", cfg.Upstream.URL, "admin", cfg.Admin)
			return srv.Serve(ctx, ln, adminLn, 20*time.Second)
		},
	}
	c.Flags().StringVar(&config, "config", "", "proxy configuration file (docs/proxy.md)")
	c.Flags().BoolVar(&check, "check", false, "validate the configuration and exit")
	return c
}

func certCmd(e *env) *cobra.Command {
	var td, out string
	var ids []string
	var ttl time.Duration
	c := &cobra.Command{
		Use:   "cert --trust-domain DOMAIN --id SPIFFE_ID... --out DIR",
		Short: "Create a development CA and SPIFFE SVIDs (no SPIRE needed)",
		Long: `Create a self-signed development CA for a trust domain (bundle.pem) and,
for each --id, an X.509 SVID (NAME.pem) and its key (NAME-key.pem), where
NAME is the ID's last path segment, or, when two IDs share it, NAMESPACE.ACCOUNT
for /ns/NAMESPACE/sa/ACCOUNT (other paths: their segments joined with ".").
For development and tests only: the CA key is not kept, so issue every SVID
in one run.`,
		Example: `  ward cert --trust-domain example.org --id spiffe://example.org/ns/shop/sa/web --id spiffe://example.org/ns/shop/sa/proxy --out certs`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			domain, err := spiffeid.TrustDomainFromString(td)
			if err != nil {
				return fail(ExitError, fmt.Errorf("--trust-domain: %w", err))
			}
			if len(ids) == 0 || out == "" {
				return fail(ExitError, errors.New("--id and --out are required"))
			}
			if ttl <= 0 {
				return fail(ExitError, fmt.Errorf("--ttl %s: the certificates would be expired when written: give a positive duration, such as 24h", ttl))
			}
			var parsed []spiffeid.ID
			for _, s := range ids {
				id, err := spiffeid.FromString(s)
				if err != nil {
					return fail(ExitError, fmt.Errorf("--id %q: %w", s, err))
				}
				if id.TrustDomain() != domain {
					return fail(ExitError, fmt.Errorf("--id %q is not in trust domain %s", s, domain))
				}
				parsed = append(parsed, id)
			}
			ca, err := spiffeauth.NewDevCA(domain, ttl)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o750); err != nil {
				return fail(ExitError, err)
			}
			bundle, err := ca.Bundle().Marshal()
			if err != nil {
				return err
			}
			files := map[string][]byte{"bundle.pem": bundle}
			names, err := svidNames(parsed)
			if err != nil {
				return fail(ExitError, err)
			}
			for i, id := range parsed {
				svid, err := ca.Issue(id, ttl)
				if err != nil {
					return err
				}
				certPEM, keyPEM, err := svid.Marshal()
				if err != nil {
					return err
				}
				files[names[i]+".pem"], files[names[i]+"-key.pem"] = certPEM, keyPEM
			}
			if err := staleSVIDs(out, files); err != nil {
				return fail(ExitError, err)
			}
			for _, name := range slices.Sorted(maps.Keys(files)) {
				data := files[name]
				if err := os.WriteFile(filepath.Join(out, name), data, 0o600); err != nil {
					return fail(ExitError, err)
				}
				fmt.Fprintf(e.stdout, "wrote %s\n", filepath.Join(out, name))
			}
			return nil
		},
	}
	c.Flags().StringVar(&td, "trust-domain", "example.org", "SPIFFE trust domain")
	c.Flags().StringArrayVar(&ids, "id", nil, "SPIFFE ID to issue an SVID for (repeatable)")
	c.Flags().StringVar(&out, "out", "", "directory to write the files to")
	c.Flags().DurationVar(&ttl, "ttl", 30*24*time.Hour, "validity of the CA and the SVIDs")
	return c
}

// staleSVIDs refuses to write files into out, a directory of an earlier
// ward cert (it holds a bundle.pem), where PEM files this run does not
// rewrite would stay: SVIDs of the earlier CA, which the new bundle.pem
// replaces, so that they no longer verify (the CA key is not kept). A run
// that rewrites every PEM file there, the same command again, is fine.
func staleSVIDs(out string, files map[string][]byte) error {
	if _, err := os.Lstat(filepath.Join(out, "bundle.pem")); err != nil {
		return nil // no earlier CA: nothing of it to strand
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	var stale []string
	for _, d := range entries {
		if strings.HasSuffix(d.Name(), ".pem") && files[d.Name()] == nil {
			stale = append(stale, d.Name())
		}
	}
	if len(stale) == 0 {
		return nil
	}
	return fmt.Errorf("--out %s holds %s, issued by the CA of its bundle.pem, which this run would replace: they would no longer verify (the CA key is not kept). "+
		"Issue every SVID in one run (give their --id too), or use another --out; nothing was written", out, strings.Join(stale, ", "))
}

// svidNames names the files of each SVID (see ward cert --help): the last
// path segment where it is unique among ids, else namespace.account, so
// that no SVID overwrites another. IDs that still collide are an error.
func svidNames(ids []spiffeid.ID) ([]string, error) {
	segments := func(id spiffeid.ID) []string {
		var out []string
		for _, s := range strings.Split(id.Path(), "/") {
			if s != "" && s != "." && s != ".." {
				out = append(out, s)
			}
		}
		return out
	}
	short := func(id spiffeid.ID) string {
		if s := segments(id); len(s) > 0 {
			return s[len(s)-1]
		}
		return "svid"
	}
	count := map[string]int{}
	for _, id := range ids {
		count[short(id)]++
	}
	names := make([]string, len(ids))
	owner := map[string]spiffeid.ID{}
	for i, id := range ids {
		names[i] = short(id)
		if count[names[i]] > 1 {
			s := segments(id)
			if len(s) == 4 && s[0] == "ns" && s[2] == "sa" {
				names[i] = s[1] + "." + s[3]
			} else {
				names[i] = strings.Join(s, ".")
			}
		}
		if prev, dup := owner[names[i]]; dup {
			return nil, fmt.Errorf("--id %s and --id %s would both be written to %s.pem", prev, id, names[i])
		}
		owner[names[i]] = id
	}
	return names, nil
}
