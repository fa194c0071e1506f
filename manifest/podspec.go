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
// Flink's pod templates...), a container or script mapping with an
// image (Argo Workflows' templates), any other list of mappings one of
// which names an image (Tekton's steps and sidecars), and a mapping that
// looksLikeContainer (a SparkApplication's driver). Ward audits none of
// them.
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
			for _, c := range n.Content {
				if hasImage(c) {
					// A list of containers under another name:
					// Tekton's steps and sidecars.
					out = append(out, path)
					return
				}
			}
			for i, c := range n.Content {
				walk(c, path+"["+strconv.Itoa(i)+"]", depth+1)
			}
		case yaml.MappingNode:
			if looksLikePodSpec(n) || looksLikeContainer(n) {
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

// looksLikeContainer reports whether mapping n sets what a container or
// a pod runs with, outside a containers list: a securityContext mapping
// (the driver and executor of a SparkApplication, a Tekton stepTemplate),
// or an image beside a container's fields (command, args, env...).
func looksLikeContainer(n *yaml.Node) bool {
	if sc := mapGet(n, "securityContext"); sc != nil && sc.Kind == yaml.MappingNode && len(sc.Content) > 0 {
		return true
	}
	if scalar(mapGet(n, "image")) == "" {
		return false
	}
	for _, key := range []string{"command", "args", "env", "envFrom", "volumeMounts", "resources", "ports", "workingDir"} {
		if mapGet(n, key) != nil {
			return true
		}
	}
	return false
}

// hasImage reports whether n is a mapping with a non-empty image.
func hasImage(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.MappingNode && scalar(mapGet(n, "image")) != ""
}
