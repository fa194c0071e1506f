package podsec

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/internal/secretscan"
	"github.com/wardsec/ward/manifest"
)

// configMaps runs configmap/secret-in-data on every ConfigMap of set.
func (a *auditor) configMaps(set *manifest.Set) {
	for _, o := range set.Objects {
		if cm, ok := o.Obj.(*corev1.ConfigMap); ok {
			a.configMap(o, cm)
		}
	}
}

// configMap reports the keys of a ConfigMap that hold secrets: in data, a
// secret-named key with a literal value, a value that looks like a
// credential, or, in a value that is a configuration file, such an
// assignment on one of its lines; in binaryData, a key named like a
// private key or keystore, or text content that looks like a credential.
// It never writes a value anywhere.
func (a *auditor) configMap(o manifest.Object, cm *corev1.ConfigMap) {
	id := manifest.Ref{Kind: "ConfigMap", Namespace: cm.Namespace, Name: cm.Name}.String()
	report := func(field, key, why string) {
		a.report(ruleConfigMapSecret, finding.High, o.Source.File, o.Line(field+"."+key), id,
			fmt.Sprintf("%s: %s key %s: %s: a ConfigMap is not a Secret, so it is stored unencrypted and readable by everyone who may read ConfigMaps",
				id, field, showKey(key), why),
			fmt.Sprintf("move %s key %s into a Secret (and mount or reference it from there), then rotate the credential", field, showKey(key)))
	}
	for _, key := range slices.Sorted(maps.Keys(cm.Data)) {
		v := cm.Data[key]
		if secretscan.Placeholder(v) {
			continue
		}
		if !strings.Contains(strings.TrimSpace(v), "\n") {
			switch what := secretscan.Value(v); {
			case secretscan.NameValue(key, v):
				report("data", key, "its name suggests a secret and its value is written in the ConfigMap")
			case what != "":
				report("data", key, "its value looks like "+what)
			}
			continue
		}
		// A configuration file: judge its lines.
		hits := secretscan.Assignments(v)
		if len(hits) == 0 {
			continue
		}
		var where []string
		for _, h := range hits[:min(len(hits), maxListed)] {
			w := fmt.Sprintf("line %d", h.Line)
			if h.Key != "" {
				w += fmt.Sprintf(" (%s)", h.Key)
			}
			where = append(where, w+": "+h.What)
		}
		if len(hits) > maxListed {
			where = append(where, fmt.Sprintf("and %d more", len(hits)-maxListed))
		}
		report("data", key, "the file it holds has secrets written in it, at "+strings.Join(where, "; "))
	}
	for _, key := range slices.Sorted(maps.Keys(cm.BinaryData)) {
		b := cm.BinaryData[key]
		switch {
		case keyFile(key):
			report("binaryData", key, "its name is that of a private key or keystore")
		case utf8.Valid(b) && secretscan.Value(string(b)) != "":
			report("binaryData", key, "its content looks like "+secretscan.Value(string(b)))
		}
	}
}

// keyFile reports whether a binaryData key names a private key or a
// keystore. Certificates (.pem, .crt) and trust stores hold public
// material and are left out; their content is checked instead.
func keyFile(key string) bool {
	lower := strings.ToLower(key)
	if strings.Contains(lower, "trust") || strings.HasSuffix(lower, ".pem") || strings.HasSuffix(lower, ".crt") {
		return false
	}
	return secretscan.FileName(key) || strings.HasSuffix(lower, ".keystore")
}

// showKey quotes a ConfigMap key for a message, or withholds it when it
// looks like a secret itself.
func showKey(key string) string {
	if secretscan.Value(key) != "" || len(key) > 100 {
		return "(name withheld)"
	}
	return fmt.Sprintf("%q", key)
}
