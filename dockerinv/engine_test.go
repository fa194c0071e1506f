package dockerinv_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
)

// engine serves recorded Docker Engine API responses (testdata/engine/*,
// recorded from Docker 20.10, API 1.41, with curl --unix-socket) on a unix
// socket, the way dockerd does: what the client under test sees is real
// daemon JSON.
type engine struct {
	mu       sync.Mutex
	list     []byte            // GET /containers/json
	inspect  map[string][]byte // GET /containers/{id}/json, by full ID
	networks []byte            // GET /networks
	// events serves GET /events; by default the recorded events.jsonl,
	// after which the stream closes.
	events   http.HandlerFunc
	recorded []byte
	paths    []string // request paths, in order
}

// loadEngine reads a recorded scenario directory.
func loadEngine(dir string) (*engine, error) {
	e := &engine{inspect: map[string][]byte{}}
	var err error
	if e.list, err = os.ReadFile(filepath.Join(dir, "containers.json")); err != nil {
		return nil, err
	}
	if e.networks, err = os.ReadFile(filepath.Join(dir, "networks.json")); err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "inspect", "*.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		data, err := os.ReadFile(f) // #nosec G304 -- test fixtures
		if err != nil {
			return nil, err
		}
		var id struct {
			ID string `json:"Id"`
		}
		if err := json.Unmarshal(data, &id); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		e.inspect[id.ID] = data
	}
	e.recorded, err = os.ReadFile(filepath.Join(dir, "events.jsonl"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	e.events = e.streamRecorded
	return e, nil
}

// streamRecorded writes the recorded events, one JSON object per line,
// flushing each, then ends the stream.
func (e *engine) streamRecorded(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	sc := bufio.NewScanner(bytes.NewReader(e.recorded))
	for sc.Scan() {
		_, _ = w.Write(append(sc.Bytes(), '\n'))
		w.(http.Flusher).Flush()
	}
}

func (e *engine) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		w.Header().Set("Ostype", "linux")
		_, _ = w.Write([]byte("OK"))
	})
	mux.HandleFunc("GET /{version}/containers/json", func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		defer e.mu.Unlock()
		writeJSON(w, http.StatusOK, e.list)
	})
	mux.HandleFunc("GET /{version}/containers/{id}/json", func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		defer e.mu.Unlock()
		data, ok := e.inspect[r.PathValue("id")]
		if !ok {
			writeJSON(w, http.StatusNotFound, fmt.Appendf(nil, `{"message":"No such container: %s"}`, r.PathValue("id")))
			return
		}
		writeJSON(w, http.StatusOK, data)
	})
	mux.HandleFunc("GET /{version}/networks", func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		defer e.mu.Unlock()
		writeJSON(w, http.StatusOK, e.networks)
	})
	mux.HandleFunc("GET /{version}/events", func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		h := e.events
		e.mu.Unlock()
		h(w, r)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.paths = append(e.paths, r.URL.Path)
		e.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, data []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// serve listens on socket (a unix socket path) and returns the host to
// give New and a function that stops the server, closing every
// connection, open event streams included.
func (e *engine) serve(socket string) (host string, stop func(), err error) {
	ln, err := net.Listen("unix", socket)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: e.handler()} // #nosec G112 -- a test server on a private unix socket
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return "unix://" + socket, func() {
		_ = srv.Close()
		<-done
	}, nil
}

// requests returns the paths requested so far.
func (e *engine) requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.paths...)
}

// drop removes the container id from the list and its inspect response,
// as if it had never run.
func (e *engine) drop(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var items []map[string]any
	if err := json.Unmarshal(e.list, &items); err != nil {
		return err
	}
	var kept []map[string]any
	for _, it := range items {
		if it["Id"] != id {
			kept = append(kept, it)
		}
	}
	if len(kept) == len(items) {
		return fmt.Errorf("no container %s in the recording", id)
	}
	list, err := json.Marshal(kept)
	if err != nil {
		return err
	}
	e.list = list
	delete(e.inspect, id)
	return nil
}

// setLabel changes a label in the inspect response of container id.
func (e *engine) setLabel(id, key, value string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var c map[string]any
	if err := json.Unmarshal(e.inspect[id], &c); err != nil {
		return err
	}
	cfg, ok := c["Config"].(map[string]any)
	if !ok {
		return fmt.Errorf("container %s: no Config", id)
	}
	labels, _ := cfg["Labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
	}
	labels[key] = value
	cfg["Labels"] = labels
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	e.inspect[id] = data
	return nil
}
