// Package cmdsecret finds secrets written literally in command lines:
// shell scripts (a Dockerfile RUN, `sh -c`, a Compose command string)
// parsed with mvdan.cc/sh, and argument lists (an exec-form RUN, a
// container's command and args). It knows assignments and environment
// prefixes with secret-like names, credential-shaped words
// (internal/secretscan), credentials in URLs, the password options of
// common tools (curl -u, mysql -p, docker login -p, sshpass -p, htpasswd
// -b, chpasswd, npm's _authToken) and authorization headers. Expanded
// parts ($VAR, ${VAR}, $(cmd), Kubernetes' $(VAR)) are references and
// never judged. A Secret says what was found and where, never the value.
package cmdsecret
