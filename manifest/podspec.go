package manifest

import (
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// maxPodSpecDepth and maxPodSpecNodes bound the walk of findPodSpecs
// through one custom resource.
const (
	maxPodSpecDepth = 32
	maxPodSpecNodes = 1 << 16
)

// findPodSpecs returns the pod specs a custom resource carries for the
// pods its operator creates, in document order: a mapping with containers
// or initContainers, a list of containers at least one of which names an
// image (KEDA's ScaledJob, Kubeflow's jobs, Flink's pod templates...), and
// a container or script mapping with an image (Argo Workflows' templates,
// whose init containers go with it), and a mapping with a list of steps
// that are containers (Tekton's Task spec). decodePodSpec decodes them for the
// audits.
//
// cut is set when the walk stopped at maxPodSpecDepth or maxPodSpecNodes:
// the rest of the object was not searched.
func findPodSpecs(n *yaml.Node) (out []podSpecAt, cut bool) {
	budget := maxPodSpecNodes
	var stack []pathNode // the mappings and sequences above n, outermost first
	var walk func(n *yaml.Node, path string, depth int)
	walk = func(n *yaml.Node, path string, depth int) {
		if n == nil {
			return
		}
		if budget--; budget < 0 || depth > maxPodSpecDepth {
			cut = cut || n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode || budget < 0
			return
		}
		switch n.Kind {
		case yaml.SequenceNode:
			stack = append(stack, pathNode{n, path})
			for i, c := range n.Content {
				walk(c, path+"["+strconv.Itoa(i)+"]", depth+1)
			}
			stack = stack[:len(stack)-1]
		case yaml.MappingNode:
			// An Argo template's init containers run with its
			// container or script, in the pod spec of that one.
			argo := hasImage(mapGet(n, "container")) || hasImage(mapGet(n, "script"))
			if !argo && !looksLikePodSpec(n) && listsContainers(mapGet(n, "steps")) {
				// Tekton's Task spec: its steps are containers.
				out = append(out, podSpecAt{path: path, node: n, steps: true, above: slices.Clone(stack)})
				return
			}
			if looksLikePodSpec(n) && (!argo || listsContainers(mapGet(n, "containers"))) {
				out = append(out, podSpecAt{path: path, node: n, above: slices.Clone(stack)})
				for _, key := range []string{"container", "script"} {
					if v := mapGet(n, key); hasImage(v) {
						out = append(out, podSpecAt{path: joinPath(path, key), node: v, container: true,
							above: append(slices.Clone(stack), pathNode{n, path})})
					}
				}
				return
			}
			stack = append(stack, pathNode{n, path})
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if (k.Value == "container" || k.Value == "script") && hasImage(v) {
					out = append(out, podSpecAt{path: p, node: v, container: true, above: slices.Clone(stack)})
					continue
				}
				walk(v, p, depth+1)
			}
			stack = stack[:len(stack)-1]
		}
	}
	walk(n, "", 0)
	return out, cut
}

// looksLikePodSpec reports whether mapping n reads as a pod spec: containers or
// initContainers is a list of containers (listsContainers).
func looksLikePodSpec(n *yaml.Node) bool {
	return listsContainers(mapGet(n, "containers")) || listsContainers(mapGet(n, "initContainers"))
}

// listsContainers reports whether n is a list of containers: one names an
// image, or has a name and fields of a container (a Flink pod template's
// flink-main-container, whose image the operator sets).
func listsContainers(n *yaml.Node) bool {
	if n == nil || n.Kind != yaml.SequenceNode {
		return false
	}
	for _, c := range n.Content {
		if hasImage(c) {
			return true
		}
		if c.Kind != yaml.MappingNode || scalar(mapGet(c, "name")) == "" {
			continue
		}
		for _, f := range []string{"securityContext", "command", "args", "env", "envFrom", "volumeMounts", "ports", "resources", "lifecycle"} {
			if mapGet(c, f) != nil {
				return true
			}
		}
	}
	return false
}

// hasImage reports whether n is a mapping with a non-empty image.
func hasImage(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.MappingNode && scalar(mapGet(n, "image")) != ""
}
