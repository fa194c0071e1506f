// Command v3parse is the yaml.v3 baseline of Ward's end-to-end benchmark:
// it only reads the YAML and JSON files under its arguments and parses
// every document into a go.yaml.in/yaml/v3 Node, on all CPUs, one file per
// goroutine at a time (as a loader that works per file would). Nothing is
// decoded into Kubernetes types and nothing is analyzed, so no loader that
// parses with yaml.v3 can be faster than this (Ward's, which parses most
// documents with internal/fastyaml, can).
//
//	v3parse DIR...
//
// It prints one JSON line: files, documents, bytes and seconds.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: v3parse DIR|FILE...")
		os.Exit(2)
	}
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "v3parse:", err)
		os.Exit(1)
	}
}

type result struct {
	Files     int     `json:"files"`
	Documents int64   `json:"documents"`
	Bytes     int64   `json:"bytes"`
	Seconds   float64 `json:"seconds"`
}

func run(paths []string, stdout io.Writer) error {
	start := time.Now()
	var files []string
	for _, p := range paths {
		// #nosec G703 -- a benchmark tool: it reads the files its user names
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".yaml", ".yml", ".json":
				if !d.IsDir() {
					files = append(files, path)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}

	var (
		docs, size atomic.Int64
		wg         sync.WaitGroup
		mu         sync.Mutex
		errs       []error
	)
	next := make(chan string)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for path := range next {
				n, b, err := decodeFile(path)
				docs.Add(n)
				size.Add(b)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, f := range files {
		next <- f
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(result{
		Files:     len(files),
		Documents: docs.Load(),
		Bytes:     size.Load(),
		Seconds:   time.Since(start).Seconds(),
	})
}

func decodeFile(path string) (docs, size int64, err error) {
	data, err := os.ReadFile(path) // #nosec G304 -- a benchmark tool: it reads the files its user names
	if err != nil {
		return 0, 0, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return docs, int64(len(data)), fmt.Errorf("%s: %w", path, err)
		}
		docs++
	}
	return docs, int64(len(data)), nil
}
