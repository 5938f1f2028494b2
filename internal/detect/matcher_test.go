package detect

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/git"
)

// parseConfig parses a config without touching the file system.

// rootContextCartAPI is two services built from the repository root, so
// that only their Dockerfiles' sources (not "every file of the context")
// decide what triggers them.
const rootContextCartAPI = `version: 1
services:
  - name: cart
    context: .
    dockerfile: src/cart/Dockerfile
    image: ghcr.io/acme/cart
  - name: api
    context: .
    dockerfile: src/api/Dockerfile
    image: ghcr.io/acme/api
`

func parseConfig(t testing.TB, yml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("automator.yaml", []byte(yml), nil)
	if err != nil {
		t.Fatalf("parsing test config: %v", err)
	}
	return cfg
}

// match runs services → matcher → match → propagate over tree and returns
// the selected names, sorted, and the reasons by name.
func match(t testing.TB, cfg *config.Config, tree fstest.MapFS, changes []git.Change) ([]string, map[string][]Reason, error) {
	t.Helper()
	svcs, err := Services(cfg, tree)
	if err != nil {
		return nil, nil, err
	}
	m, err := NewMatcher(cfg, svcs, tree)
	if err != nil {
		return nil, nil, err
	}
	sel := m.Match(changes)
	m.Propagate(sel)
	var names []string
	reasons := map[string][]Reason{}
	for i, r := range sel {
		names = append(names, svcs[i].Name)
		reasons[svcs[i].Name] = r
	}
	slices.Sort(names)
	return names, reasons, nil
}

func mod(paths ...string) []git.Change {
	var cs []git.Change
	for _, p := range paths {
		cs = append(cs, git.Change{Status: git.Modified, Path: p})
	}
	return cs
}

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

const twoServices = `version: 1
services:
  - name: cart
    context: src/cart
    image: ghcr.io/acme/cart
  - name: api
    context: src/api
    image: ghcr.io/acme/api
`

func baseTree() fstest.MapFS {
	return fstest.MapFS{
		"src/cart/Dockerfile":    file("FROM alpine\nCOPY . /app\n"),
		"src/cart/main.go":       file(""),
		"src/cart/README.md":     file(""),
		"src/cart/.dockerignore": file("*.md\n!IMPORTANT.md\n**/testdata\ndocs/\n"),
		"src/api/Dockerfile":     file("FROM alpine\nCOPY . /app\n"),
		"src/api/main.go":        file(""),
		"libs/common/common.go":  file(""),
		"docs/index.md":          file(""),
	}
}

func TestMatcher(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		tree    func(fstest.MapFS)
		changes []git.Change
		want    []string
		// wantRule, when set, must be the rule of the first reason of want[0].
		wantRule string
	}{
		{name: "file in context", config: twoServices, changes: mod("src/cart/main.go"), want: []string{"cart"}, wantRule: "build context src/cart"},
		{name: "nothing relevant", config: twoServices, changes: mod("docs/index.md", "README.md"), want: nil},
		{name: "prefix is not a folder match", config: twoServices, changes: mod("src/cartography/x.go", "src/car"), want: nil},
		{name: "dockerignored file", config: twoServices, changes: mod("src/cart/README.md"), want: nil},
		{name: "dockerignore re-include", config: twoServices, changes: mod("src/cart/IMPORTANT.md"), want: []string{"cart"}},
		{name: "dockerignore double star", config: twoServices, changes: mod("src/cart/pkg/x/testdata/golden.json", "src/cart/docs/a.txt"), want: nil},
		{name: "dockerignore itself, even when it ignores itself", config: twoServices,
			tree:    func(f fstest.MapFS) { f["src/cart/.dockerignore"] = file(".dockerignore\n*.md\n") },
			changes: mod("src/cart/.dockerignore"), want: []string{"cart"}, wantRule: ".dockerignore src/cart/.dockerignore"},
		{name: "Dockerfile itself even when ignored", config: twoServices,
			tree:    func(f fstest.MapFS) { f["src/api/.dockerignore"] = file("Dockerfile\n") },
			changes: mod("src/api/Dockerfile"), want: []string{"api"}, wantRule: "Dockerfile src/api/Dockerfile"},
		{name: "Dockerfile.dockerignore wins over context .dockerignore", config: twoServices,
			tree: func(f fstest.MapFS) {
				f["src/cart/Dockerfile.dockerignore"] = file("*.go\n")
			},
			changes: mod("src/cart/main.go", "src/cart/README.md"), want: []string{"cart"}},
		{name: "deletion counts", config: twoServices, changes: []git.Change{{Status: git.Deleted, Path: "src/api/old.go"}}, want: []string{"api"}},
		{name: "rename across services counts both", config: twoServices,
			changes: []git.Change{{Status: git.Renamed, OldPath: "src/cart/util.go", Path: "src/api/util.go"}}, want: []string{"api", "cart"}},
		{name: "rename out of a service", config: twoServices,
			changes: []git.Change{{Status: git.Renamed, OldPath: "src/cart/util.go", Path: "libs/common/util.go"}}, want: []string{"cart"}},
		{name: "paths globs with double star and exclusion", config: `version: 1
services:
  - name: cart
    context: src/cart
    image: ghcr.io/acme/cart
    paths: ["proto/**/*.proto", "!proto/internal/**", "proto/internal/public.proto"]
`, changes: mod("proto/internal/x.proto"), want: nil},
		{name: "paths later pattern re-includes", config: `version: 1
services:
  - name: cart
    context: src/cart
    image: ghcr.io/acme/cart
    paths: ["proto/**/*.proto", "!proto/internal/**", "proto/internal/public.proto"]
`, changes: mod("proto/internal/public.proto"), want: []string{"cart"}, wantRule: `paths "proto/internal/public.proto"`},
		{name: "paths double star at any depth", config: `version: 1
services:
  - name: cart
    context: src/cart
    image: ghcr.io/acme/cart
    paths: ["**/*.proto"]
`, changes: mod("a/b/c/d.proto"), want: []string{"cart"}},
		{name: "dependsOn service is transitive", config: `version: 1
services:
  - name: base
    context: src/base
    image: ghcr.io/acme/base
  - name: mid
    context: src/mid
    image: ghcr.io/acme/mid
    dependsOn: [base]
  - name: top
    context: src/top
    image: ghcr.io/acme/top
    dependsOn: [mid]
  - name: other
    context: src/other
    image: ghcr.io/acme/other
`, tree: func(f fstest.MapFS) {
			for _, s := range []string{"base", "mid", "top", "other"} {
				f["src/"+s+"/Dockerfile"] = file("FROM alpine\nCOPY . .\n")
			}
		}, changes: mod("src/base/x.go"), want: []string{"base", "mid", "top"}},
		{name: "dependsOn path", config: `version: 1
services:
  - name: cart
    context: src/cart
    image: ghcr.io/acme/cart
    dependsOn: [libs/common]
`, changes: mod("libs/common/common.go"), want: []string{"cart"}, wantRule: `dependsOn "libs/common"`},
		{name: "root context: COPY of a shared lib", config: rootContextCartAPI, tree: func(f fstest.MapFS) {
			f["src/cart/Dockerfile"] = file("FROM golang AS build\nCOPY libs/common /src/libs/common\nCOPY src/cart /src/cart\nRUN go build\nFROM scratch\nCOPY --from=build /out /app\n")
			f["src/api/Dockerfile"] = file("FROM golang\nCOPY src/api /src\n")
		}, changes: mod("libs/common/common.go"), want: []string{"cart"}, wantRule: "COPY libs/common (src/cart/Dockerfile:2)"},
		{name: "root context: another service's folder does not trigger", config: rootContextCartAPI, tree: func(f fstest.MapFS) {
			f["src/cart/Dockerfile"] = file("FROM golang\nCOPY libs/common /src/libs/common\nCOPY src/cart /src/cart\n")
			f["src/api/Dockerfile"] = file("FROM golang\nCOPY src/api /src\n")
		}, changes: mod("src/api/main.go", "docs/index.md"), want: []string{"api"}},
		{name: "root context: root .dockerignore applies to COPY sources", config: rootContextCartAPI, tree: func(f fstest.MapFS) {
			f[".dockerignore"] = file("**/*_test.go\n")
			f["src/cart/Dockerfile"] = file("FROM golang\nCOPY libs/common /src/libs/common\n")
			f["src/api/Dockerfile"] = file("FROM golang\nCOPY src/api /src\n")
		}, changes: mod("libs/common/common_test.go"), want: nil},
		{name: "multi-stage: COPY --from follows the stage, unused stage ignored, --from=image ignored", config: rootContextCartAPI, tree: func(f fstest.MapFS) {
			f["src/cart/Dockerfile"] = file(`ARG LIB=libs
FROM node AS assets
COPY web/package.json web/*.lock /w/
FROM golang AS unused
COPY tools /tools
FROM golang AS build
COPY --from=assets /w /w
COPY --from=docker.io/library/alpine:3 /etc/ssl /ssl
COPY ${LIB}/common /c
FROM scratch
COPY --from=build /out /app
`)
			f["src/api/Dockerfile"] = file("FROM golang\nCOPY src/api /src\n")
		}, changes: mod("web/yarn.lock", "tools/gen.go"), want: []string{"cart"}, wantRule: "COPY web/*.lock (src/cart/Dockerfile:3)"},
		{name: "multi-stage: unused stage source alone", config: rootContextCartAPI, tree: func(f fstest.MapFS) {
			f["src/cart/Dockerfile"] = file("FROM golang AS unused\nCOPY tools /tools\nFROM scratch\nCOPY libs/common /c\n")
			f["src/api/Dockerfile"] = file("FROM golang\nCOPY src/api /src\n")
		}, changes: mod("tools/gen.go"), want: nil},
		{name: "target stage decides what counts", config: `version: 1
services:
  - name: cart
    context: .
    dockerfile: src/cart/Dockerfile
    image: ghcr.io/acme/cart
    target: dev
  - name: api
    context: .
    dockerfile: src/api/Dockerfile
    image: ghcr.io/acme/api
`, tree: func(f fstest.MapFS) {
			f["src/cart/Dockerfile"] = file("FROM golang AS dev\nCOPY tools /tools\nFROM scratch\nCOPY libs/common /c\n")
			f["src/api/Dockerfile"] = file("FROM golang\nCOPY src/api /src\n")
		}, changes: mod("tools/gen.go", "libs/common/common.go"), want: []string{"cart"}, wantRule: "COPY tools (src/cart/Dockerfile:2)"},
		{name: "RUN bind mount source", config: rootContextCartAPI, tree: func(f fstest.MapFS) {
			f["src/cart/Dockerfile"] = file("FROM golang\nRUN --mount=type=bind,source=go.mod,target=/go.mod go mod download\nRUN --mount=type=cache,target=/root/.cache true\n")
			f["src/api/Dockerfile"] = file("FROM golang\nCOPY src/api /src\n")
		}, changes: mod("go.mod"), want: []string{"cart"}, wantRule: "RUN --mount go.mod (src/cart/Dockerfile:2)"},
		{name: "unresolvable variable widens to the whole context", config: rootContextCartAPI, tree: func(f fstest.MapFS) {
			f["src/cart/Dockerfile"] = file("FROM golang\nCOPY $SOMEWHERE /x\n")
			f["src/api/Dockerfile"] = file("FROM golang\nCOPY src/api /src\n")
		}, changes: mod("docs/index.md"), want: []string{"cart"}},
		{name: "build arg from config resolves a COPY source", config: `version: 1
services:
  - name: cart
    context: .
    dockerfile: src/cart/Dockerfile
    image: ghcr.io/acme/cart
    args: {SVC: cart}
  - name: api
    context: .
    dockerfile: src/api/Dockerfile
    image: ghcr.io/acme/api
`, tree: func(f fstest.MapFS) {
			f["src/cart/Dockerfile"] = file("FROM golang\nARG SVC=none\nCOPY src/${SVC} /x\n")
			f["src/api/Dockerfile"] = file("FROM golang\nCOPY src/api /src\n")
		}, changes: mod("src/none/x", "docs/index.md"), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := baseTree()
			if tt.tree != nil {
				tt.tree(tree)
			}
			got, reasons, err := match(t, parseConfig(t, tt.config), tree, tt.changes)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("selected %v, want %v (reasons %v)", got, tt.want, reasons)
			}
			if tt.wantRule != "" {
				if r := reasons[tt.want[0]]; len(r) == 0 || r[0].Rule != tt.wantRule {
					t.Errorf("first reason of %s = %+v, want rule %q", tt.want[0], r, tt.wantRule)
				}
			}
		})
	}
}

func TestMatcherRenameReasonNamesBothPaths(t *testing.T) {
	_, reasons, err := match(t, parseConfig(t, twoServices), baseTree(),
		[]git.Change{{Status: git.Renamed, OldPath: "src/cart/util.go", Path: "src/api/util.go"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := reasons["cart"][0].File; got != "src/cart/util.go (renamed to src/api/util.go)" {
		t.Errorf("cart reason file = %q", got)
	}
	if got := reasons["api"][0].File; got != "src/api/util.go (renamed from src/cart/util.go)" {
		t.Errorf("api reason file = %q", got)
	}
}

func TestMatcherBadInput(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		tree    func(fstest.MapFS)
		wantKey string
		wantMsg string
	}{
		{name: "glob does not compile", config: `version: 1
services:
  - name: cart
    context: src/cart
    image: ghcr.io/acme/cart
    paths: ["ok/**", "bad/[z-a"]
`, wantKey: "services[0].paths[1]", wantMsg: "bad/[z-a"},
		{name: "Dockerfile does not parse", config: twoServices,
			tree:    func(f fstest.MapFS) { f["src/api/Dockerfile"] = file("COPY . .\n") },
			wantKey: "services[1].context", wantMsg: "src/api/Dockerfile"},
		{name: "context does not exist", config: `version: 1
services:
  - name: cart
    context: src/nope
    image: ghcr.io/acme/cart
`, wantKey: "services[0].context", wantMsg: `build context "src/nope" does not exist`},
		{name: "unknown target", config: `version: 1
services:
  - name: cart
    context: src/cart
    image: ghcr.io/acme/cart
    target: nope
`, wantKey: "services[0].target", wantMsg: `target stage "nope"`},
		{name: "discovered name collides", config: `version: 1
registry: ghcr.io/acme
discover: {root: src}
services:
  - name: api
    context: libs/common
    dockerfile: src/api/Dockerfile
    image: ghcr.io/acme/other
`, wantKey: "discover.root", wantMsg: `discovered service "api"`},
		{name: "discovered image collides", config: `version: 1
registry: ghcr.io/acme
discover: {root: src}
services:
  - name: special
    context: libs/common
    dockerfile: src/api/Dockerfile
    image: ghcr.io/acme/cart
`, wantKey: "discover.image", wantMsg: `"ghcr.io/acme/cart"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := baseTree()
			if tt.tree != nil {
				tt.tree(tree)
			}
			_, _, err := match(t, parseConfig(t, tt.config), tree, nil)
			var cerr *config.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("error = %v, want *config.Error", err)
			}
			p := cerr.Problems[0]
			if p.Path != tt.wantKey || !strings.Contains(p.Message, tt.wantMsg) {
				t.Errorf("problem = %s, want key %s and message containing %q", p, tt.wantKey, tt.wantMsg)
			}
		})
	}
}

func TestDiscover(t *testing.T) {
	cfg := parseConfig(t, `version: 1
registry: ghcr.io/acme
discover:
  root: src
  exclude: [skipme]
services:
  - name: cart
    context: src/cart
    image: ghcr.io/acme/cart-explicit
`)
	tree := baseTree()
	tree["src/skipme/Dockerfile"] = file("FROM alpine\n")
	tree["src/nodockerfile/x.go"] = file("")
	svcs, err := Services(cfg, tree)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range svcs {
		got = append(got, s.Name+"="+s.Image+"@"+s.Context)
	}
	want := []string{"cart=ghcr.io/acme/cart-explicit@src/cart", "api=ghcr.io/acme/api@src/api"}
	if !slices.Equal(got, want) {
		t.Errorf("services = %v, want %v", got, want)
	}
}
