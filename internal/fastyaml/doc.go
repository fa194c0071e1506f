// Package fastyaml is a hand-written fast path for the subset of YAML that
// Kubernetes manifests use: kubectl dumps, helm template output and YAML
// written by hand.
//
// Ward loads tens of thousands of documents at a time, and
// go.yaml.in/yaml/v3, which builds a yaml.Node tree through a port of
// libyaml's event machinery, spends most of that time on generality the
// manifests never use. Parse builds the very same yaml.Node tree (the
// same Kind, Tag, Value, Style, Line, Column and Content order) straight
// from the bytes, several times faster and with a handful of allocations
// per document: nodes come from one slab, Content slices from another,
// and values are substrings of one copy of the input.
//
// yaml.v3 stays the reference and the fallback. Parse accepts only what
// it is sure to read as yaml.v3 does, and returns ErrUnsupported for
// everything else, including every syntax error, so the caller parses
// such a document with yaml.v3, which gives the error messages:
//
//	doc, err := fastyaml.Parse(data)
//	if err != nil { // fastyaml.ErrUnsupported
//		doc = new(yaml.Node)
//		err = yaml.Unmarshal(data, doc)
//	}
//
// The supported subset: one document, optionally after a "---" line;
// block mappings and block sequences, including the compact "- key: v"
// form and sequences at their parent key's column; single-line plain,
// single-quoted and double-quoted scalars (with yaml.v3's escapes and its
// resolution of plain scalars to !!null, !!bool, !!int, !!float,
// !!timestamp and !!str); single-line flow mappings and sequences, nested
// in each other, with plain or quoted keys; comments; empty values; "\n"
// or "\r\n" line breaks; literal block scalars ("|", "|-", "|+", with an
// indentation indicator or not) as mapping values and sequence entries,
// which kubectl writes for the last-applied-configuration annotation.
// Refused: anchors, aliases, merge keys, infinities and NaNs (.inf,
// .nan: kubectl fails on them, and the caller looks for them), plain mapping keys that are not
// strings to every reader (null, booleans, numbers, and the YAML 1.1
// booleans on, yes, y... which kubectl turns into "true"), tags, folded block scalars (">"),
// other scalars or flow collections over several lines, complex
// keys, directives, "---" or "..." inside the document, a document that
// is a bare scalar, tabs anywhere, control characters, byte order marks
// and the Unicode line breaks NEL, LS and PS, and a few rare forms that
// are valid YAML but easy to get subtly wrong: a '#' straight after a
// quoted scalar or flow collection, a trailing ',' in a flow collection,
// flow mapping entries without ": ", plain scalars in flow collections
// that hold ':', '?', '[' or '{', a scalar on the line after its key,
// plain scalars starting with '?' or ':', a '#' straight after a block
// scalar header, blank lines before a block scalar's first line indented
// deeper than it, keys over 512 bytes and nesting over 512 levels.
//
// A document of nothing but comments and blank lines yields the zero
// Node, as yaml.Unmarshal leaves it.
//
// ParseObject leaves out metadata.managedFields (checked, not built), and
// ParseObjectIn parses into an Arena that the next document reuses, its
// strings sharing the caller's bytes: for loaders that take what they need
// from a tree before parsing the next one.
//
// Comments are dropped: HeadComment, LineComment and FootComment are
// always empty, and Ward does not read them. Otherwise the trees are
// equal, which the package's tests check by differential testing against
// yaml.v3: on generated clusters in both styles (none of whose documents
// may fall back), on tables of tricky cases, on random documents with
// block scalars, and by fuzzing (FuzzParse),
// where for any input Parse must either refuse it or agree with yaml.v3.
package fastyaml
