package fleet

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// ConnOptions say how to reach and authenticate to a NATS server.
type ConnOptions struct {
	// URL is one server URL or several separated by commas:
	// nats://host:4222, tls://host:4222 (TLS required). User and password
	// may be given in the URL (nats://user:pass@host:4222).
	URL string
	// Name identifies this client in the server's monitoring.
	Name string

	// CAFile verifies the server's certificate (PEM); CertFile and
	// KeyFile present a client certificate (mutual TLS). Any of them
	// turns TLS on.
	CAFile, CertFile, KeyFile string

	// At most one way to authenticate: User and Password, Token, an nkey
	// seed file (NKeySeedFile) or a credentials file (CredsFile: a user
	// JWT and its nkey seed, as `nsc` writes it).
	User, Password string
	Token          string
	NKeySeedFile   string
	CredsFile      string

	// Timeout bounds connecting (default 5s).
	Timeout time.Duration
	// OnError, when set, is told of errors the connection meets after it
	// is established (a permission refused, a slow consumer); the client
	// reconnects by itself after a disconnection.
	OnError func(error)
}

// Check reports options that cannot work, before any connection.
func (o *ConnOptions) Check() error {
	if strings.TrimSpace(o.URL) == "" {
		return errors.New("no NATS URL")
	}
	for _, s := range strings.Split(o.URL, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("NATS URL %q: %w", s, err)
		}
		switch u.Scheme {
		case "nats", "tls":
		default:
			return fmt.Errorf("NATS URL %q: scheme %q, want nats:// or tls://", u.Redacted(), u.Scheme)
		}
		if u.Host == "" {
			return fmt.Errorf("NATS URL %q names no host", u.Redacted())
		}
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return errors.New("a client certificate needs both its certificate and its key file")
	}
	var ways []string
	if o.User != "" || o.Password != "" {
		if o.User == "" {
			return errors.New("a NATS password needs a user")
		}
		ways = append(ways, "user and password")
	}
	if o.Token != "" {
		ways = append(ways, "token")
	}
	if o.NKeySeedFile != "" {
		ways = append(ways, "nkey seed")
	}
	if o.CredsFile != "" {
		ways = append(ways, "credentials file")
	}
	if len(ways) > 1 {
		return fmt.Errorf("NATS authentication given %d ways (%s): give one", len(ways), strings.Join(ways, ", "))
	}
	return nil
}

// auth names the way the options authenticate, for errors.
func (o *ConnOptions) auth() string {
	switch {
	case o.User != "":
		return "user " + o.User + " and its password"
	case o.Token != "":
		return "the token"
	case o.NKeySeedFile != "":
		return "the nkey seed in " + o.NKeySeedFile
	case o.CredsFile != "":
		return "the credentials in " + o.CredsFile
	case strings.Contains(o.URL, "@"):
		return "the user in the URL"
	}
	return "no credentials"
}

// redacted returns the URLs with any password replaced.
func (o *ConnOptions) redacted() string {
	parts := strings.Split(o.URL, ",")
	for i, s := range parts {
		if u, err := url.Parse(strings.TrimSpace(s)); err == nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// Connect connects to the server. A server that refuses the credentials
// gives an error saying so and naming the way Ward authenticated; the
// connection reconnects by itself, without end, after a disconnection
// (publishers retry and count what they could not publish meanwhile).
func Connect(o ConnOptions) (*nats.Conn, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	opts := []nats.Option{nats.Timeout(timeout), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second)}
	if o.Name != "" {
		opts = append(opts, nats.Name(o.Name))
	}
	if o.CAFile != "" {
		opts = append(opts, nats.RootCAs(o.CAFile))
	}
	if o.CertFile != "" {
		opts = append(opts, nats.ClientCert(o.CertFile, o.KeyFile))
	}
	switch {
	case o.User != "":
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	case o.Token != "":
		opts = append(opts, nats.Token(o.Token))
	case o.NKeySeedFile != "":
		opt, err := nats.NkeyOptionFromSeed(o.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nkey seed %s: %w", o.NKeySeedFile, err)
		}
		opts = append(opts, opt)
	case o.CredsFile != "":
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if o.OnError != nil {
		onErr := o.OnError
		opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { onErr(err) }))
	}
	nc, err := nats.Connect(o.URL, opts...)
	switch {
	case err == nil:
		return nc, nil
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return nil, fmt.Errorf("connecting to NATS at %s: the server refused %s: %w", o.redacted(), o.auth(), err)
	default:
		return nil, fmt.Errorf("connecting to NATS at %s: %w", o.redacted(), err)
	}
}
