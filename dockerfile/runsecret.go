package dockerfile

import (
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/wardsec/ward/internal/cmdsecret"
)

// runSecrets returns the secrets written in a RUN, as BuildKit runs it:
// a heredoc that is the whole command is the script (or, with a shebang
// of another interpreter, a file that is not judged as shell); heredocs
// of a longer command line are the here-documents of that shell script;
// an exec-form RUN is one command, or the script of `sh -c`.
func runSecrets(c *instructions.RunCommand, ps *shellParses) []cmdsecret.Secret {
	if !c.PrependShell {
		return cmdsecret.Argv(c.CmdLine)
	}
	if len(c.Files) > 0 && len(c.CmdLine) == 1 {
		if h := parser.MustParseHeredoc(c.CmdLine[0]); h != nil {
			data := c.Files[0].Data
			if c.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			return cmdsecret.ScriptParsed(data, ps.parse)
		}
		var b strings.Builder
		b.WriteString(c.CmdLine[0])
		for _, f := range c.Files {
			b.WriteByte('\n')
			b.WriteString(f.Data)
			b.WriteString(f.Name)
		}
		return cmdsecret.ScriptParsed(b.String(), ps.parse)
	}
	return cmdsecret.ScriptParsed(strings.Join(c.CmdLine, " "), ps.parse)
}
