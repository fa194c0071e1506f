package helmchart

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"strings"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"sigs.k8s.io/yaml"
)

// archiveScanLimit bounds what IsArchive decompresses, and archiveEntries
// the entries it looks at: helm package writes Chart.yaml first.
const (
	archiveScanLimit = 16 << 20
	archiveEntries   = 64
)

// IsArchive reports whether the file at path is a packaged chart, as helm
// package writes it and helm install takes it: a gzipped tar archive
// whose top directory holds a Chart.yaml. Ward renders chart directories
// only (and archives of subcharts in a chart's charts/).
func IsArchive(path string) bool {
	if !strings.HasSuffix(path, ".tgz") && !strings.HasSuffix(path, ".tar.gz") {
		return false
	}
	f, err := os.Open(path) // #nosec G304 -- a file of the tree the user named
	if err != nil {
		return false
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return false
	}
	tr := tar.NewReader(io.LimitReader(zr, archiveScanLimit))
	for range archiveEntries {
		h, err := tr.Next()
		if err != nil {
			return false
		}
		top, rest, ok := strings.Cut(strings.TrimPrefix(h.Name, "./"), "/")
		if ok && top != "" && rest == ChartFile {
			return true
		}
	}
	return false
}

// archiveName returns the name in the Chart.yaml of the packaged chart
// at path, or "" when it has none (among the entries IsArchive reads).
func archiveName(path string) string {
	f, err := os.Open(path) // #nosec G304 -- a subchart of a chart the user named
	if err != nil {
		return ""
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return ""
	}
	tr := tar.NewReader(io.LimitReader(zr, archiveScanLimit))
	for range archiveEntries {
		h, err := tr.Next()
		if err != nil {
			return ""
		}
		top, rest, ok := strings.Cut(strings.TrimPrefix(h.Name, "./"), "/")
		if !ok || top == "" || rest != ChartFile {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, archiveScanLimit))
		var m chart.Metadata
		if err != nil || yaml.Unmarshal(data, &m) != nil {
			return ""
		}
		return m.Name
	}
	return ""
}
