package detect

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Source is one path of the build context a Dockerfile reads: a COPY or ADD
// source, or a RUN --mount=type=bind source, in a stage the build target
// depends on.
type Source struct {
	// Pattern is the source as written after variable expansion, relative to
	// the build context (a leading "/" or "./" removed). "." is the whole
	// context. It may hold wildcards.
	Pattern string
	// Instruction is the instruction it came from, e.g. "COPY" or "RUN --mount".
	Instruction string
	// Line is the 1-based line of the instruction in the Dockerfile.
	Line int
	// Stage is the name (or index) of the stage holding the instruction.
	Stage string
}

// ErrUnknownTarget is returned by DockerfileSources when the target stage is
// not defined in the Dockerfile.
var ErrUnknownTarget = errors.New("no such stage in the Dockerfile")

// DockerfileSources parses a Dockerfile and returns the context paths the
// build of target (the last stage when empty) reads. Stages the target does
// not depend on — through FROM <stage>, COPY --from=<stage> or
// RUN --mount=from=<stage> — are not built and contribute nothing.
// COPY --from=<image> and remote ADD sources (URLs, git) read nothing from the
// context and are skipped. Variables are expanded from ARG defaults, ENV and
// args; a source whose variables cannot be resolved is returned as "." (the
// whole context), so an unknown input can only widen the selection.
// Dockerfiles in the plain subset (see plainDockerfileSources) are read by a
// small scanner; every other one by BuildKit's parser, with the same result.
func DockerfileSources(data []byte, target string, args map[string]string) ([]Source, error) {
	if srcs, ok := plainDockerfileSources(data, target); ok {
		return srcs, nil
	}
	return buildkitSources(data, target, args)
}

// buildkitSources is DockerfileSources with BuildKit's parser and
// instruction parser: every Dockerfile syntax, every error BuildKit reports.
func buildkitSources(data []byte, target string, args map[string]string) ([]Source, error) {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parsing Dockerfile: %w", err)
	}
	// A linter that reports nowhere: with none, a "# check=…" comment right
	// above an instruction makes instructions.Parse dereference nil.
	stages, metaArgs, err := instructions.Parse(res.AST, linter.New(&linter.Config{}))
	if err != nil {
		return nil, fmt.Errorf("parsing Dockerfile: %w", err)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("parsing Dockerfile: no FROM instruction")
	}
	lex := shell.NewLex(res.EscapeToken)

	global := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if v, ok := args[kv.Key]; ok {
				global[kv.Key] = v
			} else if kv.Value != nil {
				global[kv.Key] = *kv.Value
			}
		}
	}

	names := make([]string, len(stages))
	for i := range stages {
		names[i] = stages[i].Name
	}
	stageIndex := func(name string) (int, bool) { return findStage(names, name) }

	start := len(stages) - 1
	if target != "" {
		i, ok := instructions.HasStage(stages, target)
		if !ok {
			return nil, fmt.Errorf("target stage %q: %w", target, ErrUnknownTarget)
		}
		start = i
	}

	perStage := make([][]Source, len(stages))
	deps := make([][]int, len(stages))
	for i := range stages {
		st := &stages[i]
		name := st.Name
		if name == "" {
			name = strconv.Itoa(i)
		}
		env := map[string]string{}
		for k, v := range global {
			env[k] = v
		}
		getter := mapEnv(env)
		expand := func(word string) (string, bool) {
			r, err := lex.ProcessWordWithMatches(word, getter)
			if err != nil || len(r.Unmatched) > 0 {
				return "", false
			}
			return r.Result, true
		}
		if base, ok := expand(st.BaseName); ok {
			if j, ok := stageIndex(base); ok && j < i {
				deps[i] = append(deps[i], j)
			}
		}
		add := func(instr string, line int, srcs []string) {
			for _, s := range srcs {
				p, ok := expand(s)
				if !ok {
					p = "."
				}
				if isRemoteSource(p) {
					continue
				}
				perStage[i] = append(perStage[i], Source{Pattern: cleanSource(p), Instruction: instr, Line: line, Stage: name})
			}
		}
		for _, cmd := range st.Commands {
			line := 0
			if loc := cmd.Location(); len(loc) > 0 {
				line = loc[0].Start.Line
			}
			switch c := cmd.(type) {
			case *instructions.ArgCommand:
				for _, kv := range c.Args {
					if v, ok := args[kv.Key]; ok {
						env[kv.Key] = v
					} else if kv.Value != nil {
						if v, ok := expand(*kv.Value); ok {
							env[kv.Key] = v
						}
					} else if v, ok := global[kv.Key]; ok {
						env[kv.Key] = v
					}
				}
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					if v, ok := expand(kv.Value); ok {
						env[kv.Key] = v
					}
				}
			case *instructions.CopyCommand:
				if c.From != "" {
					from, ok := expand(c.From)
					if j, isStage := stageIndex(from); ok && isStage && j < i {
						deps[i] = append(deps[i], j)
					}
					// Any other --from is an image or a named context: nothing from ours.
					continue
				}
				add("COPY", line, c.SourcePaths)
			case *instructions.AddCommand:
				add("ADD", line, c.SourcePaths)
			case *instructions.RunCommand:
				err := c.Expand(func(w string) (string, error) {
					if v, ok := expand(w); ok {
						return v, nil
					}
					return w, nil
				})
				if err != nil {
					return nil, fmt.Errorf("parsing Dockerfile line %d: %w", line, err)
				}
				for _, m := range instructions.GetMounts(c) {
					if m.Type != instructions.MountTypeBind {
						continue
					}
					if m.From != "" {
						if j, ok := stageIndex(m.From); ok && j < i {
							deps[i] = append(deps[i], j)
						}
						continue
					}
					src := m.Source
					if src == "" {
						src = "."
					}
					add("RUN --mount", line, []string{src})
				}
			}
		}
	}

	return collectSources(perStage, deps, start), nil
}

// findStage resolves a stage reference (FROM <stage>, --from=<stage>) the
// way BuildKit does: a stage name, case-insensitively, else a stage index.
// names are the stages' names, "" for unnamed ones.
func findStage(names []string, name string) (int, bool) {
	for i, n := range names {
		if strings.EqualFold(n, name) {
			return i, true
		}
	}
	if strings.Trim(name, "+-0123456789") != "" {
		return 0, false // not a number; spares Atoi's error (an allocation per image name)
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < len(names) {
		return n, true
	}
	return 0, false
}

// collectSources returns the sources of stage start and of every stage it
// depends on (deps[i]: the stages stage i reads), in Dockerfile line order.
func collectSources(perStage [][]Source, deps [][]int, start int) []Source {
	seen := make([]bool, len(perStage))
	var out []Source
	var visit func(int)
	visit = func(i int) {
		if seen[i] {
			return
		}
		seen[i] = true
		out = append(out, perStage[i]...)
		for _, j := range deps[i] {
			visit(j)
		}
	}
	visit(start)
	sort.SliceStable(out, func(a, b int) bool { return out[a].Line < out[b].Line })
	return out
}

func isRemoteSource(p string) bool {
	for _, pre := range []string{"http://", "https://", "git@", "git://"} {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return strings.Contains(p, ".git#")
}

// cleanSource turns a COPY source into a context-relative pattern.
func cleanSource(p string) string {
	p = strings.TrimLeft(p, "/")
	p = path.Clean("/" + p)[1:] // also collapses "..": a context cannot be escaped
	if p == "" {
		return "."
	}
	return p
}

type mapEnv map[string]string

func (m mapEnv) Get(k string) (string, bool) { v, ok := m[k]; return v, ok }

func (m mapEnv) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
