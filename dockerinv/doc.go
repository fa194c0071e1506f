// Package dockerinv reads a firewall.Inventory from a Docker Engine: the
// running containers with their labels, addresses and ports, and the
// bridge networks their addresses come from. It is what `ward fw
// --docker` enforces policies between, and Watch tells `ward fw run` when
// to read it again.
//
// # Mapping
//
// Each running container becomes a firewall.Container, seen by policies as
// a bare Pod:
//
//   - Namespace: the label ward.dev/namespace, else the Compose project
//     (label com.docker.compose.project), else "default".
//   - Name: the Compose service (com.docker.compose.service); when the
//     service runs several containers in that namespace, each is named
//     service-N after its com.docker.compose.container-number, so that
//     names stay unique. Containers outside Compose, and one-off `compose
//     run` containers, keep their Docker name.
//   - Labels: the container's labels that are valid Kubernetes labels
//     (a qualified-name key and a value of at most 63 characters of
//     [A-Za-z0-9._-], starting and ending alphanumeric). The others are
//     dropped silently: Compose's com.docker.compose.project.config_files
//     and working_dir (paths), config-hash (64 characters), the
//     ward.dev/ports label itself. A podSelector can only name what a Pod
//     could carry.
//   - Ports: the named ports of the label ward.dev/ports (see ParsePorts),
//     then each exposed port (EXPOSE, --expose, Compose's expose and
//     ports) that the label does not name, unnamed.
//   - IPs: the container's IPv4 and IPv6 addresses on the managed
//     networks, by network name.
//
// Managed networks are the networks of the bridge driver, user-defined and
// Docker's default "bridge" alike, with their IPAM subnets and Internal
// flag. A container whose NetworkMode is host becomes a HostNetwork
// container (no address). A container with no address on a managed
// network (network none, another container's network stack, only
// macvlan or overlay networks) is left out of the inventory; OnSkip tells
// the caller which and why. A container with addresses on managed and
// other networks is kept with its managed addresses; OnUnmanaged names
// the others, on which no policy is enforced.
//
// The result passes firewall.Inventory.Validate, the checks of an
// inventory file: a ward.dev/namespace that is not a valid label value, two
// containers with one name, an address outside the managed subnets are
// errors naming the container. A ward.dev/ports label that does not parse
// is an error too (ErrPortsLabel): a policy naming a port the label meant
// to name would silently match nothing.
//
// # Quarantine
//
// With Client.Quarantine (what `ward fw run` uses), such a container does
// not fail the inventory: it is quarantined, listed with its Docker name
// and ID, the reason and its addresses in the inventory's Quarantined
// instead of its Containers, and the firewall drops its traffic both
// ways. Every other container is read as usual, so that one bad label
// does not freeze enforcement for all. Containers that claim one
// namespace/name, or one address, are all quarantined: none can be told
// from the other. What is no one container's fault (the daemon
// unreachable, two networks of one name) still fails.
//
// # Bridge ports
//
// On a local daemon, each container's bridge ports (the host side of its
// veths) become its Interfaces, which the firewall binds to its addresses
// and to the MAC addresses of its endpoints on managed networks (MACs,
// from the endpoints' MacAddress).
// Every other port of the managed networks' bridges (a quarantined
// container's, one whose own ports were not found, one started since the
// containers were listed) is listed in the inventory's UnknownPorts,
// which the firewall binds to no address, and reported through
// Client.OnUnknownPort: a container Ward has not classified cannot forge
// another's source address.
//
// # Events
//
// Watch follows the daemon's event stream and reports container start,
// die, destroy and rename and network connect and disconnect. It
// reconnects with exponential backoff when the stream drops, and reports
// Resync on every (re)connection: events may have been missed, so the
// caller reads the inventory again.
package dockerinv
