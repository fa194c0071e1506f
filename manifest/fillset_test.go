package manifest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// parseBothWays parses data with fill and with the reference decode and
// reports how the Sets or errors differ ("" when they do not). With file
// set, data is loaded from that regular file, so that owned Pods are
// decoded slim.
func parseBothWays(name string, data []byte, file string) string {
	defer func(old bool) { fillDecode = old }(fillDecode)
	var sets [2]*Set
	var errs [2]string
	for i, fill := range []bool{true, false} {
		fillDecode = fill
		var s *Set
		var err error
		if file == "" {
			s, err = Parse(Options{FieldLines: true}, name, slices.Clone(data))
		} else {
			if err := os.WriteFile(file, data, 0o600); err != nil {
				return err.Error()
			}
			l := newLoader(Options{FieldLines: true})
			l.run(func(emit emitFunc) { emit(file, slices.Clone(data), nil, true) })
			s, err = l.finish()
			for _, o := range s.objects {
				if o.slim != nil {
					o.slim.file = nil // the same file read the same way
				}
			}
		}
		sets[i] = s
		errs[i] = fmt.Sprint(err)
	}
	if errs[0] != errs[1] {
		return fmt.Sprintf("errors differ:\nfill: %s\nreference: %s", errs[0], errs[1])
	}
	if !reflect.DeepEqual(sets[0], sets[1]) {
		for i := range min(len(sets[0].Objects), len(sets[1].Objects)) {
			if a, b := sets[0].Objects[i], sets[1].Objects[i]; !reflect.DeepEqual(a, b) {
				return fmt.Sprintf("object %d differs:\nfill: %+v\nreference: %+v", i, a, b)
			}
		}
		return "Sets differ"
	}
	return ""
}

// TestFillSetDifferential holds whole Sets and errors parsed with fill to
// those of the reference decode, on the fixtures, generated dumps, edge
// cases and their random mutations.
func TestFillSetDifferential(t *testing.T) {
	mutations := 20
	if v, err := strconv.Atoi(os.Getenv("WARD_FILL_MUTATIONS")); err == nil {
		mutations = v
	}
	inputs := aliasInputs(t)
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range inputs {
			if !yield(k) {
				return
			}
		}
	})
	r := rand.New(rand.NewPCG(1, 2))
	file := filepath.Join(t.TempDir(), "input.yaml")
	for _, name := range names {
		data := inputs[name]
		for _, f := range []string{"", file} {
			if d := parseBothWays(name, data, f); d != "" {
				t.Errorf("%s (file %q): %s", name, f, d)
			}
		}
		if len(data) > 64<<10 {
			continue
		}
		for i := range mutations {
			m := mutateBytes(r, data)
			if d := parseBothWays(name, m, file); d != "" {
				t.Errorf("%s mutation %d: %s\ninput:\n%s", name, i, d, m)
				break
			}
		}
	}
}

// mutateBytes returns a copy of data with a few lines changed at random.
func mutateBytes(r *rand.Rand, data []byte) []byte {
	vals := []string{"~", "null", `""`, "0", "-0", "1e400", ".nan", "0x10", "0o17", "017", "yes", "True", "!!str 1", "!!int 1",
		"!!float 1", "!!binary aGk=", "[]", "{}", "[1, 2]", "{a: b}", `"\xff"`, "99999999999999999999999", "1.0", "+1", `"80"`, "http",
		"1Ki", "500m", "2024-01-01T00:00:00Z", `"\u0000"`, "&a x", "*a", "'x'", "-1", "65536", "true", "false"}
	lines := splitLines(data)
	for range 1 + r.IntN(3) {
		if len(lines) == 0 {
			break
		}
		i := r.IntN(len(lines))
		l := lines[i]
		switch r.IntN(9) {
		case 0, 1, 2:
			if c := indexByte(l, ':'); c >= 0 {
				lines[i] = l[:c] + ": " + vals[r.IntN(len(vals))]
			}
		case 3:
			lines = slices.Insert(lines, i, l)
		case 4:
			lines = slices.Delete(lines, i, i+1)
		case 5:
			j := r.IntN(len(lines))
			lines = slices.Insert(lines, j, l)
		case 6:
			lines[i] = " " + l
		case 7:
			p := r.IntN(len(l) + 1)
			lines[i] = l[:p] + []string{"{", "}", "[", "]", ",", "&b ", "*b", `"`, "'", "#", "\t", "\xff", "? ", "- ", ": "}[r.IntN(15)] + l[p:]
		case 8:
			if c := indexByte(l, ':'); c >= 0 {
				k := []string{"metadata", "spec", "labels", "annotations", "template", "containers", "ports", "name", "items", "kind", "apiVersion", "hostNetwork", "securityContext", "resources", "namespace", "selector", "matchLabels", "<<"}
				lead := len(l) - len(strings.TrimLeft(l, " -"))
				lines[i] = l[:lead] + k[r.IntN(len(k))] + l[c:]
			}
		}
	}
	var out []byte
	for _, l := range lines {
		out = append(out, l...)
		out = append(out, '\n')
	}
	return out
}

func splitLines(data []byte) []string {
	var out []string
	start := 0
	for i, c := range data {
		if c == '\n' {
			out = append(out, string(data[start:i]))
			start = i + 1
		}
	}
	if start < len(data) {
		out = append(out, string(data[start:]))
	}
	return out
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// FuzzFillSet is TestFillSetDifferential on any input: the Set and errors
// with fill are those of the reference decode.
func FuzzFillSet(f *testing.F) {
	for _, doc := range aliasEdgeCases {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		if d := parseBothWays("fuzz.yaml", data, ""); d != "" {
			t.Error(d)
		}
	})
}
