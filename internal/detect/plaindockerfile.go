package detect

import (
	"encoding/json"
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
// and ADD sources and the stage graph, which for plain files is a line join
// and a word split.
//
// Plain means: printable ASCII, tabs and line ends only; no heredocs (<<),
// no backtick (the other escape token), no parser directive but one syntax
// or check; instructions among FROM, ARG, ENV, LABEL, COPY, ADD, RUN, CMD,
// ENTRYPOINT, WORKDIR, USER and EXPOSE, with the few flags listed below, in
// the shapes BuildKit accepts without error. FROM, COPY and ADD (the lines
// that name stages and sources) hold no quotes, backslashes or variables, so
// their words are split on blanks and no word changes under BuildKit's
// shell expansion; ARG, ENV and LABEL hold no quotes or backslashes (their
// values may use variables: no plain source depends on them); what RUN,
// CMD, ENTRYPOINT, WORKDIR, USER and EXPOSE say does not matter. Line
// continuations are joined as BuildKit joins them. Anything else —
// including every input BuildKit would reject — returns ok false, so this
// function never decides an error and never differs from buildkitSources
// where it answers (TestPlainDockerfileMatchesBuildKit and
// FuzzPlainDockerfile check both on every case).
func plainDockerfileSources(data []byte, target string) (_ []Source, ok bool) {
	// bufio.Scanner's line limit in BuildKit's parser; let it report.
	const maxPlain = 60 << 10
	if len(data) > maxPlain {
		return nil, false
	}
	for i, c := range data {
		next := byte(0)
		if i+1 < len(data) {
			next = data[i+1]
		}
		switch {
		case c == '`':
			return nil, false // the other escape token
		case c == '<' && next == '<':
			return nil, false // heredocs
		case c == '\r' && next == '\n', c == '\t', c == '\n':
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
		wordBuf    [16]string
		flagBuf    [4]string
		words      = wordBuf[:0]
		flags      = flagBuf[:0]
		started    bool // an instruction was seen: no parser directives after it
		directives int
		lineNo     int
	)
	text := string(data)
	nextLine := func() string {
		lineNo++
		l, rest, _ := strings.Cut(text, "\n")
		text = rest
		return strings.TrimSuffix(l, "\r")
	}
	for text != "" {
		l := strings.TrimLeft(nextLine(), " \t")
		if strings.HasPrefix(l, "#") {
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
		line := lineNo
		l, cont := trimContinuation(l)
		if !cont && l == "" {
			continue
		}
		started = true
		if cont {
			// Continuation lines are joined as they are (no trimming);
			// comment and blank lines among them are dropped.
			var b strings.Builder
			b.WriteString(l)
			for cont && text != "" {
				raw := nextLine()
				if t := strings.TrimLeft(raw, " \t"); t == "" || t[0] == '#' {
					continue
				}
				raw, cont = trimContinuation(raw)
				b.WriteString(raw)
			}
			l = b.String()
		}

		kw, rest := cutBlank(l)
		kw = strings.ToLower(kw)
		flags = flags[:0]
		for strings.HasPrefix(rest, "--") {
			var f string
			f, rest = cutBlank(rest)
			flags = append(flags, f)
		}
		rest = strings.TrimRight(rest, " \t")
		if rest == "" {
			return nil, false // no arguments
		}
		// Words split on blanks, as BuildKit splits them when there are
		// no quotes or escapes; variables are allowed where their values
		// cannot matter (noVars false).
		plainWords := func(noVars bool) bool {
			if strings.ContainsAny(rest, `"'\`) || noVars && strings.IndexByte(rest, '$') >= 0 {
				return false
			}
			words = splitBlanks(words[:0], rest)
			return true
		}
		if len(names) == 0 && kw != "from" && kw != "arg" {
			return nil, false // BuildKit: no build stage in current context
		}
		cur := len(names) - 1
		switch kw {
		case "from":
			if !plainFlags(flags, "platform=") || !plainWords(true) {
				return nil, false
			}
			name := ""
			switch {
			case len(words) == 3 && strings.EqualFold(words[1], "as"):
				name = strings.ToLower(words[2])
				if !validStageName(name) {
					return nil, false
				}
			case len(words) != 1:
				return nil, false
			}
			names = append(names, name)
			perStage = append(perStage, nil)
			refs = append(refs, ref{len(names) - 1, words[0]})
		case "copy", "add":
			instr, from := "ADD", ""
			if kw == "copy" {
				instr, from = "COPY", "from="
			}
			if !plainFlags(flags, "chown=", "chmod=", "link", from) || !plainWords(true) || len(words) < 2 || rest[0] == '[' {
				return nil, false // JSON form (or something like it) is BuildKit's
			}
			if from, ok := flagValue(flags, "from="); ok {
				if strings.IndexByte(from, '$') >= 0 {
					return nil, false
				}
				refs = append(refs, ref{cur, from})
				continue // another stage's or an image's files: none of the context's
			}
			stage := names[cur]
			if stage == "" {
				stage = strconv.Itoa(cur)
			}
			for _, s := range words[:len(words)-1] {
				if isRemoteSource(s) {
					continue
				}
				perStage[cur] = append(perStage[cur], Source{Pattern: cleanSource(s), Instruction: instr, Line: line, Stage: stage})
			}
		case "env", "label":
			// Values may hold variables: no source depends on them, as
			// no plain COPY, ADD or FROM holds one.
			if len(flags) > 0 || !plainWords(false) || !plainKeyValues(words) {
				return nil, false
			}
		case "arg":
			if len(flags) > 0 || !plainWords(false) {
				return nil, false
			}
			for _, a := range words {
				if a[0] == '=' {
					return nil, false // blank name
				}
			}
		case "run", "cmd", "entrypoint":
			// What they run reads nothing from the context; BuildKit
			// rejects only a JSON array holding a non-string.
			if len(flags) > 0 || rest[0] == '[' && jsonNonStringArray(rest) {
				return nil, false // RUN --mount and the like: BuildKit's flag parsing
			}
		case "workdir", "user", "expose":
			if len(flags) > 0 {
				return nil, false
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

// trimContinuation reports whether line ends in BuildKit's line
// continuation (a backslash, then only blanks, not itself escaped by a
// backslash before it) and returns it without that backslash and blanks.
func trimContinuation(line string) (string, bool) {
	t := strings.TrimRight(line, " \t")
	if !strings.HasSuffix(t, `\`) || strings.HasSuffix(t, `\\`) {
		return line, false
	}
	return t[:len(t)-1], true
}

// cutBlank returns the first blank-separated word of s and the rest after
// the blanks that follow it.
func cutBlank(s string) (word, rest string) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t")
}

// jsonNonStringArray reports whether s is a JSON array with an element that
// is not a string, which BuildKit's parser rejects.
func jsonNonStringArray(s string) bool {
	var v []any
	if json.Unmarshal([]byte(s), &v) != nil {
		return false
	}
	for _, e := range v {
		if _, ok := e.(string); !ok {
			return true
		}
	}
	return false
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
		if strings.ContainsAny(f, `"'\`) {
			return false // BuildKit unquotes and unescapes flags
		}
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
