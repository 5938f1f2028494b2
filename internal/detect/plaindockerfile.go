package detect

import (
	"strconv"
	"strings"
)

// plainDockerfileSources is DockerfileSources for plain Dockerfiles, read
// without BuildKit; ok is false for every other Dockerfile, and the caller
// then uses BuildKit's parser (buildkitSources).
//
// Why by hand: BuildKit's parser allocates ~15 KB and its instruction parser
// another ~8 KB for a six-line Dockerfile, whatever it says (the parser
// compiles its line-continuation regexp and a 4 KB line buffer per call, and
// every instruction builds a flag table). In a monorepo whose Dockerfiles all
// differ, that was two thirds of a plan's allocations (BenchmarkPlan,
// dockerfiles=distinct: 53 of 79 MB). What the plan needs is only the COPY
// and ADD sources and the stage graph, which for plain files is a word split.
//
// Plain means: printable ASCII, tabs and newlines only; no escape or quote
// characters (\ ` " '), no variables ($), no heredocs (<<), no JSON-form
// arguments, no parser directive but one syntax or check; so every line is
// one instruction whose words are split on blanks, and no word changes under
// BuildKit's shell expansion. Only FROM, ARG, ENV, LABEL, COPY, ADD, RUN, CMD, ENTRYPOINT,
// WORKDIR, USER and EXPOSE are accepted, with the few flags listed below and
// in the shapes BuildKit accepts without error. Anything else — including
// every input BuildKit would reject — returns ok false, so this function
// never decides an error and never differs from buildkitSources where it
// answers (TestPlainDockerfileMatchesBuildKit and FuzzPlainDockerfile check
// both on every case).
func plainDockerfileSources(data []byte, target string) (_ []Source, ok bool) {
	// bufio.Scanner's line limit in BuildKit's parser; let it report.
	const maxPlain = 60 << 10
	if len(data) > maxPlain {
		return nil, false
	}
	for i, c := range data {
		switch {
		case c == '\\', c == '`', c == '"', c == '\'', c == '$':
			return nil, false
		case c == '<' && i+1 < len(data) && data[i+1] == '<':
			return nil, false
		case c == '\t', c == '\n':
		case c < 0x20, c > 0x7e:
			return nil, false
		}
	}

	type ref struct {
		stage int
		name  string
	}
	var (
		names      []string   // stage names, lowercased as BuildKit does
		perStage   [][]Source // sources per stage
		refs       []ref      // FROM <base> and COPY --from, in order
		words      []string
		started    bool // an instruction was seen: no parser directives after it
		directives int
	)
	text := string(data)
	for line := 1; text != ""; line++ {
		var l string
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			l, text = text[:i], text[i+1:]
		} else {
			l, text = text, ""
		}
		l = strings.Trim(l, " \t")
		if l == "" {
			continue
		}
		if l[0] == '#' {
			// A comment; before the first instruction it may be a parser
			// directive. One syntax or check directive changes nothing
			// here; escape, or a second directive, is BuildKit's business.
			if !started && strings.IndexByte(l, '=') >= 0 {
				key, _, _ := strings.Cut(strings.TrimLeft(l[1:], " \t"), "=")
				key = strings.ToLower(strings.TrimRight(key, " \t"))
				if directives++; directives > 1 || key != "syntax" && key != "check" {
					return nil, false
				}
			}
			continue
		}
		started = true
		words = splitBlanks(words[:0], l)
		kw, args := strings.ToLower(words[0]), words[1:]
		nflags := 0
		for nflags < len(args) && strings.HasPrefix(args[nflags], "--") {
			nflags++
		}
		flags, args := args[:nflags], args[nflags:]
		if len(args) == 0 || args[0][0] == '[' {
			return nil, false // no arguments, or JSON form
		}
		if len(names) == 0 && kw != "from" && kw != "arg" {
			return nil, false // BuildKit: no build stage in current context
		}
		cur := len(names) - 1
		switch kw {
		case "from":
			if !plainFlags(flags, "platform=") {
				return nil, false
			}
			name := ""
			switch {
			case len(args) == 3 && strings.EqualFold(args[1], "as"):
				name = strings.ToLower(args[2])
				if !validStageName(name) {
					return nil, false
				}
			case len(args) != 1:
				return nil, false
			}
			names = append(names, name)
			perStage = append(perStage, nil)
			refs = append(refs, ref{len(names) - 1, args[0]})
		case "copy", "add":
			instr, from := "ADD", ""
			if kw == "copy" {
				instr, from = "COPY", "from="
			}
			if !plainFlags(flags, "chown=", "chmod=", "link", from) || len(args) < 2 {
				return nil, false
			}
			if from, ok := flagValue(flags, "from="); ok {
				refs = append(refs, ref{cur, from})
				continue // another stage's or an image's files: none of the context's
			}
			stage := names[cur]
			if stage == "" {
				stage = strconv.Itoa(cur)
			}
			for _, s := range args[:len(args)-1] {
				if isRemoteSource(s) {
					continue
				}
				perStage[cur] = append(perStage[cur], Source{Pattern: cleanSource(s), Instruction: instr, Line: line, Stage: stage})
			}
		case "env", "label":
			if len(flags) > 0 || !plainKeyValues(args) {
				return nil, false
			}
		case "arg":
			if len(flags) > 0 {
				return nil, false
			}
			for _, a := range args {
				if a[0] == '=' {
					return nil, false // blank name
				}
			}
		case "run", "cmd", "entrypoint", "workdir", "user", "expose":
			if len(flags) > 0 {
				return nil, false // RUN --mount and the like: BuildKit's flag parsing
			}
		default:
			return nil, false
		}
	}
	if len(names) == 0 {
		return nil, false
	}
	start := len(names) - 1
	if target != "" {
		i := -1
		for j, n := range names {
			if strings.EqualFold(n, target) {
				i = j
				break
			}
		}
		if i < 0 {
			return nil, false // BuildKit's path reports the unknown target
		}
		start = i
	}
	deps := make([][]int, len(names))
	for _, r := range refs {
		if j, ok := findStage(names, r.name); ok && j < r.stage {
			deps[r.stage] = append(deps[r.stage], j)
		}
	}
	return collectSources(perStage, deps, start), true
}

// splitBlanks appends the words of s, split on spaces and tabs, to dst.
func splitBlanks(dst []string, s string) []string {
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return dst
		}
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			return append(dst, s)
		}
		dst = append(dst, s[:i])
		s = s[i:]
	}
}

// plainFlags reports whether every flag is one of allowed, at most once each:
// "name=" for a string flag with a non-empty value, "name" for a bare boolean
// ("" allows nothing).
func plainFlags(flags []string, allowed ...string) bool {
	for i, f := range flags {
		name, value, hasValue := strings.Cut(f[2:], "=")
		want := name
		if hasValue {
			if value == "" {
				return false
			}
			want += "="
		}
		found := false
		for _, a := range allowed {
			found = found || a != "" && a == want
		}
		if !found {
			return false
		}
		for _, g := range flags[:i] {
			if n, _, _ := strings.Cut(g[2:], "="); n == name {
				return false
			}
		}
	}
	return true
}

// flagValue returns the value of the flag written as "--" + prefix + value.
func flagValue(flags []string, prefix string) (string, bool) {
	for _, f := range flags {
		if v, ok := strings.CutPrefix(f[2:], prefix); ok {
			return v, true
		}
	}
	return "", false
}

// plainKeyValues reports whether ENV/LABEL arguments have a shape BuildKit
// accepts: "key value…", or only non-blank "key=value" words.
func plainKeyValues(args []string) bool {
	if !strings.Contains(args[0], "=") {
		return len(args) >= 2
	}
	for _, a := range args {
		if i := strings.IndexByte(a, '='); i <= 0 {
			return false
		}
	}
	return true
}

// validStageName is BuildKit's stage name rule, ^[a-z][a-z0-9-_.]*$, on the
// lowercased name.
func validStageName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z':
		case i > 0 && ('0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}
