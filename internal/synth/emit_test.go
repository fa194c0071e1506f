package synth

import (
	"testing"

	"go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

func TestEmitter(t *testing.T) {
	write := func(e *emitter) {
		e.begin()
		e.kv("name", "web")
		e.key("empty")
		e.obj()
		e.end()
		e.key("none")
		e.list()
		e.end()
		e.key("items")
		e.list()
		e.obj()
		e.kvInt("port", 80)
		e.key("tags")
		e.list()
		e.str("a")
		e.str("10.0.0.0/8")
		e.end()
		e.end()
		e.obj()
		e.end()
		e.int(7)
		e.end()
		e.key("nested")
		e.obj()
		e.kvBool("ok", true)
		e.end()
		e.finish()
	}
	tests := []struct {
		json bool
		want string
	}{
		{false, `name: web
empty: {}
none: []
items:
- port: 80
  tags:
  - a
  - "10.0.0.0/8"
- {}
- 7
nested:
  ok: true
`},
		{true, `{"name":"web","empty":{},"none":[],"items":[{"port":80,"tags":["a","10.0.0.0/8"]},{},7],"nested":{"ok":true}}`},
	}
	for _, tt := range tests {
		e := &emitter{json: tt.json}
		write(e)
		if got := string(e.b); got != tt.want {
			t.Errorf("json=%v: got\n%s\nwant\n%s", tt.json, got, tt.want)
		}
	}
}

// Strings must read back unchanged under YAML 1.2 (go.yaml.in/yaml/v3) and
// YAML 1.1 (sigs.k8s.io/yaml, which the Kubernetes tools use).
func TestYAMLStringRoundTrip(t *testing.T) {
	for _, s := range []string{
		"", "web", "yes", "No", "on", "OFF", "y", "null", "true", "1", "1.5", "0x1F", "1e3",
		"12:30", "2025-06-01", "10.0.0.0/8", "/tmp", "512Mi", "100m", "v1.2.3",
		"app.kubernetes.io/name", "postgres:16.4", "a: b", "- x", "#x", "x:", "~", ".inf",
		"registry.example.com/team/app:1.2.3", "quote\"d", "key=value", "@x", "*x", "&x", "!x",
	} {
		e := &emitter{}
		e.begin()
		e.kv("v", s)
		e.finish()
		var v3 map[string]string
		if err := yaml.Unmarshal(e.b, &v3); err != nil || v3["v"] != s {
			t.Errorf("yaml v3 read %q as %q (err %v) from %q", s, v3["v"], err, e.b)
		}
		var v1 map[string]any
		if err := sigsyaml.Unmarshal(e.b, &v1); err != nil || v1["v"] != s {
			t.Errorf("sigs.k8s.io/yaml read %q as %#v (err %v) from %q", s, v1["v"], err, e.b)
		}
	}
}
