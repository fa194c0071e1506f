package fastyaml

import (
	"bytes"
	"os"
	"testing"
)

// kubectlCorpus is the manifest package's corpus of inputs that YAML
// readers disagree on (tags, YAML 1.1 scalars and keys, merge keys,
// anchors, escapes, directives, document markers, line breaks, JSON),
// which package manifest replays against kubectl's reading: one document
// of each after every "---" line.
func kubectlCorpus(t testing.TB) [][]byte {
	data, err := os.ReadFile("../../manifest/testdata/kubectl-differential.txt")
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	for _, c := range bytes.Split(data, []byte("#### case "))[1:] {
		_, in, _ := bytes.Cut(c, []byte("\n"))
		docs = append(docs, in)
		docs = append(docs, bytes.Split(in, []byte("\n---"))...)
	}
	return docs
}

// TestKubectlCorpus holds Parse and ParseObject to their contract on the
// kubectl corpus: refused, or read as yaml.v3 reads it; and the corpus's
// plain manifests must not fall back.
func TestKubectlCorpus(t *testing.T) {
	accepted := 0
	for _, doc := range kubectlCorpus(t) {
		if objectDifferential(t, doc) {
			accepted++
		}
	}
	if accepted < 50 {
		t.Errorf("the fast path accepted %d documents of the corpus", accepted)
	}
}
