package report

import (
	"bufio"
	"encoding/json"
	"io"

	"github.com/wardsec/ward/netpol"
)

// Large results (a cluster's connections) are written with one array
// element per line: still valid, indented enough to read and to diff, but
// a fraction of the size and time of fully indented JSON.

type field struct {
	name  string
	items []any
	value any
}

// jsonWriter buffers output. bufio.Writer's first error is sticky and
// returned by Flush, so the writes in between need no checks of their own.
type jsonWriter struct{ bw *bufio.Writer }

func (j jsonWriter) str(s string) { _, _ = j.bw.WriteString(s) }
func (j jsonWriter) raw(b []byte) { _, _ = j.bw.Write(b) }

func writeFields(w io.Writer, fields []field) error {
	j := jsonWriter{bufio.NewWriterSize(w, 1<<16)}
	j.str("{\n")
	for i, f := range fields {
		k, err := json.Marshal(f.name)
		if err != nil {
			return err
		}
		j.str("  ")
		j.raw(k)
		j.str(": ")
		switch {
		case f.items == nil:
			v, err := json.Marshal(f.value)
			if err != nil {
				return err
			}
			j.raw(v)
		case len(f.items) == 0:
			j.str("[]")
		default:
			j.str("[\n")
			for n, it := range f.items {
				v, err := json.Marshal(it)
				if err != nil {
					return err
				}
				j.str("    ")
				j.raw(v)
				if n < len(f.items)-1 {
					j.str(",")
				}
				j.str("\n")
			}
			j.str("  ]")
		}
		if i < len(fields)-1 {
			j.str(",")
		}
		j.str("\n")
	}
	j.str("}\n")
	return j.bw.Flush()
}

func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i := range xs {
		out[i] = xs[i]
	}
	return out
}

// ReachJSON writes the `ward reach -o json` contract (docs/json.md).
func ReachJSON(w io.Writer, r *netpol.Reach) error {
	fs := []field{
		{name: "workloads", items: anys(r.Workloads)},
		{name: "connections", items: anys(r.Connections)},
	}
	if len(r.Notes) > 0 {
		fs = append(fs, field{name: "notes", value: r.Notes})
	}
	return writeFields(w, fs)
}

// SummaryJSON writes the `ward reach --summary -o json` contract.
func SummaryJSON(w io.Writer, s *netpol.Summary) error {
	fs := []field{
		{name: "classes", items: anys(s.Classes)},
		{name: "groups", items: anys(s.Groups)},
	}
	if !s.Ports.Empty() {
		fs = append(fs, field{name: "ports", value: s.Ports})
	}
	if len(s.Notes) > 0 {
		fs = append(fs, field{name: "notes", value: s.Notes})
	}
	return writeFields(w, fs)
}
