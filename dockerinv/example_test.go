package dockerinv_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/wardsec/ward/dockerinv"
)

// Reading the inventory of a Docker host. Here the host is a recording of
// a real Docker Engine (testdata/engine/shop) served on a unix socket; in
// ward, New("") connects to $DOCKER_HOST or /var/run/docker.sock.
func Example() {
	dir, err := os.MkdirTemp("", "dockerinv-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	e, err := loadEngine("testdata/engine/shop")
	if err != nil {
		log.Fatal(err)
	}
	host, stop, err := e.serve(filepath.Join(dir, "docker.sock"))
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	c, err := dockerinv.New(host)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.OnSkip = func(s dockerinv.Skipped) { fmt.Println(s) }
	inv, err := c.Inventory(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, n := range inv.Networks {
		fmt.Println("network", n.Name, n.Subnets, "internal:", n.Internal)
	}
	for _, c := range inv.Containers {
		fmt.Println(c.ID(), "app="+c.Labels["app"], c.IPs, c.Ports, "hostNetwork:", c.HostNetwork)
	}
	// Output:
	// container wardrec_batch_1 (e6206451a657) left out: network none: no address on a managed network
	// network bridge [172.17.0.0/16] internal: false
	// network wardrec_back [10.213.2.0/24] internal: true
	// network wardrec_front [10.213.1.0/24 fd00:213:1::/64] internal: false
	// default/wardrec-bridge app=legacy [172.17.0.2] [] hostNetwork: false
	// default/wardrec-plain app=plain [10.213.2.4] [{ 5000 UDP}] hostNetwork: false
	// payments/api app=api [10.213.2.20] [{grpc 9090 TCP} {dns 53 UDP} { 7000 TCP}] hostNetwork: false
	// wardrec/agent app=agent [] [] hostNetwork: true
	// wardrec/web-1 app=web [10.213.2.2 10.213.1.2 fd00:213:1::2] [{http 8080 TCP} {metrics 9100 TCP}] hostNetwork: false
	// wardrec/web-2 app=web [10.213.2.3 10.213.1.3 fd00:213:1::3] [{http 8080 TCP} {metrics 9100 TCP}] hostNetwork: false
}

func ExampleParsePorts() {
	ports, err := dockerinv.ParsePorts("http=8080/TCP,metrics=9100/TCP,dns=53/udp")
	fmt.Println(ports, err)
	_, err = dockerinv.ParsePorts("http:8080")
	fmt.Println(err)
	// Output:
	// [{http 8080 TCP} {metrics 9100 TCP} {dns 53 UDP}] <nil>
	// invalid ward.dev/ports label: entry "http:8080": want name=port/PROTOCOL
}
