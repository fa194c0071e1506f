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

func writeFields(w io.Writer, fields []field) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString("{\n")
	for i, f := range fields {
		bw.WriteString("  ")
		k, _ := json.Marshal(f.name)
		bw.Write(k)
		bw.WriteString(": ")
		if f.items == nil {
			v, err := marshal(f.value)
			if err != nil {
				return err
			}
			bw.Write(v)
		} else if len(f.items) == 0 {
			bw.WriteString("[]")
		} else {
			bw.WriteString("[\n")
			for j, it := range f.items {
				v, err := marshal(it)
				if err != nil {
					return err
				}
				bw.WriteString("    ")
				bw.Write(v)
				if j < len(f.items)-1 {
					bw.WriteByte(',')
				}
				bw.WriteByte('\n')
			}
			bw.WriteString("  ]")
		}
		if i < len(fields)-1 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i := range xs {
		out[i] = xs[i]
	}
	if out == nil {
		out = []any{}
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
		{name: "connections", items: anys(s.Connections)},
	}
	if len(s.Notes) > 0 {
		fs = append(fs, field{name: "notes", value: s.Notes})
	}
	return writeFields(w, fs)
}
