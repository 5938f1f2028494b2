package detect

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/deployment-automator/automator/internal/actions"
)

// MaxMatrixJobs is GitHub Actions' limit on jobs per matrix.
const MaxMatrixJobs = 256

// MatrixEntry is one job of the fan-out matrix. With at most MaxMatrixJobs
// services each job builds one Service; beyond that services are batched and
// each job builds the comma-separated Services of its Group.
type MatrixEntry struct {
	Service  string `json:"service,omitempty"`
	Services string `json:"services,omitempty"`
	Group    int    `json:"group,omitempty"`
}

// Matrix is the value of the matrix output: {"include":[…]}.
type Matrix struct {
	Include []MatrixEntry `json:"include"`
}

// BuildMatrix makes the fan-out matrix for names (sorted): one job per
// service up to maxJobs, else at most maxJobs groups of consecutive names,
// as even in size as possible, numbered from 1.
func BuildMatrix(names []string, maxJobs int) Matrix {
	m := Matrix{Include: []MatrixEntry{}}
	if maxJobs <= 0 {
		maxJobs = MaxMatrixJobs
	}
	if len(names) <= maxJobs {
		for _, n := range names {
			m.Include = append(m.Include, MatrixEntry{Service: n})
		}
		return m
	}
	groups := maxJobs
	for g := range groups {
		lo, hi := g*len(names)/groups, (g+1)*len(names)/groups
		m.Include = append(m.Include, MatrixEntry{Services: strings.Join(names[lo:hi], ","), Group: g + 1})
	}
	return m
}

// Outputs are the step outputs plan writes to GITHUB_OUTPUT: services (JSON
// array of names), matrix (see BuildMatrix) and any ("true"/"false").
func (r *Result) Outputs() ([]actions.Output, error) {
	names := r.Names()
	svc, err := json.Marshal(names)
	if err != nil {
		return nil, fmt.Errorf("encoding services output: %w", err)
	}
	mx, err := json.Marshal(BuildMatrix(names, MaxMatrixJobs))
	if err != nil {
		return nil, fmt.Errorf("encoding matrix output: %w", err)
	}
	return []actions.Output{
		{Name: "services", Value: string(svc)},
		{Name: "matrix", Value: string(mx)},
		{Name: "any", Value: fmt.Sprint(len(names) > 0)},
	}, nil
}

// Write writes the result in the plan command's output format: "json" as
// WriteJSON, anything else as WriteText (the command checks the flag).
func (r *Result) Write(w io.Writer, format string) error {
	if format == "json" {
		return r.WriteJSON(w)
	}
	return r.WriteText(w)
}

// WriteJSON writes the result as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes a table: service, and why it was selected (the first
// matching file and rule).
func (r *Result) WriteText(w io.Writer) error {
	if len(r.Services) == 0 {
		_, err := fmt.Fprintf(w, "No services selected (%s).\n", r.Range)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tREASON")
	for _, s := range r.Services {
		why := ""
		if len(s.Reasons) > 0 {
			why = s.Reasons[0].Rule
			if f := s.Reasons[0].File; f != "" {
				why = f + " — " + why
			}
		}
		if n := len(s.Reasons); n > 1 {
			why += fmt.Sprintf(" (+%d more)", n-1)
		}
		fmt.Fprintf(tw, "%s\t%s\n", s.Name, why)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d service(s) selected (%s).\n", len(r.Services), r.Range)
	return err
}

// SummaryMarkdown renders the result for the job summary.
func (r *Result) SummaryMarkdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Change detection\n\n%s\n\n", r.Range)
	if len(r.Services) == 0 {
		b.WriteString("No services selected.\n")
		return b.String()
	}
	b.WriteString("| Service | Image | Why |\n|---|---|---|\n")
	for _, s := range r.Services {
		why := ""
		if len(s.Reasons) > 0 {
			why = s.Reasons[0].Rule
			if f := s.Reasons[0].File; f != "" {
				why = "`" + f + "` — " + why
			}
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s |\n", s.Name, s.Image, strings.ReplaceAll(why, "|", "\\|"))
	}
	return b.String()
}
