// Package srcpos is the one error type every Ward loader returns for bad
// input: the file and line at fault (manifests, kustomizations, Helm
// charts, Compose files, Dockerfiles, ward.yaml, the proxy's
// configuration, AuthorizationPolicies, `ward watch`'s configuration and
// input records), so that callers and tools read
// every input error the same way (errors.As with *srcpos.Error) and users
// see every one as file:line: message.
//
// Loaders keep their own name for it (manifest.Error, assertion.Error,
// proxy.Error, ...): type aliases of Error, not other types.
package srcpos
