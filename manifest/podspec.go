package manifest

import (
	"strconv"

	"go.yaml.in/yaml/v3"
)

// maxPodSpecDepth and maxPodSpecNodes bound the walk of embeddedPodSpecs
// through one custom resource.
const (
	maxPodSpecDepth = 32
	maxPodSpecNodes = 1 << 16
)

// embeddedPodSpecs returns the field paths of the pod specs a custom
// resource carries for the pods its operator creates, in document order:
// a mapping with containers or initContainers, a list of containers at
// least one of which names an image (KEDA's ScaledJob, Kubeflow's jobs,
// Flink's pod templates...), and a container or script mapping with an
// image (Argo Workflows' templates). Ward audits none of them.
func embeddedPodSpecs(n *yaml.Node) []string {
	var out []string
	budget := maxPodSpecNodes
	var walk func(n *yaml.Node, path string, depth int)
	walk = func(n *yaml.Node, path string, depth int) {
		if budget--; budget < 0 || depth > maxPodSpecDepth || n == nil {
			return
		}
		switch n.Kind {
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, path+"["+strconv.Itoa(i)+"]", depth+1)
			}
		case yaml.MappingNode:
			if looksLikePodSpec(n) {
				out = append(out, path)
				return
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if (k.Value == "container" || k.Value == "script") && hasImage(v) {
					out = append(out, p)
					continue
				}
				walk(v, p, depth+1)
			}
		}
	}
	walk(n, "", 0)
	return out
}

// looksLikePodSpec reports whether mapping n reads as a pod spec: containers or
// initContainers is a list of containers, one of which names an image.
func looksLikePodSpec(n *yaml.Node) bool {
	for _, key := range []string{"containers", "initContainers"} {
		if l := mapGet(n, key); l != nil && l.Kind == yaml.SequenceNode {
			for _, c := range l.Content {
				if hasImage(c) {
					return true
				}
			}
		}
	}
	return false
}

// hasImage reports whether n is a mapping with a non-empty image.
func hasImage(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.MappingNode && scalar(mapGet(n, "image")) != ""
}
