// Package kustomize renders kustomization directories for Ward, offline.
//
// Build renders a directory the way `kustomize build` does, in-process
// (sigs.k8s.io/kustomize/api/krusty), with two differences that matter to
// a security tool:
//
//   - It never reaches the network and never runs a program. Before
//     kustomize runs, Check scans the kustomization tree (every
//     kustomization reached through resources, bases, components,
//     generators, transformers and validators) and refuses every
//     reference that is not a file or directory inside the tree's root:
//     URLs of any scheme, git forms (host:org/repo.git, git@..., a bare
//     github.com/..., ?ref=, //subdir), absolute paths and `..` leading
//     outside the root, symlinks leading outside, Helm charts and
//     generators, transformers or validators that are not kustomize
//     builtins (exec, container and Go plugins). Each refusal is a
//     *manifest.Error naming the kustomization file, the line and the
//     field. Kustomize itself then only sees a read-only file system that
//     cannot reach outside the root, with plugins and Helm disabled.
//
//   - When the tree only lists resources (no patches, generators,
//     namePrefix, labels or any other transformation), Build does not run
//     kustomize at all: it returns the listed files, in kustomize's
//     order, for Ward's own loader to read. The objects are the same
//     (a differential test checks it against krusty) and Ward's loader
//     is much faster than kustomize, whose resource map is quadratic in
//     the number of objects.
//
// Build takes a size limit (ward's --max-input-size) that bounds its
// memory as it bounds Ward's loader: a file of the tree larger than the
// limit is an error naming it, never read past the limit; kustomize may
// read no more than the limit in all, a base counted each time it is
// loaded (an overlay of many overlays of one base reads it many times);
// and a build whose output passes the limit is an error naming the
// kustomization file and the object that passes it, measured object by
// object before the output is written out. krusty offers no hook inside
// a build, so what kustomize makes in memory from what it has read (a
// patch or a replacement copying a value many times) is only seen in its
// output, once built.
package kustomize
