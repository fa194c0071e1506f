package watch

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardsec/ward/watch/detect"
)

type metrics struct {
	events, bad, lost, alerts *prometheus.CounterVec
	judged, unjudged          prometheus.Gauge
	untracked, clamped        prometheus.Gauge
	open                      prometheus.Gauge
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		events:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ward_watch_events_total", Help: "Events read, by origin."}, []string{"origin"}),
		bad:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ward_watch_bad_records_total", Help: "Input records that were not events, by source."}, []string{"source"}),
		lost:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ward_watch_lost_events_total", Help: "Events the producers reported lost, by source."}, []string{"source"}),
		alerts:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ward_watch_alert_reports_total", Help: "Alert reports, by detector, severity and state (open, update, closed)."}, []string{"detector", "severity", "state"}),
		judged:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "ward_watch_judged_flows", Help: "Flows judged by the policy engine so far."}),
		unjudged:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "ward_watch_unjudged_flows", Help: "Flows the policy engine could not judge (an end of unknown identity, a protocol the source does not name) so far."}),
		untracked: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ward_watch_untracked_keys", Help: "New keys refused by full detector window tables so far."}),
		clamped:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "ward_watch_clamped_events", Help: "Events dated beyond the clock's skew, clamped, so far."}),
		open:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "ward_watch_open_incidents", Help: "Incidents open now."}),
	}
	for _, c := range []prometheus.Collector{m.events, m.bad, m.lost, m.alerts, m.judged, m.unjudged, m.untracked, m.clamped, m.open} {
		if err := r.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) sync(s detect.Stats, open int) {
	m.judged.Set(float64(s.Judged))
	m.unjudged.Set(float64(s.Unjudged))
	m.untracked.Set(float64(s.Untracked))
	m.clamped.Set(float64(s.Clamped))
	m.open.Set(float64(open))
}
