package guard

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
)

func TestChainOrder(t *testing.T) {
	var order []string
	mark := func(name string) Middleware {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				next.ServeHTTP(w, r)
			})
		}
	}
	h := Chain(mark("a"), mark("b"), mark("c"))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { order = append(order, "h") }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if got := strings.Join(order, ","); got != "a,b,c,h" {
		t.Errorf("order %s, want a,b,c,h", got)
	}
}

// forbidden are module path prefixes the library must not depend on.
var forbidden = []string{"k8s.io/", "sigs.k8s.io/", "github.com/moby/", "github.com/google/nftables", "github.com/compose-spec/", "github.com/spf13/"}

// TestDependencies keeps the library light: guard, its packages and the
// istio types import nothing from Kubernetes, buildkit, nftables, Compose
// or the CLI's libraries, directly or not.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test=false", "-f", "{{.ImportPath}}", "github.com/wardsec/ward/guard/...", "github.com/wardsec/ward/istio").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	n := 0
	for _, dep := range strings.Fields(string(out)) {
		n++
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("the guard library depends on %s", dep)
			}
		}
	}
	if n < 10 {
		t.Fatalf("go list listed only %d packages:\n%s", n, out)
	}
}
