// Package secretscan tells, without ever returning any part of a value,
// whether a variable's name suggests a secret (DB_PASSWORD, API_TOKEN; not
// SSH_KEY_PATH or GPG_KEY), whether its value looks like a credential (an
// AWS key id, a private key, a GitHub or Slack token, a JWT, a URL with a
// password, a long random string), and whether a value is a placeholder
// (changeme, $(VAR), <secret>). The Dockerfile, pod and Compose audits
// share it.
package secretscan
