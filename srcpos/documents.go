package srcpos

import (
	"errors"
	"io"

	"go.yaml.in/yaml/v3"
)

// NextDocument reads the rest of a stream whose first document dec has
// decoded, for loaders of one-document files (ward.yaml, the proxy's and
// ward watch's configurations): it returns the line of the first further
// document that holds a value, or 0 when there is none, and yaml's error
// if the rest does not parse. Empty documents, those a trailing `---`
// separator opens with nothing, a comment or a null after it, hold no
// value: they are no second document, as kubectl skips them too.
func NextDocument(dec *yaml.Decoder) (int, error) {
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		switch {
		case errors.Is(err, io.EOF):
			return 0, nil
		case err != nil:
			return 0, err
		}
		if len(doc.Content) == 0 {
			continue
		}
		if v := doc.Content[0]; v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" && v.Anchor == "" {
			continue
		}
		return doc.Content[0].Line, nil
	}
}
