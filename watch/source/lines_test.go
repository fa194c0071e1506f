package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardsec/ward/srcpos"
	"github.com/wardsec/ward/watch/event"
)

// collect is a Sink keeping copies of everything.
type collect struct {
	mu       sync.Mutex
	events   []event.Event
	problems []event.Problem
	batches  int
}

func (c *collect) Deliver(b []event.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(b) > event.BatchSize {
		return fmt.Errorf("batch of %d", len(b))
	}
	c.events = append(c.events, b...)
	c.batches++
	return nil
}

func (c *collect) Problem(p event.Problem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problems = append(c.problems, p)
}

func (c *collect) snapshot() ([]event.Event, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ps []string
	for _, p := range c.problems {
		ps = append(ps, p.Err.Error())
	}
	return append([]event.Event(nil), c.events...), ps
}

func flowLine(sec int, port int) string {
	return fmt.Sprintf(`{"flow":{"time":"2026-12-06T07:00:%02dZ","verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":40000,"destination_port":%d,"flags":{"SYN":true}}}}}`, sec, port)
}

// TestLinesProblems: every bad line is reported at its file and line and
// skipped; good lines around it still arrive.
func TestLinesProblems(t *testing.T) {
	long := `{"flow":{"x":"` + strings.Repeat("a", 300) + `"}}`
	for _, tc := range []struct {
		name     string
		input    string
		maxLine  int
		ports    []uint16
		problems []string
	}{
		{"clean, CRLF and blank lines", flowLine(1, 1) + "\r\n\n" + flowLine(2, 2) + "\n", 0, []uint16{1, 2}, nil},
		{"unterminated last line is a record", flowLine(1, 1) + "\n" + flowLine(2, 2), 0, []uint16{1, 2}, nil},
		{"truncated last line", flowLine(1, 1) + "\n" + flowLine(2, 2)[:40], 0, []uint16{1},
			[]string{"in.jsonl:2: column 41: unterminated string (truncated record?)"}},
		{"garbage between", flowLine(1, 1) + "\nnot json\n" + flowLine(2, 2) + "\n", 0, []uint16{1, 2},
			[]string{`in.jsonl:2: column 1: want '{', found 'n'`}},
		{"over-long line skipped", flowLine(1, 1) + "\n" + long + "\n" + flowLine(3, 3) + "\n", 250, []uint16{1, 3},
			[]string{"in.jsonl:2: line longer than 250 bytes skipped"}},
		{"over-long unterminated tail", flowLine(1, 1) + "\n" + long, 250, []uint16{1},
			[]string{"in.jsonl:2: line longer than 250 bytes skipped"}},
		{"over-long line beyond the read buffer", flowLine(1, 1) + "\n" + strings.Repeat("x", 3*bufSize) + "\n" + flowLine(3, 3) + "\n", 100 << 10, []uint16{1, 3},
			[]string{"in.jsonl:2: line longer than 102400 bytes skipped"}},
		{"long line within the limit, beyond the read buffer", `{"pad":"` + strings.Repeat("x", 2*bufSize) + `",` + flowLine(1, 1)[1:] + "\n", 0, []uint16{1}, nil},
		{"lost events", `{"lost_events":{"num_events_lost":"7"}}` + "\n", 0, nil,
			[]string{"in.jsonl:1: the producer reports 7 events lost"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c collect
			l := &Lines{Label: "hubble", Path: "in.jsonl", In: strings.NewReader(tc.input), MaxLine: tc.maxLine, Decoder: NewHubble()}
			if err := l.Run(context.Background(), &c); err != nil {
				t.Fatal(err)
			}
			evs, ps := c.snapshot()
			var ports []uint16
			for _, e := range evs {
				ports = append(ports, e.DstPort)
			}
			if fmt.Sprint(ports) != fmt.Sprint(tc.ports) {
				t.Errorf("ports %v, want %v", ports, tc.ports)
			}
			if fmt.Sprint(ps) != fmt.Sprint(tc.problems) {
				t.Errorf("problems\n%q\nwant\n%q", ps, tc.problems)
			}
			for _, p := range c.problems {
				var pe *srcpos.Error
				if !errors.As(p.Err, &pe) || pe.File != "in.jsonl" || pe.Line == 0 {
					t.Errorf("problem %v is not a srcpos.Error with a line", p.Err)
				}
			}
		})
	}
}

func TestLinesBatches(t *testing.T) {
	var b strings.Builder
	for i := range 1000 {
		b.WriteString(flowLine(i%60, i+1) + "\n")
	}
	var c collect
	l := &Lines{Label: "hubble", Path: "-", In: strings.NewReader(b.String()), Decoder: NewHubble()}
	if err := l.Run(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.events) != 1000 || c.batches != 4 {
		t.Errorf("%d events in %d batches, want 1000 in 4", len(c.events), c.batches)
	}
	for i, e := range c.events {
		if int(e.DstPort) != i+1 {
			t.Fatalf("event %d has port %d: order lost", i, e.DstPort)
		}
	}
}

func TestLinesMissingFile(t *testing.T) {
	l := &Lines{Label: "hubble", Path: filepath.Join(t.TempDir(), "none"), Decoder: NewHubble()}
	var pe *srcpos.Error
	if err := l.Run(context.Background(), &collect{}); !errors.As(err, &pe) {
		t.Errorf("err = %v, want a srcpos.Error", err)
	}
}

// waitFor polls until cond holds (10 s at most: the follower polls every
// few milliseconds; this is a deadline, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600) // #nosec G304 -- test file
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestFollowRotation: a followed file keeps delivering across both
// rotation styles, loses no line written before or after, and reports a
// line cut by truncation.
func TestFollowRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flows.jsonl")
	appendFile(t, path, flowLine(1, 1)+"\n")
	var c collect
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	l := &Lines{Label: "hubble", Path: path, Follow: true, Poll: 2 * time.Millisecond, Decoder: NewHubble()}
	go func() { done <- l.Run(ctx, &c) }()
	count := func(n int) func() bool {
		return func() bool { evs, _ := c.snapshot(); return len(evs) >= n }
	}
	waitFor(t, "the first line", count(1))

	// A line written in two parts arrives once, whole.
	half := flowLine(2, 2)
	appendFile(t, path, half[:30])
	time.Sleep(20 * time.Millisecond)
	appendFile(t, path, half[30:]+"\n")
	waitFor(t, "the split line", count(2))

	// Rename rotation: the old file gets one more (unterminated) line
	// after the rename, then the new file starts.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path+".1", flowLine(3, 3))
	appendFile(t, path, flowLine(4, 4)+"\n")
	waitFor(t, "lines around the rename", count(4))

	// copytruncate: the file is emptied in place, with half a line pending.
	appendFile(t, path, flowLine(5, 5)+"\n"+flowLine(6, 6)[:25])
	waitFor(t, "line 5", count(5))
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	appendFile(t, path, flowLine(7, 7)+"\n")
	waitFor(t, "the line after truncation", count(6))

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	evs, ps := c.snapshot()
	var ports []uint16
	for _, e := range evs {
		ports = append(ports, e.DstPort)
	}
	if fmt.Sprint(ports) != "[1 2 3 4 5 7]" {
		t.Errorf("ports %v, want [1 2 3 4 5 7]", ports)
	}
	want := []string{path + ":3: file truncated while this line was incomplete; its start is dropped"}
	if fmt.Sprint(ps) != fmt.Sprint(want) {
		t.Errorf("problems %q, want %q", ps, want)
	}
}

func TestFollowNeedsFile(t *testing.T) {
	l := &Lines{Label: "hubble", Path: "-", In: strings.NewReader(""), Follow: true, Decoder: NewHubble()}
	if err := l.Run(context.Background(), &collect{}); err == nil {
		t.Error("following standard input must be refused")
	}
}
