// Package registry decides whether a container image comes from a trusted
// registry: ward.yaml's `audit.registries.trusted` lists registry hosts
// and repository prefixes, and the pod, Compose and Dockerfile audits
// report images from anywhere else. References are normalised with
// github.com/distribution/reference, as Docker and the kubelet's container
// runtimes do: `nginx` is `docker.io/library/nginx`, `myorg/app` is
// `docker.io/myorg/app`.
package registry
