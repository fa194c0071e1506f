package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/store"
)

func Example() {
	dir, _ := os.MkdirTemp("", "ward")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "watch.db")
	s, err := store.Open(path, store.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	s.Alert(&detect.Alert{ID: "3f2a", Detector: detect.PortScanName, Severity: detect.High, State: detect.Opened,
		Summary: "dev/Pod/tool probed 15 ports of shop/Pod/db-0", First: now, Last: now, Count: 15}, nil)
	st, _ := s.Close()
	fmt.Println("written:", st.Reports)

	r, _ := store.Open(path, store.Config{Existing: true})
	defer r.Close()
	alerts, _ := r.Alerts(store.Query{Detector: detect.PortScanName})
	for _, a := range alerts {
		fmt.Println(a.ID, a.State, a.Summary)
	}
	// Output:
	// written: 1
	// 3f2a open dev/Pod/tool probed 15 ports of shop/Pod/db-0
}
