package helmchart

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"

	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"sigs.k8s.io/yaml"

	"github.com/wardsec/ward/manifest"
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

// archiveBudget bounds what the archives of a chart (the .tgz files of
// its tree, subcharts packed by helm dependency build, and those packed
// inside them) decompress to together: helm's bound on one chart
// (archive.MaxDecompressedChartSize, 100 MiB), or the size limit if
// lower. Helm's loader holds every archive decompressed in memory and
// bounds each one alone, not their sum: a chart of a megabyte whose
// charts/ held fifteen small gzip bombs took 2.5 GB. Each tar header
// counts 512 bytes. checkFiles scans each archive it finds (through
// symlinks, as helm's loader reads them); one that does not decompress is
// left to the loader, which reports it.
type archiveBudget struct {
	limit, left int64
}

func newArchiveBudget(limit int64) *archiveBudget {
	limit = min(limit, archive.MaxDecompressedChartSize)
	return &archiveBudget{limit: limit, left: limit}
}

// scanFile scans the archive at path, named name in errors.
func (b *archiveBudget) scanFile(path, name string) error {
	f, err := os.Open(path) // #nosec G304 -- a file of the chart the user named, read as helm's loader reads it
	if err != nil {
		return nil
	}
	defer f.Close()
	return b.scan(f, name)
}

// scan charges what the archive r decompresses to, with the archives
// within it, and fails naming name (or the archive within) past the
// budget.
func (b *archiveBudget) scan(r io.Reader, name string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil
		}
		if b.left -= 512; b.left < 0 {
			break
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		cr := &countReader{r: tr}
		if strings.HasSuffix(h.Name, ".tgz") {
			if err := b.scan(cr, name+"/"+strings.TrimPrefix(h.Name, "./")); err != nil {
				return err
			}
		}
		// What the nested scan did not read, bounded.
		_, _ = io.Copy(io.Discard, io.LimitReader(cr, max(b.left, 0)+1))
		if b.left -= cr.n; b.left < 0 {
			break
		}
	}
	return &Error{File: name, Err: fmt.Errorf("%w: %w: the chart's archives decompress to more than %s together", manifest.ErrRead, manifest.ErrTooLarge, manifest.FormatSize(b.limit))}
}

// countReader counts what is read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
