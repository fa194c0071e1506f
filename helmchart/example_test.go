package helmchart_test

import (
	"fmt"
	"log"

	"github.com/wardsec/ward/helmchart"
)

// Render the chart in testdata/shop as `helm template` would with a
// values file and --set, offline, and list where each output comes from.
func ExampleRender() {
	c, err := helmchart.Render("testdata/shop", helmchart.Options{
		ReleaseName: "prod",
		Namespace:   "shop",
		ValueFiles:  []string{"testdata/shop/values-prod.yaml"},
		Set:         []string{"image.tag=1.5.0"},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range c.Templates {
		fmt.Printf("%s  (%s)\n", t.File, t.Name)
	}
	// Output:
	// testdata/shop/charts/metrics/templates/daemonset.yaml  (shop/charts/metrics/templates/daemonset.yaml)
	// testdata/shop/charts/redis/templates/statefulset.yaml  (shop/charts/redis/templates/statefulset.yaml)
	// testdata/shop/templates/deployment.yaml  (shop/templates/deployment.yaml)
	// testdata/shop/templates/networkpolicy.yaml  (shop/templates/networkpolicy.yaml)
	// testdata/shop/templates/secret.yaml  (shop/templates/secret.yaml)
	// testdata/shop/templates/service.yaml  (shop/templates/service.yaml)
}
