package fastyaml

import (
	"math/rand/v2"
	"testing"
)

// FuzzParse holds fastyaml to its contract on any input: it returns
// ErrUnsupported, or yaml.v3 accepts the input too and builds the same
// tree (comments aside); ParseObject accepts the same inputs and builds
// the same tree but for the objects' managedFields. The committed corpus is in
// testdata/fuzz/FuzzParse; the tables of this package, documents from
// randomDoc and randomLiteral, and the kubectl corpus seed it further.
func FuzzParse(f *testing.F) {
	for _, doc := range supported {
		f.Add([]byte(doc))
	}
	for _, doc := range refused {
		f.Add([]byte(doc))
	}
	for _, doc := range literals {
		f.Add([]byte(doc))
	}
	r := rand.New(rand.NewPCG(7, 7))
	for range 64 {
		f.Add([]byte(randomDoc(r)))
		f.Add([]byte(randomLiteral(r)))
	}
	for _, doc := range objects {
		f.Add([]byte(doc))
	}
	for _, doc := range kubectlCorpus(f) {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objectDifferential(t, data) // Parse, then ParseObject
	})
}
