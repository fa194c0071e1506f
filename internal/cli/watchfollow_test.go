package cli

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardsec/ward/watch"
	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
)

const followInventory = `networks:
  - name: net
    subnets: [10.77.0.0/24]
containers:
  - name: web
    namespace: shop
    labels: {app: web}
    ips: [10.77.0.2]
`

// TestWatchFollowsInventory: with --inventory, ward watch reads the file
// again when it changes (once it stops changing): a container added while
// it runs is known by name from then on, and an address a new container
// reuses is not the old one's.
func TestWatchFollowsInventory(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.yaml")
	if err := os.WriteFile(inv, []byte(followInventory), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{stdin: strings.NewReader(""), stdout: os.Stdout, stderr: os.Stderr, log: slog.New(slog.DiscardHandler)}
	host := &watchHostFlags{inventory: inv}
	set, subnets, err := host.model(context.Background(), e, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := e.compile(set)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	names := map[netip.Addr]string{}
	p, err := watch.New(watch.Options{Config: detect.Default(), Table: identity.FromManifests(set, subnets...), Engine: eng,
		Observer: func(obs []detect.Observation) {
			mu.Lock()
			defer mu.Unlock()
			for _, o := range obs {
				name := o.SrcRes.String()
				if o.Src != nil {
					name = o.Src.ID()
				}
				names[o.E.Src] = name
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(addr string) string {
		a := netip.MustParseAddr(addr)
		ev := []event.Event{{Time: time.Now().UnixNano(), Origin: event.OriginConntrack, Kind: event.ConnNew, Verdict: event.Forwarded,
			Src: a, Dst: netip.MustParseAddr("10.77.0.2"), DstPort: 80, Proto: event.TCP}}
		if err := p.Deliver(ev); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return names[a]
	}
	if got := resolve("10.77.0.3"); got != "unknown" {
		t.Fatalf("10.77.0.3 before it is in the inventory: %s", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go host.follow(ctx, e, nil, nil, p)
	time.Sleep(1500 * time.Millisecond) // the first look
	// Written in two steps half a second apart: read once whole.
	added := followInventory + `  - name: api
    namespace: shop
    labels: {app: api}
    ips: [10.77.0.3]
`
	if err := os.WriteFile(inv, []byte(added[:len(added)-20]), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := os.WriteFile(inv, []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.Summary().Reloads == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if r := p.Summary().Reloads; r != 1 {
		t.Fatalf("%d reloads after one change written in two steps, want 1", r)
	}
	if got := resolve("10.77.0.3"); got != "shop/Pod/api" {
		t.Errorf("10.77.0.3 after the inventory names it: %s, want shop/Pod/api", got)
	}
	// An event from before the change keeps the old owner (nobody).
	ev := []event.Event{{Time: time.Now().Add(-time.Minute).UnixNano(), Origin: event.OriginConntrack, Kind: event.ConnNew, Verdict: event.Forwarded,
		Src: netip.MustParseAddr("10.77.0.3"), Dst: netip.MustParseAddr("10.77.0.2"), DstPort: 80, Proto: event.TCP}}
	if err := p.Deliver(ev); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if got := names[netip.MustParseAddr("10.77.0.3")]; got != "unknown" {
		t.Errorf("an event from a minute before the change: %s, want unknown", got)
	}
	mu.Unlock()
}
