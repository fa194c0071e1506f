package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// brBoolOptNoLLLearn is BR_BOOLOPT_NO_LL_LEARN of linux/if_bridge.h's
// enum br_boolopt_id: its bit in struct br_boolopt_multi (IFLA_BR_MULTI_BOOLOPT)
// is the bridge option no_linklocal_learn.
const brBoolOptNoLLLearn = 0

// ErrLinkLocalLearning: a bridge's no_linklocal_learn option could not be
// set, or reads back other than set (a kernel without the option ignores
// it).
var ErrLinkLocalLearning = errors.New("bridge option no_linklocal_learn not set")

// SetLinkLocalLearning sets the option no_linklocal_learn of each of
// bridges (`ip link set BR type bridge no_linklocal_learn 1` when learn is
// false, 0 when true) in the network namespace of the file descriptor
// netns (0: the current one), through rtnetlink, and reads it back. A
// bridge with the option set learns no source address from a frame to a
// link-local group address (01:80:c2:00:00:0X, LLDP's among them), which
// reaches no netfilter hook of the bridge when it is LLDP (see
// Ruleset.NoLinkLocalLearn); it still forwards or delivers those frames as
// before. Every bridge is tried; the error joins one error per bridge that
// failed, each naming it and wrapping ErrLinkLocalLearning.
func SetLinkLocalLearning(netns int, bridges []string, learn bool) error {
	if len(bridges) == 0 {
		return nil
	}
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: netns})
	if err != nil {
		return fmt.Errorf("%w: rtnetlink: %w", ErrLinkLocalLearning, err)
	}
	defer func() { _ = c.Close() }()
	var errs []error
	for _, br := range bridges {
		if err := setLinkLocalLearning(c, br, learn); err != nil {
			errs = append(errs, fmt.Errorf("bridge %s: %w: %w", br, ErrLinkLocalLearning, err))
		}
	}
	return errors.Join(errs...)
}

func setLinkLocalLearning(c *netlink.Conn, br string, learn bool) error {
	data, err := linkLocalLearningRequest(br, learn)
	if err != nil {
		return err
	}
	if _, err := c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_NEWLINK, Flags: netlink.Request | netlink.Acknowledge}, Data: data}); err != nil {
		return err
	}
	got, err := linkLocalLearning(c, br)
	if err != nil {
		return err
	}
	if got != learn {
		return errors.New("the kernel does not keep it (too old a kernel?)")
	}
	return nil
}

// ifinfomsg is an empty struct ifinfomsg (AF_UNSPEC, no index: the
// attribute IFLA_IFNAME names the link).
var ifinfomsg = make([]byte, unix.SizeofIfInfomsg)

// linkLocalLearningRequest is the payload of the RTM_NEWLINK request that
// sets bridge br's no_linklocal_learn to !learn, as ip-link(8) sends it:
// IFLA_IFNAME, and IFLA_LINKINFO holding IFLA_INFO_KIND "bridge" (the
// kernel refuses a link of another kind) and IFLA_INFO_DATA holding
// IFLA_BR_MULTI_BOOLOPT, a struct br_boolopt_multi {optval, optmask} in
// host byte order whose mask holds the option's bit alone, so that the
// bridge's other boolean options stay as they are.
func linkLocalLearningRequest(br string, learn bool) ([]byte, error) {
	var opt [8]byte
	if !learn {
		binary.NativeEndian.PutUint32(opt[:4], 1<<brBoolOptNoLLLearn)
	}
	binary.NativeEndian.PutUint32(opt[4:], 1<<brBoolOptNoLLLearn)
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, br)
	ae.Nested(unix.IFLA_LINKINFO, func(ae *netlink.AttributeEncoder) error {
		ae.String(unix.IFLA_INFO_KIND, "bridge")
		ae.Nested(unix.IFLA_INFO_DATA, func(ae *netlink.AttributeEncoder) error {
			ae.Bytes(unix.IFLA_BR_MULTI_BOOLOPT, opt[:])
			return nil
		})
		return nil
	})
	attrs, err := ae.Encode()
	if err != nil {
		return nil, err
	}
	return append(append([]byte{}, ifinfomsg...), attrs...), nil
}

// linkLocalLearning reads whether bridge br learns from link-local
// frames (its no_linklocal_learn is 0).
func linkLocalLearning(c *netlink.Conn, br string) (bool, error) {
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, br)
	attrs, err := ae.Encode()
	if err != nil {
		return false, err
	}
	msgs, err := c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request}, Data: append(append([]byte{}, ifinfomsg...), attrs...)})
	if err != nil {
		return false, err
	}
	if len(msgs) != 1 || len(msgs[0].Data) < unix.SizeofIfInfomsg {
		return false, fmt.Errorf("%d answers to RTM_GETLINK", len(msgs))
	}
	return parseLinkLocalLearning(msgs[0].Data[unix.SizeofIfInfomsg:])
}

// parseLinkLocalLearning reads the attributes of an RTM_NEWLINK message
// about a bridge: whether its no_linklocal_learn is 0.
func parseLinkLocalLearning(attrs []byte) (learn bool, err error) {
	found, kind := false, ""
	var walk func(ad *netlink.AttributeDecoder, level int) error
	walk = func(ad *netlink.AttributeDecoder, level int) error {
		for ad.Next() {
			switch t := ad.Type(); {
			case level == 0 && t == unix.IFLA_LINKINFO, level == 1 && t == unix.IFLA_INFO_DATA:
				ad.Nested(func(nad *netlink.AttributeDecoder) error { return walk(nad, level+1) })
			case level == 1 && t == unix.IFLA_INFO_KIND:
				kind = ad.String()
			case level == 2 && t == unix.IFLA_BR_MULTI_BOOLOPT:
				v := ad.Bytes()
				if len(v) != 8 {
					return fmt.Errorf("IFLA_BR_MULTI_BOOLOPT of %d bytes", len(v))
				}
				found = true
				learn = binary.NativeEndian.Uint32(v[:4])&(1<<brBoolOptNoLLLearn) == 0
			}
		}
		return nil
	}
	ad, err := netlink.NewAttributeDecoder(attrs)
	if err != nil {
		return false, err
	}
	if err := walk(ad, 0); err != nil {
		return false, err
	}
	if err := ad.Err(); err != nil {
		return false, err
	}
	switch {
	case kind != "bridge":
		return false, fmt.Errorf("a link of kind %q, not a bridge", kind)
	case !found:
		return false, errors.New("the kernel reports no IFLA_BR_MULTI_BOOLOPT (too old a kernel?)")
	}
	return learn, nil
}
