package synth_test

import (
	"fmt"
	"log"

	"github.com/wardsec/ward/internal/synth"
)

func Example() {
	c, err := synth.Generate(synth.Config{
		Seed:           1,
		Pods:           1000,
		Policies:       300,
		Dump:           true,
		ObjectsPerFile: 1000,
	})
	if err != nil {
		log.Fatal(err)
	}
	// c.WriteDir("testdata/cluster") would write the files.
	for _, f := range c.Files {
		fmt.Println(f.Name)
	}
	st := c.Stats
	fmt.Printf("%d pods of %d workloads on %d nodes\n", st.Kinds["Pod"], st.Workloads, st.Nodes)
	fmt.Printf("%d policies in %d namespaces\n", st.Kinds["NetworkPolicy"], st.Kinds["Namespace"])
	// Output:
	// cluster-0000.yaml
	// cluster-0001.yaml
	// cluster-0002.yaml
	// 1000 pods of 303 workloads on 10 nodes
	// 300 policies in 7 namespaces
}
