package lint

import (
	"encoding/binary"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

// compiler compiles policies for the checks, converting each distinct
// label selector and ipBlock once: policies repeat them (a namespace's
// name, an app label, the cluster's address ranges). It is not safe for
// concurrent use; the selectors it returns may be shared.
type compiler struct {
	selectors map[string]converted
	blocks    map[string]string // peerKeys of ipBlock peers
}

// converted is a label selector converted: sel is nil when it does not
// convert; key is its canonical form.
type converted struct {
	sel labels.Selector
	key string
}

func newCompiler() *compiler {
	return &compiler{selectors: map[string]converted{}, blocks: map[string]string{}}
}

// policy compiles what the checks ask of mp repeatedly.
func (c *compiler) policy(mp *manifest.Policy) *policy {
	p := &policy{
		Policy:   mp,
		obj:      mp.Namespace + "/NetworkPolicy/" + mp.Name,
		isolates: isolates(&mp.Spec),
		peers:    c.peers(&mp.Spec),
	}
	sel, key := c.convert(&mp.Spec.PodSelector)
	if sel == nil {
		// Loaded policies are valid; one built in code that is not
		// has failed netpol.Compile already.
		sel = labels.Nothing()
	}
	p.sel, p.selKey = sel, key
	p.effective = p.effectiveRules()
	return p
}

// peerSelectors is a peer with its selectors converted once.
type peerSelectors struct {
	// key is the peer's peerKey.
	key string
	// pod is the podSelector, Everything without one; nil for ipBlocks
	// and when it does not convert.
	pod labels.Selector
	// inNamespaces says the peer has a namespaceSelector, ns; ns is nil
	// when it does not convert.
	inNamespaces bool
	ns           labels.Selector
}

// peers compiles every peer of spec's rules, by direction, rule and peer.
func (c *compiler) peers(spec *networkingv1.NetworkPolicySpec) [2][][]peerSelectors {
	var out [2][][]peerSelectors
	compile := func(peers []networkingv1.NetworkPolicyPeer) []peerSelectors {
		ps := make([]peerSelectors, len(peers))
		for j, peer := range peers {
			ps[j] = c.peer(peer)
		}
		return ps
	}
	for _, r := range spec.Ingress {
		out[netpol.Ingress] = append(out[netpol.Ingress], compile(r.From))
	}
	for _, r := range spec.Egress {
		out[netpol.Egress] = append(out[netpol.Egress], compile(r.To))
	}
	return out
}

// peer converts peer's selectors and gives it the key peerKey would,
// from the converted selectors.
func (c *compiler) peer(peer networkingv1.NetworkPolicyPeer) peerSelectors {
	if peer.IPBlock != nil {
		return peerSelectors{key: c.blockKey(peer)}
	}
	ps := peerSelectors{pod: labels.Everything()}
	podKey := ""
	if peer.PodSelector != nil {
		ps.pod, podKey = c.convert(peer.PodSelector)
	}
	if peer.NamespaceSelector == nil {
		ps.key = "pod|" + podKey
		return ps
	}
	var nsKey string
	ps.inNamespaces = true
	ps.ns, nsKey = c.convert(peer.NamespaceSelector)
	ps.key = "ns|" + nsKey + "|" + podKey
	return ps
}

// blockKey is peerKey of an ipBlock peer.
func (c *compiler) blockKey(peer networkingv1.NetworkPolicyPeer) string {
	text := appendString(nil, peer.IPBlock.CIDR)
	for _, e := range peer.IPBlock.Except {
		text = appendString(text, e)
	}
	key, ok := c.blocks[string(text)] // no copy of text to look up
	if !ok {
		key = peerKey(peer)
		c.blocks[string(text)] = key
	}
	return key
}

// convert returns ls as a selector, nil when it does not convert, and its
// canonical form.
func (c *compiler) convert(ls *metav1.LabelSelector) (labels.Selector, string) {
	text := selectorText(ls)
	cv, ok := c.selectors[string(text)] // no copy of text to look up
	if !ok {
		cv.sel, cv.key = convert(ls)
		c.selectors[string(text)] = cv
	}
	return cv.sel, cv.key
}

// convert is compiler.convert without the memo.
func convert(ls *metav1.LabelSelector) (labels.Selector, string) {
	s, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil, invalidKey(ls)
	}
	return s, selectorKey(s)
}

// selectorText encodes ls, which must not be nil, unambiguously: equal
// texts are equal selectors (the same matchLabels and expressions in the
// same order).
func selectorText(ls *metav1.LabelSelector) []byte {
	b := make([]byte, 0, 64)
	b = binary.AppendUvarint(b, uint64(len(ls.MatchLabels)))
	keys := make([]string, 0, 8)
	for k := range ls.MatchLabels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, ls.MatchLabels[k])
	}
	for _, e := range ls.MatchExpressions {
		b = appendString(b, e.Key)
		b = appendString(b, string(e.Operator))
		b = binary.AppendUvarint(b, uint64(len(e.Values)))
		for _, v := range e.Values {
			b = appendString(b, v)
		}
	}
	return b
}

// appendString appends s to b after its length.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
