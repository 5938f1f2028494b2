package detect

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// plainCases are Dockerfiles inside the plain subset (plain: true, the
// scanner must answer) and just outside it (BuildKit must answer). Each is
// also a fuzz seed.
var plainCases = []struct {
	name   string
	df     string
	target string
	plain  bool
}{
	{name: "benchmark template", plain: true, df: "FROM golang AS build\nCOPY go.mod go.sum ./\nCOPY . .\nRUN go build\nFROM scratch\nCOPY --from=build /out /svc-0001\n"},
	{name: "unused stage", plain: true, df: "FROM golang AS unused\nCOPY tools /tools\nFROM scratch\nCOPY libs/common /c\n"},
	{name: "target stage", plain: true, target: "dev", df: "FROM golang AS dev\nCOPY tools /tools\nFROM scratch\nCOPY libs/common /c\n"},
	{name: "target is case-insensitive", plain: true, target: "DEV", df: "FROM golang AS Dev\nCOPY tools /tools\nFROM scratch AS final\nCOPY libs/common /c\n"},
	{name: "FROM a stage and COPY --from by index", plain: true, df: "FROM alpine AS base\nCOPY a /a\nFROM node\nCOPY b /b\nFROM base\nCOPY --from=1 /x /x\nADD c d /e/\n"},
	{name: "reference to a later stage is no dependency", plain: true, df: "FROM alpine\nCOPY --from=later /x /x\nCOPY a /a\nFROM alpine AS later\nCOPY b /b\n"},
	{name: "comments, blank lines, indentation, tabs", plain: true, df: "# syntax=docker/dockerfile:1\n# a comment\n\nARG GO=1.26\n  from\tgolang:1.26   as   Build  \n\t# indented comment\n  copy   ./src/   /src/  \nRUN make\tall # not a comment\n"},
	{name: "remote ADD sources and flags", plain: true, df: "FROM alpine\nADD --chown=1:1 --chmod=644 --link https://example.com/x.tgz git@github.com:a/b.git vendor/ /v/\nCOPY --link --chown=app ../../escape /e\n"},
	{name: "other instructions", plain: true, df: "ARG A\nARG B=1 C\nFROM alpine\nENV K=V L=W\nENV OLD style value\nLABEL a=b\nWORKDIR /app\nUSER nobody\nEXPOSE 80 443/udp\nCMD run it\nENTRYPOINT exec me\nCOPY x y\n"},
	{name: "FROM --platform", plain: true, df: "FROM --platform=linux/amd64 alpine AS a\nCOPY a /a\n"},
	{name: "root and dot sources", plain: true, df: "FROM alpine\nCOPY / ./ . /dst\n"},
	{name: "check directive", plain: true, df: "# check=skip=all\nFROM alpine\nCOPY a /a\n"},
	{name: "no trailing newline", plain: true, df: "FROM alpine\nCOPY a /a"},
	{name: "duplicate stage names: the first counts", plain: true, df: "FROM alpine AS x\nCOPY a /a\nFROM alpine AS X\nCOPY b /b\nFROM x\nCOPY --from=X c /c\n"},
	{name: "comment between instructions with =", plain: true, df: "FROM alpine\n# escape=x\nCOPY a /a\n"},
	{name: "check comment above an instruction", plain: true, df: "FROM alpine\n# check=skip=all\nCOPY a /a\n"},
	{name: "check comment after a blank line", plain: true, df: "\n#CheCk=skip=\nFROM 0\n"},
	{name: "check comment, not plain", df: "FROM alpine\n# check=skip=all\nCOPY $A /a\n"},

	{name: "variable", df: "FROM golang\nARG SVC=none\nCOPY src/${SVC} /x\n"},
	{name: "COPY across a line continuation", plain: true, df: "FROM alpine\nCOPY a \\\n b /x\n"},
	{name: "continuation with comment and blank lines", plain: true, df: "FROM alpine\nRUN a \\\n# inside\n\n   \n  b\nCOPY c\\ \t\n  d \\\n /x\nCOPY e /e\n"},
	{name: "escaped backslash is no continuation", plain: true, df: "FROM alpine\nRUN echo \\\\\nCOPY a /a\n"},
	{name: "continuation at end of file", plain: true, df: "FROM alpine\nCOPY a /a\nRUN x \\"},
	{name: "line of only a backslash", plain: true, df: "FROM alpine\n\\\nCOPY a /a\n"},
	{name: "realistic service", plain: true, df: `# Copyright 2020 Acme
# syntax=docker/dockerfile:1
FROM --platform=$BUILDPLATFORM golang:1.25-alpine@sha256:0123 AS builder
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
# restore dependencies
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG SKAFFOLD_GO_GCFLAGS
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -gcflags="${SKAFFOLD_GO_GCFLAGS}" -o /go/bin/frontend .

FROM gcr.io/distroless/static@sha256:4567
LABEL org.opencontainers.image.version=$VERSION maintainer=acme
ENV GOTRACEBACK=single PATH=$PATH:/src
WORKDIR /src
COPY --from=builder /go/bin/frontend /src/server
COPY ./templates ./templates
EXPOSE 8080
CMD ['ignored', "still"]
ENTRYPOINT ["/src/server", "--flag"]
`},
	{name: "COPY --chown with a variable", plain: true, df: "FROM alpine\nARG UID=1\nCOPY --chown=$UID a /a\n"},
	{name: "variable in COPY", df: "FROM alpine\nCOPY $SRC /x\n"},
	{name: "variable in COPY --from", df: "FROM alpine AS a\nFROM alpine\nCOPY --from=$A x /x\n"},
	{name: "variable in FROM", df: "ARG BASE=alpine\nFROM $BASE\nCOPY a /x\n"},
	{name: "quotes in LABEL", df: "FROM alpine\nLABEL a=\"b c\"\nCOPY a /x\n"},
	{name: "JSON array with a number", df: "FROM alpine\nCMD [1]\nCOPY a /x\n"},
	{name: "escaped blank in COPY", df: "FROM alpine\nCOPY a\\ b /x\n"},
	{name: "quotes", df: "FROM alpine\nCOPY 'a b' /x\n"},
	{name: "JSON form", df: "FROM alpine\nCOPY [\"a\", \"/x\"]\n"},
	{name: "unquoted bracket", df: "FROM alpine\nCOPY [a] /x\n"},
	{name: "heredoc", df: "FROM alpine\nCOPY <<EOF /x\nhello\nEOF\n"},
	{name: "escape directive", df: "# escape=`\nFROM alpine\nCOPY a /x\n"},
	{name: "two directives", df: "# syntax=a\n# check=skip=all\nFROM alpine\nCOPY a /x\n"},
	{name: "comment with = before FROM", df: "# set A=b\nFROM alpine\nCOPY a /x\n"},
	{name: "RUN mount", df: "FROM golang\nRUN --mount=type=bind,source=go.mod,target=/go.mod go mod download\n"},
	{name: "COPY --parents", df: "FROM alpine\nCOPY --parents a /x\n"},
	{name: "duplicate flag", df: "FROM alpine\nCOPY --from=a --from=b x /x\n"},
	{name: "empty flag value", df: "FROM alpine\nCOPY --chown= x /x\n"},
	{name: "bool flag with value", df: "FROM alpine\nCOPY --link=true x /x\n"},
	{name: "ADD --from", df: "FROM alpine\nADD --from=a x /x\n"},
	{name: "COPY one argument", df: "FROM alpine\nCOPY x\n"},
	{name: "no FROM", df: "COPY a /x\n"},
	{name: "instruction before FROM", df: "RUN x\nFROM alpine\n"},
	{name: "only comments", df: "# nothing\n"},
	{name: "bad stage name", df: "FROM alpine AS 1st\nCOPY a /x\n"},
	{name: "FROM two arguments", df: "FROM alpine x\n"},
	{name: "unknown instruction", df: "FROM alpine\nFROBNICATE x\n"},
	{name: "ONBUILD", df: "FROM alpine\nONBUILD COPY a /x\n"},
	{name: "ENV without value", df: "FROM alpine\nENV K\n"},
	{name: "ENV mixed forms", df: "FROM alpine\nENV K=V L\n"},
	{name: "ARG blank name", df: "FROM alpine\nARG =x\n"},
	{name: "unknown target", target: "nope", df: "FROM alpine\nCOPY a /x\n"},
	{name: "CRLF", plain: true, df: "FROM alpine\r\nCOPY a /x\r\n"},
	{name: "carriage return inside a line", df: "FROM alpine\nCOPY a\rb /x\n"},
	{name: "non-ASCII", df: "FROM alpine\nLABEL a=é\nCOPY a /x\n"},
	{name: "instruction without arguments", df: "FROM alpine\nRUN\n"},
}

// TestPlainDockerfileMatchesBuildKit checks that the plain scanner answers
// exactly the plain cases, and that wherever it answers it says what
// BuildKit's parser says.
func TestPlainDockerfileMatchesBuildKit(t *testing.T) {
	for _, tc := range plainCases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := plainDockerfileSources([]byte(tc.df), tc.target)
			if ok != tc.plain {
				t.Fatalf("plain scanner answered = %v, want %v", ok, tc.plain)
			}
			if ok {
				checkAgainstBuildKit(t, []byte(tc.df), tc.target, got)
			}
		})
	}
}

// TestPlainDockerfileRepositoryFiles cross-checks every Dockerfile of the
// repository (the project's own and its test data) the scanner answers.
func TestPlainDockerfileRepositoryFiles(t *testing.T) {
	root := filepath.Join("..", "..")
	plain, all := 0, 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return fs.SkipDir
		}
		if d.IsDir() || !strings.Contains(d.Name(), "Dockerfile") || strings.HasSuffix(d.Name(), ".go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		all++
		if got, ok := plainDockerfileSources(data, ""); ok {
			plain++
			t.Run(p, func(t *testing.T) { checkAgainstBuildKit(t, data, "", got) })
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if all == 0 {
		t.Fatal("no Dockerfile found in the repository")
	}
	t.Logf("%d of %d Dockerfiles are plain", plain, all)
}

// FuzzPlainDockerfile: wherever the plain scanner answers, BuildKit's
// parser accepts the Dockerfile and returns the same sources.
func FuzzPlainDockerfile(f *testing.F) {
	for _, tc := range plainCases {
		f.Add([]byte(tc.df), tc.target)
	}
	f.Fuzz(func(t *testing.T, data []byte, target string) {
		if got, ok := plainDockerfileSources(data, target); ok {
			checkAgainstBuildKit(t, data, target, got)
		}
	})
}

func checkAgainstBuildKit(t *testing.T, data []byte, target string, got []Source) {
	t.Helper()
	want, err := buildkitSources(data, target, nil)
	if err != nil {
		t.Fatalf("plain scanner accepted a Dockerfile BuildKit rejects: %v\n%s", err, data)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("plain scanner = %+v\nBuildKit      = %+v\n%s", got, want, data)
	}
}
