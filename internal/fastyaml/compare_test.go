package fastyaml

import (
	"fmt"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// diffNodes returns the first difference between two node trees, with the
// path to it and its line, ignoring only the comment fields (HeadComment,
// LineComment, FootComment), which fastyaml does not fill in.
func diffNodes(got, want *yaml.Node) error {
	return diffAt(got, want, "$")
}

func diffAt(got, want *yaml.Node, path string) error {
	if (got == nil) != (want == nil) {
		return fmt.Errorf("%s: got node %v, want %v", path, got != nil, want != nil)
	}
	if got == nil {
		return nil
	}
	at := fmt.Sprintf("%s (line %d col %d)", path, want.Line, want.Column)
	switch {
	case got.Kind != want.Kind:
		return fmt.Errorf("%s: Kind %v, want %v", at, got.Kind, want.Kind)
	case got.Style != want.Style:
		return fmt.Errorf("%s: Style %v, want %v", at, got.Style, want.Style)
	case got.Tag != want.Tag:
		return fmt.Errorf("%s: Tag %q, want %q", at, got.Tag, want.Tag)
	case got.Value != want.Value:
		return fmt.Errorf("%s: Value %q, want %q", at, got.Value, want.Value)
	case got.Anchor != want.Anchor:
		return fmt.Errorf("%s: Anchor %q, want %q", at, got.Anchor, want.Anchor)
	case (got.Alias == nil) != (want.Alias == nil):
		return fmt.Errorf("%s: Alias %v, want %v", at, got.Alias != nil, want.Alias != nil)
	case got.Line != want.Line || got.Column != want.Column:
		return fmt.Errorf("%s: at line %d col %d, want line %d col %d", path, got.Line, got.Column, want.Line, want.Column)
	case len(got.Content) != len(want.Content):
		return fmt.Errorf("%s: %d children, want %d", at, len(got.Content), len(want.Content))
	}
	for i := range want.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		if want.Kind == yaml.MappingNode && i%2 == 1 {
			p = fmt.Sprintf("%s.%s", path, want.Content[i-1].Value)
		} else if want.Kind == yaml.MappingNode {
			p = fmt.Sprintf("%s.%s(key)", path, want.Content[i].Value)
		}
		if err := diffAt(got.Content[i], want.Content[i], p); err != nil {
			return err
		}
	}
	return nil
}

// v3 parses data as the fallback does.
func v3(data []byte) (*yaml.Node, error) {
	var n yaml.Node
	err := yaml.Unmarshal(data, &n)
	return &n, err
}

// differential checks the package's contract on data: fastyaml either
// refuses it, or yaml.v3 accepts it and builds the same tree. It returns
// whether fastyaml accepted it.
func differential(t testing.TB, data []byte) bool {
	t.Helper()
	got, err := Parse(data)
	if err != nil {
		if err != ErrUnsupported {
			t.Fatalf("Parse(%q): error %v, want ErrUnsupported", data, err)
		}
		return false
	}
	want, werr := v3(data)
	if werr != nil {
		t.Fatalf("Parse(%q) accepted a document yaml.v3 rejects: %v", data, werr)
	}
	if err := diffNodes(got, want); err != nil {
		t.Fatalf("Parse(%q) differs from yaml.v3: %v\ngot:\n%s\nwant:\n%s", data, err, dumpNode(got), dumpNode(want))
	}
	return true
}

// dumpNode renders a tree for failure messages.
func dumpNode(n *yaml.Node) string {
	var b strings.Builder
	var walk func(n *yaml.Node, ind string)
	walk = func(n *yaml.Node, ind string) {
		fmt.Fprintf(&b, "%skind=%d tag=%q value=%q style=%d at %d:%d\n", ind, n.Kind, n.Tag, n.Value, n.Style, n.Line, n.Column)
		for _, c := range n.Content {
			walk(c, ind+"  ")
		}
	}
	walk(n, "")
	return b.String()
}
