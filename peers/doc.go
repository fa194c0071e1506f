// Package peers is the migration table between Ward's rules and the
// security checks of the auditors teams move from: kube-linter, Polaris,
// Trivy (KSV, KCV and DS checks), hadolint, KICS and Docker's build checks.
//
// Each Check says how Ward relates to one peer check: it has an equivalent
// rule, covers it differently (flags more, flags less, or judges by other
// semantics, and why), or leaves it to the peer (and why: style, not about
// security, correctness, obsolete, or an object Ward does not read). The
// Ward rules of a covered check are the ones an ignore entry of ward.yaml
// naming the peer's id silences (package suppress).
//
// Peer ids are written as users know them. Ids whose spelling already says
// which tool they belong to need no prefix:
//
//   - Trivy: KSV-0014, and the older spellings KSV014 and AVD-KSV-0014
//     (also DS-0002 and KCV-0093), optionally prefixed "trivy:"; letters
//     in any case.
//   - hadolint: DL3002, optionally "hadolint:DL3002".
//   - KICS: its query's UUID, bare or as "kics:<uuid>", where the table
//     records it; always "kics:<platform>/<query>", the query's directory
//     in KICS's assets/queries ("kics:k8s/container_is_privileged").
//
// Names that could belong to any tool take the tool as prefix:
// "kube-linter:run-as-non-root", "polaris:hostIPCSet",
// "docker:SecretsUsedInArgOrEnv". A bare name is not accepted; Suggest
// proposes the prefixed spelling.
package peers
