package netpol

import (
	"encoding/json"
	"testing"

	"github.com/wardsec/ward/portset"
)

// TestConnectionJSON checks the hand-written encoder against encoding/json.
func TestConnectionJSON(t *testing.T) {
	for _, s := range []string{"web/Deployment/a", `we"ird\name`, "tab\there", "<&>", "0.0.0.0/0; ::/0", "ünï"} {
		c := Connection{Src: s, Dst: s + "x", Allowed: portset.Port(portset.UDP, 53)}
		got, err := c.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: invalid JSON %s: %v", s, got, err)
		}
		if back["src"] != s || back["dst"] != s+"x" {
			t.Errorf("%q: round trip gave %v", s, back)
		}
		type plain struct {
			Src     string      `json:"src"`
			Dst     string      `json:"dst"`
			Allowed portset.Set `json:"allowed"`
		}
		want, _ := json.Marshal(plain(c))
		if string(got) != string(want) {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}
