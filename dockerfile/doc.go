// Package dockerfile audits Dockerfiles for hardening: what the final
// image runs as (user-root, user-missing), what it carries (a shell, a
// compiler, a cgo binary, no HEALTHCHECK), secrets in ENV and ARG, remote
// ADDs, and base images that float (latest-tag, base-not-pinned).
//
// Audit parses with BuildKit's own parser (frontend/dockerfile/parser and
// instructions), so it accepts exactly what docker build accepts. Runtime
// properties are judged on the final stage, or on Options.Target as with
// docker build --target, together with the stages it is built FROM: USER,
// ENV and HEALTHCHECK carry over through FROM <stage>. Stages that are only
// copied from (builders) are never judged on their user, which is
// hadolint's multi-stage false positive. Instructions that are wrong
// wherever they appear (secrets, ADD, FROM tags and digests) are checked
// in every stage. FROM lines are resolved like BuildKit does: build
// arguments are expanded with the defaults of the ARGs before the first
// FROM, and a name of an earlier stage refers to that stage, so FROM
// chains lead to the real base image. A build argument without a default
// leaves the parts of a reference it fills unknown, and rules that need
// them stay silent.
//
// Every finding has the file, the line of the instruction concerned (the
// FROM of the final stage for findings about something missing), and as
// Object the stage holding that instruction, "stage <index> (<name>)" with
// the 0-based index that COPY --from accepts ("stage 0" when unnamed), or
// "global ARGs" for ARGs before the first FROM. Messages name variables,
// hosts and images but never the value of a variable or a URL's path or
// credentials.
//
// A comment "# ward:ignore <rule-id> <reason>" on its own line silences
// one rule: for the whole file when it comes before the first
// instruction, otherwise for the instruction directly below it (only
// comment lines may come between). Silenced findings are still returned,
// with Suppressed set. A suppression without reason, with an unknown rule
// id, or above no instruction silences nothing and is reported as
// dockerfile/bad-suppression.
//
// Rules is the registry of every rule id Audit can emit, with its default
// severity, rationale, fix and the ids of the same check in hadolint and
// Trivy.
package dockerfile
