package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardsec/ward/assertion"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
	"github.com/wardsec/ward/watch/store"
)

// Options configure a Pipeline.
type Options struct {
	Config detect.Config
	// Table resolves addresses (nil: every address is external).
	Table *identity.Table
	// Engine judges flows against the NetworkPolicies (nil: no policy
	// detectors).
	Engine *netpol.Engine
	// Assertions (ward.yaml), when set, judge observed flows too (needs
	// Engine).
	Assertions *assertion.Config
	// Clock bounds forged event times (nil: event time only).
	Clock event.Clock
	// Alerts receives one JSON line per alert report (one text line with
	// Text).
	Alerts io.Writer
	// Text writes alert reports for people: time, severity, detector,
	// state, summary and incident ID.
	Text bool
	// JSONAlerts, when set, also receives every alert report as one JSON
	// line, whatever Text says (a webhook.Sender).
	JSONAlerts io.Writer
	// Problem, when set, is told of each problem as it happens.
	Problem func(event.Problem)
	// Observer, when set, sees every batch of resolved events after the
	// detectors (the live view), under the pipeline's lock: it must not
	// keep the slice.
	Observer func([]detect.Observation)
	// OnAlert, when set, hears of each alert report (the live view),
	// synchronously: the Alert changes as the incident grows.
	OnAlert func(*detect.Alert)
	// Registerer, when set, receives the pipeline's metrics.
	Registerer prometheus.Registerer
	// Quiet, when set (with Clock), is how often Run lets detector time
	// pass while the input is quiet (followed files), so that incidents
	// close and windows expire without new events: the detectors' time
	// is the last event's time plus the Clock time elapsed since it came.
	Quiet time.Duration
	// Store, when set, keeps every alert report and the learned baseline:
	// New takes up the baseline it holds, what the baseline learns is
	// queued to it as it is learned, and Close queues the rest (the
	// caller closes the store after the pipeline).
	Store *store.Store
}

// Summary is what a run read and raised.
type Summary struct {
	Events uint64 `json:"events"`
	// BadRecords counts lines and records that were not events.
	BadRecords uint64 `json:"badRecords"`
	// Lost counts events the producers reported lost.
	Lost uint64 `json:"lost"`
	// Alerts counts incidents by detector (each counted once, when opened).
	Alerts map[string]uint64 `json:"alerts"`
	// Judged and Unjudged count flows the policy engine did and did not
	// judge (an end of unknown identity, a protocol the source does not
	// name).
	Judged   uint64 `json:"judged"`
	Unjudged uint64 `json:"unjudged"`
	// Clamped counts events dated beyond the clock's skew.
	Clamped uint64 `json:"clamped"`
	// Untracked counts keys the full window tables refused.
	Untracked uint64 `json:"untracked"`
	// Reloads counts the inventories read again while running (Reload).
	Reloads uint64 `json:"reloads,omitempty"`
	// BySource counts events per source.
	BySource map[string]uint64 `json:"bySource"`
}

// Pipeline resolves and judges events; it is the Sink of every source.
type Pipeline struct {
	mu      sync.Mutex
	opts    Options
	det     *detect.Detectors
	obs     []detect.Observation
	sum     Summary
	werr    error
	metrics *metrics
	// lastWall is the Clock's time when the last batch arrived.
	lastWall time.Time
}

// New returns a pipeline.
func New(opts Options) (*Pipeline, error) {
	p := &Pipeline{opts: opts, sum: Summary{Alerts: map[string]uint64{}, BySource: map[string]uint64{}}}
	if opts.Table == nil {
		p.opts.Table = identity.NewTable()
	}
	if opts.Registerer != nil {
		m, err := newMetrics(opts.Registerer)
		if err != nil {
			return nil, err
		}
		p.metrics = m
	}
	p.det = detect.New(opts.Config, opts.Engine, opts.Clock, p.emit)
	if opts.Store != nil {
		snap, err := opts.Store.Baseline()
		if err != nil {
			return nil, err
		}
		p.det.RestoreBaseline(snap)
		p.det.TrackBaseline()
	}
	if opts.Assertions != nil {
		p.det.CheckAssertions(opts.Assertions.File, opts.Assertions.Assertions)
	}
	return p, nil
}

// emit writes one alert report.
func (p *Pipeline) emit(a *detect.Alert) {
	if a.State == detect.Opened {
		p.sum.Alerts[a.Detector]++
	}
	if p.metrics != nil {
		p.metrics.alerts.WithLabelValues(a.Detector, a.Severity, a.State).Inc()
	}
	if p.opts.OnAlert != nil {
		p.opts.OnAlert(a)
	}
	// The report's JSON, made once for whoever wants it.
	var js []byte
	var jerr error
	if p.opts.Store != nil || p.opts.JSONAlerts != nil || (p.opts.Alerts != nil && !p.opts.Text) {
		js, jerr = json.Marshal(a)
	}
	if p.opts.Store != nil {
		// Queued, never waited for.
		p.opts.Store.Alert(a, js)
	}
	if p.opts.JSONAlerts != nil && jerr == nil {
		// Its own writer (a webhook sender) never blocks and counts its
		// own failures.
		_, _ = p.opts.JSONAlerts.Write(append(js[:len(js):len(js)], '\n'))
	}
	if p.werr != nil || p.opts.Alerts == nil {
		return
	}
	var b []byte
	err := jerr
	if p.opts.Text {
		// Summaries quote names the observed traffic chose (detect
		// escapes them); escaped here again, no detector's text can
		// break a line.
		b, err = fmt.Appendf(nil, "%s %-8s %-17s %-6s %s (incident %s, %d)", a.Last, a.Severity, a.Detector, a.State, detect.SafeLine(a.Summary), a.ID, a.Count), nil
	} else {
		b = js
	}
	if err == nil {
		_, err = p.opts.Alerts.Write(append(b, '\n'))
	}
	if err != nil {
		p.werr = fmt.Errorf("writing alerts: %w", err)
	}
}

// Reload makes the pipeline resolve events from at on with table (an
// inventory read again) and judge them with engine; events before at keep
// the owners their addresses had then.
func (p *Pipeline) Reload(at time.Time, table *identity.Table, engine *netpol.Engine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opts.Table = p.opts.Table.Replace(at.UnixNano(), table)
	p.opts.Engine = engine
	p.det.SetEngine(engine)
	p.sum.Reloads++
}

// Deliver implements event.Sink.
func (p *Pipeline) Deliver(batch []event.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.werr != nil {
		return p.werr
	}
	p.obs = p.obs[:0]
	tab := p.opts.Table
	for i := range batch {
		e := &batch[i]
		o := detect.Observation{E: e}
		o.Src, o.SrcRes = tab.Resolve(e.Src, e.Time)
		o.Dst, o.DstRes = tab.Resolve(e.Dst, e.Time)
		o.SrcNode, o.DstNode = tab.Node(e.Src, e.Time), tab.Node(e.Dst, e.Time)
		if o.SrcRes != identity.Resolved && e.SrcName != "" {
			if w := tab.ByPod(e.SrcNamespace, e.SrcName); w != nil {
				o.Src, o.SrcRes = w, identity.Resolved
			}
		}
		if o.DstRes != identity.Resolved && e.DstName != "" {
			if w := tab.ByPod(e.DstNamespace, e.DstName); w != nil {
				o.Dst, o.DstRes = w, identity.Resolved
			}
		}
		p.obs = append(p.obs, o)
	}
	p.det.Observe(p.obs)
	if p.opts.Store != nil {
		p.opts.Store.Learned(p.det.BaselineChanges())
	}
	if p.opts.Observer != nil {
		p.opts.Observer(p.obs)
	}
	if p.opts.Clock != nil {
		p.lastWall = p.opts.Clock.Now()
	}
	p.sum.Events += uint64(len(batch))
	if len(batch) > 0 {
		p.sum.BySource[batch[0].Origin.String()] += uint64(len(batch))
		if p.metrics != nil {
			p.metrics.events.WithLabelValues(batch[0].Origin.String()).Add(float64(len(batch)))
			p.metrics.sync(p.det.Stats(), p.det.OpenIncidents())
		}
	}
	return p.werr
}

// Problem implements event.Sink.
func (p *Pipeline) Problem(pr event.Problem) {
	p.mu.Lock()
	if pr.Lost > 0 {
		p.sum.Lost += pr.Lost
		if p.metrics != nil {
			p.metrics.lost.WithLabelValues(pr.Source).Add(float64(pr.Lost))
		}
	} else {
		p.sum.BadRecords++
		if p.metrics != nil {
			p.metrics.bad.WithLabelValues(pr.Source).Inc()
		}
	}
	p.mu.Unlock()
	if p.opts.Problem != nil {
		p.opts.Problem(pr)
	}
}

// Tick lets detector time pass while the input is quiet: the last event's
// time plus the Clock time elapsed since it arrived. Without a Clock, or
// before any event, it does nothing.
func (p *Pipeline) Tick() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.opts.Clock == nil || p.lastWall.IsZero() {
		return p.werr
	}
	if elapsed := p.opts.Clock.Now().Sub(p.lastWall); elapsed > 0 {
		p.det.AdvanceTo(p.det.Now().Add(elapsed))
		p.lastWall = p.opts.Clock.Now()
	}
	return p.werr
}

// Close reports what is pending and closes every incident.
func (p *Pipeline) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.det.Close()
	if s := p.opts.Store; s != nil {
		s.Learned(p.det.BaselineChanges())
		if s.BaselineDropped() {
			// Changes were dropped on the way: the whole baseline, now.
			if err := s.SaveBaseline(p.det.Baseline()); err != nil && p.werr == nil {
				p.werr = err
			}
		}
	}
	return p.werr
}

// Summary returns the counters so far.
func (p *Pipeline) Summary() Summary {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.sum
	// The maps are the pipeline's: the caller gets copies it may read
	// while the pipeline goes on (the live view, tests).
	s.Alerts, s.BySource = maps.Clone(p.sum.Alerts), maps.Clone(p.sum.BySource)
	st := p.det.Stats()
	s.Judged, s.Unjudged, s.Clamped, s.Untracked = st.Judged, st.Unjudged, st.Clamped, st.Untracked
	if p.metrics != nil {
		p.metrics.sync(st, p.det.OpenIncidents())
	}
	return s
}

// Run runs every source into the pipeline until they all end or ctx is
// done, then closes it. A source's failure stops the others.
func Run(ctx context.Context, p *Pipeline, sources ...event.Source) (Summary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(sources))
	var wg sync.WaitGroup
	done := make(chan struct{})
	if p.opts.Quiet > 0 && p.opts.Clock != nil {
		go func() {
			t := time.NewTicker(p.opts.Quiet)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					if err := p.Tick(); err != nil {
						cancel()
					}
				}
			}
		}()
	}
	defer close(done)
	for i, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Run(ctx, p); err != nil && !errors.Is(err, context.Canceled) {
				errs[i] = err
				cancel()
			}
		}()
	}
	wg.Wait()
	err := errors.Join(errs...)
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	return p.Summary(), err
}
