package firewall

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// le32 is v in host byte order, as struct br_boolopt_multi holds it.
func le32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// TestLinkLocalLearningRequest checks the RTM_NEWLINK payload byte by
// byte against what ip-link(8) sends for `ip link set br0 type bridge
// no_linklocal_learn 1` (and 0): an empty ifinfomsg, IFLA_IFNAME "br0",
// IFLA_LINKINFO { IFLA_INFO_KIND "bridge", IFLA_INFO_DATA {
// IFLA_BR_MULTI_BOOLOPT { optval, optmask 1 } } }.
func TestLinkLocalLearningRequest(t *testing.T) {
	for _, tc := range []struct {
		learn  bool
		optval uint32
	}{{false, 1}, {true, 0}} {
		got, err := linkLocalLearningRequest("br0", tc.learn)
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.Join([][]byte{
			make([]byte, 16), // struct ifinfomsg
			{8, 0, unix.IFLA_IFNAME, 0, 'b', 'r', '0', 0},                       // "br0\0"
			{32, 0, unix.IFLA_LINKINFO, 0x80},                                   // nested, 32 bytes
			{11, 0, unix.IFLA_INFO_KIND, 0, 'b', 'r', 'i', 'd', 'g', 'e', 0, 0}, // "bridge\0", padded
			{16, 0, unix.IFLA_INFO_DATA, 0x80},                                  // nested, 16 bytes
			{12, 0, unix.IFLA_BR_MULTI_BOOLOPT, 0},
			le32(tc.optval), le32(1), // optval, optmask: BR_BOOLOPT_NO_LL_LEARN alone
		}, nil)
		if !bytes.Equal(got, want) {
			t.Errorf("learn %v: request\n% x\nwant\n% x", tc.learn, got, want)
		}
	}
}

// TestParseLinkLocalLearning reads IFLA_BR_MULTI_BOOLOPT back from the
// attributes of an RTM_NEWLINK answer, and refuses a link that is no
// bridge or a kernel that reports no such attribute.
func TestParseLinkLocalLearning(t *testing.T) {
	answer := func(kind string, opt []byte) []byte {
		ae := netlink.NewAttributeEncoder()
		ae.String(unix.IFLA_IFNAME, "br0")
		ae.Uint32(unix.IFLA_MTU, 1500)
		ae.Nested(unix.IFLA_LINKINFO, func(ae *netlink.AttributeEncoder) error {
			ae.String(unix.IFLA_INFO_KIND, kind)
			ae.Nested(unix.IFLA_INFO_DATA, func(ae *netlink.AttributeEncoder) error {
				ae.Uint32(unix.IFLA_BR_AGEING_TIME, 30000)
				if opt != nil {
					ae.Bytes(unix.IFLA_BR_MULTI_BOOLOPT, opt)
				}
				return nil
			})
			return nil
		})
		b, err := ae.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name    string
		attrs   []byte
		learn   bool
		wantErr bool
	}{
		{"learns", answer("bridge", append(le32(0b110), le32(0b111)...)), true, false},
		{"no_linklocal_learn 1", answer("bridge", append(le32(0b001), le32(0b111)...)), false, false},
		{"not a bridge", answer("vxlan", append(le32(0), le32(1)...)), false, true},
		{"old kernel", answer("bridge", nil), false, true},
		{"short option", answer("bridge", le32(1)), false, true},
	} {
		learn, err := parseLinkLocalLearning(tc.attrs)
		if (err != nil) != tc.wantErr || err == nil && learn != tc.learn {
			t.Errorf("%s: parseLinkLocalLearning = %v, %v; want %v, error %v", tc.name, learn, err, tc.learn, tc.wantErr)
		}
	}
}
