package dockerinv

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/portset"
)

// Labels Ward reads from containers.
const (
	// LabelNamespace overrides the namespace of a container (default: its
	// Compose project, else "default").
	LabelNamespace = "ward.dev/namespace"
	// LabelPorts names the ports a container serves, for the named ports
	// of policies: "http=8080/TCP,metrics=9100/TCP" (see ParsePorts).
	LabelPorts = "ward.dev/ports"
)

// Compose's labels.
const (
	labelProject = "com.docker.compose.project"
	labelService = "com.docker.compose.service"
	labelNumber  = "com.docker.compose.container-number"
	labelOneoff  = "com.docker.compose.oneoff"
)

// ErrPortsLabel is wrapped by the errors of a ward.dev/ports label that
// does not parse.
var ErrPortsLabel = errors.New("invalid " + LabelPorts + " label")

// ParsePorts parses the value of a ward.dev/ports label: a comma-separated
// list of name=port or name=port/PROTOCOL, such as
// "http=8080/TCP,metrics=9100/TCP". A name is a Kubernetes port name (at
// most 15 characters of a-z, 0-9 and '-', with a letter); a port is a
// number from 1 to 65535; the protocol is TCP (the default), UDP or SCTP,
// in any case. Spaces around an entry are ignored; an empty value has no
// ports. Anything else, an empty entry, a name used twice or one port and
// protocol named twice, is an error wrapping ErrPortsLabel that quotes the
// entry.
func ParsePorts(value string) ([]firewall.Port, error) {
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	var ports []firewall.Port
	for i, entry := range strings.Split(value, ",") {
		entry = strings.TrimSpace(entry)
		p, err := parsePort(entry)
		if err != nil {
			if entry == "" {
				return nil, fmt.Errorf("%w: entry %d is empty (want name=port/PROTOCOL, separated by commas)", ErrPortsLabel, i+1)
			}
			return nil, fmt.Errorf("%w: entry %q: %s", ErrPortsLabel, entry, err)
		}
		for _, q := range ports {
			switch {
			case q.Name == p.Name:
				return nil, fmt.Errorf("%w: entry %q: port name %q used twice", ErrPortsLabel, entry, p.Name)
			case q.Port == p.Port && q.Protocol == p.Protocol:
				return nil, fmt.Errorf("%w: entry %q: %d/%s already named %q", ErrPortsLabel, entry, p.Port, p.Protocol, q.Name)
			}
		}
		ports = append(ports, p)
	}
	return ports, nil
}

// parsePort parses one entry; its errors are plain descriptions.
func parsePort(entry string) (firewall.Port, error) {
	name, rest, ok := strings.Cut(entry, "=")
	if !ok {
		return firewall.Port{}, errors.New("want name=port/PROTOCOL")
	}
	if msgs := validation.IsValidPortName(name); len(msgs) > 0 {
		return firewall.Port{}, fmt.Errorf("port name %q: %s", name, msgs[0])
	}
	number, proto, hasProto := strings.Cut(rest, "/")
	p := firewall.Port{Name: name, Protocol: portset.TCP}
	if hasProto {
		pr, err := portset.ParseProtocol(proto)
		if err != nil {
			return firewall.Port{}, fmt.Errorf("protocol %q: want TCP, UDP or SCTP", proto)
		}
		p.Protocol = pr
	}
	n, err := strconv.ParseUint(number, 10, 16)
	if err != nil || n < portset.MinPort || number[0] == '0' {
		return firewall.Port{}, fmt.Errorf("port %q: want a number from 1 to 65535", number)
	}
	p.Port = uint16(n)
	return p, nil
}
