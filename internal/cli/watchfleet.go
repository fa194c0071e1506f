package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"github.com/wardsec/ward/srcpos"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/fleet"
)

// watchFleetFlags are ward watch's fleet mode: the sources published to
// NATS JetStream (--publish), or NATS as the detectors' source (--from).
type watchFleetFlags struct {
	publish, from, durable        string
	stream, prefix, filter        string
	maxAge, ackWait               time.Duration
	maxBytes                      int64
	dedup                         int
	ca, cert, key                 string
	user, passwordFile, tokenFile string
	nkey, creds                   string
}

func (w *watchFleetFlags) register(f *pflag.FlagSet) {
	f.StringVar(&w.publish, "publish", "", "publish the sources' events to NATS JetStream at this URL (nats://host:4222, tls://...) instead of judging them here")
	f.StringVar(&w.from, "from", "", "read events from NATS JetStream at this URL (with --durable), as one of a group of detectors")
	f.StringVar(&w.durable, "durable", "", "with --from, the durable consumer's name: every ward watch with the same name shares the stream, each event going to one of them")
	f.StringVar(&w.stream, "nats-stream", fleet.DefaultStream, "the JetStream stream (created if missing)")
	f.StringVar(&w.prefix, "nats-subject-prefix", fleet.DefaultSubjectPrefix, "events of node N are published to PREFIX.N")
	f.StringVar(&w.filter, "nats-filter", "", "with --from, take only events of these subjects (PREFIX.node-a, PREFIX.rack1-*): one group per set of nodes")
	f.DurationVar(&w.maxAge, "nats-max-age", fleet.DefaultMaxAge, "a new stream keeps an event at most this long while no detector takes it")
	f.Int64Var(&w.maxBytes, "nats-max-bytes", 0, "a new stream's storage bound in bytes (0: none); a full stream refuses events, which publishers count as lost")
	f.DurationVar(&w.ackWait, "nats-ack-wait", 30*time.Second, "with --from, how long the server waits for a batch's acknowledgement before delivering it again")
	f.IntVar(&w.dedup, "nats-dedup-window", fleet.DefaultDedupWindow, "with --from, the number of event IDs remembered to drop events delivered twice")
	f.StringVar(&w.ca, "nats-ca", "", "CA certificate (PEM) that verifies the NATS server")
	f.StringVar(&w.cert, "nats-cert", "", "client certificate (PEM) for NATS mutual TLS (with --nats-key)")
	f.StringVar(&w.key, "nats-key", "", "client certificate's key (PEM)")
	f.StringVar(&w.user, "nats-user", "", "NATS user (with --nats-password-file)")
	f.StringVar(&w.passwordFile, "nats-password-file", "", "file holding the NATS user's password")
	f.StringVar(&w.tokenFile, "nats-token-file", "", "file holding a NATS authentication token")
	f.StringVar(&w.nkey, "nats-nkey", "", "NATS nkey seed file")
	f.StringVar(&w.creds, "nats-creds", "", "NATS credentials file (user JWT and seed)")
}

// active reports whether NATS is an input, so that ward watch needs no
// other.
func (w *watchFleetFlags) active() bool { return w.from != "" }

// connect connects to url with the authentication and TLS flags.
func (w *watchFleetFlags) connect(url string, stderr func(error)) (*nats.Conn, error) {
	o := fleet.ConnOptions{URL: url, Name: "ward watch", CAFile: w.ca, CertFile: w.cert, KeyFile: w.key,
		User: w.user, NKeySeedFile: w.nkey, CredsFile: w.creds, OnError: stderr}
	for _, s := range []struct {
		flag, path string
		to         *string
	}{{"--nats-password-file", w.passwordFile, &o.Password}, {"--nats-token-file", w.tokenFile, &o.Token}} {
		if s.path == "" {
			continue
		}
		data, err := os.ReadFile(s.path) // #nosec G304 -- a secret file the operator names
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.flag, &srcpos.Error{File: s.path, Err: err})
		}
		if *s.to = strings.TrimRight(string(data), "\r\n"); *s.to == "" {
			return nil, fmt.Errorf("%s: %s is empty", s.flag, s.path)
		}
	}
	return fleet.Connect(o)
}

func (w *watchFleetFlags) streamOptions() fleet.StreamOptions {
	return fleet.StreamOptions{Name: w.stream, Subjects: []string{w.prefix + ".>"}, MaxAge: w.maxAge, MaxBytes: w.maxBytes}
}

// check reports flags that do not go together.
func (w *watchFleetFlags) check() error {
	switch {
	case w.from != "" && w.publish != "":
		return errors.New("--publish and --from together: a ward watch either publishes or detects")
	case w.from != "" && w.durable == "":
		return errors.New("--from needs --durable NAME: the consumer group's name on the server")
	case w.from == "" && w.durable != "":
		return errors.New("--durable applies to --from")
	}
	return nil
}

// addSource appends the NATS consumer to sources when --from is set; done
// reports what it did and closes the connection.
func (w *watchFleetFlags) addSource(ctx context.Context, e *env, sources *[]event.Source) (done func(), err error) {
	done = func() {}
	if err := w.check(); err != nil || w.from == "" {
		return done, err
	}
	nc, err := w.connect(w.from, func(err error) { fmt.Fprintf(e.stderr, "ward: warning: NATS: %v\n", err) })
	if err != nil {
		return done, err
	}
	c, err := fleet.NewConsumer(ctx, nc, fleet.ConsumerOptions{Stream: w.streamOptions(), Durable: w.durable,
		FilterSubject: w.filter, AckWait: w.ackWait, Dedup: fleet.NewDedup(w.dedup)})
	if err != nil {
		nc.Close()
		return done, err
	}
	*sources = append(*sources, c)
	return func() {
		nc.Close()
		st := c.Stats()
		fmt.Fprintf(e.stderr, "ward: watch: from %s: %d messages, %d events delivered, %d duplicates dropped, %d bad messages\n",
			c.Name(), st.Messages, st.Delivered, st.Duplicates, st.Bad)
	}, nil
}

// publishSources runs sources into NATS until they end or the command is
// interrupted. Exit 2 when an event was not published, a record was bad,
// a producer lost events or there was no event: never a clean result
// from what did not reach the detectors.
func (w *watchFleetFlags) publishSources(ctx context.Context, e *env, sources []event.Source) error {
	if err := w.check(); err != nil {
		return fail(ExitError, err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var mu sync.Mutex
	var shown int
	problem := func(p event.Problem) {
		mu.Lock()
		defer mu.Unlock()
		if shown++; shown <= maxShownProblems {
			fmt.Fprintf(e.stderr, "ward: warning: %v\n", p.Err)
		} else if shown == maxShownProblems+1 {
			fmt.Fprintln(e.stderr, "ward: warning: further problems are counted, not shown")
		}
	}
	nc, err := w.connect(w.publish, func(err error) { problem(event.Problem{Err: fmt.Errorf("NATS: %w", err)}) })
	if err != nil {
		return fail(ExitError, err)
	}
	defer nc.Close()
	st := w.streamOptions()
	pub, err := fleet.NewPublisher(ctx, nc, fleet.PublisherOptions{Stream: st, SubjectPrefix: w.prefix, Problem: problem})
	if err != nil {
		return fail(ExitError, err)
	}
	err = fleet.Publish(ctx, pub, sources...)
	_ = pub.Close()
	s := pub.Stats()
	fmt.Fprintf(e.stderr, "ward: watch: %d events published to stream %s (%d stored, %d already there, %d retried, %d not published), %d bad records, %d lost by producers\n",
		s.Events, st.Name, s.Stored, s.Duplicates, s.Retries, s.Failed, s.SourceProblems, s.SourceLost)
	switch {
	case err != nil:
		return fail(ExitError, err)
	case s.Failed > 0:
		return fail(ExitError, fmt.Errorf("%d events not published: the detectors will not see them", s.Failed))
	case s.SourceProblems > 0:
		return fail(ExitError, fmt.Errorf("%d bad records: the input was not read whole", s.SourceProblems))
	case s.SourceLost > 0:
		return fail(ExitError, fmt.Errorf("%d events lost by their producers", s.SourceLost))
	case s.Events == 0:
		return fail(ExitError, errors.New("no event in the input: nothing was published"))
	}
	return nil
}
