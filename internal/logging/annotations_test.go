package logging

import (
	"bytes"
	"testing"
)

// problems is a hand-written Located.
type problems [][3]any

func (p problems) Error() string { return "problems" }

func (p problems) EachProblem(f func(file string, line, col int, msg string)) {
	for _, q := range p {
		f(q[0].(string), q[1].(int), q[2].(int), "msg of "+q[0].(string))
	}
}

func TestAnnotateProblems(t *testing.T) {
	tests := []struct {
		name string
		in   problems
		want string
	}{
		{name: "none", in: nil, want: ""},
		{name: "located", in: problems{{"a.yaml", 3, 5}}, want: "::error file=a.yaml,line=3,col=5::msg of a.yaml\n"},
		{name: "file only, escaped", in: problems{{"b:c.yaml", 0, 0}, {"d.yaml", 1, 1}},
			want: "::error file=b%3Ac.yaml::msg of b:c.yaml\n::error file=d.yaml,line=1,col=1::msg of d.yaml\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			AnnotateProblems(&buf, tt.in)
			if got := buf.String(); got != tt.want {
				t.Errorf("AnnotateProblems() wrote %q, want %q", got, tt.want)
			}
		})
	}
}
