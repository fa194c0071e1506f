package manifest

import (
	"slices"
	"strconv"
	"strings"

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
// image (KEDA's ScaledJob, Kubeflow's jobs, Flink's pod templates...), a
// container or script mapping with an image (Argo Workflows' templates,
// whose init containers and sidecars go with it), any other list of
// mappings one of which names an image (Tekton's steps and sidecars), and
// a mapping that looksLikeContainer (a SparkApplication's driver).
// decodePodSpec decodes them for the audits.
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
			if slices.ContainsFunc(n.Content, hasImage) {
				// A list of containers under another name:
				// Tekton's steps and sidecars.
				out = append(out, podSpecAt{path: path, node: n, list: true, above: slices.Clone(stack)})
				return
			}
			stack = append(stack, pathNode{n, path})
			for i, c := range n.Content {
				walk(c, path+"["+strconv.Itoa(i)+"]", depth+1)
			}
			stack = stack[:len(stack)-1]
		case yaml.MappingNode:
			// An Argo template's init containers and sidecars run with
			// its container or script, in the pod spec of that one.
			argo := hasImage(mapGet(n, "container")) || hasImage(mapGet(n, "script"))
			if looksLikePodSpec(n) && (!argo || listsContainers(mapGet(n, "containers"))) {
				out = append(out, podSpecAt{path: path, node: n, above: slices.Clone(stack)})
				for _, key := range []string{"container", "script"} {
					if v := mapGet(n, key); hasImage(v) {
						out = append(out, podSpecAt{path: joinPath(path, key), node: v, container: true, argo: true,
							above: append(slices.Clone(stack), pathNode{n, path})})
					}
				}
				return
			}
			alone := !argo && looksLikeContainer(n)
			if alone && hasImage(n) {
				out = append(out, podSpecAt{path: path, node: n, container: true, above: slices.Clone(stack)})
				return
			}
			found := len(out)
			stack = append(stack, pathNode{n, path})
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if (k.Value == "container" || k.Value == "script") && hasImage(v) {
					out = append(out, podSpecAt{path: p, node: v, container: true, argo: true, above: slices.Clone(stack)})
					continue
				}
				if argo && (k.Value == "initContainers" || k.Value == "sidecars") {
					continue // in the pod spec of the container
				}
				walk(v, p, depth+1)
			}
			stack = stack[:len(stack)-1]
			if alone && len(out) == found {
				// A securityContext with no pod spec below: a
				// container whose image the operator sets (a Spark
				// driver). With pod specs below, it is their pod's
				// (an Argo workflow spec's), read as such.
				out = append(out, podSpecAt{path: path, node: n, container: true, above: slices.Clone(stack)})
			}
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

// looksLikeContainer reports whether mapping n sets what a container or
// a pod runs with, outside a containers list: a securityContext mapping
// (the driver and executor of a SparkApplication, a Tekton stepTemplate),
// a host namespace (hostNetwork, hostPID or hostIPC true) or a hostPath
// volume (a Prometheus' spec, whose image and containers the operator
// sets), or an image beside a container's fields (command, args, env...).
func looksLikeContainer(n *yaml.Node) bool {
	if sc := mapGet(n, "securityContext"); sc != nil && sc.Kind == yaml.MappingNode && len(sc.Content) > 0 {
		return true
	}
	for _, key := range []string{"hostNetwork", "hostPID", "hostIPC"} {
		if v := mapGet(n, key); v != nil && v.Kind == yaml.ScalarNode && slices.Contains([]string{"true", "yes", "y", "on"}, strings.ToLower(v.Value)) {
			return true
		}
	}
	if vs := mapGet(n, "volumes"); vs != nil && vs.Kind == yaml.SequenceNode && slices.ContainsFunc(vs.Content, func(v *yaml.Node) bool {
		return v.Kind == yaml.MappingNode && mapGet(v, "hostPath") != nil
	}) {
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
