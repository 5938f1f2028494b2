package gate

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// JSONReport is the machine-readable report: the full scan (all findings),
// the DB's age at report time and one verdict per policy. Its field names are
// stable; downstream tooling may rely on them.
type JSONReport struct {
	Report
	// DBAgeHours is the DB's age when the report was written.
	DBAgeHours float64   `json:"dbAgeHours"`
	Verdicts   []Verdict `json:"verdicts"`
	// Blocked lists the environments the image is blocked for.
	Blocked []string `json:"blocked"`
	// Allowed lists the environments the image may be promoted to.
	Allowed []string `json:"allowed"`
}

// WriteJSON writes r and its verdicts as an indented JSONReport.
func WriteJSON(w io.Writer, r *Report, verdicts []Verdict, now time.Time) error {
	out := JSONReport{
		Report:     *r,
		DBAgeHours: r.DB.Age(now).Hours(),
		Verdicts:   verdicts,
		Blocked:    []string{},
		Allowed:    []string{},
	}
	if out.Findings == nil {
		out.Findings = []Finding{}
	}
	for _, v := range verdicts {
		if v.Outcome == Block {
			out.Blocked = append(out.Blocked, envName(v))
		} else {
			out.Allowed = append(out.Allowed, envName(v))
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing JSON report: %w", err)
	}
	return nil
}
