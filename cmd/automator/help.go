package main

import (
	"embed"
	"strings"
)

// The long help and examples of the commands live in help/*.txt, so that
// this package holds wiring, not prose.
//
//go:embed help/*.txt
var helpFiles embed.FS

// help returns help/<name>.txt without its final newline.
func help(name string) string {
	b, err := helpFiles.ReadFile("help/" + name + ".txt")
	if err != nil {
		panic("missing help text " + name) // embedded at build time: a typo, caught by every test
	}
	return strings.TrimSuffix(string(b), "\n")
}
