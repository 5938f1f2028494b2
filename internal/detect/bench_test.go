package detect

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/deployment-automator/automator/internal/git"
)

// BenchmarkPlan measures matching for a monorepo of 2,000 services and a diff
// of 50,000 changed files: resolving services, compiling every Dockerfile,
// .dockerignore and glob, and matching. Git is not involved, so this is the
// part of planning that must stay small next to reading git.
// dockerfiles=shared gives every service the same Dockerfile and
// .dockerignore (generated from one template, as in many monorepos);
// dockerfiles=distinct gives each its own, so each is parsed.
func BenchmarkPlan(b *testing.B) {
	b.Run("dockerfiles=shared", func(b *testing.B) { benchmarkPlan(b, false) })
	b.Run("dockerfiles=distinct", func(b *testing.B) { benchmarkPlan(b, true) })
}

func benchmarkPlan(b *testing.B, distinct bool) {
	const nServices, nFiles = 2000, 50000
	var cfg strings.Builder
	cfg.WriteString("version: 1\nservices:\n")
	tree := fstest.MapFS{}
	for i := range nServices {
		name := fmt.Sprintf("svc-%04d", i)
		dir := fmt.Sprintf("services/team-%02d/%s", i%40, name)
		fmt.Fprintf(&cfg, "  - name: %s\n    context: %s\n    image: ghcr.io/acme/%s\n    paths: [\"proto/%s/**\", \"!proto/%s/**/*.md\"]\n", name, dir, name, name, name)
		if i%10 == 0 {
			fmt.Fprintf(&cfg, "    dependsOn: [libs/lib-%02d, svc-%04d]\n", i%50, (i+1)%nServices)
		}
		app, keep := "/app", "README.md"
		if distinct {
			app, keep = "/"+name, name+".md"
		}
		tree[dir+"/Dockerfile"] = file("FROM golang AS build\nCOPY go.mod go.sum ./\nCOPY . .\nRUN go build\nFROM scratch\nCOPY --from=build /out " + app + "\n")
		tree[dir+"/.dockerignore"] = file("*.md\n**/testdata\n!" + keep + "\n")
	}
	// Root-context services that copy shared libraries.
	for i := range 20 {
		name := fmt.Sprintf("root-%02d", i)
		fmt.Fprintf(&cfg, "  - name: %s\n    context: .\n    dockerfile: apps/%s/Dockerfile\n    image: ghcr.io/acme/%s\n", name, name, name)
		tree["apps/"+name+"/Dockerfile"] = file(fmt.Sprintf("FROM golang\nCOPY libs/lib-%02d /libs\nCOPY apps/%s /app\n", i, name))
	}
	c := parseConfig(b, cfg.String())
	// The same in-memory tree type Plan builds from `git ls-tree`.
	var names []string
	for n := range tree {
		names = append(names, n)
	}
	mem := newTree(names)
	for n, f := range tree {
		mem.files[n] = f.Data
	}
	changes := make([]git.Change, 0, nFiles)
	for i := range nFiles {
		svc := (i * 7) % nServices
		var p string
		switch i % 5 {
		case 0:
			p = fmt.Sprintf("services/team-%02d/svc-%04d/pkg/file%d.go", svc%40, svc, i)
		case 1:
			p = fmt.Sprintf("services/team-%02d/svc-%04d/docs/n%d.md", svc%40, svc, i)
		case 2:
			p = fmt.Sprintf("proto/svc-%04d/v1/f%d.proto", svc, i)
		case 3:
			p = fmt.Sprintf("libs/lib-%02d/x/f%d.go", i%60, i)
		default:
			p = fmt.Sprintf("docs/site/page%d.md", i)
		}
		changes = append(changes, git.Change{Status: git.Modified, Path: p})
	}
	b.ResetTimer()
	var selected int
	var matchNS int64
	for b.Loop() {
		svcs, err := Services(c, mem)
		if err != nil {
			b.Fatal(err)
		}
		m, err := NewMatcher(c, svcs, mem)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		sel := m.Match(changes)
		m.Propagate(sel)
		matchNS += time.Since(start).Nanoseconds()
		selected = len(sel)
	}
	b.StopTimer()
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(float64(matchNS)/float64(b.N)/nFiles, "match-ns/file")
	b.ReportMetric(perOp/nFiles, "ns/file")
	b.ReportMetric(perOp/1e6, "ms/plan")
	b.ReportMetric(float64(selected), "services")
}
