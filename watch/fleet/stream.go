package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of StreamOptions and the publisher's subjects.
const (
	DefaultStream        = "WARD_EVENTS"
	DefaultSubjectPrefix = "ward.events"
	DefaultMaxAge        = 24 * time.Hour
	DefaultDuplicates    = 2 * time.Minute
)

// StreamOptions describe the JetStream stream events travel through.
type StreamOptions struct {
	// Name is the stream's name (default DefaultStream).
	Name string
	// Subjects the stream holds (default DefaultSubjectPrefix + ".>").
	Subjects []string
	// MaxAge is how long an event waits for a detector (default
	// DefaultMaxAge); MaxBytes bounds the stream's storage (0: no bound).
	// A full stream refuses new events: publishers count them as not
	// published; it never drops events already stored.
	MaxAge   time.Duration
	MaxBytes int64
	// Duplicates is the window in which the server drops an event
	// published again with the same ID (default DefaultDuplicates, at
	// most MaxAge).
	Duplicates time.Duration
	// Replicas is the number of copies in a cluster (default 1).
	Replicas int
	// Memory keeps the stream in memory instead of files.
	Memory bool
}

func (o StreamOptions) withDefaults() StreamOptions {
	if o.Name == "" {
		o.Name = DefaultStream
	}
	if len(o.Subjects) == 0 {
		o.Subjects = []string{DefaultSubjectPrefix + ".>"}
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Duplicates <= 0 {
		o.Duplicates = DefaultDuplicates
	}
	o.Duplicates = min(o.Duplicates, o.MaxAge)
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	return o
}

// config is the stream's configuration: a work queue (an event is
// removed once a detector acknowledged it; each event goes to one
// consumer of the group), discarding new events when full (so the loss
// is seen and counted by the publisher, never silent).
func (o StreamOptions) config() jetstream.StreamConfig {
	o = o.withDefaults()
	storage := jetstream.FileStorage
	if o.Memory {
		storage = jetstream.MemoryStorage
	}
	maxBytes := o.MaxBytes
	if maxBytes <= 0 {
		maxBytes = -1
	}
	return jetstream.StreamConfig{
		Name:        o.Name,
		Description: "ward watch events",
		Subjects:    o.Subjects,
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardNew,
		MaxAge:      o.MaxAge,
		MaxBytes:    maxBytes,
		MaxMsgs:     -1,
		Duplicates:  o.Duplicates,
		Replicas:    o.Replicas,
		Storage:     storage,
	}
}

// EnsureStream creates the stream if it does not exist. An existing
// stream is kept as it is (its limits are the operator's: change them
// with the nats tool), but it must hold the subjects of these options.
func EnsureStream(ctx context.Context, js jetstream.JetStream, o StreamOptions) (jetstream.Stream, error) {
	cfg := o.config()
	s, err := js.CreateStream(ctx, cfg)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil, fmt.Errorf("creating stream %s: %w", cfg.Name, err)
	}
	s, err = js.Stream(ctx, cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", cfg.Name, err)
	}
	have := s.CachedInfo().Config.Subjects
	for _, want := range cfg.Subjects {
		if !slices.ContainsFunc(have, func(h string) bool { return subjectCovers(h, want) }) {
			return nil, fmt.Errorf("stream %s exists with subjects %s, which do not hold %s", cfg.Name, strings.Join(have, " "), want)
		}
	}
	return s, nil
}

// subjectCovers reports whether the subject pattern p matches every
// subject pattern q matches (NATS wildcards: * one token, > the rest).
func subjectCovers(p, q string) bool {
	pt, qt := strings.Split(p, "."), strings.Split(q, ".")
	for i, t := range pt {
		if t == ">" {
			return len(qt) > i
		}
		if i >= len(qt) {
			return false
		}
		switch {
		case t == "*" && qt[i] != ">":
		case t == qt[i]:
		default:
			return false
		}
	}
	return len(pt) == len(qt)
}
